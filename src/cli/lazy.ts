/**
 * Lazy loaders for the library modules the commands use. Each is imported on first use only, so a
 * command loads just what it needs (`tokenward token` never loads the sandbox or the fetch helpers).
 * @module
 */

/** What the CLI uses of `src/tokenward.ts`. */
export type TokenwardModule = typeof import('../front-door.js');

/** A `fetch` (what `createAuthFetch` returns and takes). */
export type { AuthFetch } from '../fetch/index.js';

/** What the CLI uses of `src/fetch/index.ts`. */
export type FetchModule = typeof import('../fetch/index.js');

/** What the CLI uses of `src/sandbox/index.ts`. */
export type SandboxModule = typeof import('../sandbox/index.js');

/** Loads `src/tokenward.ts`. */
export function loadTokenward(): Promise<TokenwardModule> {
  return import('../front-door.js');
}
/** Loads `src/fetch/index.ts`. */
export function loadFetch(): Promise<FetchModule> {
  return import('../fetch/index.js');
}
/** Loads `src/sandbox/index.ts`. */
export function loadSandbox(): Promise<SandboxModule> {
  return import('../sandbox/index.js');
}
