/**
 * Lazy loaders for the library modules the commands use. Each is imported on first use only, so a
 * command loads just what it needs.
 * @module
 */

import type { HttpOptions } from '../http/types.js';
import type { TokenManager, TokenwardWarning } from '../manager/token-manager.js';
import type { Profile } from '../profile.js';
import type { TokenStore } from '../stores/types.js';

/** What the CLI uses of `src/tokenward.ts`. */
export interface TokenwardModule {
  createTokenManager(
    profile: Profile,
    options?: {
      store?: TokenStore;
      clock?: () => number;
      onWarning?: (w: TokenwardWarning) => void;
      http?: HttpOptions;
      env?: NodeJS.ProcessEnv;
    },
  ): Promise<TokenManager>;
}

/** A `fetch` that adds the token. */
export type AuthFetch = (input: string | URL, init?: RequestInit) => Promise<Response>;

/** What the CLI uses of `src/fetch/index.ts`. */
export interface FetchModule {
  createAuthFetch(source: TokenManager, options: { origins: string[] }): AuthFetch;
}

/** A running sandbox, as the CLI uses it. */
export interface Sandbox {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** What the CLI uses of `src/sandbox/index.ts`. */
export interface SandboxModule {
  startSandbox(options?: { port?: number }): Promise<Sandbox>;
  sandboxProfiles(sandbox: Sandbox): Record<string, Profile>;
}

// The specifiers are variables until the modules land, so this file compiles before they exist.
const spec = {
  tokenward: '../tokenward.js',
  fetch: '../fetch/index.js',
  sandbox: '../sandbox/index.js',
};

/** Loads `src/tokenward.ts`. */
export function loadTokenward(): Promise<TokenwardModule> {
  return import(spec.tokenward) as Promise<TokenwardModule>;
}
/** Loads `src/fetch/index.ts`. */
export function loadFetch(): Promise<FetchModule> {
  return import(spec.fetch) as Promise<FetchModule>;
}
/** Loads `src/sandbox/index.ts`. */
export function loadSandbox(): Promise<SandboxModule> {
  return import(spec.sandbox) as Promise<SandboxModule>;
}
