/**
 * The fault catalogue of the reliability suite: what a hostile or broken token endpoint can answer, the
 * typed error each must become, the CLI exit code, and how many requests it may cost at most. Each
 * fault is a handler for the scriptable loopback server of test/core/loopback.ts, so any flow (generic
 * grant or vendor preset) can be pointed at it.
 */
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Handler } from '../helpers/loopback.js';

/** What the client must make of a fault. */
export interface Expectation {
  /** The error's `code`. */
  code: string;
  /** The CLI's exit code. */
  exit: number;
  /** Most requests the server may see for one renewal (with `retries = 1`). */
  maxRequests: number;
  /** Fewest requests (a retryable fault must be retried; a deterministic one sent once). */
  minRequests: number;
  /** Least `retryAfter` the error must carry (seconds), when the fault sends one. */
  retryAfter?: number;
  /** The error's `attempts` (NetworkError), when it must be exact. */
  attempts?: number;
}

/** One fault. */
export interface Fault {
  name: string;
  /** The area of the summary (`status`, `transport`, `body`, `content`, `redirect`). */
  area: string;
  /** The per-attempt timeout to use (seconds): short only where the fault is a timeout. */
  timeoutSeconds: number;
  handler: Handler;
  expect: Expectation;
}

/** The retries every case is run with: one retry, so "retried" and "bounded" are both visible. */
export const RETRIES = 1;
/** Timeout of the cases that time out, seconds (short, so the matrix is fast). */
export const SHORT_TIMEOUT_S = 1;
/**
 * Timeout of every other case, seconds: generous, so a loaded machine never turns them into timeouts. It
 * is only reached by a case that hangs. 20 s was not enough once: at a load average above 100 on two
 * cores, the endless-body case had not read its way to the body limit when the timeout (retried) came.
 */
export const LONG_TIMEOUT_S = 120;

/** A good token answer (for the seeding step of the CLI cases). */
export function goodAnswer(n: number, withRefresh: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {
    access_token: `good-at-${n}-${'x'.repeat(12)}`,
    token_type: 'Bearer',
    expires_in: 3600,
  };
  if (withRefresh) out['refresh_token'] = `good-rt-${n}-${'y'.repeat(12)}`;
  return out;
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  // No keep-alive: on a loaded machine a pooled connection can be closed by the server's keep-alive
  // timer just as the retry reuses it (an ECONNRESET the case is not about).
  res.writeHead(status, { 'content-type': 'application/json', connection: 'close', ...headers });
  res.end(body);
}

/** A body that echoes what the client sent (a WAF or debug page would): redaction must hold. */
function echo(body: string): string {
  return JSON.stringify({ error: 'server_error', error_description: `you sent: ${body}` });
}

/** Writes until the client goes away. */
async function dribble(res: ServerResponse, chunk: string | Buffer, gapMs: number): Promise<void> {
  while (!res.destroyed && !res.writableEnded) {
    const ok = res.write(chunk);
    if (!ok) {
      await Promise.race([
        new Promise((r) => res.once('drain', r)),
        new Promise((r) => res.once('close', r)),
      ]);
    }
    if (gapMs > 0) await sleep(gapMs);
  }
}

const RETRYABLE = { maxRequests: RETRIES + 1, minRequests: RETRIES + 1 };
// A timed-out attempt may be aborted before the server (in the same, loaded process) has read it: the
// server sees at most 2 requests, and the error's `attempts` says exactly 2.
const TIMED_OUT = { maxRequests: RETRIES + 1, minRequests: 0, attempts: RETRIES + 1 };
const ONCE = { maxRequests: 1, minRequests: 1 };
const invalid = { code: 'ERR_INVALID_TOKEN_RESPONSE', exit: 3, ...ONCE };

/** Every fault of the matrix. */
export const FAULTS: readonly Fault[] = [
  {
    name: '500',
    area: 'status',
    timeoutSeconds: LONG_TIMEOUT_S,
    handler: (req, res) => send(res, 500, echo(req.body)),
    expect: { code: 'ERR_TOKEN_ENDPOINT', exit: 3, ...RETRYABLE },
  },
  {
    name: '502 HTML gateway page',
    area: 'status',
    timeoutSeconds: LONG_TIMEOUT_S,
    handler: (_req, res) =>
      send(res, 502, '<html><body><h1>502 Bad Gateway</h1></body></html>', { 'content-type': 'text/html' }),
    expect: { code: 'ERR_UPSTREAM_UNAVAILABLE', exit: 7, ...RETRYABLE },
  },
  {
    name: '503',
    area: 'status',
    timeoutSeconds: LONG_TIMEOUT_S,
    handler: (_req, res) => send(res, 503, JSON.stringify({ error: 'temporarily_unavailable' })),
    expect: { code: 'ERR_UPSTREAM_UNAVAILABLE', exit: 7, ...RETRYABLE },
  },
  {
    name: '504 empty',
    area: 'status',
    timeoutSeconds: LONG_TIMEOUT_S,
    handler: (_req, res) => send(res, 504, ''),
    expect: { code: 'ERR_UPSTREAM_UNAVAILABLE', exit: 7, ...RETRYABLE },
  },
  {
    name: '429 Retry-After: 1',
    area: 'status',
    timeoutSeconds: LONG_TIMEOUT_S,
    handler: (_req, res) => send(res, 429, JSON.stringify({ error: 'slow_down' }), { 'retry-after': '1' }),
    expect: { code: 'ERR_UPSTREAM_UNAVAILABLE', exit: 7, ...RETRYABLE, retryAfter: 1 },
  },
  {
    name: '429 Retry-After: 99999',
    area: 'status',
    timeoutSeconds: LONG_TIMEOUT_S,
    handler: (_req, res) =>
      send(res, 429, JSON.stringify({ error: 'slow_down' }), { 'retry-after': '99999' }),
    expect: { code: 'ERR_UPSTREAM_UNAVAILABLE', exit: 7, ...ONCE, retryAfter: 99999 },
  },
  {
    name: '503 Retry-After: HTTP-date a day ahead',
    area: 'status',
    timeoutSeconds: LONG_TIMEOUT_S,
    handler: (_req, res) =>
      send(res, 503, '', { 'retry-after': new Date(Date.now() + 86_400_000).toUTCString() }),
    expect: { code: 'ERR_UPSTREAM_UNAVAILABLE', exit: 7, ...ONCE },
  },
  {
    name: 'timeout (never answers)',
    area: 'transport',
    timeoutSeconds: SHORT_TIMEOUT_S,
    handler: () => new Promise<void>(() => {}),
    expect: { code: 'ERR_TIMEOUT', exit: 4, ...TIMED_OUT },
  },
  {
    name: 'slowloris body (a byte every 50 ms)',
    area: 'transport',
    timeoutSeconds: SHORT_TIMEOUT_S,
    handler: async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"access_token":"');
      await dribble(res, 'a', 50);
    },
    expect: { code: 'ERR_TIMEOUT', exit: 4, ...TIMED_OUT },
  },
  {
    name: 'slowloris headers (a header every 50 ms)',
    area: 'transport',
    timeoutSeconds: SHORT_TIMEOUT_S,
    handler: async (_req, res) => {
      // Node sends headers with the first body write: go below it, onto the socket.
      const socket = res.socket;
      if (socket === null) return;
      socket.write('HTTP/1.1 200 OK\r\n');
      for (let i = 0; !socket.destroyed; i++) {
        socket.write(`x-slow-${i}: 1\r\n`);
        await sleep(50);
      }
    },
    expect: { code: 'ERR_TIMEOUT', exit: 4, ...TIMED_OUT },
  },
  {
    name: 'response header overflow',
    area: 'transport',
    timeoutSeconds: LONG_TIMEOUT_S,
    handler: (_req, res) => send(res, 200, '{}', { 'x-huge': 'h'.repeat(64 * 1024) }),
    expect: { code: 'ERR_NETWORK', exit: 4, ...ONCE },
  },
  {
    name: 'HTML page (200)',
    area: 'body',
    timeoutSeconds: LONG_TIMEOUT_S,
    handler: (_req, res) =>
      send(res, 200, '<!DOCTYPE html><html><body>Sign in</body></html>', { 'content-type': 'text/html' }),
    expect: invalid,
  },
  {
    name: 'truncated JSON',
    area: 'body',
    timeoutSeconds: LONG_TIMEOUT_S,
    handler: (_req, res) => send(res, 200, '{"access_token":"abc","expires_in":36'),
    expect: invalid,
  },
  {
    name: 'empty body',
    area: 'body',
    timeoutSeconds: LONG_TIMEOUT_S,
    handler: (_req, res) => send(res, 200, ''),
    expect: invalid,
  },
  {
    name: '10 MB body',
    area: 'body',
    timeoutSeconds: LONG_TIMEOUT_S,
    handler: (_req, res) => {
      const big = Buffer.alloc(10 * 1024 * 1024, 0x61);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(big.length + 2) });
      res.write('["');
      res.end(big);
    },
    expect: invalid,
  },
  {
    name: 'endless body (chunked, no length)',
    area: 'body',
    timeoutSeconds: LONG_TIMEOUT_S,
    handler: async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"access_token":"');
      await dribble(res, Buffer.alloc(64 * 1024, 0x61), 0);
    },
    expect: invalid,
  },
  {
    name: 'expires_in "abc"',
    area: 'content',
    timeoutSeconds: LONG_TIMEOUT_S,
    handler: (_req, res) =>
      send(
        res,
        200,
        JSON.stringify({ access_token: 'fresh-at-abc', token_type: 'Bearer', expires_in: 'abc' }),
      ),
    expect: invalid,
  },
  {
    name: 'access_token: 5',
    area: 'content',
    timeoutSeconds: LONG_TIMEOUT_S,
    handler: (_req, res) => send(res, 200, JSON.stringify({ access_token: 5, expires_in: 3600 })),
    expect: invalid,
  },
  {
    name: 'expires_in: 0.001',
    area: 'content',
    timeoutSeconds: LONG_TIMEOUT_S,
    handler: (_req, res) =>
      send(
        res,
        200,
        JSON.stringify({ access_token: 'fresh-at-tiny', token_type: 'Bearer', expires_in: 0.001 }),
      ),
    expect: invalid,
  },
  {
    name: 'CR/LF in access_token',
    area: 'content',
    timeoutSeconds: LONG_TIMEOUT_S,
    handler: (_req, res) =>
      send(
        res,
        200,
        JSON.stringify({ access_token: 'fresh-at\r\nX-Injected: 1', token_type: 'Bearer', expires_in: 3600 }),
      ),
    expect: invalid,
  },
  {
    name: 'CR/LF in token_type',
    area: 'content',
    timeoutSeconds: LONG_TIMEOUT_S,
    handler: (_req, res) =>
      send(
        res,
        200,
        JSON.stringify({
          access_token: 'fresh-at-tt',
          token_type: 'Bearer\r\nX-Injected: 1',
          expires_in: 3600,
        }),
      ),
    expect: invalid,
  },
  {
    name: 'CR/LF in refresh_token',
    area: 'content',
    timeoutSeconds: LONG_TIMEOUT_S,
    handler: (_req, res) =>
      send(
        res,
        200,
        JSON.stringify({
          access_token: 'fresh-at-rt',
          token_type: 'Bearer',
          expires_in: 3600,
          refresh_token: 'rt\nX-Injected: 1',
        }),
      ),
    expect: invalid,
  },
  {
    name: '302 redirect',
    area: 'redirect',
    timeoutSeconds: LONG_TIMEOUT_S,
    handler: (req, res) => {
      if (req.url.startsWith('/elsewhere')) {
        send(res, 200, JSON.stringify(goodAnswer(999, false)));
        return;
      }
      res.writeHead(302, { location: '/elsewhere/token?code=leak' });
      res.end();
    },
    expect: { code: 'ERR_TOKEN_ENDPOINT', exit: 3, ...ONCE },
  },
  {
    name: '307 redirect to another host',
    area: 'redirect',
    timeoutSeconds: LONG_TIMEOUT_S,
    handler: (_req, res) => {
      res.writeHead(307, { location: 'https://attacker.invalid/steal' });
      res.end();
    },
    expect: { code: 'ERR_TOKEN_ENDPOINT', exit: 3, ...ONCE },
  },
];
