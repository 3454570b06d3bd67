/**
 * The HTTP layer's time and size limits with their defaults, and the longest a request can take. Apart
 * from the request code (no I/O, nothing imported), so a token manager can know its budget before its
 * token client — and the HTTP layer — is loaded.
 * @module
 */

import type { HttpOptions } from './types.js';

/** Default per-attempt timeout, ms. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** Default number of retries after the first attempt. */
export const DEFAULT_RETRIES = 2;
/** Default backoff base, ms. */
export const DEFAULT_RETRY_BASE_MS = 200;
/** Default cap of one wait, ms. */
export const DEFAULT_RETRY_MAX_MS = 10_000;
/** Default response size cap: 1 MiB. */
export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

/** Settings with defaults applied. */
export interface Resolved {
  timeoutMs: number;
  retries: number;
  retryBaseMs: number;
  retryMaxMs: number;
  maxBytes: number;
}

/** The options with the defaults applied (a value out of range counts as not given). */
export function resolve(opts: HttpOptions): Resolved {
  const num = (v: number | undefined, d: number, min: number) =>
    // Stryker disable next-line ConditionalExpression: Number.isFinite() is false for every non-number
    typeof v === 'number' && Number.isFinite(v) && v >= min ? v : d;
  return {
    timeoutMs: num(opts.timeoutMs, DEFAULT_TIMEOUT_MS, 1),
    retries: Math.floor(num(opts.retries, DEFAULT_RETRIES, 0)),
    retryBaseMs: num(opts.retryBaseMs, DEFAULT_RETRY_BASE_MS, 0),
    retryMaxMs: num(opts.retryMaxMs, DEFAULT_RETRY_MAX_MS, 0),
    maxBytes: Math.floor(num(opts.maxResponseBytes, DEFAULT_MAX_RESPONSE_BYTES, 1)),
  };
}

/**
 * The longest a request with these options can take in all, in ms: every attempt at its full timeout
 * plus the longest wait before each retry (a `Retry-After` longer than a wait is not slept through). A
 * lock waiter can derive how long to wait for a holder from it.
 */
export function requestBudgetMs(opts: HttpOptions = {}): number {
  const cfg = resolve(opts);
  return cfg.timeoutMs * (cfg.retries + 1) + cfg.retryMaxMs * cfg.retries;
}
