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
  LoginRequiredError,
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
import { channels } from '../../src/observe/channels.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { LastError, StoredEntry } from '../../src/stores/types.js';
import type { Token } from '../../src/token.js';
import type { TokenClient, TokenRequestContext } from '../../src/token-client.js';

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

  it('ERR_LOGIN_REQUIRED: a LoginRequiredError naming the profile and `tokenward login <profile>`', () => {
    const recorded = new LoginRequiredError('me');
    const e = rebuildError(
      { ...base, at: NOW, code: recorded.code, message: recorded.message },
      NOW + 3_000,
      'me',
    );
    assert.ok(e instanceof LoginRequiredError);
    assert.equal(e.profile, 'me');
    assert.equal(
      e.message,
      'no usable sign-in (and no refresh token that still works) [found 3 s ago by another caller]; sign in with `tokenward login me`',
    );
    const anon = rebuildError({ ...base, code: recorded.code, message: recorded.message }, NOW);
    assert.ok(anon instanceof LoginRequiredError && anon.profile === undefined);
    assert.match(anon.message, /sign in with `tokenward login <profile>`$/);
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

/**
 * A scripted token client: the lifecycle tests need a revoke that fails, a request that hangs until the
 * test lets it go, and the context the manager passes — things the loopback token server cannot show.
 * Tokens are numbered; each call is logged.
 */
function scripted(clock: () => number) {
  let n = 0;
  const calls: string[] = [];
  const contexts: TokenRequestContext[] = [];
  let hold: Promise<void> | undefined;
  let revokeError: Error | undefined;
  const token = (): Token => {
    n++;
    return {
      accessToken: `at-${n}`,
      tokenType: 'Bearer',
      expiresAt: clock() + 300_000,
      obtainedAt: clock(),
      expirySource: 'expires_in',
      refreshToken: `rt-${n}`,
      raw: {},
    };
  };
  const client = {
    identity: { provider: 'test', client_id: 'c' },
    async fetchToken(ctx: TokenRequestContext) {
      calls.push('fetch');
      contexts.push(ctx);
      if (hold !== undefined) await hold;
      return token();
    },
    async refresh(_t: Token, ctx: TokenRequestContext) {
      calls.push('refresh');
      contexts.push(ctx);
      return token();
    },
    async revoke(t: Token) {
      calls.push(`revoke ${t.accessToken}`);
      if (revokeError !== undefined) throw revokeError;
    },
  } satisfies TokenClient;
  return {
    client,
    calls,
    contexts,
    /** The next fetchToken() waits until the returned function is called. */
    holdNext(): () => void {
      let release = () => {};
      hold = new Promise<void>((r) => {
        release = () => {
          hold = undefined;
          r();
        };
      });
      return release;
    },
    failRevoke(e: Error) {
      revokeError = e;
    },
  };
}

function lifecycle(over: Record<string, unknown> = {}) {
  let now = NOW;
  const clock = () => now;
  const s = scripted(clock);
  const store = new MemoryStore();
  const warnings: { code: string; message: string; cause?: unknown }[] = [];
  const manager = new TokenManager({
    client: s.client,
    key: 'k',
    store,
    clock,
    profile: 'p1',
    onWarning: (w) => warnings.push(w),
    ...over,
  });
  return {
    ...s,
    store,
    manager,
    warnings,
    advance(ms: number) {
      now += ms;
    },
  };
}

describe('invalidate', () => {
  it('nothing held and no token named: nothing happens, no event', async () => {
    const l = lifecycle();
    const seen: unknown[] = [];
    const on = (m: unknown) => seen.push(m);
    channels.retry401.subscribe(on);
    try {
      l.manager.invalidate();
    } finally {
      channels.retry401.unsubscribe(on);
    }
    assert.deepEqual(seen, []);
    assert.equal((await l.manager.getToken()).accessToken, 'at-1');
    assert.deepEqual(l.calls, ['fetch']);
  });

  it('a token named before any is held (another manager stored it): not served from the store', async () => {
    const l = lifecycle();
    await l.manager.getToken(); // at-1, stored
    const fresh = new TokenManager({ client: l.client, key: 'k', store: l.store, clock: () => NOW });
    fresh.invalidate('at-1');
    fresh.invalidate(); // nothing held: changes nothing (the token named stays rejected)
    assert.equal((await fresh.getToken()).accessToken, 'at-2');
    assert.deepEqual(l.calls, ['fetch', 'refresh']);
  });

  it('the current token, once: concurrent 401s for it cause one event and one renewal', async () => {
    const l = lifecycle();
    const t1 = await l.manager.getToken();
    const seen: unknown[] = [];
    const on = (m: unknown) => seen.push(m);
    channels.retry401.subscribe(on);
    try {
      l.manager.invalidate(t1.accessToken);
      l.manager.invalidate(t1.accessToken);
      l.manager.invalidate();
      l.manager.invalidate('at-someone-elses'); // not the current token: ignored
    } finally {
      channels.retry401.unsubscribe(on);
    }
    assert.deepEqual(seen, [{ profile: 'p1', key: 'k', provider: 'test', expiresAt: t1.expiresAt }]);
    const [a, b] = await Promise.all([l.manager.getToken(), l.manager.getToken()]);
    assert.equal(a.accessToken, 'at-2');
    assert.equal(b.accessToken, 'at-2');
    // The rejected token's refresh token is used (the server rejected the access token only).
    assert.deepEqual(l.calls, ['fetch', 'refresh']);
    // A 401 for the token just replaced changes nothing.
    l.manager.invalidate(t1.accessToken);
    assert.equal((await l.manager.getToken()).accessToken, 'at-2');
    assert.deepEqual(l.calls, ['fetch', 'refresh']);
  });

  it('invalidate() without an argument: the current token', async () => {
    const l = lifecycle();
    await l.manager.getToken();
    l.manager.invalidate();
    assert.equal((await l.manager.getToken()).accessToken, 'at-2');
    l.manager.invalidate();
    assert.equal((await l.manager.getToken()).accessToken, 'at-3');
    assert.deepEqual(l.calls, ['fetch', 'refresh', 'refresh']);
  });
});

describe('logout', () => {
  it('revokes the stored token, deletes it from memory and the store', async () => {
    const l = lifecycle();
    await l.manager.getToken();
    assert.deepEqual(await l.manager.logout(), { revoked: true, deleted: true });
    assert.deepEqual(l.calls, ['fetch', 'revoke at-1']);
    assert.equal(await l.store.get('k'), undefined);
    assert.equal(l.manager.peek(), undefined);
    assert.deepEqual(l.warnings, []);
    // The next call starts over with the primary grant.
    assert.equal((await l.manager.getToken()).accessToken, 'at-2');
    assert.deepEqual(l.calls, ['fetch', 'revoke at-1', 'fetch']);
  });

  it('a token held only in memory is revoked too; the store had nothing: deleted false', async () => {
    const l = lifecycle();
    await l.manager.getToken();
    await l.store.delete('k');
    assert.deepEqual(await l.manager.logout(), { revoked: true, deleted: false });
    assert.deepEqual(l.calls, ['fetch', 'revoke at-1']);
  });

  it('nothing held: nothing revoked, nothing deleted', async () => {
    const l = lifecycle();
    assert.deepEqual(await l.manager.logout(), { revoked: false, deleted: false });
    assert.deepEqual(l.calls, []);
  });

  it('a client that cannot revoke: deleted, not revoked, no warning', async () => {
    const l = lifecycle();
    await l.manager.getToken();
    const { revoke: _r, ...noRevoke } = l.client;
    const other = new TokenManager({ client: noRevoke, key: 'k', store: l.store, clock: () => NOW });
    assert.deepEqual(await other.logout(), { revoked: false, deleted: true });
    assert.deepEqual(l.calls, ['fetch']);
    assert.equal(await l.store.get('k'), undefined);
  });

  it('a revocation that fails is a REVOKE_FAILED warning (with its cause); the token is deleted anyway', async () => {
    const l = lifecycle();
    await l.manager.getToken();
    l.manager.invalidate();
    const boom = new Error('revocation endpoint down');
    l.failRevoke(boom);
    assert.deepEqual(await l.manager.logout(), { revoked: false, deleted: true });
    assert.deepEqual(l.warnings, [
      {
        code: 'REVOKE_FAILED',
        message: 'revoking the token failed; it is deleted locally anyway',
        cause: boom,
      },
    ]);
    assert.equal(await l.store.get('k'), undefined);
    assert.equal(l.manager.peek(), undefined);
    // Logged out: the next token comes from the primary grant, not from a refresh.
    assert.equal((await l.manager.getToken()).accessToken, 'at-2');
    assert.deepEqual(l.calls, ['fetch', 'revoke at-1', 'fetch']);
  });

  it('a warning hook that throws does not break logout', async () => {
    const l = lifecycle({
      onWarning: () => {
        throw new Error('hook');
      },
    });
    await l.manager.getToken();
    l.failRevoke(new Error('down'));
    assert.deepEqual(await l.manager.logout(), { revoked: false, deleted: true });
  });
});

describe('close', () => {
  /** A memory store counting close() calls; its close may be made to hang or fail. */
  class ClosingStore extends MemoryStore {
    closes = 0;
    behaviour: 'ok' | 'hang' | Error = 'ok';
    override async close(): Promise<void> {
      this.closes++;
      if (this.behaviour === 'hang') return new Promise<void>(() => {});
      if (this.behaviour instanceof Error) throw this.behaviour;
    }
  }

  it('closes the store only when it owns it', async () => {
    for (const ownsStore of [true, false]) {
      const store = new ClosingStore();
      const m = new TokenManager({ client: scripted(() => NOW).client, key: 'k', store, ownsStore });
      await m.close();
      assert.equal(store.closes, ownsStore ? 1 : 0);
    }
  });

  it('a store close that fails: close() rejects with its error', async () => {
    const store = new ClosingStore();
    const boom = new Error('store close failed');
    store.behaviour = boom;
    const m = new TokenManager({ client: scripted(() => NOW).client, key: 'k', store, ownsStore: true });
    await assert.rejects(m.close(), (e: unknown) => e === boom);
  });

  it('waits for a token request in flight, which completes (and is stored)', async () => {
    const l = lifecycle();
    const release = l.holdNext();
    const getting = l.manager.getToken();
    // Let the flight reach the client.
    while (l.calls.length === 0) await new Promise((r) => setImmediate(r));
    let closed = false;
    const closing = l.manager.close().then(() => {
      closed = true;
    });
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    assert.equal(closed, false, 'close() waits for the flight');
    release();
    await closing;
    assert.equal((await getting).accessToken, 'at-1');
    assert.equal((await l.store.get('k'))?.token?.accessToken, 'at-1');
    assert.deepEqual(l.warnings, []);
    assert.equal(l.contexts[0]?.signal?.aborted, false, 'not aborted');
  });

  it('a flight still running after closeTimeoutMs: its request is aborted, a CLOSE_TIMEOUT warning', async () => {
    const l = lifecycle({ closeTimeoutMs: 0 });
    const release = l.holdNext();
    const getting = l.manager.getToken();
    getting.catch(() => {});
    while (l.calls.length === 0) await new Promise((r) => setImmediate(r));
    await l.manager.close();
    assert.deepEqual(
      l.warnings.map((w) => [w.code, w.message]),
      [['CLOSE_TIMEOUT', 'close() waited 0 ms for a token request still in flight and gave up on it']],
    );
    const signal = l.contexts[0]?.signal;
    assert.equal(signal?.aborted, true);
    assert.equal((signal?.reason as Error | undefined)?.message, 'the token manager was closed');
    release();
    await getting.catch(() => {});
  });

  it('the store gets at least a second to close, even when the flight used up the whole wait', async () => {
    /** Closes 100 ms after being asked: within the second, after the (zero) close timeout. */
    class SlowStore extends MemoryStore {
      closed = false;
      override close(): Promise<void> {
        return new Promise((r) =>
          setTimeout(() => {
            this.closed = true;
            r();
          }, 100),
        );
      }
    }
    const store = new SlowStore();
    const warnings: { code: string; message: string }[] = [];
    const m = new TokenManager({
      client: scripted(() => NOW).client,
      key: 'k',
      store,
      ownsStore: true,
      closeTimeoutMs: 0,
      onWarning: (w) => warnings.push(w),
    });
    await m.close();
    assert.equal(store.closed, true);
    assert.deepEqual(warnings, []);
  });

  it('a store that does not close in time (at least a second): a CLOSE_TIMEOUT warning naming its kind', async () => {
    const store = new ClosingStore();
    store.behaviour = 'hang';
    const warnings: { code: string; message: string }[] = [];
    const m = new TokenManager({
      client: scripted(() => NOW).client,
      key: 'k',
      store,
      ownsStore: true,
      closeTimeoutMs: 0,
      onWarning: (w) => warnings.push(w),
    });
    await m.close();
    assert.deepEqual(warnings, [
      { code: 'CLOSE_TIMEOUT', message: 'closing the memory store did not finish in time; left behind' },
    ]);
  });
});

describe('what the manager writes to the store', () => {
  it("a new token: the entry carries the profile, the identity, the clock's time and the renewal count", async () => {
    const written: StoredEntry[] = [];
    /** Keeps every entry whole (the memory store drops what it can rebuild, counts included). */
    class Recording extends MemoryStore {
      override async set(e: StoredEntry): Promise<void> {
        written.push(structuredClone(e));
      }
      override async get(): Promise<StoredEntry | undefined> {
        return structuredClone(written.at(-1));
      }
    }
    const l = lifecycle({ store: new Recording() });
    await l.manager.getToken();
    l.advance(400_000);
    await l.manager.getToken();
    assert.equal(written.length, 2);
    const [e1, e2] = written;
    assert.equal(e1?.profile, 'p1');
    assert.deepEqual(e1?.identity, { provider: 'test', client_id: 'c' });
    assert.equal(e1?.updatedAt, NOW);
    assert.equal(e1?.key, 'k');
    assert.equal(e1?.v, 1);
    assert.equal(e1?.token?.accessToken, 'at-1');
    assert.deepEqual(e1?.counts, { renewals: 1, failures: 0 });
    assert.equal(e2?.updatedAt, NOW + 400_000);
    assert.equal(e2?.token?.accessToken, 'at-2');
    assert.deepEqual(e2?.counts, { renewals: 2, failures: 0 });
    assert.deepEqual(l.manager.counts, { grants: 1, refreshes: 1, storeHits: 0 });
  });

  it('without a profile, the entry has no profile key', async () => {
    const written: StoredEntry[] = [];
    class Recording extends MemoryStore {
      override async set(e: StoredEntry): Promise<void> {
        written.push(structuredClone(e));
      }
    }
    const m = new TokenManager({
      client: scripted(() => NOW).client,
      key: 'k',
      store: new Recording(),
      clock: () => NOW,
    });
    await m.getToken();
    assert.equal(written.length, 1);
    assert.equal('profile' in (written[0] ?? {}), false);
  });

  it('a store that cannot be written: a STORE_WRITE_FAILED warning, the token served all the same', async () => {
    class FailingStore extends MemoryStore {
      override async set(): Promise<void> {
        throw new Error('disk full');
      }
    }
    const warnings: { code: string; message: string }[] = [];
    const m = new TokenManager({
      client: scripted(() => NOW).client,
      key: 'k',
      store: new FailingStore(),
      clock: () => NOW,
      onWarning: (w) => warnings.push({ code: w.code, message: w.message }),
    });
    assert.equal((await m.getToken()).accessToken, 'at-1');
    assert.deepEqual(warnings, [
      { code: 'STORE_WRITE_FAILED', message: 'could not write the token to the memory store' },
    ]);
  });
});
