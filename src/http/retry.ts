/**
 * Retry policy helpers: exponential backoff with full jitter, and `Retry-After` parsing.
 * @module
 */

/**
 * The wait before retry number `retry` (1-based): a uniformly random time between 0 and
 * `min(maxMs, baseMs * 2^(retry-1))` ("full jitter").
 */
export function backoffMs(
  retry: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}

/**
 * Parses a `Retry-After` header (delta seconds or an HTTP-date) into seconds from `now`. Returns
 * `undefined` when absent or unparseable; a date in the past gives 0.
 */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  // Stryker disable next-line ConditionalExpression,StringLiteral: '' is no number and Date.parse('') is NaN
  if (v === '') return undefined;
  if (/^\d+$/.test(v)) return Number(v);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/** Waits `ms`, or rejects with the signal's reason when it is aborted first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 && !signal?.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(t);
      // Stryker disable next-line OptionalChaining: onAbort is only ever added to a signal
      reject(signal?.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
