/**
 * The manager outside single flight (src/manager/token-manager.ts; the `manager` Stryker group, the
 * `flight` functions excepted): its options and derived parameters, how a failure recorded in the store
 * is rebuilt into a typed error, which refresh failures count as a rejection, and the lifecycle
 * (`invalidate`, `logout`, `close`), the bookkeeping of `#obtain`, `#write` and `#recordError`. Clocks are
 * injected; counts are exact.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  InvalidTokenResponseError,
  NetworkError,
  TokenEndpointError,
  TokenwardError,
  UpstreamUnavailableError,
} from '../../src/errors.js';
import {
  DEFAULT_LOCK_LEASE_MS,
  DEFAULT_OPTIONAL_BUDGET_MS,
  DEFAULT_RETRY_GAP_MS,
  defaultLockWaitMs,
  isRejectedRefresh,
  rebuildError,
  TokenManager,
} from '../../src/manager/token-manager.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { LastError } from '../../src/stores/types.js';
import type { Token } from '../../src/token.js';
import type { TokenClient } from '../../src/token-client.js';

const NOW = 1_700_000_000_000;

/** A token client that is never called (the options tests build no token). */
const idle = (budgetMs?: number): TokenClient =>
  ({
    identity: { provider: 'test', client_id: 'c' },
    ...(budgetMs === undefined ? {} : { budgetMs }),
    fetchToken: () => Promise.reject(new Error('not called')),
  }) as unknown as TokenClient;

describe('options and derived parameters', () => {
  const make = (over: Record<string, unknown> = {}, budgetMs?: number) =>
    new TokenManager({ client: idle(budgetMs), key: 'k', store: new MemoryStore(), ...over });

  it('defaults: the client budget, then the lock wait (2 budgets + 1 lease), close waits as long', () => {
    assert.equal(defaultLockWaitMs(7, 3), 17);
    assert.deepEqual(make({}, 20_000).parameters, {
      budgetMs: 20_000,
      optionalBudgetMs: DEFAULT_OPTIONAL_BUDGET_MS,
      retryGapMs: DEFAULT_RETRY_GAP_MS,
      lockLeaseMs: DEFAULT_LOCK_LEASE_MS,
      lockTimeoutMs: 2 * 20_000 + DEFAULT_LOCK_LEASE_MS,
      closeTimeoutMs: 2 * 20_000 + DEFAULT_LOCK_LEASE_MS,
    });
    // The optional budget is never more than the client's budget.
    assert.equal(make({}, 4_000).parameters.optionalBudgetMs, 4_000);
    assert.equal(make({ lockLeaseMs: 1_000 }, 4_000).parameters.lockTimeoutMs, 9_000);
    assert.equal(make({ lockTimeoutMs: 3_000 }, 4_000).parameters.closeTimeoutMs, 3_000);
  });

  it('a client budget that is not a positive finite number is replaced by the HTTP default', () => {
    const http = make({}).parameters.budgetMs;
    assert.ok(http > 0);
    for (const b of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '5000']) {
      assert.equal(make({}, b as number).parameters.budgetMs, http, String(b));
    }
    assert.equal(make({}, 1).parameters.budgetMs, 1);
  });

  it('given values are kept as given (zero where zero is allowed)', () => {
    assert.deepEqual(
      make({
        optionalBudgetMs: 1,
        eagerRetryGapMs: 0,
        lockLeaseMs: 1,
        lockTimeoutMs: 0,
        closeTimeoutMs: 0,
      }).parameters,
      {
        budgetMs: make({}).parameters.budgetMs,
        optionalBudgetMs: 1,
        retryGapMs: 0,
        lockLeaseMs: 1,
        lockTimeoutMs: 0,
        closeTimeoutMs: 0,
      },
    );
  });

  it('a bad value is a RangeError naming the option', () => {
    for (const name of ['optionalBudgetMs', 'lockLeaseMs']) {
      for (const v of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '5']) {
        assert.throws(
          () => make({ [name]: v }),
          (e: unknown) => e instanceof RangeError && e.message === `${name} must be a positive number`,
          `${name}=${String(v)}`,
        );
      }
    }
    for (const name of ['eagerRetryGapMs', 'lockTimeoutMs', 'closeTimeoutMs']) {
      for (const v of [-1, -0.5, Number.NaN, Number.POSITIVE_INFINITY, '5']) {
        assert.throws(
          () => make({ [name]: v }),
          (e: unknown) => e instanceof RangeError && e.message === `${name} must be a non-negative number`,
          `${name}=${String(v)}`,
        );
      }
    }
  });

  it("identity is the client's; counts start at zero; nothing is held", () => {
    const m = make();
    assert.deepEqual(m.identity, { provider: 'test', client_id: 'c' });
    assert.deepEqual(m.counts, { grants: 0, refreshes: 0, storeHits: 0 });
    assert.equal(m.peek(), undefined);
    assert.equal(m.lastError, undefined);
  });
});

describe('rebuildError: a failure recorded in the store, as a typed error', () => {
  const base: LastError = { code: 'ERR_TOKEN_ENDPOINT', message: 'boom', at: NOW - 12_400 };
  const suffix = (rest: string) => `boom [a renewal 12 s ago failed so; ${rest}]`;

  it('a token endpoint error: status, error, and the time left of Retry-After (rounded up)', () => {
    const e = rebuildError(
      {
        ...base,
        status: 400,
        error: 'invalid_grant',
        url: 'https://idp/t',
        notBefore: NOW + 2_001,
        retryAfter: 9,
      },
      NOW,
    );
    assert.ok(e instanceof TokenEndpointError && !(e instanceof UpstreamUnavailableError));
    assert.equal(e.code, 'ERR_TOKEN_ENDPOINT');
    assert.equal(e.message, suffix('the server asked for no retry for 3 s more'));
    assert.equal(e.status, 400);
    assert.equal(e.error, 'invalid_grant');
    assert.equal(e.url, 'https://idp/t');
    assert.equal(e.retryAfter, 3);
  });

  it('Retry-After over: not retried at once, and the recorded Retry-After kept', () => {
    for (const notBefore of [NOW, NOW - 1]) {
      const e = rebuildError(
        { ...base, status: 503, code: 'ERR_UPSTREAM_UNAVAILABLE', notBefore, retryAfter: 9 },
        NOW,
      );
      assert.ok(e instanceof UpstreamUnavailableError);
      assert.equal(e.message, suffix('not retried at once'));
      assert.equal(e.retryAfter, 9);
      assert.equal(e.url, '');
      assert.equal(e.error, undefined);
    }
    const none = rebuildError({ ...base, status: 500 }, NOW);
    assert.ok(none instanceof TokenEndpointError);
    assert.equal(none.retryAfter, undefined);
  });

  it('"ago" is whole seconds, never negative (a clock that went back)', () => {
    assert.equal(
      rebuildError({ ...base, at: NOW - 1_499 }, NOW).message,
      'boom [a renewal 1 s ago failed so; not retried at once]',
    );
    assert.equal(
      rebuildError({ ...base, at: NOW - 1_500 }, NOW).message,
      'boom [a renewal 2 s ago failed so; not retried at once]',
    );
    assert.equal(
      rebuildError({ ...base, at: NOW + 60_000 }, NOW).message,
      'boom [a renewal 0 s ago failed so; not retried at once]',
    );
  });

  it('an invalid token response keeps its class, status and url, whatever the status', () => {
    for (const status of [200, 201, 299]) {
      const e = rebuildError(
        { ...base, code: 'ERR_INVALID_TOKEN_RESPONSE', status, url: 'https://idp/t' },
        NOW,
      );
      assert.ok(e instanceof InvalidTokenResponseError);
      assert.equal(e.status, status);
      assert.equal(e.url, 'https://idp/t');
      assert.equal(e.message, suffix('not retried at once'));
    }
  });

  it('a 2xx status with another code is not an endpoint error; 199 and 300 are', () => {
    for (const status of [200, 299]) {
      const e = rebuildError({ ...base, code: 'ERR_TOKEN_ENDPOINT', status }, NOW);
      assert.ok(!(e instanceof TokenEndpointError));
      assert.equal(e.code, 'ERR_TOKEN_ENDPOINT');
    }
    for (const status of [199, 300]) {
      const e = rebuildError({ ...base, status }, NOW);
      assert.ok(e instanceof TokenEndpointError);
      assert.equal(e.status, status);
    }
  });

  it('network and timeout failures with a url are NetworkErrors (timeout flag by code); without, plain', () => {
    const net = rebuildError({ ...base, code: 'ERR_NETWORK', url: 'https://idp/t' }, NOW);
    assert.ok(net instanceof NetworkError);
    assert.equal(net.code, 'ERR_NETWORK');
    assert.equal(net.url, 'https://idp/t');
    const to = rebuildError({ ...base, code: 'ERR_TIMEOUT', url: 'https://idp/t' }, NOW);
    assert.ok(to instanceof NetworkError);
    assert.equal(to.code, 'ERR_TIMEOUT');
    const bare = rebuildError({ ...base, code: 'ERR_TIMEOUT' }, NOW);
    assert.ok(!(bare instanceof NetworkError) && bare instanceof TokenwardError);
    assert.equal(bare.code, 'ERR_TIMEOUT');
    assert.equal(bare.message, suffix('not retried at once'));
  });

  it('a known code is kept; an unknown one (another version wrote it) becomes ERR_NETWORK', () => {
    for (const code of [
      'ERR_CONFIG',
      'ERR_STORE',
      'ERR_LOCK_TIMEOUT',
      'ERR_UNSUPPORTED',
      'ERR_INSECURE_ENDPOINT',
    ]) {
      assert.equal(rebuildError({ ...base, code }, NOW).code, code);
    }
    assert.equal(rebuildError({ ...base, code: 'ERR_FROM_THE_FUTURE' }, NOW).code, 'ERR_NETWORK');
    assert.equal(rebuildError({ ...base, code: 'ERR_NETWORK' }, NOW).code, 'ERR_NETWORK');
  });
});

describe('isRejectedRefresh', () => {
  const e = (status: number, error?: string) =>
    new TokenEndpointError('https://idp/t', status, error === undefined ? {} : { error });
  it('invalid_grant or invalid_token at any status; a bare 400 or 401; nothing else', () => {
    assert.equal(isRejectedRefresh(e(500, 'invalid_grant')), true);
    assert.equal(isRejectedRefresh(e(500, 'invalid_token')), true);
    assert.equal(isRejectedRefresh(e(400)), true);
    assert.equal(isRejectedRefresh(e(401)), true);
    for (const [status, error] of [
      [403, undefined],
      [500, undefined],
      [400, 'invalid_client'],
      [401, 'invalid_client'],
      [400, 'invalid_request'],
    ] as const) {
      assert.equal(isRejectedRefresh(e(status, error)), false, `${status} ${error}`);
    }
    assert.equal(isRejectedRefresh(new NetworkError('https://idp/t', 'down')), false);
    assert.equal(isRejectedRefresh({ error: 'invalid_grant', status: 400 }), false);
  });
});

export type { Token };
