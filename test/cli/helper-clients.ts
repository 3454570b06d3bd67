/**
 * For the credential-helper tests: the CLI under test as a command line another program runs (kubectl's
 * exec plugin, git's `!` helper, docker's `docker-credential-tokenward` on PATH), from any working
 * directory — so `--import tsx` becomes the absolute URL of tsx's loader — and whether a program exists.
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startTokenServer, type TokenServer } from '../helpers/token-server.js';
import { CLI } from './helpers.js';

/** The CLI under test as argv (node first), runnable from any directory: `tokenward` or the docker entry. */
export function cliArgv(entry: 'tokenward' | 'docker-credential-tokenward' = 'tokenward'): string[] {
  const args = CLI.map((a) => (a === 'tsx' ? import.meta.resolve('tsx') : a));
  const script = args.length - 1;
  if (entry === 'docker-credential-tokenward') {
    args[script] = (args[script] ?? '')
      .replace(/main\.ts$/, 'docker-credential.ts')
      .replace(/tokenward\.cjs$/, 'docker-credential-tokenward.cjs');
  }
  return [process.execPath, ...args];
}

/** Quotes words for sh. */
export function shellWords(words: readonly string[]): string {
  return words.map((w) => `'${w.replaceAll("'", "'\\''")}'`).join(' ');
}

/**
 * Writes an executable `dir/name` that runs the CLI under test (`tokenward` or
 * `docker-credential-tokenward`) with its arguments, as the installed `bin` would; returns its path.
 */
export function installBin(dir: string, entry: 'tokenward' | 'docker-credential-tokenward'): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, entry);
  writeFileSync(path, `#!/bin/sh\nexec ${shellWords(cliArgv(entry))} "$@"\n`);
  chmodSync(path, 0o755);
  return path;
}

/** True when `program --version` runs. */
export function hasProgram(program: string): boolean {
  const r = spawnSync(program, ['--version'], { stdio: 'ignore' });
  return r.error === undefined;
}

/** Starts `server` on a free loopback port; resolves to the port and a `close()` that drops open connections. */
export async function listenLoopback(
  server: HttpServer | HttpsServer,
): Promise<{ port: number; close(): Promise<void> }> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Two token endpoints: one that works, and one that refuses every client (401 `invalid_client`). */
export async function tokenServers(): Promise<{ ts: TokenServer; rejecting: TokenServer }> {
  const [ts, rejecting] = await Promise.all([
    startTokenServer({ latencyMs: 0 }),
    startTokenServer({ latencyMs: 0 }),
  ]);
  rejecting.fault = { status: 401, body: JSON.stringify({ error: 'invalid_client' }) };
  return { ts, rejecting };
}
