/**
 * The manager's helpers and lifecycle outside single flight (src/manager/token-manager.ts, the
 * `manager` Stryker group): a caller's signal (`raceAbort`), `close()` and its waits (`settlesWithin`),
 * the request counting behind the controller `close()` aborts, an optional renewal out of budget
 * (`#budgetError`), a lazy client's identity check (`sameIdentity`), shared settings, the failure
 * recorded by a lock holder (`recordedSince`), which token a renewal starts from (`newest`), the
 * refresh mode, and the minimum-TTL warning's wording. Scripted clients, injected clocks, exact counts;
 * nothing waits on the wall clock except where a wait is the behaviour (the store's one-second floor).
 */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { ClientSetupError, NetworkError, TokenEndpointError, type TokenwardError } from '../../src/errors.js';
import {
  type LazyTokenClient,
  rebuildError,
  TokenManager,
  type TokenwardWarning,
} from '../../src/manager/token-manager.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { StoredEntry } from '../../src/stores/types.js';
import type { Token } from '../../src/token.js';
import type { TokenClient, TokenRequestContext } from '../../src/token-client.js';
import { deferred, NOW, SharedMemoryStore, tick, tok, URL_ } from './flight-helpers.js';

/**
 * A scripted client: each fetchToken() records its context and waits for `gate` when set; it then
 * answers with the next token, or throws `error`.
 */
function scripted() {
  let n = 0;
  const contexts: TokenRequestContext[] = [];
  const s = {
    contexts,
    gate: undefined as Promise<void> | undefined,
    error: undefined as unknown,
    /** Called with each context as the request starts. */
    onRequest: undefined as ((ctx: TokenRequestContext) => void) | undefined,
    client: {
      identity: { provider: 'test', client_id: 'c' },
      async fetchToken(ctx: TokenRequestContext): Promise<Token> {
        contexts.push(ctx);
        s.onRequest?.(ctx);
        if (s.gate !== undefined) await s.gate;
        if (s.error !== undefined) throw s.error;
        n++;
        return tok(`at-${n}`, { obtainedAt: ctx.now(), expiresAt: ctx.now() + 300_000 });
      },
    } satisfies TokenClient,
  };
  return s;
}

describe("a caller's signal (raceAbort)", () => {
  it('aborted while the flight runs: rejected with the reason at once; the flight goes on for the others', async () => {
    const s = scripted();
    const gate = deferred();
    s.gate = gate.promise;
    const m = new TokenManager({ client: s.client, key: 'k', store: new MemoryStore(), clock: () => NOW });
    const ac = new AbortController();
    const mine = m.getToken({ signal: ac.signal });
    const other = m.getToken();
    while (s.contexts.length === 0) await tick();
    const reason = new Error('caller gave up');
    ac.abort(reason);
    await assert.rejects(mine, (e: unknown) => e === reason);
    assert.equal(getEventListeners(ac.signal, 'abort').length, 0, 'no listener left on the signal');
    gate.resolve();
    assert.equal((await other).accessToken, 'at-1');
    assert.equal(s.contexts.length, 1);
  });

  it('a signal that is never aborted: the token, and no listener left on the signal', async () => {
    const s = scripted();
    const m = new TokenManager({ client: s.client, key: 'k', store: new MemoryStore(), clock: () => NOW });
    const ac = new AbortController();
    assert.equal((await m.getToken({ signal: ac.signal })).accessToken, 'at-1');
    assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
    // A failing flight too.
    const s2 = scripted();
    const boom = new NetworkError(URL_, 'refused');
    s2.error = boom;
    const m2 = new TokenManager({ client: s2.client, key: 'k', store: new MemoryStore(), clock: () => NOW });
    await assert.rejects(m2.getToken({ signal: ac.signal }), (e: unknown) => e === boom);
    assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
  });

  it('a flight that fails after its caller gave up: no unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const on = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', on);
    try {
      const s = scripted();
      const gate = deferred();
      s.gate = gate.promise;
      s.error = new NetworkError(URL_, 'refused');
      const m = new TokenManager({ client: s.client, key: 'k', store: new MemoryStore(), clock: () => NOW });
      const ac = new AbortController();
      const mine = m.getToken({ signal: ac.signal });
      while (s.contexts.length === 0) await tick();
      ac.abort(new Error('gave up'));
      await assert.rejects(mine);
      gate.resolve();
      await m.close();
      for (let i = 0; i < 5; i++) await tick();
    } finally {
      process.off('unhandledRejection', on);
    }
    assert.deepEqual(unhandled, []);
  });

  it('foreground mode, a signal aborted right after the call: rejected with the reason, not made to wait', async () => {
    let now = NOW;
    const s = scripted();
    const m = new TokenManager({
      client: s.client,
      key: 'k',
      store: new MemoryStore(),
      clock: () => now,
      refreshMode: 'foreground',
    });
    await m.getToken(); // at-1
    now += 280_000; // past the eager point, still valid
    const gate = deferred();
    s.gate = gate.promise; // the renewal would wait
    const ac = new AbortController();
    const reason = new Error('gave up');
    const p = m.getToken({ signal: ac.signal });
    ac.abort(reason);
    await assert.rejects(p, (e: unknown) => e === reason);
    gate.resolve();
    await m.close();
  });
});

describe('refresh mode', () => {
  it('background (default): the current token at once, the renewal behind it; foreground: the renewal awaited', async () => {
    for (const mode of [undefined, 'background', 'foreground'] as const) {
      let now = NOW;
      const s = scripted();
      const m = new TokenManager({
        client: s.client,
        key: 'k',
        store: new MemoryStore(),
        clock: () => now,
        ...(mode === undefined ? {} : { refreshMode: mode }),
      });
      await m.getToken();
      now += 280_000;
      const t = await m.getToken();
      assert.equal(t.accessToken, mode === 'foreground' ? 'at-2' : 'at-1', String(mode));
      await m.close();
      assert.equal(s.contexts.length, 2, String(mode));
    }
  });
});

describe('close()', () => {
  it('a flight that fails is waited for without throwing; one started meanwhile is waited for too', async () => {
    const s = scripted();
    const gate = deferred();
    s.gate = gate.promise;
    s.error = new NetworkError(URL_, 'refused');
    const warnings: TokenwardWarning[] = [];
    const m = new TokenManager({
      client: s.client,
      key: 'k',
      store: new MemoryStore(),
      clock: () => NOW,
      onWarning: (w) => warnings.push(w),
    });
    const first = m.getToken();
    first.catch(() => {});
    while (s.contexts.length === 0) await tick();
    let second: Promise<Token> | undefined;
    const gate2 = deferred();
    // When the first flight fails, its caller starts another one at once (close() must wait for it too).
    first.catch(() => {
      s.gate = gate2.promise;
      s.error = undefined;
      second = m.getToken();
    });
    let closed = false;
    const closing = m.close().then(() => {
      closed = true;
    });
    gate.resolve();
    while (s.contexts.length < 2) await tick();
    for (let i = 0; i < 10; i++) await tick();
    assert.equal(closed, false, 'close() waits for the second flight');
    gate2.resolve();
    await closing;
    assert.equal((await second)?.accessToken, 'at-1');
    assert.deepEqual(warnings, []);
  });

  it('leaves no timer behind once the flight and the store are done', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const s = scripted();
    const gate = deferred();
    s.gate = gate.promise;
    const m = new TokenManager({
      client: s.client,
      key: 'k',
      store: new MemoryStore(),
      clock: () => NOW,
      ownsStore: true,
      closeTimeoutMs: 3_600_000,
    });
    const p = m.getToken();
    while (s.contexts.length === 0) await tick();
    const before = timers();
    const closing = m.close();
    gate.resolve();
    await closing;
    await p;
    assert.equal(timers(), before, "close()'s waits clear their timers");
  });

  it('a stuck flight, given up: a request it starts later finds its signal already aborted', async () => {
    /** A store whose reads wait for the test: the flight is stuck before its request. */
    class SlowReads extends MemoryStore {
      gate: Promise<void> | undefined;
      override async get(key: string): Promise<StoredEntry | undefined> {
        if (this.gate !== undefined) await this.gate;
        return super.get(key);
      }
    }
    const store = new SlowReads();
    const s = scripted();
    const warnings: TokenwardWarning[] = [];
    const m = new TokenManager({
      client: s.client,
      key: 'k',
      store,
      clock: () => NOW,
      closeTimeoutMs: 0,
      onWarning: (w) => warnings.push(w),
    });
    const g = deferred();
    store.gate = g.promise;
    const p = m.getToken();
    p.catch(() => {});
    await m.close();
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['CLOSE_TIMEOUT'],
    );
    store.gate = undefined;
    g.resolve();
    await p.catch(() => {});
    assert.equal(s.contexts.length, 1);
    assert.equal(s.contexts[0]?.signal?.aborted, true, 'refused at once: the manager was closed');
    assert.equal(
      (s.contexts[0]?.signal?.reason as Error | undefined)?.message,
      'the token manager was closed',
    );
  });

  it('a request that ended does not take the closing controller from one still running', async () => {
    const s = scripted();
    const gate = deferred();
    s.gate = gate.promise;
    const intro = deferred();
    const introspected: TokenRequestContext[] = [];
    const client = {
      ...s.client,
      async introspect(_t: string, ctx: TokenRequestContext) {
        introspected.push(ctx);
        await intro.promise;
        return { active: true };
      },
    } satisfies TokenClient;
    const m = new TokenManager({
      client,
      key: 'k',
      store: new MemoryStore(),
      clock: () => NOW,
      closeTimeoutMs: 0,
    });
    const i = m.introspect('x');
    const p = m.getToken();
    p.catch(() => {});
    while (s.contexts.length === 0 || introspected.length === 0) await tick();
    intro.resolve();
    await i; // one request ended, one still running
    await m.close();
    assert.equal(s.contexts[0]?.signal?.aborted, true, "the running request's signal is the one aborted");
    gate.resolve();
    await p.catch(() => {});
  });

  it('the store gets the rest of a long wait (more than a second) to close', async () => {
    /** Closes 1.2 s after being asked: more than the one-second floor, within the wait. */
    class SlowStore extends MemoryStore {
      closed = false;
      override close(): Promise<void> {
        return new Promise((r) =>
          setTimeout(() => {
            this.closed = true;
            r();
          }, 1_200),
        );
      }
    }
    const store = new SlowStore();
    const warnings: TokenwardWarning[] = [];
    const m = new TokenManager({
      client: scripted().client,
      key: 'k',
      store,
      ownsStore: true,
      closeTimeoutMs: 3_600_000,
      onWarning: (w) => warnings.push(w),
    });
    await m.close();
    assert.equal(store.closed, true);
    assert.deepEqual(warnings, []);
  });

  it('a store close that fails after close() gave up on it: no unhandled rejection', async () => {
    let fail = (_e: Error) => {};
    class HangingStore extends MemoryStore {
      override close(): Promise<void> {
        return new Promise((_r, reject) => {
          fail = reject;
        });
      }
    }
    const unhandled: unknown[] = [];
    const on = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', on);
    try {
      const warnings: TokenwardWarning[] = [];
      const m = new TokenManager({
        client: scripted().client,
        key: 'k',
        store: new HangingStore(),
        ownsStore: true,
        closeTimeoutMs: 0,
        onWarning: (w) => warnings.push(w),
      });
      await m.close();
      assert.deepEqual(
        warnings.map((w) => w.code),
        ['CLOSE_TIMEOUT'],
      );
      fail(new Error('store close failed late'));
      for (let i = 0; i < 5; i++) await tick();
    } finally {
      process.off('unhandledRejection', on);
    }
    assert.deepEqual(unhandled, []);
  });
});

describe('an optional renewal out of its budget (#budgetError)', () => {
  /** A client whose request ends only when its signal is aborted, with `make(reason)`. */
  function waitsForAbort(make: (reason: unknown) => unknown) {
    const s = scripted();
    let first = true;
    s.client.fetchToken = async (ctx: TokenRequestContext) => {
      s.contexts.push(ctx);
      if (first) {
        first = false;
        return tok('at-1', { obtainedAt: ctx.now(), expiresAt: ctx.now() + 300_000 });
      }
      if (ctx.signal?.aborted !== true) {
        await new Promise<void>((r) => ctx.signal?.addEventListener('abort', () => r(), { once: true }));
      }
      throw make(ctx.signal?.reason);
    };
    return s;
  }

  for (const [what, make, check] of [
    [
      'a network error: a NetworkError (timeout), its url kept, the original as cause',
      (reason: unknown) => new NetworkError(URL_, 'aborted', { cause: reason }),
      (e: TokenwardError, original: unknown) => {
        assert.ok(e instanceof NetworkError);
        assert.equal(e.url, URL_);
        assert.equal(e.cause, original);
      },
    ],
    [
      'anything else: a TokenwardError ERR_TIMEOUT, the original as cause',
      (reason: unknown) => reason,
      (e: TokenwardError, original: unknown) => {
        assert.ok(!(e instanceof NetworkError));
        // The cause is kept (scrubbed: a copy carrying its message).
        assert.equal((e.cause as Error | undefined)?.message, (original as Error).message);
        assert.equal((original as Error).message, 'optional renewal budget used up');
      },
    ],
  ] as const) {
    it(what, async () => {
      let now = NOW;
      const s = waitsForAbort(make);
      let thrown: unknown;
      const real = s.client.fetchToken;
      s.client.fetchToken = async (ctx) => {
        try {
          return await real(ctx);
        } catch (e) {
          thrown = e;
          throw e;
        }
      };
      const store = new MemoryStore();
      const m = new TokenManager({
        client: s.client,
        key: 'k',
        store,
        clock: () => now,
        optionalBudgetMs: 1,
      });
      await m.getToken();
      now += 250_000; // 50 s left: a minimum TTL of 100 s makes the renewal optional
      // The budget's timer is unref'd (a real request's socket keeps the process up): keep it up here.
      const keep = setInterval(() => {}, 1_000);
      try {
        assert.equal((await m.getToken({ minTtlMs: 100_000 })).accessToken, 'at-1');
      } finally {
        clearInterval(keep);
      }
      const e = m.lastError;
      assert.ok(e !== undefined);
      assert.equal(e.code, 'ERR_TIMEOUT');
      assert.equal(
        e.message,
        'an optional renewal did not finish within 1 ms and was abandoned; the current token is still valid',
      );
      check(e, thrown);
      assert.equal((await store.get('k'))?.lastError?.code, 'ERR_TIMEOUT');
    });
  }
});

describe('a lazy client (sameIdentity)', () => {
  const lazy = (given: Record<string, string | undefined>, built: Record<string, string | undefined>) => {
    const s = scripted();
    const client: LazyTokenClient = {
      identity: given,
      create: async () => ({ ...s.client, identity: built }),
    };
    return new TokenManager({ client, key: 'k', store: new MemoryStore(), clock: () => NOW });
  };

  it('the same entries in any order, an undefined value as absent: accepted', async () => {
    const keys = ['a', 'b', 'c', 'd'];
    const orders = [
      ['a', 'b', 'c', 'd'],
      ['d', 'c', 'b', 'a'],
      ['b', 'd', 'a', 'c'],
      ['c', 'a', 'd', 'b'],
    ];
    for (const x of orders) {
      for (const y of orders) {
        const id = (o: string[]) => Object.fromEntries(o.map((k) => [k, `v-${k}`]));
        const m = lazy(id(x), { ...id(y), extra: undefined });
        assert.equal((await m.getToken()).accessToken, 'at-1', `${x} / ${y}`);
      }
    }
    assert.equal(keys.length, 4);
  });

  it('another value, a key more or less: a ClientSetupError, nothing obtained', async () => {
    for (const built of [
      { provider: 'test', client_id: 'other' },
      { provider: 'test' },
      { provider: 'test', client_id: 'c', scope: 'x' },
      { provider: 'test', client_id: 'c', extra: '' },
    ]) {
      const m = lazy({ provider: 'test', client_id: 'c' }, built);
      await assert.rejects(
        m.getToken(),
        (e: unknown) =>
          e instanceof ClientSetupError &&
          e.message ===
            'the token client that was built has another identity than the one the manager was given; its tokens would be cached under the wrong key',
        JSON.stringify(built),
      );
    }
  });

  it('keys are compared by name, not only by their values in order', async () => {
    const m = lazy({ a: '1', b: '2' }, { b: '1', a: '2' });
    await assert.rejects(m.getToken(), (e: unknown) => e instanceof ClientSetupError);
  });
});

describe('settings shared between managers configured alike', () => {
  it('a manager configured otherwise (one setting, or only the store) keeps its own settings', async () => {
    const s = scripted();
    const storeA = new MemoryStore();
    const storeB = new MemoryStore();
    const a = new TokenManager({
      client: s.client,
      key: 'k',
      store: storeA,
      clock: () => NOW,
      lockLeaseMs: 1_000,
    });
    const b = new TokenManager({
      client: s.client,
      key: 'k',
      store: storeA,
      clock: () => NOW,
      lockLeaseMs: 2_000,
    });
    const c = new TokenManager({
      client: s.client,
      key: 'k',
      store: storeB,
      clock: () => NOW,
      lockLeaseMs: 1_000,
    });
    const d = new TokenManager({
      client: s.client,
      key: 'k',
      store: storeA,
      clock: () => NOW,
      lockLeaseMs: 1_000,
    });
    assert.equal(a.parameters.lockLeaseMs, 1_000);
    assert.equal(b.parameters.lockLeaseMs, 2_000);
    assert.equal(c.store, storeB);
    assert.equal(d.store, storeA);
    assert.deepEqual(d.parameters, a.parameters);
  });
});

describe('a failure recorded by the lock holder this caller waited for (recordedSince)', () => {
  const last = (o: Partial<StoredEntry['lastError'] & object> = {}) => ({
    code: 'ERR_NETWORK',
    message: 'refused',
    at: NOW - 60_000,
    url: URL_,
    ...o,
  });

  /**
   * The store holds an expired token with `before` as its failure record; the test holds the lock,
   * the manager reads, waits for it; the test writes `after` and releases. Returns what the manager did.
   */
  async function run(
    before: StoredEntry['lastError'],
    after: StoredEntry['lastError'],
    afterUpdatedAt: number,
  ) {
    const store = new SharedMemoryStore();
    const expired = tok('at-old', { obtainedAt: NOW - 400_000, expiresAt: NOW - 100_000 });
    await store.set({
      v: 1,
      key: 'k',
      token: expired,
      updatedAt: NOW - 60_000,
      ...(before ? { lastError: before } : {}),
    });
    const held = await store.lock('k', { ttlMs: 60_000, timeoutMs: 0 });
    const asked = deferred();
    store.onLock = () => asked.resolve();
    const s = scripted();
    const m = new TokenManager({ client: s.client, key: 'k', store, clock: () => NOW, eagerRetryGapMs: 0 });
    const p = m.getToken();
    p.catch(() => {});
    await asked.promise;
    for (let i = 0; i < 5; i++) await tick();
    await store.set({
      v: 1,
      key: 'k',
      token: expired,
      updatedAt: afterUpdatedAt,
      ...(after ? { lastError: after } : {}),
    });
    await held.release();
    const outcome = await p.then(
      (t) => ({ token: t.accessToken }),
      (e: unknown) => ({ error: (e as Error).message }),
    );
    return { outcome, requests: s.contexts.length };
  }

  it('none before, one after: its error is the answer, no request', async () => {
    const r = await run(undefined, last(), NOW - 60_000);
    assert.equal(r.requests, 0);
    assert.deepEqual(r.outcome, { error: rebuildError(last(), NOW).message });
  });

  it('the same record before and after: not the holder’s, so a request is made', async () => {
    const r = await run(last(), last(), NOW - 60_000);
    assert.deepEqual(r, { outcome: { token: 'at-1' }, requests: 1 });
  });

  it('another time, another message, or the entry rewritten: the holder’s answer, no request', async () => {
    for (const [after, updatedAt] of [
      [last({ at: NOW - 59_000 }), NOW - 60_000],
      [last({ message: 'reset' }), NOW - 60_000],
      [last(), NOW - 59_000],
    ] as const) {
      const r = await run(last(), after, updatedAt);
      assert.equal(r.requests, 0, JSON.stringify([after, updatedAt]));
      assert.ok('error' in r.outcome);
    }
  });
});

describe('which token a renewal starts from (newest)', () => {
  /** Memory holds one token, the store another, both expired; which refresh token is used. */
  async function refreshedWith(memoryObtained: number, storeObtained: number) {
    let now = NOW;
    const used: string[] = [];
    const s = scripted();
    const client: TokenClient = {
      ...s.client,
      async fetchToken(ctx) {
        return tok('at-mem', {
          refreshToken: 'rt-mem',
          obtainedAt: memoryObtained,
          expiresAt: ctx.now() + 1_000,
        });
      },
      async refresh(t) {
        used.push(t.refreshToken ?? '');
        return tok('at-new', { obtainedAt: now, expiresAt: now + 300_000 });
      },
    };
    const store = new MemoryStore();
    const m = new TokenManager({ client, key: 'k', store, clock: () => now });
    await m.getToken(); // at-mem, held and stored
    await store.set({
      v: 1,
      key: 'k',
      token: tok('at-store', { refreshToken: 'rt-store', obtainedAt: storeObtained, expiresAt: NOW + 1_000 }),
      updatedAt: NOW,
    });
    now += 600_000; // both expired
    await m.getToken();
    return used;
  }

  it('the one obtained last; on a tie, the stored one', async () => {
    assert.deepEqual(await refreshedWith(NOW - 10, NOW - 20), ['rt-mem']);
    assert.deepEqual(await refreshedWith(NOW - 20, NOW - 10), ['rt-store']);
    assert.deepEqual(await refreshedWith(NOW - 10, NOW - 10), ['rt-store']);
  });
});

describe('the minimum-TTL warning (seconds)', () => {
  it('names both durations in tenths of a second, rounded', async () => {
    const warnings: TokenwardWarning[] = [];
    const s = scripted();
    const m = new TokenManager({
      client: s.client,
      key: 'k',
      store: new MemoryStore(),
      clock: () => NOW,
      skewMs: 10_000,
      onWarning: (w) => warnings.push(w),
    });
    // The 300 s token's usable life is 290 s; 299.95 s asked for.
    await m.getToken({ minTtlMs: 299_950 });
    await m.getToken({ minTtlMs: 299_950 });
    assert.deepEqual(
      warnings.map((w) => [w.code, w.message]),
      [
        [
          'MIN_TTL_EXCEEDS_LIFETIME',
          'the minimum TTL asked for (300 s) is not shorter than the token lifetime the server gives (290 s after the safety margin), so no new token could meet it; tokens are renewed once half their lifetime is left instead',
        ],
      ],
    );
    const w2: TokenwardWarning[] = [];
    const m2 = new TokenManager({
      client: scripted().client,
      key: 'k',
      store: new MemoryStore(),
      clock: () => NOW,
      skewMs: 10_000,
      onWarning: (w) => w2.push(w),
    });
    await m2.getToken({ minTtlMs: 291_249 });
    assert.match(w2[0]?.message ?? '', /\(291\.2 s\) is not shorter/);
  });
});

describe('a recorded failure rebuilt without a status (the codes kept)', () => {
  it('ERR_TOKEN_ENDPOINT, ERR_INVALID_TOKEN_RESPONSE, ERR_LOGIN_REQUIRED, ERR_TIMEOUT keep their code', () => {
    for (const code of [
      'ERR_TOKEN_ENDPOINT',
      'ERR_INVALID_TOKEN_RESPONSE',
      'ERR_LOGIN_REQUIRED',
      'ERR_TIMEOUT',
    ]) {
      const e = rebuildError({ code, message: 'm', at: NOW }, NOW);
      assert.equal(e.code, code);
      assert.ok(!(e instanceof TokenEndpointError));
    }
  });
});

describe('accessors and defaults', () => {
  it('store, dpop, getAccessToken; renewal at 80 % of the lifetime by default', async () => {
    let now = NOW;
    const s = scripted();
    const store = new MemoryStore();
    const dpop = { jkt: 'thumbprint' } as unknown as NonNullable<TokenManager['dpop']>;
    const m = new TokenManager({ client: s.client, key: 'k', store, clock: () => now, dpop });
    assert.equal(m.store, store);
    assert.equal(m.dpop, dpop);
    assert.equal(new TokenManager({ client: s.client, key: 'k', store }).dpop, undefined);
    assert.equal(await m.getAccessToken(), 'at-1');
    // 80 % of 300 s is 240 s: at 239.999 s nothing is renewed, at 240 s a background renewal starts.
    now += 239_999;
    assert.equal(await m.getAccessToken(), 'at-1');
    await m.close();
    assert.equal(s.contexts.length, 1);
    now += 1;
    assert.equal(await m.getAccessToken(), 'at-1');
    await m.close();
    assert.equal(s.contexts.length, 2);
  });
});
