#!/usr/bin/env node
/**
 * The `tokenward` executable: runs the dispatcher, flushes stdout and stderr, exits with its code.
 * @module
 */

import { main } from './run.js';

function drain(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    stream.write('', () => resolve());
  });
}

const code = await main(process.argv.slice(2));
await Promise.all([drain(process.stdout), drain(process.stderr)]);
process.exit(code);
