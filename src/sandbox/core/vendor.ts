/**
 * The contract between the server core and a vendor emulator: the context a vendor gets, and the
 * routes and reset hook it gives back.
 * @module
 */

import type { SandboxCredentials, SandboxVendor, VendorSettings } from '../types.js';
import type { Reply, SandboxRequest } from './http.js';
import type { SigningKey } from './tokens.js';

/** Settings with every default filled in. */
export interface ResolvedSettings {
  tokenLifetimeSeconds: number;
  latencyMs: number;
  sessionLifetimeSeconds: number;
  deviceIntervalSeconds: number;
}

/** What a vendor emulator can use. */
export interface VendorContext<V extends SandboxVendor> {
  /** Epoch milliseconds (the sandbox's clock). */
  now(): number;
  /** Current settings of this vendor. */
  settings(): ResolvedSettings;
  /** This vendor's current credentials (mutable: a password change writes here). */
  credentials(): SandboxCredentials[V];
  /** The origin the sandbox listens on (for `iss` claims and links). */
  origin(): string;
  /** The process-wide JWT signing key. */
  key: SigningKey;
}

/** One route: a method and a path (exact string, or a pattern whose groups become `params`). */
export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string | RegExp;
  /**
   * `token` routes get faults and latency, and count issued tokens; `api` routes count API calls;
   * `page` routes (HTML pages and their forms) count only refusals.
   */
  kind: 'token' | 'api' | 'page';
  handle(req: SandboxRequest): Promise<Reply> | Reply;
}

/** A vendor emulator. */
export interface VendorModule {
  routes: Route[];
  /** Forgets every session, token and piece of state changed since start. */
  reset(): void;
}

/** Default settings per vendor (lifetimes the vendors document). */
export const DEFAULT_LIFETIMES: Record<SandboxVendor, number> = {
  cylance: 1800,
  msx: 9000,
  acronis: 7200,
  rdp: 300,
  oidc: 3600,
};

/** Fills in defaults. */
export function resolveSettings(vendor: SandboxVendor, s: VendorSettings): ResolvedSettings {
  return {
    tokenLifetimeSeconds: s.tokenLifetimeSeconds ?? DEFAULT_LIFETIMES[vendor],
    latencyMs: s.latencyMs ?? 0,
    sessionLifetimeSeconds: s.sessionLifetimeSeconds ?? 86_400,
    deviceIntervalSeconds: s.deviceIntervalSeconds ?? 5,
  };
}
