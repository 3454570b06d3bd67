/**
 * The real client stack for manager tests: the generic OAuth2 provider (profile → provider → grants →
 * HTTP layer) against the loopback token server, and a file store in a fresh temp directory (a real
 * shared store: several managers on one directory behave like several processes).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TokenClient } from '../../src/client.js';
import {
  TokenManager,
  type TokenManagerOptions,
  type TokenwardWarning,
} from '../../src/manager/token-manager.js';
import type { Profile } from '../../src/profile.js';
import { createTokenClient } from '../../src/providers/index.js';
import { FileStore } from '../../src/stores/file.js';
import type { TokenStore } from '../../src/stores/types.js';
import type { TokenServer } from '../helpers/token-server.js';

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
  client: TokenClient,
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
