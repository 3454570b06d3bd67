/**
 * Lazy loaders for the library modules the commands use. Each is imported on first use only, so a
 * command loads just what it needs (`tokenward token` never loads the sandbox or the fetch helpers).
 * @module
 */

import type { TokenManager } from '../manager/token-manager.js';
import type { Profile } from '../profile.js';

/** What the CLI uses of `src/tokenward.ts`. */
export type TokenwardModule = typeof import('../tokenward.js');

/** A `fetch` (what `createAuthFetch` returns and takes). */
export type AuthFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** What the CLI uses of `src/fetch/index.ts`. */
export interface FetchModule {
  createAuthFetch(
    source: TokenManager,
    options: { origins: readonly string[]; fetch?: AuthFetch },
  ): AuthFetch;
  originsFromProfile(profile: Profile): string[];
}

/** What the CLI uses of `src/sandbox/index.ts`. */
export type SandboxModule = typeof import('../sandbox/index.js');

// A variable specifier until src/fetch lands, so this file compiles before it exists.
const fetchSpec = '../fetch/index.js';

/** Loads `src/tokenward.ts`. */
export function loadTokenward(): Promise<TokenwardModule> {
  return import('../tokenward.js');
}
/** Loads `src/fetch/index.ts`. */
export function loadFetch(): Promise<FetchModule> {
  return import(fetchSpec) as Promise<FetchModule>;
}
/** Loads `src/sandbox/index.ts`. */
export function loadSandbox(): Promise<SandboxModule> {
  return import('../sandbox/index.js');
}
