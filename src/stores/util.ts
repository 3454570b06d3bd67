/**
 * Small helpers shared by the persistent stores: warnings, key checks, backoff.
 * @module
 */

import { StoreError } from '../errors.js';
import { redactText } from '../redact.js';

/** A store's warning hook: receives one human-readable, secret-free line per problem. */
export type StoreWarningHandler = (message: string) => void;

/** The default warning hook: `process.emitWarning` with the name `TokenwardStoreWarning`. */
export function defaultStoreWarning(message: string): void {
  process.emitWarning(message, { type: 'TokenwardStoreWarning', code: 'TOKENWARD_STORE' });
}

/** Wraps a warning hook so that it redacts, and a throwing hook cannot break a store operation. */
export function safeWarn(handler: StoreWarningHandler | undefined): StoreWarningHandler {
  const h = handler ?? defaultStoreWarning;
  return (message) => {
    try {
      h(redactText(message));
    } catch {
      // A broken warning hook must not turn a miss into a crash.
    }
  };
}

/**
 * Memoises an async initialiser (connect, resolve a key, create a directory): every caller shares one
 * promise. A rejection is not remembered, so the next call tries again.
 */
export function onceUntilRejected<T>(init: () => Promise<T>): () => Promise<T> {
  let current: Promise<T> | undefined;
  return () => {
    if (current === undefined) {
      const p = init();
      current = p;
      p.catch(() => {
        if (current === p) current = undefined;
      });
    }
    return current;
  };
}

const SAFE_KEY = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/;

/**
 * Checks that a store key is safe as a file name and a Redis/SQL key: 1–200 characters of
 * `[A-Za-z0-9._-]`, not starting with a dot. Keys from `cacheKey` always are.
 * @throws {StoreError} otherwise.
 */
export function assertSafeKey(store: string, key: string): void {
  if (!SAFE_KEY.test(key)) {
    throw new StoreError(
      store,
      `invalid store key ${JSON.stringify(key.slice(0, 40))}: use cacheKey() or 1-200 characters of [A-Za-z0-9._-] not starting with a dot`,
    );
  }
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Exponential backoff with full jitter for lock polling: attempt 0 waits up to `baseMs`, doubling to
 * at most `capMs`, never beyond `remainingMs`.
 */
export function backoffDelay(attempt: number, remainingMs: number, baseMs = 5, capMs = 50): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 16));
  const d = ceiling / 2 + Math.random() * (ceiling / 2);
  return Math.max(1, Math.min(d, remainingMs));
}

/**
 * Why a connection to a store server failed, in words: refused, unknown host, no answer within the
 * timeout (errno, or a message matching `timeoutPattern`), reset — else `server(code, message)` for the
 * server's own errors, else the message with its code.
 */
export function connectionReason(
  err: unknown,
  connectTimeoutMs: number,
  timeoutPattern: RegExp,
  server: (code: string | undefined, message: string) => string | undefined = () => undefined,
): string {
  const code = errnoCode(err);
  const msg = err instanceof Error ? err.message : String(err);
  if (code === 'ECONNREFUSED') return 'connection refused (is the server running and listening there?)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host name not found';
  if (code === 'ETIMEDOUT' || timeoutPattern.test(msg)) return `no answer within ${connectTimeoutMs} ms`;
  return server(code, msg) ?? (code !== undefined ? `${msg} (${code})` : msg);
}

/** The `code` of a Node.js system error, if any. */
export function errnoCode(err: unknown): string | undefined {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}
