/**
 * Public types of the sandbox: options, settings, faults, statistics and the demo credentials.
 * @module
 */

import type { PresetName } from '../providers/registry.js';
import { BUILT_IN_PRESETS } from '../providers/registry.js';

/**
 * The emulated vendors: one per vendor preset of the provider registry (the sandbox has an emulator
 * for each, which `startSandbox` checks at compile time).
 */
export type VendorName = PresetName;

/** All vendor names, in the registry's order. */
export const VENDORS: readonly VendorName[] = BUILT_IN_PRESETS;

/**
 * Everything the sandbox emulates: the vendor presets, then `oidc`, a standards OpenID Connect
 * authorization server for people (sign-in page, device verification page; see `docs/sandbox.md`).
 */
export type SandboxVendor = VendorName | 'oidc';

/** All emulated services: {@link VENDORS}, then `oidc`. Settings, faults and statistics are kept for each. */
export const SANDBOX_VENDORS: readonly SandboxVendor[] = [...BUILT_IN_PRESETS, 'oidc'];

/**
 * A failure injected into a vendor's token endpoint.
 *
 * - `5xx`: answers `status` (default 503) with a JSON error body.
 * - `429`: answers 429 with `Retry-After: retryAfterSeconds` (default 1).
 * - `malformed-json`: answers 200 `application/json` with a truncated JSON body.
 * - `html`: answers `status` (default 200) with an HTML page (a proxy or login page in the way).
 * - `slow-body`: issues a real token but sends its body slowly: the headers and the first byte at once,
 *   the rest in small pieces spread over `delayMs` (default 30 000 ms).
 * - `hang`: never answers (until the client gives up or the sandbox closes).
 * - `empty`: answers 200 `application/json` with an empty body.
 * - `big-body`: answers 200 `application/json` with a 2 MiB body (over tokenward's 1 MiB cap).
 * - `wrong-types`: answers 200 with `{"access_token": 5, "expires_in": "abc"}`.
 * - `crlf-token`: answers 200 with an access token carrying CR/LF and an injected header line.
 * - `redirect`: answers `status` (default 302) with a `Location` to another path of the sandbox.
 */
export interface SandboxFault {
  kind:
    | '5xx'
    | '429'
    | 'malformed-json'
    | 'html'
    | 'slow-body'
    | 'hang'
    | 'empty'
    | 'big-body'
    | 'wrong-types'
    | 'crlf-token'
    | 'redirect';
  /** How many token requests fail; default: every one until the fault is cleared. */
  times?: number;
  /** For `429` (and `5xx`, if given): the `Retry-After` header, seconds. */
  retryAfterSeconds?: number;
  /** HTTP status for `5xx` (default 503), `html` (default 200) and `redirect` (default 302). */
  status?: number;
  /** For `slow-body`: how long the body takes to arrive, milliseconds. Default 30 000. */
  delayMs?: number;
}

/** Per-vendor settings. `configure()` merges them; a key given as `undefined` (or `null` over HTTP) is cleared. */
export interface VendorSettings {
  /**
   * Lifetime of the access tokens issued, seconds. Defaults: cylance 1800, msx 9000, acronis 7200,
   * rdp 300, oidc 3600 (also the lifetime of its ID tokens).
   */
  tokenLifetimeSeconds?: number | undefined;
  /** Delay before each token-endpoint answer, milliseconds. Default 0. Does not apply to API calls. */
  latencyMs?: number | undefined;
  /** A failure injected into the vendor's token endpoint. */
  fault?: SandboxFault | undefined;
  /**
   * rdp and oidc: how long a sign-on session (the refresh-token chain) lasts, seconds. Default 86 400.
   * rdp: a refresh near the end gets an `expires_in` cut to what is left; after it (both), the refresh
   * is refused.
   */
  sessionLifetimeSeconds?: number | undefined;
  /**
   * oidc only: the device flow's polling interval, seconds (the `interval` of a new device
   * authorization; polling sooner is `slow_down`). Default 5. A demo sets 1 to run quickly.
   */
  deviceIntervalSeconds?: number | undefined;
}

/** The built-in demo credentials (fixed, well-known values; the sandbox only listens on loopback). */
export interface SandboxCredentials {
  cylance: { appId: string; appSecret: string; tenantId: string };
  msx: { clientId: string; clientSecret: string; username: string; password: string };
  acronis: { clientId: string; clientSecret: string; tenantId: string };
  /** `clientId` is the RDP application key. `password` reflects a password changed through the sandbox. */
  rdp: { clientId: string; username: string; password: string };
  /**
   * The OpenID Connect server: the public client (`clientId`, `token_endpoint_auth_method: none`), the
   * confidential one (`confidentialClientId` / `clientSecret`, Basic or form), and the test person who
   * signs in on its pages (`username` / `password`).
   */
  oidc: {
    clientId: string;
    confidentialClientId: string;
    clientSecret: string;
    username: string;
    password: string;
  };
}

/** Options of `startSandbox`. */
export interface SandboxOptions {
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Per-vendor settings at start. */
  vendors?: Partial<Record<SandboxVendor, VendorSettings>>;
  /** Replaces some of the demo credentials. */
  credentials?: { [V in SandboxVendor]?: Partial<SandboxCredentials[V]> };
  /** The sandbox's clock, epoch milliseconds. Default `Date.now`. Lets tests reach expiry without waiting. */
  clock?: () => number;
}

/** Counters since start or the last reset. Every vendor is always present (zero when unused). */
export interface SandboxStats {
  /**
   * Tokens issued, by vendor and grant (`password`, `refresh_token`, `client_credentials`, `jwt`, MSX
   * urns; oidc: `authorization_code`, `device_code`, `refresh_token`).
   */
  token: Record<SandboxVendor, Record<string, number>>;
  /** API calls answered 2xx, by vendor (oidc: discovery, JWKS, userinfo, revocation, device authorization). */
  api: Record<SandboxVendor, number>;
  /** Requests the vendor logic refused (4xx on a token endpoint, an API or a page), by vendor. */
  rejected: Record<SandboxVendor, number>;
  /** Token requests answered by an injected fault instead of the vendor logic, by vendor. */
  faults: Record<SandboxVendor, number>;
}

/** A running sandbox. */
export interface Sandbox {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  port: number;
  /** Stops the server, dropping open connections and pending slow answers. */
  close(): Promise<void>;
  /** A snapshot of the counters. */
  stats(): SandboxStats;
  /**
   * Back to a clean state: clears the counters, every issued token, refresh token, used `jti` and
   * sign-on session, restores changed passwords and the MSX tenant list, and clears faults. Lifetimes
   * and latency stay as configured.
   */
  reset(): void;
  /** Merges settings into a vendor's current ones (a key set to `undefined` is cleared). */
  configure(vendor: SandboxVendor, settings: VendorSettings): void;
  /** The demo credentials the sandbox accepts (live: reflects password changes). */
  readonly credentials: SandboxCredentials;
}
