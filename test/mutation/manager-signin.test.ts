/**
 * The manager's `signIn()` and `introspect()` (src/manager/token-manager.ts, the `manager` Stryker
 * group): the lock a sign-in runs under, `reuse`, what reaches the client (the context, the options
 * without `reuse`, the caller's signal joined to the manager's), what is counted, published and
 * stored, and what is left behind when the sign-in fails. A scripted client: the tests need to see
 * the context and options the manager passes, which a loopback server cannot show. Clocks are
 * injected; counts are exact.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UnsupportedError } from '../../src/errors.js';
import { TokenManager, type TokenwardWarning } from '../../src/manager/token-manager.js';
import { channels } from '../../src/observe/channels.js';
import type { SignInOptions } from '../../src/signin/types.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { LockOnlyOptions, LockOptions, StoredEntry, StoreLock } from '../../src/stores/types.js';
import type { Token } from '../../src/token.js';
import type { TokenClient, TokenRequestContext } from '../../src/token-client.js';

const NOW = 1_700_000_000_000;

/** A memory store that claims to be shared and records its locks (options, releases). */
class LockingStore extends MemoryStore {
  override readonly shared = true as unknown as false;
  readonly locks: LockOptions[] = [];
  released = 0;
  /** What was in the store each time a lock was taken (to see what ran under it). */
  override async lock(key: string, options: LockOnlyOptions): Promise<StoreLock> {
    this.locks.push({ ...options });
    const l = await super.lock(key, options);
    return {
      release: async () => {
        this.released++;
        await l.release();
      },
    };
  }
}

function tokenAt(access: string, now: number, lifetimeMs = 300_000): Token {
  return {
    accessToken: access,
    tokenType: 'Bearer',
    expiresAt: now + lifetimeMs,
    obtainedAt: now,
    expirySource: 'expires_in',
    refreshToken: `rt-${access}`,
    raw: {},
  };
}

/** A scripted interactive client: signIn() records its arguments; it may be made to fail or wait. */
function interactive(clock: () => number) {
  let n = 0;
  const signIns: { ctx: TokenRequestContext; options: SignInOptions; signalAborted: boolean }[] = [];
  const introspections: { token: string; ctx: TokenRequestContext; hint: string | undefined }[] = [];
  let fail: Error | undefined;
  let hold: Promise<void> | undefined;
  let events: string[] = [];
  const client = {
    identity: { provider: 'test', client_id: 'c', grant: 'authorization_code' },
    async fetchToken(): Promise<Token> {
      events.push('fetch');
      n++;
      return tokenAt(`at-${n}`, clock());
    },
    async signIn(ctx: TokenRequestContext, options: SignInOptions): Promise<Token> {
      events.push('signIn');
      signIns.push({ ctx, options, signalAborted: ctx.signal?.aborted === true });
      if (hold !== undefined) await hold;
      if (fail !== undefined) throw fail;
      n++;
      return tokenAt(`at-${n}`, clock());
    },
    async introspect(token: string, ctx: TokenRequestContext, hint?: string) {
      events.push('introspect');
      introspections.push({ token, ctx, hint });
      if (hold !== undefined) await hold;
      return { active: true };
    },
  } satisfies TokenClient;
  return {
    client,
    signIns,
    introspections,
    get events() {
      return events;
    },
    resetEvents() {
      events = [];
    },
    failWith(e: Error | undefined) {
      fail = e;
    },
    /** The next calls wait until the returned function is called. */
    hold(): () => void {
      let release = () => {};
      hold = new Promise<void>((r) => {
        release = () => {
          hold = undefined;
          r();
        };
      });
      return release;
    },
  };
}

function setup(over: Record<string, unknown> = {}) {
  let now = NOW;
  const clock = () => now;
  const s = interactive(clock);
  const store = (over['store'] as MemoryStore | undefined) ?? new LockingStore();
  const warnings: TokenwardWarning[] = [];
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
    clock,
    advance(ms: number) {
      now += ms;
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('signIn', () => {
  it('a client with no interactive grant: UnsupportedError with the exact message; nothing locked', async () => {
    const store = new LockingStore();
    const m = new TokenManager({
      client: { identity: { provider: 'test' }, fetchToken: () => Promise.reject(new Error('no')) },
      key: 'k',
      store,
    });
    await assert.rejects(
      m.signIn(),
      (e: unknown) =>
        e instanceof UnsupportedError &&
        e.message ===
          'this profile has no interactive grant: set grant = "authorization_code" or "device_code" to sign in',
    );
    assert.equal(store.locks.length, 0);
  });

  it('on a shared store it runs under the lock (lease and wait as configured), released after', async () => {
    const l = setup({ lockLeaseMs: 1_234, lockTimeoutMs: 5_678 });
    const store = l.store as LockingStore;
    const t = await l.manager.signIn();
    assert.equal(t.accessToken, 'at-1');
    assert.deepEqual(store.locks, [{ ttlMs: 1_234, timeoutMs: 5_678 }]);
    assert.equal(store.released, 1);
    // Released: another lock can be taken at once.
    await (await store.lock('k', { ttlMs: 1, timeoutMs: 0 })).release();
  });

  it('on an unshared store: no lock', async () => {
    /** Counts lock() calls on an unshared store. */
    class Unshared extends MemoryStore {
      locks = 0;
      override lock(key: string, options: LockOnlyOptions): Promise<StoreLock> {
        this.locks++;
        return super.lock(key, options);
      }
    }
    const store = new Unshared();
    const l = setup({ store });
    await l.manager.signIn();
    assert.equal(store.locks, 0);
  });

  it('the token is stored (profile, identity, time, one renewal), held, counted as a grant and published', async () => {
    const written: StoredEntry[] = [];
    /** Keeps every entry written, whole. */
    class Recording extends LockingStore {
      override async set(e: StoredEntry): Promise<void> {
        written.push(structuredClone(e));
        await super.set(e);
      }
    }
    const l = setup({ store: new Recording() });
    const seen: unknown[] = [];
    const on = (m: unknown) => seen.push(m);
    channels.refresh.subscribe(on);
    let t: Token;
    try {
      t = await l.manager.signIn();
    } finally {
      channels.refresh.unsubscribe(on);
    }
    assert.equal(t.accessToken, 'at-1');
    assert.equal(l.manager.peek(), t);
    assert.deepEqual(l.manager.counts, { grants: 1, refreshes: 0, storeHits: 0 });
    assert.deepEqual(seen, [
      {
        profile: 'p1',
        key: 'k',
        provider: 'test',
        grant: 'authorization_code',
        expiresAt: t.expiresAt,
        obtainedAt: t.obtainedAt,
      },
    ]);
    assert.equal(written.length, 1);
    assert.equal(written[0]?.token?.accessToken, 'at-1');
    assert.equal(written[0]?.profile, 'p1');
    assert.equal(written[0]?.updatedAt, NOW);
    assert.deepEqual(written[0]?.counts, { renewals: 1, failures: 0 });
    assert.deepEqual(written[0]?.identity, l.client.identity);
    // Served from memory afterwards: no other call to the client.
    assert.equal((await l.manager.getToken()).accessToken, 'at-1');
    assert.deepEqual(l.events, ['signIn']);
  });

  it('the client gets the manager clock, a live signal, and the options without `reuse`', async () => {
    const l = setup();
    const openBrowser = false as const;
    await l.manager.signIn({ reuse: true, openBrowser, device: true, redirectTimeoutMs: 9 });
    await l.manager.signIn({});
    const [a, b] = l.signIns;
    assert.deepEqual(a?.options, { openBrowser: false, device: true, redirectTimeoutMs: 9 });
    assert.equal('reuse' in (a?.options ?? {}), false);
    assert.deepEqual(b?.options, {});
    assert.equal(a?.ctx.now(), NOW);
    l.advance(5);
    assert.equal(a?.ctx.now(), NOW + 5, 'the clock itself, not a reading of it');
    assert.ok(a?.ctx.signal instanceof AbortSignal);
    assert.equal(a?.signalAborted, false);
  });

  it("the caller's signal aborts the client's; close() that gives up aborts it too", async () => {
    const l = setup({ closeTimeoutMs: 0 });
    const caller = new AbortController();
    const release = l.hold();
    const p = l.manager.signIn({ signal: caller.signal });
    p.catch(() => {});
    while (l.signIns.length === 0) await tick();
    const ctxSignal = l.signIns[0]?.ctx.signal;
    assert.equal(ctxSignal?.aborted, false);
    caller.abort(new Error('caller gave up'));
    assert.equal(ctxSignal?.aborted, true);
    assert.equal((ctxSignal?.reason as Error | undefined)?.message, 'caller gave up');
    release();
    await p;

    // Without a caller's signal: the manager's own, which close() aborts when it gives up on a
    // request still running (close() does not wait for a sign-in: only for flights).
    const release2 = l.hold();
    const p2 = l.manager.signIn();
    while (l.signIns.length === 1) await tick();
    const own = l.signIns[1]?.ctx.signal;
    assert.equal(own?.aborted, false);
    // A flight held too, so close() gives up (timeout 0) and aborts the requests' controller.
    l.client.fetchToken = async () => {
      await new Promise<void>(() => {});
      throw new Error('unreachable');
    };
    l.manager.invalidate();
    const flight = l.manager.getToken();
    flight.catch(() => {});
    await l.manager.close();
    assert.equal(own?.aborted, true);
    release2();
    await p2;
  });

  it('a sign-in that fails: its error, nothing stored or held, the lock released, nothing counted', async () => {
    const l = setup();
    const boom = new Error('the person closed the browser');
    l.failWith(boom);
    await assert.rejects(l.manager.signIn(), (e: unknown) => e === boom);
    assert.equal(await l.store.get('k'), undefined);
    assert.equal(l.manager.peek(), undefined);
    assert.equal((l.store as LockingStore).released, 1);
    assert.deepEqual(l.manager.counts, { grants: 0, refreshes: 0, storeHits: 0 });
    // The next sign-in works (nothing left half-done).
    l.failWith(undefined);
    assert.equal((await l.manager.signIn()).accessToken, 'at-1');
  });

  describe('reuse', () => {
    it('a usable stored token is taken (held, no sign-in) with reuse; without reuse a new sign-in runs', async () => {
      const l = setup();
      await l.store.set({ v: 1, key: 'k', token: tokenAt('at-stored', NOW), updatedAt: NOW });
      const t = await l.manager.signIn({ reuse: true });
      assert.equal(t.accessToken, 'at-stored');
      assert.equal(l.manager.peek()?.accessToken, 'at-stored');
      assert.deepEqual(l.events, []);
      assert.equal((l.store as LockingStore).released, 1, 'the lock is released on this path too');
      assert.equal((await l.manager.signIn({ reuse: false })).accessToken, 'at-1');
      assert.equal((await l.manager.signIn()).accessToken, 'at-2');
      assert.deepEqual(l.events, ['signIn', 'signIn']);
    });

    it('a stored token that is not usable (within the safety margin, or expired) is not reused', async () => {
      // Obtained long ago, so the margin is the whole 10 s skew (not half a short lifetime).
      const stored = (leftMs: number) => ({
        ...tokenAt('at-stored', NOW - 290_000),
        expiresAt: NOW + leftMs,
      });
      for (const leftMs of [10_000, 9_999, 0, -1]) {
        const l = setup({ skewMs: 10_000 });
        await l.store.set({ v: 1, key: 'k', token: stored(leftMs), updatedAt: NOW });
        assert.equal((await l.manager.signIn({ reuse: true })).accessToken, 'at-1', String(leftMs));
      }
      // 1 ms beyond the margin: usable.
      const l = setup({ skewMs: 10_000 });
      await l.store.set({ v: 1, key: 'k', token: stored(10_001), updatedAt: NOW });
      assert.equal((await l.manager.signIn({ reuse: true })).accessToken, 'at-stored');
    });

    it('the stored token an API rejected (invalidate) is not reused; the new one clears the mark', async () => {
      const l = setup();
      await l.store.set({ v: 1, key: 'k', token: tokenAt('at-stored', NOW), updatedAt: NOW });
      l.manager.invalidate('at-stored');
      assert.equal((await l.manager.signIn({ reuse: true })).accessToken, 'at-1');
      assert.deepEqual(l.events, ['signIn']);
      // The mark is cleared: the new token is served from memory, and reuse takes it.
      assert.equal((await l.manager.getToken()).accessToken, 'at-1');
      assert.equal((await l.manager.signIn({ reuse: true })).accessToken, 'at-1');
      assert.deepEqual(l.events, ['signIn']);
    });

    it('with reuse and nothing stored: signs in', async () => {
      const l = setup();
      assert.equal((await l.manager.signIn({ reuse: true })).accessToken, 'at-1');
      // An entry with no token (a failure record only): signs in.
      await l.store.set({
        v: 1,
        key: 'k',
        updatedAt: NOW,
        lastError: { code: 'ERR_NETWORK', message: 'x', at: NOW },
      });
      assert.equal((await l.manager.signIn({ reuse: true })).accessToken, 'at-2');
    });
  });

  it('the sign-in counts renewals on top of what the store had', async () => {
    /** Keeps entries whole (the memory store drops the counts, which it can rebuild). */
    class Whole extends LockingStore {
      last: StoredEntry | undefined;
      override async set(e: StoredEntry): Promise<void> {
        this.last = structuredClone(e);
      }
      override async get(): Promise<StoredEntry | undefined> {
        return structuredClone(this.last);
      }
    }
    const store = new Whole();
    const l = setup({ store });
    await l.manager.signIn();
    await l.manager.signIn();
    assert.equal(store.last?.token?.accessToken, 'at-2');
    assert.deepEqual(store.last?.counts, { renewals: 2, failures: 0 });
  });
});

describe('introspect', () => {
  it('a client without introspection: UnsupportedError with the exact message; no token obtained', async () => {
    const l = setup();
    const { introspect: _i, ...plain } = l.client;
    const m = new TokenManager({ client: plain, key: 'k', store: new MemoryStore(), clock: l.clock });
    await assert.rejects(
      m.introspect(),
      (e: unknown) =>
        e instanceof UnsupportedError && e.message === 'this provider has no token introspection (RFC 7662)',
    );
    assert.deepEqual(l.events, []);
  });

  it('a token given: introspected as is, with the hint and the manager clock; no token obtained', async () => {
    const l = setup();
    assert.deepEqual(await l.manager.introspect('someone-elses', 'refresh_token'), { active: true });
    assert.deepEqual(l.events, ['introspect']);
    const [i] = l.introspections;
    assert.equal(i?.token, 'someone-elses');
    assert.equal(i?.hint, 'refresh_token');
    assert.equal(i?.ctx.now(), NOW);
    assert.ok(i?.ctx.signal instanceof AbortSignal);
    assert.equal(i?.ctx.signal?.aborted, false);
  });

  it('no token given: the current access token (obtained first when none is held)', async () => {
    const l = setup();
    await l.manager.introspect();
    await l.manager.introspect();
    assert.deepEqual(l.events, ['fetch', 'introspect', 'introspect']);
    assert.deepEqual(
      l.introspections.map((i) => [i.token, i.hint]),
      [
        ['at-1', undefined],
        ['at-1', undefined],
      ],
    );
  });

  it("its request is one close() aborts when it gives up; the requests' count stays right", async () => {
    const l = setup({ closeTimeoutMs: 0 });
    await l.manager.getToken(); // at-1
    const release = l.hold();
    const p = l.manager.introspect('x');
    while (l.introspections.length === 0) await tick();
    const signal = l.introspections[0]?.ctx.signal;
    // A flight held too, so close() gives up on it.
    l.client.fetchToken = async () => {
      await new Promise<void>(() => {});
      throw new Error('unreachable');
    };
    l.manager.invalidate();
    const flight = l.manager.getToken();
    flight.catch(() => {});
    await l.manager.close();
    assert.equal(signal?.aborted, true);
    assert.equal((signal?.reason as Error | undefined)?.message, 'the token manager was closed');
    release();
    await p;
  });
});
