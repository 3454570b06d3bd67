/**
 * The OpenID Connect server's registry and state: its two clients, its test person, the pending
 * sign-ins, authorization codes, device codes and grants, and the checks of PKCE, redirect URIs and
 * user codes. Everything it keeps is bounded ({@link BoundedMap}) and timed by the sandbox's clock.
 * @module
 */

import { createHash, randomBytes, randomInt } from 'node:crypto';
import { TokenBook } from '../../core/tokens.js';
import type { SandboxCredentials } from '../../types.js';

/** Path of the issuer under the sandbox's origin. */
export const ISSUER_PATH = '/oidc';

/** The scopes the server knows, with what the consent page says about each. */
export const SCOPES: Readonly<Record<string, string>> = {
  openid: 'Sign you in (your account identifier)',
  profile: 'Your name and username',
  email: 'Your email address',
  offline_access: 'Stay signed in (a refresh token)',
};

/** The RFC 8628 device grant's `grant_type`. */
export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/**
 * The redirect URIs both clients are registered with. On loopback any port matches (RFC 8252 §7.3);
 * scheme, host, path and query must be exactly these.
 */
export const REDIRECT_URIS: readonly string[] = [
  'http://127.0.0.1/callback',
  'http://[::1]/callback',
  'http://localhost/callback',
  'http://127.0.0.1/',
  'http://[::1]/',
  'http://localhost/',
];

/** How long a sign-in started at the authorize endpoint or the device page stays open, ms. */
export const INTERACTION_MS = 10 * 60 * 1000;
/** Lifetime of an authorization code, ms (RFC 6749 §4.1.2 recommends at most ten minutes). */
export const CODE_MS = 60 * 1000;
/** Lifetime of a device code, seconds. */
export const DEVICE_CODE_SECONDS = 600;
/** Most pending sign-ins, codes or device codes kept at once; past it new ones are refused (503). */
export const MAX_PENDING = 10_000;

/** A registered client. */
export interface OidcClient {
  clientId: string;
  /** Undefined for the public client (`token_endpoint_auth_method: none`). */
  secret?: string;
  name: string;
}

/** The test person. */
export interface Person {
  sub: string;
  username: string;
  password: string;
  name: string;
  email: string;
}

/** The person's fixed claims (the username and password come from the credentials). */
export const PERSON_SUB = '6c1f7a52-3e9b-4d18-a0c4-8b2d5e7f9a13';
/** The test person's display name. */
export const PERSON_NAME = 'Sandbox Person';
/** The test person's email address. */
export const PERSON_EMAIL = 'person@example.com';

/** The clients of the current credentials. */
export function clients(c: SandboxCredentials['oidc']): OidcClient[] {
  return [
    { clientId: c.clientId, name: 'tokenward (sandbox public client)' },
    {
      clientId: c.confidentialClientId,
      secret: c.clientSecret,
      name: 'tokenward (sandbox confidential client)',
    },
  ];
}

/** The person of the current credentials. */
export function person(c: SandboxCredentials['oidc']): Person {
  return {
    sub: PERSON_SUB,
    username: c.username,
    password: c.password,
    name: PERSON_NAME,
    email: PERSON_EMAIL,
  };
}

/** An authorization granted by the person to a client: what its tokens carry. */
export interface Grant {
  id: string;
  clientId: string;
  sub: string;
  scopes: string[];
  /** When the person signed in, epoch seconds (`auth_time`). */
  authTime: number;
  /** End of the session: the refresh tokens of this grant expire then (epoch ms). */
  endsAt: number;
}

/** A sign-in in progress on the pages. */
export interface Interaction {
  id: string;
  clientId: string;
  scopes: string[];
  expiresAt: number;
  /** Set once the person has signed in. */
  username?: string;
  authTime?: number;
  /** The code flow's request. */
  code?: { redirectUri: string; state?: string; nonce?: string; codeChallenge: string };
  /** The device flow's device code. */
  deviceCode?: string;
}

/** An authorization code. */
export interface CodeEntry {
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  nonce?: string;
  scopes: string[];
  authTime: number;
  expiresAt: number;
  /** Once redeemed: the grant it started (revoked when the code is replayed). */
  used?: string;
}

/** A device authorization (RFC 8628). */
export interface DeviceEntry {
  clientId: string;
  scopes: string[];
  userCode: string;
  expiresAt: number;
  /** Current minimum polling interval, seconds (raised by each `slow_down`). */
  interval: number;
  lastPoll?: number;
  status: 'pending' | 'approved' | 'denied' | 'used';
  authTime?: number;
}

/**
 * A map with an expiry per entry and a size cap: expired entries are swept when it fills; `set`
 * returns false when it is full of live ones.
 */
export class BoundedMap<T extends { expiresAt: number }> {
  readonly #m = new Map<string, T>();

  /** Adds an entry; false when the map is full of unexpired entries. */
  set(key: string, value: T, now: number): boolean {
    if (this.#m.size >= MAX_PENDING) {
      for (const [k, v] of this.#m) if (v.expiresAt <= now) this.#m.delete(k);
      if (this.#m.size >= MAX_PENDING) return false;
    }
    this.#m.set(key, value);
    return true;
  }

  /** The entry, expired or not (the caller decides what an expired one means). */
  get(key: string): T | undefined {
    return this.#m.get(key);
  }

  delete(key: string): void {
    this.#m.delete(key);
  }

  clear(): void {
    this.#m.clear();
  }
}

/** A random URL-safe handle (codes, device codes, interaction ids). */
export function handle(bytes = 24): string {
  return randomBytes(bytes).toString('base64url');
}

/** The user-code alphabet of RFC 8628 §6.1: consonants only, no look-alikes. */
const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';

/** A new user code, `XXXX-XXXX`. */
export function userCode(): string {
  let s = '';
  for (let i = 0; i < 8; i++) s += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return `${s.slice(0, 4)}-${s.slice(4)}`;
}

/**
 * A user code as typed, in canonical form (`XXXX-XXXX`): case, spaces and dashes do not matter.
 * Undefined when it cannot be one.
 */
export function normalizeUserCode(typed: string): string | undefined {
  const s = typed.toUpperCase().replace(/[\s-]/g, '');
  if (s.length !== 8 || [...s].some((ch) => !USER_CODE_ALPHABET.includes(ch))) return undefined;
  return `${s.slice(0, 4)}-${s.slice(4)}`;
}

/** True for a PKCE `code_challenge` / `code_verifier` shape (RFC 7636 §4.1: 43–128 unreserved). */
export function pkceShaped(s: string): boolean {
  return /^[A-Za-z0-9\-._~]{43,128}$/.test(s);
}

/** The S256 challenge of a verifier. */
export function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/**
 * True when `uri` is one of {@link REDIRECT_URIS}: exactly (same case, same path, no fragment), except
 * that on loopback `http://` any port matches (RFC 8252 §7.3).
 */
export function redirectAllowed(uri: string): boolean {
  if (REDIRECT_URIS.includes(uri)) return true;
  const m = /^http:\/\/(127\.0\.0\.1|\[::1\]|localhost):([0-9]{1,5})(\/[^#]*)$/.exec(uri);
  if (m === null || Number(m[2]) > 65535 || Number(m[2]) === 0) return false;
  return REDIRECT_URIS.includes(`http://${m[1]}${m[3]}`);
}

/** The scopes of a space-separated `scope` value; undefined when one is unknown or it is empty. */
export function parseScopes(raw: string | undefined, fallback: string[]): string[] | undefined {
  if (raw === undefined) return fallback;
  const list = [...new Set(raw.split(' ').filter((s) => s !== ''))];
  if (list.length === 0 || list.some((s) => !(s in SCOPES))) return undefined;
  return list;
}

/** An issued access token's record. */
export interface AccessEntry {
  grant: Grant;
}

/** Everything the server remembers (forgotten by `reset`). */
export class OidcStore {
  readonly interactions = new BoundedMap<Interaction>();
  readonly codes = new BoundedMap<CodeEntry>();
  readonly devices = new BoundedMap<DeviceEntry>();
  readonly userCodes = new BoundedMap<{ deviceCode: string; expiresAt: number }>();
  readonly access = new TokenBook<AccessEntry>();
  readonly refresh = new TokenBook<Grant>();

  /** Revokes every access and refresh token of a grant. */
  revokeGrant(grantId: string): void {
    this.access.revokeWhere((e) => e.grant.id === grantId);
    this.refresh.revokeWhere((g) => g.id === grantId);
  }

  clear(): void {
    this.interactions.clear();
    this.codes.clear();
    this.devices.clear();
    this.userCodes.clear();
    this.access.clear();
    this.refresh.clear();
  }
}
