#!/usr/bin/env node
/**
 * The `tokenward` executable: runs the dispatcher, flushes stdout and stderr, exits with its code.
 * Write errors on stdout/stderr (a reader that went away: EPIPE) are caught from the start, so a flow
 * always finishes (token stored, lock released) before the process exits; see `exitCodeAfterOutput`.
 * @module
 */

import { exitCodeAfterOutput, guardOutput } from './output.js';
import { main } from './run.js';

const failures = guardOutput();

function drain(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    stream.write('', () => resolve());
  });
}

const code = await main(process.argv.slice(2));
await Promise.all([drain(process.stdout), drain(process.stderr)]);
process.exit(exitCodeAfterOutput(code, failures));
