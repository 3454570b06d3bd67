/**
 * The real client stack for manager tests: the generic OAuth2 provider (profile → provider → grants →
 * HTTP layer) against the loopback token server, and a file store in a fresh temp directory (a real
 * shared store: several managers on one directory behave like several processes).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach } from 'node:test';
import {
  TokenManager,
  type TokenManagerOptions,
  type TokenwardWarning,
} from '../../src/manager/token-manager.js';
import type { Profile } from '../../src/profile.js';
import { createTokenClient } from '../../src/providers/index.js';
import { FileStore } from '../../src/stores/file.js';
import type { TokenStore } from '../../src/stores/types.js';
import type { TokenClient } from '../../src/token-client.js';
import { startTokenServer, type TokenServer, type TokenServerOptions } from '../helpers/token-server.js';

/**
 * A client_credentials client of the generic provider for `server` (no retries unless `extra` says).
 * With an `issuer` in `extra` the endpoint comes from discovery: no `token_url`.
 */
export function realClient(server: TokenServer, extra: Partial<Profile> = {}): Promise<TokenClient> {
  return createTokenClient({
    ...(extra.issuer === undefined ? { token_url: server.tokenUrl } : {}),
    client_id: 'manager-tests',
    client_secret: 'manager-tests-secret',
    retries: 0,
    ...extra,
  });
}

/** A temp directory and a key for file stores; `store()` opens one more store (one more "process") on it. */
export async function fileStores(): Promise<{ dir: string; store(): FileStore; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'tw-manager-'));
  const key = randomBytes(32);
  return {
    dir,
    store: () => new FileStore({ dir, key, onWarning: () => {} }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A manager with a test clock and a warnings list. */
export function makeManager(
  client: TokenManagerOptions['client'],
  store: TokenStore,
  clock: () => number,
  options: Partial<TokenManagerOptions> = {},
): { manager: TokenManager; warnings: TokenwardWarning[] } {
  const warnings: TokenwardWarning[] = [];
  const manager = new TokenManager({
    client,
    key: 'manager-test-key',
    store,
    clock,
    eagerRefreshFraction: 1,
    onWarning: (w) => warnings.push(w),
    ...options,
  });
  return { manager, warnings };
}

/** Resolves when `warnings` gets an entry with `code` (polls the list; no wall-clock assertion). */
export async function warningArrives(warnings: TokenwardWarning[], code: string, count = 1): Promise<void> {
  while (warnings.filter((w) => w.code === code).length < count) await new Promise((r) => setTimeout(r, 5));
}

/** What {@link useRealStack} gives a test file: valid inside tests (set up by its hooks). */
export interface RealStack {
  /** The loopback token server (started once per file, reset before each test). */
  readonly server: TokenServer;
  /** The managers' injected time, ms since the epoch: set to `Date.now()` before each test; tests move it. */
  now: number;
  /** A clock reading {@link RealStack.now}, for managers. */
  readonly clock: () => number;
  /** A fresh temp directory of file stores for each test (removed after it). */
  readonly stores: Awaited<ReturnType<typeof fileStores>>;
}

/**
 * The manager tests' set-up in one call: registers the file's hooks — the token server started before
 * and closed after all tests; before each test its settings, counts, fault and `onRequest` reset, the
 * clock set to now and a fresh store directory; after each, the directory removed.
 */
export function useRealStack(options: TokenServerOptions = { lifetime: 300, latencyMs: 0 }): RealStack {
  let server: TokenServer | undefined;
  let stores: Awaited<ReturnType<typeof fileStores>> | undefined;
  const stack: RealStack = {
    get server(): TokenServer {
      if (server === undefined) throw new Error('useRealStack: the server is started in a before hook');
      return server;
    },
    now: 0,
    clock: () => stack.now,
    get stores() {
      if (stores === undefined) throw new Error('useRealStack: the stores are made in a beforeEach hook');
      return stores;
    },
  };
  before(async () => {
    server = await startTokenServer(options);
  });
  after(() => server?.close());
  beforeEach(async () => {
    server?.reset();
    if (server !== undefined) server.onRequest = undefined;
    stack.now = Date.now();
    stores = await fileStores();
  });
  afterEach(async () => {
    if (server !== undefined) server.onRequest = undefined;
    await stores?.cleanup();
    stores = undefined;
  });
  return stack;
}
