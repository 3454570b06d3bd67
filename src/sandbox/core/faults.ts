/**
 * Injected failures: the replies that stand in for a token answer, and the slow writer for `slow-body`.
 * @module
 */

import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SandboxFault } from '../types.js';
import { json, type Reply } from './http.js';

/** Size of the `big-body` answer's token, bytes: over tokenward's 1 MiB response cap. */
export const BIG_BODY_BYTES = 2 * 1024 * 1024;

/** Default duration of a `slow-body` answer, milliseconds. */
export const DEFAULT_SLOW_BODY_MS = 30_000;

/**
 * The reply a fault gives instead of the vendor's answer (`slow-body` has none: it slows a real one;
 * `hang` has none: it never answers).
 */
export function faultReply(fault: SandboxFault): Reply | undefined {
  const retryAfter: Record<string, string> =
    fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) };
  switch (fault.kind) {
    case '5xx':
      return json(
        fault.status ?? 503,
        {
          error: 'temporarily_unavailable',
          error_description: 'The service is unavailable (sandbox fault).',
        },
        retryAfter,
      );
    case '429':
      return json(
        429,
        { error: 'too_many_requests', error_description: 'Rate limit exceeded (sandbox fault).' },
        { 'retry-after': String(fault.retryAfterSeconds ?? 1) },
      );
    case 'malformed-json':
      // A token answer cut off in the middle, still labelled JSON.
      return {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: '{"access_token":"eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzYW5kYm94',
      };
    case 'html':
      return {
        status: fault.status ?? 200,
        headers: { 'content-type': 'text/html; charset=utf-8' },
        body: '<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body><h1>Sign in</h1><p>Your session has ended. Please sign in again.</p></body></html>\n',
      };
    case 'empty':
      return { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.alloc(0) };
    case 'big-body':
      // Valid JSON, just too big: a client must stop reading at its cap, not parse 2 MiB.
      return {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: Buffer.from(`{"access_token":"${'a'.repeat(BIG_BODY_BYTES)}"}`),
      };
    case 'wrong-types':
      return json(200, { access_token: 5, token_type: 'Bearer', expires_in: 'abc' });
    case 'crlf-token':
      return json(200, {
        access_token: 'sandbox-token\r\nX-Injected: 1',
        token_type: 'Bearer',
        expires_in: 3600,
      });
    case 'redirect':
      return { status: fault.status ?? 302, headers: { location: '/_moved/token?from=sandbox' } };
    case 'slow-body':
    case 'hang':
      return undefined;
  }
}

/**
 * Writes `bytes` slowly: the first byte at once, the rest in ten pieces spread over `delayMs`. Stops
 * quietly when `signal` aborts (the client went away or the sandbox closed).
 */
export async function writeSlowly(
  res: ServerResponse,
  bytes: Buffer,
  delayMs: number,
  signal: AbortSignal,
): Promise<void> {
  const pieces = 10;
  res.write(bytes.subarray(0, 1));
  const rest = bytes.subarray(1);
  const size = Math.ceil(rest.length / pieces);
  for (let i = 0; i < pieces; i++) {
    try {
      await sleep(delayMs / pieces, undefined, { signal });
    } catch {
      return;
    }
    const piece = rest.subarray(i * size, (i + 1) * size);
    if (piece.length > 0) res.write(piece);
  }
  res.end();
}
