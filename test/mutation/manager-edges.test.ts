/**
 * Edges of the manager outside single flight (src/manager/token-manager.ts, the `manager` Stryker
 * group), written against the survivors of its first Stryker run (docs/testing.md): the store's
 * ownership by default, the rejected-token mark and a server that hands back the same access token,
 * `close()` giving up while another request still runs, `logout()`'s quiet paths and its request
 * context, a store emptied under a renewal, records without a profile, and `rebuildError`'s classes for
 * records no renewal of this version writes. Scripted clients, injected clocks, exact counts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  InvalidTokenResponseError,
  NetworkError,
  TokenEndpointError,
  TokenwardError,
} from '../../src/errors.js';
import { rebuildError, TokenManager, type TokenwardWarning } from '../../src/manager/token-manager.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { StoredEntry } from '../../src/stores/types.js';
import type { Token } from '../../src/token.js';
import type { TokenClient, TokenRequestContext } from '../../src/token-client.js';
import { deferred, NOW, SharedMemoryStore, tick, tok, URL_ } from './flight-helpers.js';

describe('ownership of the store', () => {
  it('by default the manager does not close the store', async () => {
    let closes = 0;
    class Counting extends MemoryStore {
      override async close(): Promise<void> {
        closes++;
      }
    }
    const m = new TokenManager({
      client: { identity: {}, fetchToken: () => Promise.reject(new Error('not called')) },
      key: 'k',
      store: new Counting(),
    });
    await m.close();
    assert.equal(closes, 0);
  });
});

describe('the rejected-token mark', () => {
  it('a server that hands back the same access token after a 401: one renewal, then served from memory', async () => {
    let requests = 0;
    let now = NOW;
    const client: TokenClient = {
      identity: { provider: 'test' },
      async fetchToken(ctx) {
        requests++;
        return tok('at-same', { obtainedAt: ctx.now(), expiresAt: ctx.now() + 300_000 });
      },
    };
    const m = new TokenManager({ client, key: 'k', store: new MemoryStore(), clock: () => now });
    await m.getToken();
    // Something made the manager keep its rarely-used state (an eager renewal attempt): the mark must
    // be cleared there too.
    now += 250_000;
    await m.getToken();
    await m.close();
    assert.equal(requests, 2);
    m.invalidate();
    assert.equal((await m.getToken()).accessToken, 'at-same');
    assert.equal(requests, 3, 'one renewal for the 401');
    for (let i = 0; i < 3; i++) assert.equal((await m.getToken()).accessToken, 'at-same');
    assert.equal(requests, 3, 'the same string, now the new token, is served from memory');
  });

  it('cleared when a token another process stored is taken: that string coming back later is served', async () => {
    let now = NOW;
    const store = new MemoryStore();
    let requests = 0;
    const client: TokenClient = {
      identity: { provider: 'test' },
      async fetchToken() {
        requests++;
        return tok('at-1', { obtainedAt: now, expiresAt: now + 300_000 });
      },
    };
    const m = new TokenManager({ client, key: 'k', store, clock: () => now });
    await m.getToken(); // at-1
    m.invalidate(); // an API rejected at-1
    // Meanwhile another process stored at-2: taken from the store, the mark goes.
    await store.set({
      v: 1,
      key: 'k',
      token: tok('at-2', { obtainedAt: now, expiresAt: now + 300_000 }),
      updatedAt: now,
    });
    assert.equal((await m.getToken()).accessToken, 'at-2');
    assert.equal(requests, 1);
    // Later (at-2 expired) the other process stores a token whose string is at-1 again (servers that
    // hand back the same string do so): it is a new token, served without a request.
    now += 400_000;
    await store.set({
      v: 1,
      key: 'k',
      token: tok('at-1', { obtainedAt: now, expiresAt: now + 300_000 }),
      updatedAt: now,
    });
    assert.equal((await m.getToken()).accessToken, 'at-1');
    assert.equal(requests, 1);
  });
});

describe('close() giving up while another request runs', () => {
  it('a request that ends after close() gave up does not drop the aborted controller: a later request is refused', async () => {
    class SlowReads extends MemoryStore {
      gate: Promise<void> | undefined;
      override async get(key: string): Promise<StoredEntry | undefined> {
        if (this.gate !== undefined) await this.gate;
        return super.get(key);
      }
    }
    const store = new SlowReads();
    const contexts: TokenRequestContext[] = [];
    const intro = deferred();
    let introspecting = false;
    const client: TokenClient = {
      identity: { provider: 'test' },
      async fetchToken(ctx) {
        contexts.push(ctx);
        return tok('at-1');
      },
      async introspect() {
        introspecting = true;
        await intro.promise;
        return { active: true };
      },
    };
    const m = new TokenManager({ client, key: 'k', store, clock: () => NOW, closeTimeoutMs: 0 });
    const i = m.introspect('x'); // a request running
    while (!introspecting) await tick();
    const g = deferred();
    store.gate = g.promise;
    const p = m.getToken(); // a flight stuck on the store, before its request
    p.catch(() => {});
    await m.close(); // gives up on the flight: aborts the requests' controller
    intro.resolve();
    await i; // the running request ends
    store.gate = undefined;
    g.resolve();
    await p.catch(() => {});
    assert.equal(contexts.length, 1);
    assert.equal(contexts[0]?.signal?.aborted, true, 'the request started after close() gave up is refused');
  });

  it('two introspections one after the other: the first one’s controller is dropped, the second gets a new one', async () => {
    const signals: (AbortSignal | undefined)[] = [];
    const client: TokenClient = {
      identity: { provider: 'test' },
      fetchToken: () => Promise.reject(new Error('not called')),
      async introspect(_t, ctx) {
        signals.push(ctx.signal);
        return { active: true };
      },
    };
    const m = new TokenManager({ client, key: 'k', store: new MemoryStore(), clock: () => NOW });
    await m.introspect('a');
    await m.introspect('b');
    assert.equal(signals.length, 2);
    assert.notEqual(signals[0], signals[1]);
  });
});

describe('logout', () => {
  function rig(withRevoke: boolean) {
    const revoked: { token: Token; ctx: TokenRequestContext }[] = [];
    const signals: (AbortSignal | undefined)[] = [];
    const client: TokenClient = {
      identity: { provider: 'test' },
      async fetchToken() {
        return tok('at-1');
      },
      async introspect(_t, ctx) {
        signals.push(ctx.signal);
        return { active: true };
      },
      ...(withRevoke
        ? {
            async revoke(token: Token, ctx: TokenRequestContext) {
              revoked.push({ token, ctx });
            },
          }
        : {}),
    };
    const warnings: TokenwardWarning[] = [];
    const m = new TokenManager({
      client,
      key: 'k',
      store: new MemoryStore(),
      clock: () => NOW,
      onWarning: (w) => warnings.push(w),
    });
    return { m, revoked, warnings, signals };
  }

  it('nothing held: no revocation tried, no warning', async () => {
    const r = rig(true);
    assert.deepEqual(await r.m.logout(), { revoked: false, deleted: false });
    assert.deepEqual(r.revoked, []);
    assert.deepEqual(r.warnings, []);
  });

  it('a client that cannot revoke: no revocation tried, no warning', async () => {
    const r = rig(false);
    await r.m.getToken();
    assert.deepEqual(await r.m.logout(), { revoked: false, deleted: true });
    assert.deepEqual(r.warnings, []);
  });

  it("the revocation gets the manager's clock and a live signal, whose controller is dropped after", async () => {
    const r = rig(true);
    await r.m.getToken();
    await r.m.logout();
    assert.equal(r.revoked.length, 1);
    const ctx = r.revoked[0]?.ctx;
    assert.equal(ctx?.now(), NOW);
    assert.ok(ctx?.signal instanceof AbortSignal);
    assert.equal(ctx?.signal?.aborted, false);
    await r.m.introspect('x');
    assert.notEqual(r.signals[0], ctx?.signal, 'a request after the revocation gets a new controller');
  });
});

describe('a store emptied under a renewal', () => {
  it('a rejected refresh token and, on the second look, no entry at all: the primary grant', async () => {
    const store = new SharedMemoryStore();
    await store.set({
      v: 1,
      key: 'k',
      token: tok('at-old', { refreshToken: 'rt-1', obtainedAt: NOW - 400_000, expiresAt: NOW - 100_000 }),
      updatedAt: NOW - 100_000,
    });
    const calls: string[] = [];
    const client: TokenClient = {
      identity: { provider: 'test' },
      async fetchToken() {
        calls.push('fetch');
        return tok('at-new');
      },
      async refresh() {
        calls.push('refresh');
        await store.delete('k'); // another process logged out
        throw new TokenEndpointError(URL_, 400, { error: 'invalid_grant' });
      },
    };
    const m = new TokenManager({ client, key: 'k', store, clock: () => NOW });
    assert.equal((await m.getToken()).accessToken, 'at-new');
    assert.deepEqual(calls, ['refresh', 'fetch']);
  });

  it('the store emptied while a token is held: the renewal starts from the held one', async () => {
    let now = NOW;
    const store = new MemoryStore();
    const used: string[] = [];
    const client: TokenClient = {
      identity: { provider: 'test' },
      async fetchToken() {
        return tok('at-1', { refreshToken: 'rt-held', obtainedAt: now, expiresAt: now + 300_000 });
      },
      async refresh(t) {
        used.push(t.refreshToken ?? '');
        return tok('at-2', { obtainedAt: now, expiresAt: now + 300_000 });
      },
    };
    const m = new TokenManager({ client, key: 'k', store, clock: () => now });
    await m.getToken();
    await store.delete('k');
    now += 400_000;
    assert.equal((await m.getToken()).accessToken, 'at-2');
    assert.deepEqual(used, ['rt-held']);
  });

  it('nothing stored before the lock, a failure recorded by its holder: that failure is the answer', async () => {
    const store = new SharedMemoryStore();
    const held = await store.lock('k', { ttlMs: 60_000, timeoutMs: 0 });
    const asked = deferred();
    store.onLock = () => asked.resolve();
    let requests = 0;
    const client: TokenClient = {
      identity: { provider: 'test' },
      async fetchToken() {
        requests++;
        return tok('at-1');
      },
    };
    const m = new TokenManager({ client, key: 'k', store, clock: () => NOW });
    const p = m.getToken();
    p.catch(() => {});
    await asked.promise;
    await store.set({
      v: 1,
      key: 'k',
      updatedAt: NOW,
      lastError: { code: 'ERR_NETWORK', message: 'refused', at: NOW, url: URL_ },
    });
    await held.release();
    await assert.rejects(p, (e: unknown) => e instanceof NetworkError && e.message.startsWith('refused ['));
    assert.equal(requests, 0);
  });
});

describe('the failure record without a profile', () => {
  it('has no profile key', async () => {
    const written: StoredEntry[] = [];
    class Recording extends MemoryStore {
      override async set(e: StoredEntry): Promise<void> {
        written.push(structuredClone(e));
      }
    }
    const m = new TokenManager({
      client: {
        identity: { provider: 'test' },
        fetchToken: () => Promise.reject(new NetworkError(URL_, 'refused')),
      },
      key: 'k',
      store: new Recording(),
      clock: () => NOW,
    });
    await assert.rejects(m.getToken());
    assert.equal(written.length, 1);
    assert.ok(written[0]?.lastError !== undefined);
    assert.equal('profile' in (written[0] ?? {}), false);
  });
});

describe('rebuildError: records this version does not write', () => {
  it('an invalid token response without a status: a plain TokenwardError with that code', () => {
    const e = rebuildError({ code: 'ERR_INVALID_TOKEN_RESPONSE', message: 'm', at: NOW, url: URL_ }, NOW);
    assert.ok(!(e instanceof InvalidTokenResponseError));
    assert.equal(Object.getPrototypeOf(e), TokenwardError.prototype);
    assert.equal(e.code, 'ERR_INVALID_TOKEN_RESPONSE');
  });

  it('another code with a url and no status: not a NetworkError, its code kept', () => {
    for (const code of ['ERR_STORE', 'ERR_CONFIG', 'ERR_LOCK_TIMEOUT']) {
      const e = rebuildError({ code, message: 'm', at: NOW, url: URL_ }, NOW);
      assert.ok(!(e instanceof NetworkError), code);
      assert.equal(e.code, code);
    }
  });
});

describe('the minimum-TTL warning on a manager that already keeps its rare state', () => {
  it('is given once, also after an invalidate() made that state', async () => {
    const warnings: TokenwardWarning[] = [];
    let n = 0;
    const client: TokenClient = {
      identity: { provider: 'test' },
      async fetchToken() {
        n++;
        return tok(`at-${n}`);
      },
    };
    const m = new TokenManager({
      client,
      key: 'k',
      store: new MemoryStore(),
      clock: () => NOW,
      onWarning: (w) => warnings.push(w),
    });
    await m.getToken();
    m.invalidate(); // the manager's rare state now exists
    await m.getToken({ minTtlMs: 400_000 });
    await m.getToken({ minTtlMs: 400_000 });
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['MIN_TTL_EXCEEDS_LIFETIME'],
    );
  });
});

describe("a sign-in's request is counted out", () => {
  it('a request after a sign-in gets a new controller (the sign-in’s is dropped)', async () => {
    const signals: (AbortSignal | undefined)[] = [];
    const client: TokenClient = {
      identity: { provider: 'test' },
      fetchToken: () => Promise.reject(new Error('not called')),
      async signIn(ctx) {
        signals.push(ctx.signal);
        return tok('at-1');
      },
      async introspect(_t, ctx) {
        signals.push(ctx.signal);
        return { active: true };
      },
    };
    const m = new TokenManager({ client, key: 'k', store: new MemoryStore(), clock: () => NOW });
    await m.signIn();
    await m.introspect('x');
    assert.equal(signals.length, 2);
    assert.notEqual(signals[0], signals[1]);
  });
});
