/**
 * The HTTP layer's sending (src/http/token-endpoint.ts outside `classifyNetworkError`/`errorCode`), pinned
 * where a mutant would otherwise survive (Stryker group `http-send`, docs/testing.md): which statuses
 * and failures are retried and how often, the waits (`Retry-After` within and at the budget, back-off)
 * told apart by the order of events rather than by a clock, the size cap at its exact boundary (declared
 * and streamed), a declared oversize body not waited for, the requests' headers, the token request hook
 * (fresh headers per attempt, its one extra attempt not counted), `renew`, what each attempt reports to
 * `onExchange` and to the diagnostics channels, and what is registered for redaction from a request.
 * Real loopback servers only.
 */
import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ServerResponse } from 'node:http';
import { after, describe, it } from 'node:test';
import {
  InvalidTokenResponseError,
  NetworkError,
  TokenEndpointError,
  UpstreamUnavailableError,
} from '../../src/errors.js';
import { closeAgents } from '../../src/http/agent.js';
import {
  DEFAULT_USER_AGENT,
  getJson,
  requestNoContent,
  requestToken,
} from '../../src/http/token-endpoint.js';
import type {
  HttpExchange,
  HttpOptions,
  TokenEndpointRequest,
  TokenRequestAnswer,
  TokenRequestHook,
} from '../../src/http/types.js';
import { CHANNELS } from '../../src/observe/channels.js';
import { clearRegisteredSecrets, redactText, registrySize } from '../../src/redact.js';
import { json, raw, startLoopback } from '../helpers/loopback.js';

const OK = { access_token: 'at-send-000001', token_type: 'Bearer', expires_in: 60 };
/** Generous time limits: nothing here waits on them, except where a test says so. */
const fast: HttpOptions = { retries: 0, retryBaseMs: 0, retryMaxMs: 0, timeoutMs: 30_000 };

after(() => closeAgents());

/** Runs `body` against a loopback server answering with `handler`, and closes it. */
async function withServer(
  handler: Parameters<typeof startLoopback>[0],
  body: (s: Awaited<ReturnType<typeof startLoopback>>) => Promise<void>,
): Promise<void> {
  const s = await startLoopback(handler);
  try {
    await body(s);
  } finally {
    await s.close();
  }
}

/** A form request whose `renew` records each call (and sends `n=<call>`). */
function renewing(url: string, events: string[]): TokenEndpointRequest {
  let n = 0;
  return {
    url,
    form: { grant_type: 'client_credentials', n: '0' },
    renew: async () => {
      n++;
      events.push(`renew ${n}`);
      return { url, form: { grant_type: 'client_credentials', n: String(n) } };
    },
  };
}

describe('which answers are retried, and how often', () => {
  it('500 is retried (the least 5xx), 499 and 300 are not', async () => {
    await withServer(
      (_r, res, n) => (n === 1 ? json(res, 500, { error: 'server_error' }) : json(res, 200, OK)),
      async (s) => {
        const r = await requestToken({ url: s.url, form: {} }, { ...fast, retries: 1 });
        assert.deepEqual(r.body, OK);
        assert.equal(s.requests.length, 2);
      },
    );
    for (const status of [499, 300]) {
      await withServer(
        (_r, res) => json(res, status, OK),
        async (s) => {
          await assert.rejects(
            requestToken({ url: s.url, form: {} }, { ...fast, retries: 3 }),
            (e: unknown) => {
              assert.ok(e instanceof TokenEndpointError, String(e));
              assert.equal(e.status, status);
              assert.doesNotMatch(e.message, /attempts/);
              return true;
            },
          );
          assert.equal(s.requests.length, 1, `${status} is sent once`);
        },
      );
    }
  });

  it('200 and 299 are answers; retries + 1 attempts for 5xx, the count in the message', async () => {
    for (const status of [200, 299]) {
      await withServer(
        (_r, res) => json(res, status, OK),
        async (s) => {
          const r = await requestToken({ url: s.url, form: {} }, fast);
          assert.equal(r.status, status);
          assert.deepEqual(r.body, OK);
        },
      );
    }
    await withServer(
      (_r, res) => raw(res, 503, 'busy', 'text/plain'),
      async (s) => {
        await assert.rejects(
          requestToken({ url: s.url, form: {} }, { ...fast, retries: 2 }),
          (e: unknown) => {
            assert.ok(e instanceof UpstreamUnavailableError, String(e));
            assert.match(e.message, /answered HTTP 503 after 3 attempts: "busy"/);
            return true;
          },
        );
        assert.equal(s.requests.length, 3);
      },
    );
  });

  it('Retry-After at the last attempt is reported as such, not as beyond the budget', async () => {
    await withServer(
      (_r, res) => json(res, 503, {}, { 'retry-after': '0' }),
      async (s) => {
        await assert.rejects(
          requestToken({ url: s.url, form: {} }, { ...fast, retryMaxMs: 5_000 }),
          (e: unknown) => {
            assert.ok(e instanceof UpstreamUnavailableError, String(e));
            assert.equal(e.retryAfter, 0);
            assert.ok(e.message.endsWith('(Retry-After: 0 s)'), e.message);
            return true;
          },
        );
      },
    );
  });

  it('a Retry-After beyond the retry budget (3 s for 2 s) stops at once: one request, retryAfter and the budget', async () => {
    await withServer(
      (_r, res) => json(res, 429, { error: 'slow_down' }, { 'retry-after': '3' }),
      async (s) => {
        await assert.rejects(
          requestToken({ url: s.url, form: {} }, { ...fast, retries: 5, retryMaxMs: 2_000 }),
          (e: unknown) => {
            assert.ok(e instanceof UpstreamUnavailableError, String(e));
            assert.equal(e.retryAfter, 3);
            assert.match(
              e.message,
              /asked to retry after 3 s, longer than the retry budget \(2 s\); not retried now/,
            );
            return true;
          },
        );
        assert.equal(s.requests.length, 1);
      },
    );
  });

  it('a Retry-After exactly the retry budget is waited for (0 s with a budget of 0 ms)', async () => {
    await withServer(
      (_r, res, n) => (n === 1 ? json(res, 429, {}, { 'retry-after': '0' }) : json(res, 200, OK)),
      async (s) => {
        const r = await requestToken({ url: s.url, form: {} }, { ...fast, retries: 1, retryMaxMs: 0 });
        assert.deepEqual(r.body, OK);
        assert.equal(s.requests.length, 2);
      },
    );
  });
});

describe('the waits between attempts, by the order of events', () => {
  it('a Retry-After of 1 s is slept through before the next attempt (not the back-off, not 1 ms)', async () => {
    const events: string[] = [];
    let timer: NodeJS.Timeout | undefined;
    await withServer(
      (_r, res, n) => (n === 1 ? json(res, 503, {}, { 'retry-after': '1' }) : json(res, 200, OK)),
      async (s) => {
        try {
          await requestToken(renewing(s.url, events), {
            ...fast,
            retries: 1,
            retryMaxMs: 60_000,
            onExchange: (x) => {
              // Set when attempt 1 is reported, before the wait starts: fires during a wait of 1 s.
              if (x.attempt === 1) timer = setTimeout(() => events.push('300 ms timer'), 300);
            },
          });
        } finally {
          clearTimeout(timer);
        }
        assert.deepEqual(events, ['300 ms timer', 'renew 1']);
        assert.equal(s.requests[1]?.body, 'grant_type=client_credentials&n=1');
      },
    );
  });

  it('a Retry-After of 0 s is not stretched to the budget (retryMaxMs caps the wait, it is not a floor)', async () => {
    const events: string[] = [];
    const ac = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    await withServer(
      (_r, res, n) => (n === 1 ? json(res, 503, {}, { 'retry-after': '0' }) : json(res, 200, OK)),
      async (s) => {
        try {
          const r = await requestToken(renewing(s.url, events), {
            ...fast,
            retries: 1,
            retryMaxMs: 600_000,
            signal: ac.signal,
            onExchange: (x) => {
              // A wait of 0 ms is a resolved promise: the next attempt starts before any timer can fire.
              if (x.attempt === 1)
                timer = setTimeout(() => {
                  if (events.includes('renew 1')) return;
                  events.push('1 ms timer');
                  ac.abort();
                }, 1);
            },
          });
          assert.deepEqual(r.body, OK);
        } finally {
          clearTimeout(timer);
        }
        assert.equal(events[0], 'renew 1');
      },
    );
  });

  it('without Retry-After the back-off is slept (and an abort during it ends the request at that attempt)', async () => {
    // A back-off ceiling of 10^9 ms: the full-jitter wait is below 50 ms with a probability of 5e-8.
    const events: string[] = [];
    const ac = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    await withServer(
      (_r, res) => json(res, 503, {}),
      async (s) => {
        try {
          await assert.rejects(
            requestToken(renewing(s.url, events), {
              ...fast,
              retries: 1,
              retryBaseMs: 1e9,
              retryMaxMs: 1e9,
              signal: ac.signal,
              onExchange: (x) => {
                if (x.attempt === 1)
                  timer = setTimeout(() => {
                    events.push('50 ms timer');
                    ac.abort();
                  }, 50);
              },
            }),
            (e: unknown) => {
              assert.ok(e instanceof NetworkError, String(e));
              assert.equal(e.attempts, 1);
              assert.match(e.message, /^request to token endpoint http:\/\/127\.0\.0\.1:\d+\/ was aborted$/);
              return true;
            },
          );
        } finally {
          clearTimeout(timer);
        }
        assert.deepEqual(events, ['50 ms timer']);
        assert.equal(s.requests.length, 1);
      },
    );
  });
});

describe('renew', () => {
  it('is called once before each retry, never before the first attempt', async () => {
    const events: string[] = [];
    await withServer(
      (_r, res, n) => (n < 3 ? json(res, 502, {}) : json(res, 200, OK)),
      async (s) => {
        await requestToken(renewing(s.url, events), { ...fast, retries: 2 });
        assert.deepEqual(events, ['renew 1', 'renew 2']);
        assert.deepEqual(
          s.requests.map((r) => r.body),
          ['n=0', 'n=1', 'n=2'].map((n) => `grant_type=client_credentials&${n}`),
        );
      },
    );
    await withServer(
      (_r, res) => json(res, 200, OK),
      async (s) => {
        const none: string[] = [];
        await requestToken(renewing(s.url, none), fast);
        assert.deepEqual(none, []);
      },
    );
  });
});

describe('the size cap, at its boundary', () => {
  const body = JSON.stringify({ ...OK, pad: 'p'.repeat(100) });
  const cap = Buffer.byteLength(body);

  it('a body of exactly maxResponseBytes is read, declared or streamed; one byte more is not', async () => {
    await withServer(
      (_r, res, n) => {
        if (n % 2 === 1) {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(cap) });
          res.end(body);
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }); // chunked
        res.write(body.slice(0, 10));
        res.end(body.slice(10));
      },
      async (s) => {
        for (let i = 0; i < 2; i++) {
          const r = await requestToken({ url: s.url, form: {} }, { ...fast, maxResponseBytes: cap });
          assert.equal((r.body as { pad: string }).pad.length, 100);
        }
        for (let i = 0; i < 2; i++) {
          await assert.rejects(
            requestToken({ url: s.url, form: {} }, { ...fast, maxResponseBytes: cap - 1 }),
            (e: unknown) => e instanceof InvalidTokenResponseError && /larger than \d+ bytes/.test(e.message),
          );
        }
      },
    );
  });

  it('a declared length over the cap is refused at the headers: a body that never comes is not waited for', async () => {
    await withServer(
      (_r, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '2000' });
        res.flushHeaders(); // and never a byte of the body
      },
      async (s) => {
        const seen: HttpExchange[] = [];
        await assert.rejects(
          requestToken(
            { url: s.url, form: {} },
            { ...fast, maxResponseBytes: 1000, onExchange: (x) => seen.push(x) },
          ),
          (e: unknown) => {
            assert.ok(e instanceof InvalidTokenResponseError, String(e));
            assert.match(e.message, /with a body larger than 1000 bytes; stopped reading/);
            return true;
          },
        );
        assert.equal(seen[0]?.responseBody, '(body larger than the cap; 0 bytes read)');
      },
    );
  });

  it('a streamed body over the cap: the exchange says how much was read', async () => {
    await withServer(
      (_r, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('x'.repeat(600));
        setTimeout(() => res.end('y'.repeat(600)), 20);
      },
      async (s) => {
        const seen: HttpExchange[] = [];
        await assert.rejects(
          requestToken(
            { url: s.url, form: {} },
            { ...fast, maxResponseBytes: 1000, onExchange: (x) => seen.push(x) },
          ),
          InvalidTokenResponseError,
        );
        const read = /^\(body larger than the cap; (\d+) bytes read\)$/.exec(seen[0]?.responseBody ?? '');
        assert.ok(read !== null && Number(read[1]) > 1000 && Number(read[1]) <= 1200, seen[0]?.responseBody);
      },
    );
  });

  it('requestNoContent: JSON is returned, anything else (empty, text, over the cap) is no body', async () => {
    const bodies = ['{"revoked":true}', '', '  ', 'not json', 'z'.repeat(50)];
    await withServer(
      (_r, res, n) => raw(res, 200, bodies[n - 1] ?? '', 'text/plain'),
      async (s) => {
        const got: unknown[] = [];
        for (let i = 0; i < bodies.length; i++) {
          const r = await requestNoContent(
            { url: s.url, form: { token: 'tok-revoke-1' } },
            { ...fast, maxResponseBytes: 40 },
          );
          assert.equal(r.status, 200);
          got.push(r.body);
        }
        assert.deepEqual(got, [{ revoked: true }, undefined, undefined, undefined, undefined]);
      },
    );
  });
});

describe('what is sent', () => {
  it('default Accept and User-Agent; a caller header of either case replaces them; content type override', async () => {
    await withServer(
      (_r, res) => json(res, 200, OK),
      async (s) => {
        await requestToken(
          { url: s.url, form: { resource: ['https://a.example', 'https://b.example'] } },
          fast,
        );
        await requestToken(
          {
            url: s.url,
            json: { grant_type: 'x' },
            contentType: 'application/json; charset=utf-8',
            headers: { ACCEPT: 'application/jwt' },
          },
          { ...fast, userAgent: 'agent/9' },
        );
        const [a, b] = s.requests;
        assert.equal(a?.headers['accept'], 'application/json');
        assert.equal(a?.headers['user-agent'], DEFAULT_USER_AGENT);
        assert.equal(DEFAULT_USER_AGENT, 'tokenward/0.1');
        assert.equal(a?.body, 'resource=https%3A%2F%2Fa.example&resource=https%3A%2F%2Fb.example');
        assert.equal(b?.headers['accept'], 'application/jwt');
        assert.equal(b?.headers['user-agent'], 'agent/9');
        assert.equal(b?.headers['content-type'], 'application/json; charset=utf-8');
        assert.equal(b?.body, '{"grant_type":"x"}');
      },
    );
  });

  it('a JSON request without a body (undefined or null) sends {}', async () => {
    await withServer(
      (_r, res) => json(res, 200, OK),
      async (s) => {
        await requestToken({ url: s.url }, fast);
        await requestToken({ url: s.url, json: null }, fast);
        assert.deepEqual(
          s.requests.map((r) => [r.body, r.headers['content-type']]),
          [
            ['{}', 'application/json'],
            ['{}', 'application/json'],
          ],
        );
      },
    );
  });

  it('getJson: GET with the default headers and the caller headers; what it is in messages; JSON required', async () => {
    await withServer(
      (r, res) =>
        r.url === '/doc' ? json(res, 200, { issuer: 'x' }) : raw(res, 200, '<html></html>', 'text/html'),
      async (s) => {
        const d = await getJson(`${s.url}/doc`, { ...fast, headers: { 'X-Trace': 't1' } });
        assert.deepEqual(d.body, { issuer: 'x' });
        const seen = s.requests[0];
        assert.equal(seen?.method, 'GET');
        assert.equal(seen?.headers['accept'], 'application/json');
        assert.equal(seen?.headers['user-agent'], DEFAULT_USER_AGENT);
        assert.equal(seen?.headers['x-trace'], 't1');
        await getJson(`${s.url}/doc`, { ...fast, userAgent: 'agent/8' });
        assert.equal(s.requests[1]?.headers['user-agent'], 'agent/8');
        await assert.rejects(getJson(`${s.url}/page`, fast), (e: unknown) => {
          assert.ok(e instanceof InvalidTokenResponseError, String(e));
          assert.match(
            e.message,
            /^endpoint http:\/\/127\.0\.0\.1:\d+\/page answered HTTP 200 with an HTML page/,
          );
          return true;
        });
        await assert.rejects(
          getJson(`${s.url}/page`, { ...fast, what: 'discovery document' }),
          (e: unknown) => /^discovery document http:/.test((e as Error).message),
        );
      },
    );
  });

  it('the default and a given `what` of a token request name the endpoint in messages', async () => {
    await withServer(
      (_r, res) => json(res, 400, { error: 'invalid_request' }),
      async (s) => {
        await assert.rejects(requestToken({ url: s.url, form: {} }, fast), (e: unknown) =>
          /^token endpoint http:\/\/127\.0\.0\.1:\d+\/ answered HTTP 400 \(invalid_request\)/.test(
            (e as Error).message,
          ),
        );
        await assert.rejects(
          requestToken({ url: s.url, form: {}, what: 'revocation endpoint' }, fast),
          (e: unknown) => /^revocation endpoint http:/.test((e as Error).message),
        );
      },
    );
  });

  it('answer headers: lower-case names, repeated ones joined with ", "', async () => {
    await withServer(
      (_r, res: ServerResponse) => {
        res.setHeader('X-Multi', ['a', 'b']);
        json(res, 200, OK);
      },
      async (s) => {
        const r = await requestToken({ url: s.url, form: {} }, fast);
        assert.equal(r.headers['x-multi'], 'a, b');
        assert.equal(r.headers['content-type'], 'application/json');
      },
    );
  });
});

describe('failures without an answer', () => {
  it('one attempt: the message has no attempt count; the cause is kept', async () => {
    const s = await startLoopback(() => undefined);
    const url = `${s.url}/token`;
    await s.close();
    await assert.rejects(requestToken({ url, form: {} }, fast), (e: unknown) => {
      assert.ok(e instanceof NetworkError, String(e));
      assert.equal(e.attempts, 1);
      assert.equal(
        e.message,
        `could not reach token endpoint ${url}: connection refused (ECONNREFUSED); is the server running?`,
      );
      assert.equal((e.cause as { code?: string } | undefined)?.code, 'ECONNREFUSED');
      return true;
    });
    await assert.rejects(requestToken({ url, form: {} }, { ...fast, retries: 1 }), (e: unknown) => {
      assert.ok(e instanceof NetworkError, String(e));
      assert.equal(e.attempts, 2);
      assert.equal(
        e.message,
        `could not reach token endpoint ${url} after 2 attempts: connection refused (ECONNREFUSED); is the server running?`,
      );
      return true;
    });
  });

  it('a timeout of one attempt: its message, and the exchange and channel say "timeout"', async () => {
    await withServer(
      () => undefined,
      async (s) => {
        const seen: HttpExchange[] = [];
        await assert.rejects(
          requestToken({ url: s.url, form: {} }, { ...fast, timeoutMs: 50, onExchange: (x) => seen.push(x) }),
          (e: unknown) => {
            assert.ok(e instanceof NetworkError, String(e));
            assert.equal(e.code, 'ERR_TIMEOUT');
            assert.match(
              e.message,
              /^token endpoint http:\/\/127\.0\.0\.1:\d+\/ did not answer within 50 ms; the server may be down/,
            );
            return true;
          },
        );
        assert.equal(seen[0]?.error, 'timeout');
        assert.equal(seen[0]?.status, undefined);
      },
    );
  });

  it('a signal aborted before the call: nothing is sent; aborted during the request: the exchange says "aborted"', async () => {
    await withServer(
      () => undefined,
      async (s) => {
        const seen: HttpExchange[] = [];
        const opts = { ...fast, retries: 2, onExchange: (x: HttpExchange) => seen.push(x) };
        await assert.rejects(
          requestToken({ url: s.url, form: {} }, { ...opts, signal: AbortSignal.abort() }),
          (e: unknown) => e instanceof NetworkError && e.attempts === 1 && /was aborted$/.test(e.message),
        );
        assert.equal(s.requests.length, 0);
        const ac = new AbortController();
        s.handler = () => ac.abort(); // aborted once the server has the request
        await assert.rejects(
          requestToken({ url: s.url, form: {} }, { ...opts, signal: ac.signal }),
          (e: unknown) => e instanceof NetworkError && e.attempts === 1 && /was aborted$/.test(e.message),
        );
        assert.equal(s.requests.length, 1);
        // Aborted during a retry: the error counts that attempt.
        const ac2 = new AbortController();
        s.handler = (_r, res, n) => (n === 2 ? json(res, 503, {}) : ac2.abort());
        await assert.rejects(
          requestToken({ url: s.url, form: {} }, { ...fast, retries: 2, signal: ac2.signal }),
          (e: unknown) => e instanceof NetworkError && e.attempts === 2 && /was aborted$/.test(e.message),
        );
        seen.splice(2);
        assert.deepEqual(
          seen.map((x) => [x.attempt, x.error]),
          [
            [1, 'aborted'],
            [1, 'aborted'],
          ],
        );
      },
    );
  });

  it('the per-attempt timer is cleared when the attempt ends', async () => {
    const TIMEOUT = 987_654;
    const timers: Array<{ _destroyed?: boolean }> = [];
    const hook = createHook({
      init(_id, type, _trigger, resource) {
        if (type === 'Timeout' && (resource as { _idleTimeout?: number })._idleTimeout === TIMEOUT) {
          timers.push(resource as { _destroyed?: boolean });
        }
      },
    }).enable();
    let cleared: Array<boolean | undefined> = [];
    try {
      await withServer(
        (_r, res) => json(res, 200, OK),
        async (s) => {
          await requestToken({ url: s.url, form: {} }, { ...fast, timeoutMs: TIMEOUT });
        },
      );
      cleared = timers.map((t) => t._destroyed);
    } finally {
      hook.disable();
      for (const t of timers) clearTimeout(t as unknown as NodeJS.Timeout);
    }
    assert.deepEqual(cleared, [true]);
  });
});

describe('the token request hook', () => {
  function recordingHook(again: (a: TokenRequestAnswer) => boolean) {
    const calls: Array<{ method: string; url: string }> = [];
    const answers: TokenRequestAnswer[] = [];
    const hook: TokenRequestHook = {
      headers: async (target) => {
        calls.push(target);
        return { DPoP: `proof-${calls.length}` };
      },
      onAnswer: (a) => {
        answers.push(a);
        return again(a);
      },
    };
    return { hook, calls, answers };
  }

  it('fresh headers for each attempt; a challenge gets one extra attempt, not counted as a retry', async () => {
    await withServer(
      (_r, res, n) =>
        n === 1 ? json(res, 400, { error: 'use_dpop_nonce' }, { 'dpop-nonce': 'n1' }) : json(res, 200, OK),
      async (s) => {
        const h = recordingHook((a) => a.error === 'use_dpop_nonce');
        const seen: HttpExchange[] = [];
        const url = `${s.url}/token`;
        const r = await requestToken(
          { url, form: { grant_type: 'client_credentials' } },
          { ...fast, tokenRequestHook: h.hook, onExchange: (x) => seen.push(x) },
        );
        assert.deepEqual(r.body, OK);
        assert.deepEqual(h.calls, [
          { method: 'POST', url },
          { method: 'POST', url },
        ]);
        assert.deepEqual(
          s.requests.map((q) => q.headers['dpop']),
          ['proof-1', 'proof-2'],
        );
        assert.deepEqual(
          seen.map((x) => x.attempt),
          [1, 1],
        );
        assert.equal(h.answers.length, 2);
        assert.deepEqual(
          { ...h.answers[0], headers: h.answers[0]?.headers['dpop-nonce'] },
          { url, status: 400, headers: 'n1', error: 'use_dpop_nonce' },
        );
        assert.deepEqual(
          { ...h.answers[1], headers: undefined },
          { url, status: 200, headers: undefined, body: OK },
        );
      },
    );
  });

  it('at most one extra attempt per request; none when the hook does not ask; the error counts one attempt', async () => {
    for (const ask of [true, false]) {
      await withServer(
        (_r, res) => json(res, 400, { error: 'use_dpop_nonce' }),
        async (s) => {
          const h = recordingHook(() => ask);
          await assert.rejects(
            requestToken({ url: s.url, form: {} }, { ...fast, retries: 2, tokenRequestHook: h.hook }),
            (e: unknown) => {
              assert.ok(e instanceof TokenEndpointError, String(e));
              assert.doesNotMatch(e.message, /attempts/);
              assert.equal(e.error, 'use_dpop_nonce');
              return true;
            },
          );
          assert.equal(s.requests.length, ask ? 2 : 1);
          assert.equal(h.calls.length, ask ? 2 : 1);
        },
      );
    }
  });

  it('retries go through the hook and through renew', async () => {
    await withServer(
      (_r, res, n) => (n === 1 ? json(res, 503, {}) : json(res, 200, OK)),
      async (s) => {
        const events: string[] = [];
        const h = recordingHook(() => false);
        await requestToken(renewing(s.url, events), { ...fast, retries: 1, tokenRequestHook: h.hook });
        assert.deepEqual(events, ['renew 1']);
        assert.deepEqual(
          s.requests.map((q) => [q.body, q.headers['dpop']]),
          [
            ['grant_type=client_credentials&n=0', 'proof-1'],
            ['grant_type=client_credentials&n=1', 'proof-2'],
          ],
        );
      },
    );
  });

  it('a 2xx that is not JSON is refused with a hook too', async () => {
    await withServer(
      (_r, res) => raw(res, 200, '<html></html>', 'text/html'),
      async (s) => {
        const h = recordingHook(() => false);
        await assert.rejects(
          requestToken({ url: s.url, form: {} }, { ...fast, tokenRequestHook: h.hook }),
          InvalidTokenResponseError,
        );
        assert.equal(h.answers.length, 0);
      },
    );
  });
});

describe('onExchange', () => {
  it('a GET: exactly these fields; durationMs within the time the call took', async () => {
    await withServer(
      (_r, res) => json(res, 200, { issuer: 'x' }),
      async (s) => {
        const seen: HttpExchange[] = [];
        const t0 = performance.now();
        await getJson(s.url, { ...fast, onExchange: (x) => seen.push(x) });
        const elapsed = performance.now() - t0;
        assert.equal(seen.length, 1);
        const x = seen[0] as HttpExchange;
        assert.ok(x.durationMs >= 0 && x.durationMs <= Math.ceil(elapsed), `${x.durationMs} / ${elapsed}`);
        assert.deepEqual(
          { ...x, durationMs: 0, responseHeaders: undefined },
          {
            method: 'GET',
            url: `${s.url}/`,
            attempt: 1,
            requestHeaders: { accept: 'application/json', 'user-agent': DEFAULT_USER_AGENT },
            durationMs: 0,
            status: 200,
            responseHeaders: undefined,
            responseBody: '{"issuer":"x"}',
          },
        );
        assert.equal(x.responseHeaders?.['content-type'], 'application/json');
      },
    );
  });

  it('a JSON request body is shown redacted; a response body is shown up to 8192 characters', async () => {
    const exact = 'a'.repeat(8192);
    await withServer(
      (_r, res, n) => raw(res, 400, n === 1 ? exact : `${exact}b`, 'text/plain'),
      async (s) => {
        const seen: HttpExchange[] = [];
        const opts = { ...fast, onExchange: (x: HttpExchange) => seen.push(x) };
        await assert.rejects(
          requestToken({ url: s.url, json: { client_secret: 'cs-json-shown-1', n: 1 } }, opts),
        );
        await assert.rejects(requestToken({ url: s.url, form: { a: 'b' } }, opts));
        assert.equal(seen[0]?.requestBody, '{"client_secret":"[REDACTED]","n":1}');
        assert.equal(seen[0]?.responseBody, exact);
        assert.equal(seen[1]?.requestBody, 'a=b');
        assert.equal(seen[1]?.responseBody, `${exact}…`);
      },
    );
  });

  it('a throwing hook does not break the request', async () => {
    await withServer(
      (_r, res) => json(res, 200, OK),
      async (s) => {
        let calls = 0;
        const r = await requestToken(
          { url: s.url, form: {} },
          {
            ...fast,
            onExchange: () => {
              calls++;
              throw new Error('hook');
            },
          },
        );
        assert.deepEqual(r.body, OK);
        assert.equal(calls, 1);
      },
    );
  });
});

describe('the diagnostics channels of token requests', () => {
  async function collect(run: () => Promise<unknown>): Promise<Array<Record<string, unknown>>> {
    const out: Array<Record<string, unknown>> = [];
    const onStart = (m: unknown) => out.push({ channel: 'start', ...(m as object) });
    const onEnd = (m: unknown) => out.push({ channel: 'end', ...(m as object) });
    subscribe(CHANNELS.requestStart, onStart);
    subscribe(CHANNELS.requestEnd, onEnd);
    try {
      await run().catch(() => undefined);
    } finally {
      unsubscribe(CHANNELS.requestStart, onStart);
      unsubscribe(CHANNELS.requestEnd, onEnd);
    }
    return out;
  }

  it('the grant named: grant_type when it is a short name, else form or json; a GET publishes nothing', async () => {
    await withServer(
      (_r, res) => json(res, 200, OK),
      async (s) => {
        const long = `urn:${'x'.repeat(124)}`; // 128 characters
        const cases: Array<[TokenEndpointRequest, string]> = [
          [{ url: s.url, form: { grant_type: 'client_credentials' } }, 'client_credentials'],
          [{ url: s.url, form: { grant_type: long } }, long],
          [{ url: s.url, form: { grant_type: `${long}x` } }, 'form'],
          [{ url: s.url, form: { grant_type: 'a b' } }, 'form'],
          [{ url: s.url, form: { grant_type: 'ok\nno' } }, 'form'],
          [{ url: s.url, form: { grant_type: ' x' } }, 'form'],
          [{ url: s.url, form: {} }, 'form'],
          [
            { url: s.url, json: { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer' } },
            'urn:ietf:params:oauth:grant-type:jwt-bearer',
          ],
          [{ url: s.url, json: { auth_token: 'x' } }, 'json'],
          [{ url: s.url, json: null }, 'json'],
          [{ url: s.url, json: 'grant_type' }, 'json'],
        ];
        for (const [req, grant] of cases) {
          const m = await collect(() => requestToken(req, fast));
          assert.deepEqual(
            m.map((x) => [x['channel'], x['grant'], x['attempt'], x['status']]),
            [
              ['start', grant, 1, undefined],
              ['end', grant, 1, 200],
            ],
            String(req.form?.['grant_type'] ?? JSON.stringify(req.json)),
          );
        }
        assert.deepEqual(await collect(() => getJson(s.url, fast)), []);
      },
    );
  });

  it('the outcome of an attempt without an answer: timeout, aborted or network', async () => {
    await withServer(
      () => undefined,
      async (s) => {
        const timeout = await collect(() =>
          requestToken({ url: s.url, form: {} }, { ...fast, timeoutMs: 30 }),
        );
        assert.deepEqual(
          timeout.map((x) => [x['channel'], x['error']]),
          [
            ['start', undefined],
            ['end', 'timeout'],
          ],
        );
        const aborted = await collect(() =>
          requestToken({ url: s.url, form: {} }, { ...fast, signal: AbortSignal.abort() }),
        );
        assert.deepEqual(
          aborted.map((x) => x['error']),
          [undefined, 'aborted'],
        );
      },
    );
    const s = await startLoopback(() => undefined);
    await s.close();
    const refused = await collect(() => requestToken({ url: s.url, form: {} }, fast));
    assert.deepEqual(
      refused.map((x) => x['error']),
      [undefined, 'network'],
    );
  });
});

describe('what a request registers for redaction', () => {
  async function registered(
    req: Omit<TokenEndpointRequest, 'url'>,
  ): Promise<{ secrets: number; tokens: number }> {
    clearRegisteredSecrets();
    await withServer(
      (_r, res) => json(res, 400, { error: 'invalid_client' }),
      async (s) => {
        await assert.rejects(requestToken({ ...req, url: s.url }, fast), TokenEndpointError);
      },
    );
    const size = registrySize();
    return size;
  }

  it('form and JSON fields by their tier: issued tokens as tokens, long-lived secrets as secrets, others not', async () => {
    assert.deepEqual(await registered({ form: { scope: 'read write', grant_type: 'refresh_token' } }), {
      secrets: 0,
      tokens: 0,
    });
    assert.equal((await registered({ form: { refresh_token: 'rt-form-000001' } })).tokens, 1);
    assert.equal(registrySize().secrets, 0);
    // A message of its own: assert.ok's generated one hangs in this file under tsx (docs/testing.md).
    assert.ok(
      (await registered({ form: { client_secret: 'cs-form-000001' } })).secrets > 0,
      'a form client_secret is registered',
    );
    assert.equal(registrySize().tokens, 0);
    assert.equal((await registered({ json: { refresh_token: 'rt-json-000001', n: 123456 } })).tokens, 1);
    assert.ok(
      (await registered({ json: { client_secret: 'cs-json-000001' } })).secrets > 0,
      'a JSON client_secret is registered',
    );
    assert.equal(redactText('cs-json-000001'), '[REDACTED]');
    assert.deepEqual(await registered({ json: { password: 12345678, n: 'plain-value' } }), {
      secrets: 0,
      tokens: 0,
    });
  });

  it('headers: Basic registers the raw secret; Bearer the token (after any run of spaces); other secret headers whole', async () => {
    const basic = Buffer.from('client-id:basic-raw-secret-1').toString('base64');
    await registered({ form: {}, headers: { Authorization: `Basic ${basic}` } });
    assert.equal(redactText('echo basic-raw-secret-1'), 'echo [REDACTED]');
    assert.equal(registrySize().tokens, 0);

    await registered({ form: {}, headers: { Authorization: 'Bearer   tok-bearer-0001' } });
    assert.equal(redactText('echo tok-bearer-0001'), 'echo [REDACTED]');
    assert.deepEqual(registrySize(), { secrets: 0, tokens: 1 });

    await registered({ form: {}, headers: { DPoP: 'x1-abc def' } });
    assert.equal(redactText('<x1-abc def>'), '<[REDACTED]>');

    await registered({ form: {}, headers: { 'X-Api-Key': 'Key api-key-00001' } });
    assert.equal(redactText('<Key api-key-00001>'), '<[REDACTED]>');
    assert.equal(registrySize().tokens, 0);

    assert.deepEqual(await registered({ form: {}, headers: { 'X-Trace': 'trace-value-0001' } }), {
      secrets: 0,
      tokens: 0,
    });
  });
});
