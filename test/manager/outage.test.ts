/**
 * Issue 11, "Outages must not serialise callers": several managers on one file store (several
 * processes) against a token endpoint that hangs, fails or rate-limits. Counts only; time is the
 * managers' injected clock, and the short renewal budget is what keeps these tests from waiting out a
 * full retry cycle (minutes): without it they time out.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { NetworkError, TokenEndpointError } from '../../src/errors.js';
import { MAX_REMEMBERED_RETRY_AFTER_MS } from '../../src/manager/token-manager.js';
import { makeManager, realClient, useRealStack } from './real-stack.js';

const KEY = 'manager-test-key';
const stack = useRealStack({ lifetime: 300, latencyMs: 0 });

let releaseHang: (() => void) | undefined;

/** Makes the token endpoint hang (answer nothing) until the test ends. */
function hang(): void {
  const p = new Promise<void>((resolve) => {
    releaseHang = resolve;
  });
  stack.server.onRequest = () => p;
}

afterEach(() => {
  releaseHang?.();
  releaseHang = undefined;
});

/** What the CLI asks for past the eager point: more life than the token has left. */
function moreThanLeft(expiresAt: number): number {
  return expiresAt - stack.now - 10_000 + 1;
}

describe('a hanging identity provider with a valid cached token past its eager point', () => {
  it('4 callers are served the cached token; one request is made and then backed off from', async () => {
    // A full retry cycle here is 3 attempts x 120 s: a caller that waited for it would time the test out.
    const client = await realClient(stack.server, { timeout: 120, retries: 2 });
    const seed = makeManager(client, stack.stores.store(), stack.clock);
    const t1 = await seed.manager.getToken();
    assert.equal(stack.server.counts.total, 1);
    hang();
    stack.now += 250_000; // 50 s of 300 s left: past the 80 % point, still valid
    const callers = Array.from({ length: 4 }, () =>
      makeManager(client, stack.stores.store(), stack.clock, { optionalBudgetMs: 3_000 }),
    );
    const minTtlMs = moreThanLeft(t1.expiresAt);
    const served = await Promise.all(callers.map((c) => c.manager.getToken({ minTtlMs })));
    assert.deepEqual(
      served.map((t) => t.accessToken),
      Array(4).fill(t1.accessToken),
    );
    assert.equal(stack.server.counts.total, 2, 'exactly one renewal attempt among the four callers');
    const warnings = callers.flatMap((c) => c.warnings.map((w) => w.code));
    assert.deepEqual(warnings, ['SERVED_STALE_MARGIN'], 'the one that tried says so; the others were quiet');

    const entry = await stack.stores.store().get(KEY);
    assert.equal(entry?.token?.accessToken, t1.accessToken, 'the good token is kept');
    assert.equal(entry?.lastError?.code, 'ERR_TIMEOUT');
    assert.equal(entry?.lastError?.optional, true);
    assert.equal(entry?.lastError?.at, stack.now);

    // Within the retry gap nobody tries again: not these managers, not a new process.
    const fresh = makeManager(client, stack.stores.store(), stack.clock, { optionalBudgetMs: 3_000 });
    const again = await Promise.all([...callers, fresh].map((c) => c.manager.getToken({ minTtlMs })));
    assert.deepEqual(
      again.map((t) => t.accessToken),
      Array(5).fill(t1.accessToken),
    );
    assert.equal(stack.server.counts.total, 2);
    assert.ok(fresh.manager.lastError instanceof NetworkError, 'the recorded failure is told, typed');
    assert.equal(fresh.manager.lastError.code, 'ERR_TIMEOUT');
  });

  it('a background refresh gives up within its budget, so close() does not wait out the retry cycle', async () => {
    const client = await realClient(stack.server, { timeout: 120, retries: 2 });
    const { manager, warnings } = makeManager(client, stack.stores.store(), stack.clock, {
      eagerRefreshFraction: 0.8,
      optionalBudgetMs: 1_000,
    });
    const t1 = await manager.getToken();
    hang();
    stack.now += 250_000;
    assert.equal((await manager.getToken()).accessToken, t1.accessToken, 'served at once');
    await manager.close(); // waits for the background refresh: one abandoned request
    assert.equal(stack.server.counts.total, 2);
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['EAGER_REFRESH_FAILED'],
    );
    assert.equal((await stack.stores.store().get(KEY))?.token?.accessToken, t1.accessToken);
  });
});

describe('an OpenID Connect issuer whose discovery hangs, with a valid stored token', () => {
  it('discovery is bounded by the optional budget too: the stored token is served', async () => {
    const client = await realClient(stack.server, {
      issuer: stack.server.url,
      timeout: 120,
      retries: 2,
    });
    const store = stack.stores.store();
    await store.set({
      v: 1,
      key: KEY,
      updatedAt: stack.now,
      token: {
        accessToken: 'at-stored',
        tokenType: 'Bearer',
        obtainedAt: stack.now - 250_000,
        expiresAt: stack.now + 50_000,
        expirySource: 'expires_in',
        raw: {},
      },
    });
    hang();
    const { manager, warnings } = makeManager(client, store, stack.clock, { optionalBudgetMs: 1_000 });
    const t = await manager.getToken({ minTtlMs: 45_000 });
    assert.equal(t.accessToken, 'at-stored');
    assert.equal(stack.server.counts.total, 1, 'one discovery request, abandoned');
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['SERVED_STALE_MARGIN'],
    );
  });
});

describe('a failing identity provider on a cold cache', () => {
  it('4 callers: the holder runs the retry cycle once, the waiters take its failure (typed) instead of repeating it', async () => {
    const client = await realClient(stack.server, { retries: 2 });
    stack.server.fault = { status: 503, body: '{"error":"temporarily_unavailable"}' };
    const callers = Array.from({ length: 4 }, () => makeManager(client, stack.stores.store(), stack.clock));
    const results = await Promise.allSettled(callers.map((c) => c.manager.getToken()));
    assert.equal(stack.server.counts.total, 3, 'one retry cycle (3 attempts), not four');
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.ok(r.reason instanceof TokenEndpointError);
      assert.equal(r.reason.status, 503);
      assert.equal(r.reason.error, 'temporarily_unavailable');
    }
    const recorded = results.filter(
      (r) => r.status === 'rejected' && /a renewal 0 s ago failed/.test((r.reason as Error).message),
    );
    assert.equal(recorded.length, 3, 'three callers were answered from the holder’s record');
  });
});

describe('429 with a Retry-After longer than the retry budget', () => {
  const tooMany = {
    status: 429,
    body: '{"error":"slow_down"}',
    headers: { 'retry-after': '99999' },
  };

  it('cold cache, 4 callers: exactly one request; the wait is remembered for every process', async () => {
    const client = await realClient(stack.server);
    stack.server.fault = { ...tooMany };
    const callers = Array.from({ length: 4 }, () => makeManager(client, stack.stores.store(), stack.clock));
    const results = await Promise.allSettled(callers.map((c) => c.manager.getToken()));
    assert.equal(stack.server.counts.total, 1);
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.ok(r.reason instanceof TokenEndpointError);
      assert.equal(r.reason.status, 429);
      assert.ok(r.reason.retryAfter !== undefined && r.reason.retryAfter > 0);
    }
    const entry = await stack.stores.store().get(KEY);
    assert.equal(entry?.lastError?.retryAfter, 99999);
    assert.equal(
      entry?.lastError?.notBefore,
      stack.now + MAX_REMEMBERED_RETRY_AFTER_MS,
      'capped at one hour',
    );

    // Half an hour later, a new process: still no request, and it is told how long is left.
    stack.server.fault = undefined;
    stack.now += 1_800_000;
    const later = makeManager(client, stack.stores.store(), stack.clock);
    await assert.rejects(later.manager.getToken(), (e: unknown) => {
      assert.ok(e instanceof TokenEndpointError);
      assert.equal(e.status, 429);
      assert.equal(e.retryAfter, 1800);
      return true;
    });
    await assert.rejects(later.manager.getToken({ force: true }), TokenEndpointError);
    assert.equal(stack.server.counts.total, 1);

    // Once the remembered wait is over, the next caller asks again.
    stack.now += 1_800_000;
    const t = await later.manager.getToken();
    assert.equal(stack.server.counts.total, 2);
    assert.equal((await stack.stores.store().get(KEY))?.token?.accessToken, t.accessToken);
    assert.equal((await stack.stores.store().get(KEY))?.lastError, undefined, 'a success clears the record');
  });

  it('warm cache past the eager point, 4 callers: served the cached token after exactly one request', async () => {
    const client = await realClient(stack.server);
    const seed = makeManager(client, stack.stores.store(), stack.clock);
    const t1 = await seed.manager.getToken();
    stack.server.fault = { ...tooMany };
    stack.now += 250_000;
    const callers = Array.from({ length: 4 }, () => makeManager(client, stack.stores.store(), stack.clock));
    const minTtlMs = moreThanLeft(t1.expiresAt);
    const served = await Promise.all(callers.map((c) => c.manager.getToken({ minTtlMs })));
    assert.deepEqual(
      served.map((t) => t.accessToken),
      Array(4).fill(t1.accessToken),
    );
    assert.equal(stack.server.counts.total, 2);
    // Past the retry gap but within Retry-After: still no request.
    stack.now += 30_000;
    await Promise.all(callers.map((c) => c.manager.getToken({ minTtlMs: minTtlMs - 30_000 })));
    assert.equal(stack.server.counts.total, 2);
  });
});
