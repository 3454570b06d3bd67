/**
 * Typed errors. Every error tokenward throws is a {@link TokenwardError} with a stable `code` to switch on.
 * Messages say what went wrong and what to do next, and never contain a secret: callers build them from
 * non-secret facts only, and {@link redactText} scrubs anything that slips through.
 * @module
 */

import { redactText } from './redact.js';

/** Stable error codes, one per subclass (and a few finer-grained ones). */
export type TokenwardErrorCode =
  | 'ERR_CONFIG'
  | 'ERR_INSECURE_ENDPOINT'
  | 'ERR_NETWORK'
  | 'ERR_TIMEOUT'
  | 'ERR_TOKEN_ENDPOINT'
  | 'ERR_UPSTREAM_UNAVAILABLE'
  | 'ERR_INVALID_TOKEN_RESPONSE'
  | 'ERR_STORE'
  | 'ERR_LOCK_TIMEOUT'
  | 'ERR_UNSUPPORTED'
  | 'ERR_CLIENT_SETUP'
  | 'ERR_LOGIN_REQUIRED'
  | 'ERR_AUTHORIZATION'
  | 'ERR_LOGIN_TIMEOUT'
  | 'ERR_ID_TOKEN';

/** Options shared by all tokenward errors. */
export interface TokenwardErrorOptions {
  /** The underlying error. It is scrubbed of secrets before it is attached. */
  cause?: unknown;
}

/** Base class of every error tokenward throws. */
export class TokenwardError extends Error {
  /** A stable, machine-readable code. */
  readonly code: TokenwardErrorCode;

  constructor(code: TokenwardErrorCode, message: string, options: TokenwardErrorOptions = {}) {
    super(
      redactText(message),
      options.cause === undefined ? undefined : { cause: scrubCause(options.cause) },
    );
    this.code = code;
    this.name = new.target.name;
  }

  /** A JSON form without the stack, safe to log. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { name: this.name, code: this.code, message: this.message };
    for (const [k, v] of Object.entries(this)) if (k !== 'code') out[k] = v;
    return out;
  }
}

/** Copies a cause into a plain error whose message and stack are redacted, so no secret rides along. */
function scrubCause(cause: unknown): unknown {
  if (cause instanceof TokenwardError) return cause;
  if (cause instanceof Error) {
    const copy = new Error(redactText(cause.message));
    copy.name = cause.name;
    if (cause.stack === undefined) delete copy.stack;
    else copy.stack = redactText(cause.stack);
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string') Object.assign(copy, { code });
    return copy;
  }
  return redactText(String(cause));
}

/** A profile or configuration value is missing or wrong. `file`, `line` and `key` point at it when known. */
export class ConfigError extends TokenwardError {
  readonly file?: string;
  readonly line?: number;
  readonly key?: string;
  constructor(
    message: string,
    where: { file?: string; line?: number; key?: string } = {},
    options: TokenwardErrorOptions = {},
  ) {
    const at = [where.file, where.line].filter((x) => x !== undefined).join(':');
    const prefix = at ? `${at}: ` : '';
    const keyPart = where.key ? `${where.key}: ` : '';
    super('ERR_CONFIG', message, options);
    // The location is not secret; only the message is redacted (else "password: is required" would
    // read as a `password: value` pair and lose its words).
    const full = `${prefix}${keyPart}${this.message}`;
    if (typeof this.stack === 'string') this.stack = this.stack.replace(this.message, full);
    this.message = full;
    if (where.file !== undefined) this.file = where.file;
    if (where.line !== undefined) this.line = where.line;
    if (where.key !== undefined) this.key = where.key;
  }
}

/** An endpoint was refused because it is not secure (for example `http://` to a non-loopback host). */
export class InsecureEndpointError extends TokenwardError {
  readonly url: string;
  constructor(url: string, message: string) {
    super('ERR_INSECURE_ENDPOINT', message);
    this.url = url;
  }
}

/** The request did not get an HTTP answer: refused, reset, DNS, TLS, or a timeout (`code` `ERR_TIMEOUT`). */
export class NetworkError extends TokenwardError {
  /** The endpoint, without query string or credentials. */
  readonly url: string;
  /** How many attempts were made in all. */
  readonly attempts: number;
  constructor(
    url: string,
    message: string,
    options: TokenwardErrorOptions & { timeout?: boolean; attempts?: number } = {},
  ) {
    super(options.timeout ? 'ERR_TIMEOUT' : 'ERR_NETWORK', message, options);
    this.url = url;
    this.attempts = options.attempts ?? 1;
  }
}

/**
 * A proxy stood between tokenward and the endpoint and did not carry the request: it refused the tunnel
 * (`407 Proxy Authentication Required`, a `403` of its policy, a `502` when it could not reach the
 * endpoint) or could not be reached. A {@link NetworkError} (`code` `ERR_NETWORK`): the endpoint gave no
 * answer. The message and {@link proxy} name the proxy without its credentials.
 */
export class ProxyError extends NetworkError {
  /** The proxy URL, without credentials. */
  readonly proxy: string;
  /** Where the proxy came from: `proxy` (the profile key) or the environment variable (`HTTPS_PROXY`…). */
  readonly proxySource: string;
  /** The proxy's HTTP status, when it answered (407…). */
  readonly status?: number;
  constructor(
    url: string,
    proxy: { shown: string; source: string; status?: number | undefined },
    message: string,
    options: TokenwardErrorOptions & { attempts?: number } = {},
  ) {
    super(url, message, options);
    this.proxy = proxy.shown;
    this.proxySource = proxy.source;
    if (proxy.status !== undefined) this.status = proxy.status;
  }
}

/** The token endpoint answered with an error status. Carries the HTTP status and the OAuth error fields. */
export class TokenEndpointError extends TokenwardError {
  readonly status: number;
  /** The server's `error` (for example `invalid_grant`), when it sent one. */
  readonly error?: string;
  /** The server's `error_description`, when it sent one. */
  readonly errorDescription?: string;
  readonly url: string;
  /** Seconds from `Retry-After`, when the server sent it. */
  readonly retryAfter?: number;
  constructor(
    url: string,
    status: number,
    body: { error?: string; errorDescription?: string; retryAfter?: number },
    message?: string,
    code: 'ERR_TOKEN_ENDPOINT' | 'ERR_UPSTREAM_UNAVAILABLE' = 'ERR_TOKEN_ENDPOINT',
  ) {
    const detail = [body.error, body.errorDescription].filter(Boolean).join(': ');
    super(code, message ?? `token endpoint ${url} answered HTTP ${status}${detail ? ` (${detail})` : ''}`);
    this.url = url;
    this.status = status;
    if (body.error !== undefined) this.error = body.error;
    if (body.errorDescription !== undefined) this.errorDescription = body.errorDescription;
    if (body.retryAfter !== undefined) this.retryAfter = body.retryAfter;
  }
}

/**
 * The same {@link TokenEndpointError} (status, `error`, `error_description`, `Retry-After`) with another
 * message: a hint added by a provider or a grant. The message must be built from non-secret facts.
 */
export function withEndpointMessage(err: TokenEndpointError, message: string): TokenEndpointError {
  const body: { error?: string; errorDescription?: string; retryAfter?: number } = {};
  if (err.error !== undefined) body.error = err.error;
  if (err.errorDescription !== undefined) body.errorDescription = err.errorDescription;
  if (err.retryAfter !== undefined) body.retryAfter = err.retryAfter;
  return new TokenEndpointError(err.url, err.status, body, message);
}

/**
 * The token endpoint is there but not serving: it answered 502, 503, 504 or 429 on every attempt, or
 * asked (with `Retry-After`) for a wait longer than the retry budget — then it is thrown at once, with no
 * further attempt and no sleep. `retryAfter` (seconds) says when to try again, when the server said.
 * Not a rejection of the credentials: the CLI exits 7 for it, not 3.
 */
export class UpstreamUnavailableError extends TokenEndpointError {
  constructor(
    url: string,
    status: number,
    body: { error?: string; errorDescription?: string; retryAfter?: number },
    message?: string,
  ) {
    super(url, status, body, message, 'ERR_UPSTREAM_UNAVAILABLE');
  }
}

/** The token endpoint answered 2xx but the body is not a usable token response. */
export class InvalidTokenResponseError extends TokenwardError {
  readonly url: string;
  readonly status: number;
  constructor(url: string, status: number, message: string, options: TokenwardErrorOptions = {}) {
    super('ERR_INVALID_TOKEN_RESPONSE', message, options);
    this.url = url;
    this.status = status;
  }
}

/** A token store (file, PostgreSQL, Redis) failed. `store` names the kind and `target` the server or path. */
export class StoreError extends TokenwardError {
  readonly store: string;
  readonly target?: string;
  constructor(store: string, message: string, options: TokenwardErrorOptions & { target?: string } = {}) {
    super('ERR_STORE', message, options);
    this.store = store;
    if (options.target !== undefined) this.target = options.target;
  }
}

/** A lock for a token could not be taken in time. */
export class LockTimeoutError extends TokenwardError {
  readonly store: string;
  readonly waitedMs: number;
  constructor(store: string, waitedMs: number, message?: string) {
    super('ERR_LOCK_TIMEOUT', message ?? `could not take the ${store} lock within ${waitedMs} ms`);
    this.store = store;
    this.waitedMs = waitedMs;
  }
}

/**
 * The token client could not be built when it was first needed (a manager given a client factory, see
 * `LazyTokenClient`): the factory failed with something other than a {@link TokenwardError} (which is
 * passed on as it is), or built a client for another identity. Nothing cached was changed.
 */
export class ClientSetupError extends TokenwardError {
  constructor(message: string, options: TokenwardErrorOptions = {}) {
    super('ERR_CLIENT_SETUP', message, options);
  }
}

/** A feature that this server or profile does not support (for example revocation with no endpoint). */
export class UnsupportedError extends TokenwardError {
  constructor(message: string) {
    super('ERR_UNSUPPORTED', message);
  }
}

/**
 * A person has to sign in: the profile's grant is interactive (`authorization_code`, `device_code`) and
 * no usable refresh token remains, or the caller asked for no interaction. The message names the
 * command to run (`tokenward login <profile>`); the CLI exits 8 for it.
 */
export class LoginRequiredError extends TokenwardError {
  /** The profile to sign in with, when known. */
  readonly profile?: string;
  constructor(
    profile: string | undefined,
    reason = 'no usable sign-in (and no refresh token that still works)',
  ) {
    const cmd = profile === undefined ? 'tokenward login <profile>' : `tokenward login ${profile}`;
    super('ERR_LOGIN_REQUIRED', `${reason}; sign in with \`${cmd}\``);
    if (profile !== undefined) this.profile = profile;
  }
}

/**
 * An interactive sign-in did not give an authorization: the server (or the person) said no on the
 * redirect or to device polling (`error` such as `access_denied`, `expired_token`, `invalid_request`),
 * or the redirect did not match the request (`error` `state_mismatch`, `missing_code`). Nothing is stored.
 */
export class AuthorizationError extends TokenwardError {
  /** The OAuth `error` the server sent, or tokenward's own (`state_mismatch`, `missing_code`). */
  readonly error: string;
  /** The server's `error_description`, when it sent one. */
  readonly errorDescription?: string;
  constructor(error: string, message: string, errorDescription?: string) {
    super('ERR_AUTHORIZATION', message);
    this.error = error;
    if (errorDescription !== undefined) this.errorDescription = errorDescription;
  }
}

/** An interactive sign-in was not completed in time (no redirect came back). Nothing is stored. */
export class LoginTimeoutError extends TokenwardError {
  /** How long tokenward waited, ms. */
  readonly waitedMs: number;
  constructor(waitedMs: number, message: string) {
    super('ERR_LOGIN_TIMEOUT', message);
    this.waitedMs = waitedMs;
  }
}

/**
 * The OpenID Connect ID token the server returned failed validation (signature, `iss`, `aud`, `azp`,
 * `exp`/`iat`, `nonce`, algorithm). `reason` names the check. Nothing is stored.
 */
export class IdTokenError extends TokenwardError {
  /** Which check failed: `signature`, `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`, `alg`, `sub`, `malformed`. */
  readonly reason: string;
  constructor(reason: string, message: string, options: TokenwardErrorOptions = {}) {
    super('ERR_ID_TOKEN', message, options);
    this.reason = reason;
  }
}

/**
 * Every code a {@link TokenwardWarning} can carry, and where it comes from:
 * - the manager: `EAGER_REFRESH_FAILED` (a renewal before expiry failed; the valid token is served),
 *   `REFRESH_REJECTED` (the server rejected the refresh token; the primary grant runs),
 *   `SERVED_STALE_MARGIN` (a renewal failed; the current, still valid token is served),
 *   `STORE_WRITE_FAILED`, `REVOKE_FAILED`, `MIN_TTL_EXCEEDS_LIFETIME` (a `minTtlMs` no new token could
 *   meet; once per manager), `CLOSE_TIMEOUT` (`close()` stopped waiting for a stuck flight or store);
 * - the HTTP layer: `TLS_VERIFY_DISABLED` (once per origin), `CLIENT_CERT_EXPIRED` (the profile's client
 *   certificate has expired or is not valid yet, when it is loaded; it is presented all the same);
 * - the store: `STORE` (a corrupt or undecryptable entry, a directory made private, a lost lock, a fallback
 *   to memory…);
 * - the config loader: `CONFIG_LITERAL_SECRET` (a literal secret in a config file other users can read).
 */
export const WARNING_CODES = [
  'EAGER_REFRESH_FAILED',
  'REFRESH_REJECTED',
  'SERVED_STALE_MARGIN',
  'STORE_WRITE_FAILED',
  'REVOKE_FAILED',
  'MIN_TTL_EXCEEDS_LIFETIME',
  'CLOSE_TIMEOUT',
  'TLS_VERIFY_DISABLED',
  'CLIENT_CERT_EXPIRED',
  'STORE',
  'CONFIG_LITERAL_SECRET',
] as const;

/** The code of a {@link TokenwardWarning}: one of {@link WARNING_CODES}. */
export type TokenwardWarningCode = (typeof WARNING_CODES)[number];

/** A non-fatal problem: tokenward carries on, and tells the `onWarning` hook. Never contains a secret. */
export interface TokenwardWarning {
  /** A stable code to switch on (see {@link WARNING_CODES}). */
  code: TokenwardWarningCode;
  /** One human-readable line, secret-free. */
  message: string;
  /** The error behind the warning, already redacted. */
  cause?: unknown;
}

/** Receives {@link TokenwardWarning}s. It must not throw (a throwing hook is ignored). */
export type WarningHandler = (warning: TokenwardWarning) => void;

/** Warnings already printed by {@link printWarningOnce}, by code and message (bounded). */
const printed = new Set<string>();
const MAX_PRINTED = 1_000;

/**
 * The default warning hook: prints each distinct warning (code and message) once per process to stderr,
 * through `process.emitWarning` (type `TokenwardWarning`, code `TOKENWARD_<code>`), so `--no-warnings`
 * and `process.on('warning')` work as for Node's own warnings.
 */
export function printWarningOnce(warning: TokenwardWarning): void {
  const id = `${warning.code}\0${warning.message}`;
  if (printed.has(id)) return;
  if (printed.size >= MAX_PRINTED) printed.clear();
  printed.add(id);
  process.emitWarning(redactText(warning.message), {
    type: 'TokenwardWarning',
    code: `TOKENWARD_${warning.code}`,
  });
}
