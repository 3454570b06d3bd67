/**
 * Types of the HTTP layer shared by grants, client authentication, presets and discovery.
 * @module
 */

import type { WarningHandler } from '../errors.js';
import type { ClientCertificate } from './client-cert.js';

/** One HTTP exchange as reported to a debug hook (`--verbose`). Every field is already redacted. */
export interface HttpExchange {
  method: string;
  url: string;
  attempt: number;
  requestHeaders: Record<string, string>;
  requestBody?: string;
  status?: number;
  responseHeaders?: Record<string, string>;
  responseBody?: string;
  durationMs: number;
  error?: string;
}

/** Options for requests to token, discovery and revocation endpoints. */
export interface HttpOptions {
  /** Per-attempt timeout in ms. Default 10,000. */
  timeoutMs?: number;
  /**
   * Retries after the first attempt for transient network errors (refused, reset, timeout…), 5xx and
   * 429. Deterministic failures (TLS, unknown host, header overflow, redirects, 4xx, unusable 2xx
   * bodies) are never retried. Default 2.
   */
  retries?: number;
  /** Base of the exponential backoff in ms (full jitter). Default 200. */
  retryBaseMs?: number;
  /**
   * Cap of one backoff wait, and the retry budget for `Retry-After`, in ms. Default 10,000. A
   * `Retry-After` within it is waited for; a longer one stops at once (`UpstreamUnavailableError` with
   * `retryAfter`), with no further attempt and no sleep.
   */
  retryMaxMs?: number;
  /** Largest response body read, in bytes. Default 1 MiB. */
  maxResponseBytes?: number;
  /** PEM text of extra CA certificates to trust. */
  ca?: string;
  /**
   * The client certificate presented on every connection (mutual TLS, RFC 8705): `tls_client_auth`,
   * `self_signed_tls_client_auth`, certificate-bound tokens. Built by `loadClientCertificate`.
   */
  clientCert?: ClientCertificate;
  /** Turns TLS verification off. Warned about once per origin (through `onWarning`); never the default. */
  insecureSkipTlsVerify?: boolean;
  /**
   * The proxy for every request, instead of the environment's (`HTTPS_PROXY`, `HTTP_PROXY`,
   * `ALL_PROXY`; `NO_PROXY` applies to both): an `http://` or `https://` URL, credentials in it;
   * `"direct"` for none. See docs/config.md, "Proxies". Default: the environment's.
   */
  proxy?: string | undefined;
  /** The environment the proxy variables are read from. Default `process.env`. */
  proxyEnv?: Readonly<Record<string, string | undefined>> | undefined;
  /** `User-Agent` header. Default `tokenward/<version>`. */
  userAgent?: string;
  /** Called once per attempt with a redacted record of the exchange (for `--verbose`). */
  onExchange?: (exchange: HttpExchange) => void;
  /**
   * Receives the HTTP layer's warnings (code `TLS_VERIFY_DISABLED`: TLS verification off, once per
   * origin). Default: printed once to stderr.
   */
  onWarning?: WarningHandler;
  /** Aborts the request (all attempts and waits). Added by the core HTTP layer. */
  signal?: AbortSignal;
  /**
   * Headers for every attempt of a token request, and a reading of every answer (a DPoP proof and the
   * `use_dpop_nonce` challenge: see `src/dpop/`). Applied by `requestToken` only (not to discovery nor
   * revocation).
   */
  tokenRequestHook?: TokenRequestHook | undefined;
}

/** One answer of a token endpoint, as a {@link TokenRequestHook} reads it. */
export interface TokenRequestAnswer {
  /** The endpoint, without query string or credentials. */
  url: string;
  status: number;
  /** The response headers, lower-case names. */
  headers: Readonly<Record<string, string>>;
  /** The OAuth `error` of an error answer, when it has one (already redacted). */
  error?: string | undefined;
  /** The parsed JSON object of a 2xx answer. */
  body?: Readonly<Record<string, unknown>> | undefined;
}

/**
 * A per-request header provider for token requests: `headers` is called before each attempt (each gets
 * fresh headers: a proof is used once), `onAnswer` for each answer. `onAnswer` returning true on an error
 * answer asks for one more attempt at once (at most once per request, not counted as a retry); it may
 * throw to refuse a 2xx answer.
 */
export interface TokenRequestHook {
  /** The headers of one attempt of a request to `url`. */
  headers(target: { method: 'POST'; url: string }): Promise<Record<string, string>>;
  /** Reads an answer; true asks for one more attempt at once (error answers only). */
  onAnswer(answer: TokenRequestAnswer): boolean;
}

/**
 * A form field's value: one value, several (sent as the field repeated, e.g. RFC 8707 `resource`), or
 * `undefined` (left out).
 */
export type FormValue = string | readonly string[] | undefined;

/** A request to a token-like endpoint (POST). Give `form` or `json`. */
export interface TokenEndpointRequest {
  url: string;
  /**
   * Sent as `application/x-www-form-urlencoded`; undefined values are left out, a list is sent as the
   * field repeated.
   */
  form?: Record<string, FormValue>;
  /** Sent as JSON. */
  json?: unknown;
  /** Overrides the body's content type, e.g. `application/json; charset=utf-8`. */
  contentType?: string;
  /** Extra headers (e.g. `Authorization: Basic …`). */
  headers?: Record<string, string>;
  /** What the endpoint is, for messages. Default `token endpoint` (e.g. `revocation endpoint`). */
  what?: string;
  /**
   * Builds the request again before each retry — for bodies that must not be sent twice, such as a
   * signed assertion with a one-time `jti`. Default: every attempt sends the same body.
   */
  renew?: () => Promise<TokenEndpointRequest>;
}

/** A successful JSON answer. */
export interface JsonResponse {
  url: string;
  status: number;
  headers: Record<string, string>;
  /** The parsed JSON body. */
  body: unknown;
}
