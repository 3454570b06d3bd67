/**
 * How the manager obtains a token and what it records when it cannot (src/manager/token-manager.ts,
 * the `manager` Stryker group): `#obtain` — refresh or primary grant, a rejected refresh token, the
 * second look at a shared store for a refresh token another process rotated — and `#recordError` /
 * `lastErrorOf` — the failure record written to the store, field by field. A scripted client: "another
 * process" must write to the store exactly while a refresh is in flight, which a loopback server cannot
 * arrange. Clocks are injected; counts are exact.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  InvalidTokenResponseError,
  LoginRequiredError,
  NetworkError,
  TokenEndpointError,
  TokenwardError,
} from '../../src/errors.js';
import {
  MAX_REMEMBERED_RETRY_AFTER_MS,
  TokenManager,
  type TokenwardWarning,
} from '../../src/manager/token-manager.js';
import { channels } from '../../src/observe/channels.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { StoredEntry } from '../../src/stores/types.js';
import type { Token } from '../../src/token.js';
import type { TokenClient, TokenRequestContext } from '../../src/token-client.js';

const NOW = 1_700_000_000_000;
const URL_ = 'http://127.0.0.1/token';

/** Keeps entries whole (the memory store drops counts), and may claim to be shared. */
class WholeStore extends MemoryStore {
  readonly entries = new Map<string, StoredEntry>();
  reads = 0;
  writes = 0;
  failWrites: Error | undefined;
  constructor(shared: boolean) {
    super();
    (this as { shared: boolean }).shared = shared;
  }
  override async get(key: string): Promise<StoredEntry | undefined> {
    this.reads++;
    return structuredClone(this.entries.get(key));
  }
  override async set(e: StoredEntry): Promise<void> {
    this.writes++;
    if (this.failWrites !== undefined) throw this.failWrites;
    this.entries.set(e.key, structuredClone(e));
  }
  override async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }
}

function tok(access: string, refresh: string | undefined, o: Partial<Token> = {}): Token {
  return {
    accessToken: access,
    tokenType: 'Bearer',
    obtainedAt: NOW - 400_000,
    expiresAt: NOW - 100_000, // expired: a renewal is needed
    expirySource: 'expires_in',
    ...(refresh === undefined ? {} : { refreshToken: refresh }),
    raw: {},
    ...o,
  };
}

const rejected = () => new TokenEndpointError(URL_, 400, { error: 'invalid_grant' });

/**
 * A scripted client: `refresh` answers by refresh token from `refreshes` (a token, an error to throw,
 * or a function run first — "another process" writing to the store); `fetchToken` gives `at-new` or
 * throws `fetchError`.
 */
function rig(
  o: {
    shared?: boolean;
    refreshes?: Record<string, Token | Error | (() => Promise<Token | Error>)>;
    fetchError?: unknown;
    noRefresh?: boolean;
    /** An interactive client (it has `signIn`). */
    interactive?: boolean;
  } = {},
) {
  const calls: string[] = [];
  const store = new WholeStore(o.shared ?? true);
  const client: TokenClient = {
    identity: { provider: 'test', client_id: 'c', grant: 'client_credentials' },
    async fetchToken(_ctx: TokenRequestContext) {
      calls.push('fetch');
      if (o.fetchError !== undefined) throw o.fetchError;
      return tok('at-new', 'rt-new', { obtainedAt: NOW, expiresAt: NOW + 300_000 });
    },
    ...(o.noRefresh === true
      ? {}
      : {
          async refresh(t: Token) {
            calls.push(`refresh ${t.refreshToken}`);
            let a = o.refreshes?.[t.refreshToken ?? ''];
            if (typeof a === 'function') a = await a();
            if (a === undefined) throw new Error(`unexpected refresh token ${t.refreshToken}`);
            if (a instanceof Error) throw a;
            return a;
          },
        }),
    ...(o.interactive === true ? { signIn: () => Promise.reject(new Error('no sign-in here')) } : {}),
  };
  const warnings: TokenwardWarning[] = [];
  const manager = new TokenManager({
    client,
    key: 'k',
    store,
    clock: () => NOW,
    profile: 'p1',
    onWarning: (w) => warnings.push(w),
  });
  const put = (t: Token | undefined, extra: Partial<StoredEntry> = {}) =>
    store.entries.set('k', {
      v: 1,
      key: 'k',
      ...(t === undefined ? {} : { token: t }),
      updatedAt: NOW - 1,
      ...extra,
    });
  return { calls, store, client, manager, warnings, put };
}

const fresh = (access: string, refresh: string) =>
  tok(access, refresh, { obtainedAt: NOW, expiresAt: NOW + 300_000 });

describe('#obtain: refresh or primary grant', () => {
  it('a refresh token: one refresh, counted and published as refresh_token; the token is stored', async () => {
    const r = rig({ refreshes: { 'rt-1': fresh('at-2', 'rt-2') } });
    r.put(tok('at-1', 'rt-1'));
    const seen: { grant: string }[] = [];
    const on = (m: unknown) => seen.push(m as { grant: string });
    channels.refresh.subscribe(on);
    try {
      assert.equal((await r.manager.getToken()).accessToken, 'at-2');
    } finally {
      channels.refresh.unsubscribe(on);
    }
    assert.deepEqual(r.calls, ['refresh rt-1']);
    assert.deepEqual(r.manager.counts, { grants: 0, refreshes: 1, storeHits: 0 });
    assert.deepEqual(
      seen.map((s) => s.grant),
      ['refresh_token'],
    );
    assert.equal(r.store.entries.get('k')?.token?.accessToken, 'at-2');
    assert.deepEqual(r.warnings, []);
  });

  it('the primary grant: counted and published with the identity’s grant', async () => {
    const r = rig();
    const seen: { grant: string }[] = [];
    const on = (m: unknown) => seen.push(m as { grant: string });
    channels.refresh.subscribe(on);
    try {
      assert.equal((await r.manager.getToken()).accessToken, 'at-new');
    } finally {
      channels.refresh.unsubscribe(on);
    }
    assert.deepEqual(r.calls, ['fetch']);
    assert.deepEqual(r.manager.counts, { grants: 1, refreshes: 0, storeHits: 0 });
    assert.deepEqual(
      seen.map((s) => s.grant),
      ['client_credentials'],
    );
  });

  it('no refresh token, a client that cannot refresh, or a refresh token expired (at its expiry too): the primary grant', async () => {
    const cases: [string, Token, boolean?][] = [
      ['no refresh token', tok('at-1', undefined)],
      ['client without refresh', tok('at-1', 'rt-1'), true],
      ['refresh token expired', tok('at-1', 'rt-1', { refreshExpiresAt: NOW - 1 })],
      ['refresh token expiring now', tok('at-1', 'rt-1', { refreshExpiresAt: NOW })],
    ];
    for (const [name, t, noRefresh] of cases) {
      const r = rig({ ...(noRefresh === true ? { noRefresh } : {}) });
      r.put(t);
      assert.equal((await r.manager.getToken()).accessToken, 'at-new', name);
      assert.deepEqual(r.calls, ['fetch'], name);
      assert.deepEqual(r.warnings, [], name);
    }
    // 1 ms before its expiry the refresh token is still used.
    const r = rig({ refreshes: { 'rt-1': fresh('at-2', 'rt-2') } });
    r.put(tok('at-1', 'rt-1', { refreshExpiresAt: NOW + 1 }));
    assert.equal((await r.manager.getToken()).accessToken, 'at-2');
    assert.deepEqual(r.calls, ['refresh rt-1']);
  });

  it('a refresh that fails otherwise than by a rejection is the answer: no primary grant, no warning', async () => {
    for (const err of [
      new TokenEndpointError(URL_, 500, { error: 'server_error' }),
      new TokenEndpointError(URL_, 400, { error: 'invalid_client' }),
      new NetworkError(URL_, 'refused'),
    ]) {
      const r = rig({ refreshes: { 'rt-1': err } });
      r.put(tok('at-1', 'rt-1'));
      await assert.rejects(r.manager.getToken(), (e: unknown) => e === err);
      assert.deepEqual(r.calls, ['refresh rt-1']);
      assert.deepEqual(r.warnings, []);
      // The refresh token is kept: it was not rejected.
      assert.equal(r.store.entries.get('k')?.token?.refreshToken, 'rt-1');
    }
  });

  it('a rejected refresh token: REFRESH_REJECTED (the rejection as its cause), then the primary grant', async () => {
    const err = rejected();
    const r = rig({ refreshes: { 'rt-1': err } });
    r.put(tok('at-1', 'rt-1'));
    assert.equal((await r.manager.getToken()).accessToken, 'at-new');
    assert.deepEqual(r.calls, ['refresh rt-1', 'fetch']);
    assert.deepEqual(r.warnings, [
      {
        code: 'REFRESH_REJECTED',
        message: 'the refresh token was rejected; using the primary grant',
        cause: err,
      },
    ]);
    assert.deepEqual(r.manager.counts, { grants: 1, refreshes: 0, storeHits: 0 });
  });

  it('an interactive client: the warning says a person must sign in again (its fetchToken says so too)', async () => {
    const err = rejected();
    const login = new LoginRequiredError('p1');
    const r = rig({ refreshes: { 'rt-1': err }, fetchError: login, interactive: true });
    r.put(tok('at-1', 'rt-1'));
    await assert.rejects(r.manager.getToken(), (e: unknown) => e === login);
    assert.deepEqual(r.calls, ['refresh rt-1', 'fetch']);
    assert.deepEqual(r.warnings, [
      {
        code: 'REFRESH_REJECTED',
        message:
          'the refresh token was rejected (the sign-in ended at the server); a person must sign in again',
        cause: err,
      },
    ]);
  });
});

describe('#obtain: a rejected refresh token on a shared store — another process may have rotated it', () => {
  it('the store holds a usable token with another refresh token: it is taken, with no other request', async () => {
    const theirs = fresh('at-theirs', 'rt-2');
    const r = rig({
      refreshes: {
        'rt-1': async () => {
          r.put(theirs);
          return rejected();
        },
      },
    });
    r.put(tok('at-1', 'rt-1'));
    assert.equal((await r.manager.getToken()).accessToken, 'at-theirs');
    assert.deepEqual(r.calls, ['refresh rt-1']);
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(r.manager.counts, { grants: 0, refreshes: 0, storeHits: 0 });
  });

  it('their token expired: refreshed with their refresh token (one refresh counted)', async () => {
    const r = rig({
      refreshes: {
        'rt-1': async () => {
          r.put(tok('at-theirs', 'rt-2'));
          return rejected();
        },
        'rt-2': fresh('at-3', 'rt-3'),
      },
    });
    r.put(tok('at-1', 'rt-1'));
    const seen: { grant: string }[] = [];
    const on = (m: unknown) => seen.push(m as { grant: string });
    channels.refresh.subscribe(on);
    try {
      assert.equal((await r.manager.getToken()).accessToken, 'at-3');
    } finally {
      channels.refresh.unsubscribe(on);
    }
    assert.deepEqual(r.calls, ['refresh rt-1', 'refresh rt-2']);
    assert.deepEqual(r.manager.counts, { grants: 0, refreshes: 1, storeHits: 0 });
    assert.deepEqual(
      seen.map((s) => s.grant),
      ['refresh_token'],
    );
    assert.deepEqual(r.warnings, []);
  });

  it('their token is usable but is the one an API rejected: refreshed with their refresh token instead', async () => {
    const r = rig({
      refreshes: {
        'rt-1': async () => {
          r.put(fresh('at-theirs', 'rt-2'));
          return rejected();
        },
        'rt-2': fresh('at-3', 'rt-3'),
      },
    });
    r.put(tok('at-1', 'rt-1'));
    r.manager.invalidate('at-theirs'); // nothing held: the named token is marked
    assert.equal((await r.manager.getToken()).accessToken, 'at-3');
    assert.deepEqual(r.calls, ['refresh rt-1', 'refresh rt-2']);
  });

  it('their refresh token is rejected too: the primary grant; the warning names the first rejection', async () => {
    const first = rejected();
    const r = rig({
      refreshes: {
        'rt-1': async () => {
          r.put(tok('at-theirs', 'rt-2'));
          return first;
        },
        'rt-2': new TokenEndpointError(URL_, 401, {}),
      },
    });
    r.put(tok('at-1', 'rt-1'));
    assert.equal((await r.manager.getToken()).accessToken, 'at-new');
    assert.deepEqual(r.calls, ['refresh rt-1', 'refresh rt-2', 'fetch']);
    assert.equal(r.warnings.length, 1);
    assert.equal(r.warnings[0]?.code, 'REFRESH_REJECTED');
    assert.equal(r.warnings[0]?.cause, first);
  });

  it('…and the primary grant fails: the record keeps their token without its (rejected) refresh token', async () => {
    const down = new NetworkError(URL_, 'refused');
    const r = rig({
      fetchError: down,
      refreshes: {
        'rt-1': async () => {
          r.put(tok('at-theirs', 'rt-2', { refreshExpiresAt: NOW + 999_999 }));
          return rejected();
        },
        'rt-2': rejected(),
      },
    });
    r.put(tok('at-1', 'rt-1'));
    await assert.rejects(r.manager.getToken(), (e: unknown) => e === down);
    const e = r.store.entries.get('k');
    assert.equal(e?.token?.accessToken, 'at-theirs');
    assert.equal(e?.token?.refreshToken, undefined, 'rt-2 was rejected: not kept');
    assert.equal('refreshToken' in (e?.token ?? {}), false);
    assert.equal('refreshExpiresAt' in (e?.token ?? {}), false, "the dead token's expiry goes with it");
    assert.equal(e?.lastError?.code, 'ERR_NETWORK');
  });

  it('their refresh fails otherwise than by a rejection: that failure is the answer, no primary grant', async () => {
    const down = new NetworkError(URL_, 'refused');
    const r = rig({
      refreshes: {
        'rt-1': async () => {
          r.put(tok('at-theirs', 'rt-2'));
          return rejected();
        },
        'rt-2': down,
      },
    });
    r.put(tok('at-1', 'rt-1'));
    await assert.rejects(r.manager.getToken(), (e: unknown) => e === down);
    assert.deepEqual(r.calls, ['refresh rt-1', 'refresh rt-2']);
    assert.deepEqual(r.warnings, []);
    // Nothing was rejected in the end but rt-1, which the store no longer holds: rt-2 is kept.
    assert.equal(r.store.entries.get('k')?.token?.refreshToken, 'rt-2');
  });

  it('the store holds the same refresh token, or a token without one: straight to the primary grant', async () => {
    for (const again of [
      tok('at-1', 'rt-1'),
      fresh('at-other', 'rt-1'),
      fresh('at-other', undefined as never),
    ]) {
      const r = rig({ refreshes: { 'rt-1': rejected() } });
      r.put(tok('at-1', 'rt-1'));
      r.client.refresh = async (t: Token) => {
        r.calls.push(`refresh ${t.refreshToken}`);
        r.put(again);
        throw rejected();
      };
      assert.equal((await r.manager.getToken()).accessToken, 'at-new');
      assert.deepEqual(r.calls, ['refresh rt-1', 'fetch'], again.accessToken);
    }
  });

  it('an unshared store is not looked at again: the primary grant, even if its token changed', async () => {
    const r = rig({
      shared: false,
      refreshes: {
        'rt-1': async () => {
          r.put(fresh('at-theirs', 'rt-2'));
          return rejected();
        },
      },
    });
    r.put(tok('at-1', 'rt-1'));
    assert.equal((await r.manager.getToken()).accessToken, 'at-new');
    assert.deepEqual(r.calls, ['refresh rt-1', 'fetch']);
    assert.equal(r.warnings[0]?.code, 'REFRESH_REJECTED');
  });
});

describe('#recordError / lastErrorOf: the failure record', () => {
  /** getToken() fails with `err` thrown by the primary grant; the record written, whole. */
  async function recordOf(err: unknown, before?: StoredEntry) {
    const r = rig({ fetchError: err });
    if (before !== undefined) r.store.entries.set('k', before);
    await assert.rejects(r.manager.getToken());
    return { entry: r.store.entries.get('k'), r };
  }

  it('nothing stored before: a record with the key, time, profile, identity and one failure', async () => {
    const err = new NetworkError(URL_, 'refused');
    const { entry, r } = await recordOf(err);
    assert.deepEqual(entry, {
      v: 1,
      key: 'k',
      updatedAt: NOW,
      profile: 'p1',
      identity: r.client.identity,
      counts: { renewals: 0, failures: 1 },
      lastError: { code: 'ERR_NETWORK', message: 'refused', at: NOW, url: URL_ },
    });
  });

  it('on top of an entry: its token kept, its counts carried on, its old failure replaced', async () => {
    const t = tok('at-1', undefined);
    const { entry } = await recordOf(new NetworkError(URL_, 'refused', { timeout: true }), {
      v: 1,
      key: 'k',
      token: t,
      updatedAt: NOW - 5,
      counts: { renewals: 3, failures: 2 },
      lastError: { code: 'ERR_NETWORK', message: 'old', at: NOW - 5, optional: true },
    });
    assert.deepEqual(entry?.token, t);
    assert.deepEqual(entry?.counts, { renewals: 3, failures: 3 });
    assert.deepEqual(entry?.lastError, { code: 'ERR_TIMEOUT', message: 'refused', at: NOW, url: URL_ });
    assert.equal(entry?.updatedAt, NOW);
  });

  it('a token endpoint error: status, url, error, and Retry-After as notBefore (capped at an hour)', async () => {
    const e1 = new TokenEndpointError(URL_, 429, { error: 'slow_down', retryAfter: 30 });
    assert.deepEqual((await recordOf(e1)).entry?.lastError, {
      code: 'ERR_TOKEN_ENDPOINT',
      message: e1.message,
      at: NOW,
      status: 429,
      url: URL_,
      error: 'slow_down',
      retryAfter: 30,
      notBefore: NOW + 30_000,
    });
    const e2 = new TokenEndpointError(URL_, 503, { retryAfter: 7_200 });
    assert.deepEqual((await recordOf(e2)).entry?.lastError, {
      code: 'ERR_TOKEN_ENDPOINT',
      message: e2.message,
      at: NOW,
      status: 503,
      url: URL_,
      retryAfter: 7_200,
      notBefore: NOW + MAX_REMEMBERED_RETRY_AFTER_MS,
    });
    assert.equal(MAX_REMEMBERED_RETRY_AFTER_MS, 3_600_000);
    // One hour exactly is not cut; a fraction of a second is kept.
    const e3 = new TokenEndpointError(URL_, 503, { retryAfter: 3_600 });
    assert.equal((await recordOf(e3)).entry?.lastError?.notBefore, NOW + 3_600_000);
    const e4 = new TokenEndpointError(URL_, 503, { retryAfter: 0.5 });
    assert.equal((await recordOf(e4)).entry?.lastError?.notBefore, NOW + 500);
  });

  it('a Retry-After of 0, below 0, NaN or infinite is not remembered', async () => {
    for (const retryAfter of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      const e = new TokenEndpointError(URL_, 503, { retryAfter });
      const last = (await recordOf(e)).entry?.lastError;
      assert.equal(last?.status, 503, String(retryAfter));
      assert.equal('retryAfter' in (last ?? {}), false, String(retryAfter));
      assert.equal('notBefore' in (last ?? {}), false, String(retryAfter));
    }
  });

  it('an invalid token response: status and url; a plain TokenwardError: code and message only', async () => {
    const inv = new InvalidTokenResponseError(URL_, 200, 'no access_token');
    assert.deepEqual((await recordOf(inv)).entry?.lastError, {
      code: 'ERR_INVALID_TOKEN_RESPONSE',
      message: 'no access_token',
      at: NOW,
      status: 200,
      url: URL_,
    });
    const plain = new TokenwardError('ERR_CONFIG', 'bad profile');
    assert.deepEqual((await recordOf(plain)).entry?.lastError, {
      code: 'ERR_CONFIG',
      message: 'bad profile',
      at: NOW,
    });
  });

  it('something that is not a TokenwardError: ERR_UNKNOWN, "unknown error" (its message is not kept)', async () => {
    assert.deepEqual((await recordOf(new TypeError('secret-ish detail'))).entry?.lastError, {
      code: 'ERR_UNKNOWN',
      message: 'unknown error',
      at: NOW,
    });
  });

  it('a required renewal is not marked optional; an optional one (a valid token in hand) is', async () => {
    const { entry } = await recordOf(new NetworkError(URL_, 'x'));
    assert.equal('optional' in (entry?.lastError ?? {}), false);
    // A valid token and a minimum TTL it does not meet: an optional renewal.
    const r = rig({ fetchError: new NetworkError(URL_, 'x') });
    // Usable until NOW + 190 s (the 10 s margin); 195 s asked for, less than its 290 s usable life.
    r.put(tok('at-1', undefined, { obtainedAt: NOW - 100_000, expiresAt: NOW + 200_000 }));
    assert.equal((await r.manager.getToken({ minTtlMs: 195_000 })).accessToken, 'at-1');
    assert.deepEqual(r.calls, ['fetch']);
    assert.equal(r.store.entries.get('k')?.lastError?.optional, true);
  });

  it('a store that cannot record the failure: the renewal’s own error is thrown', async () => {
    const down = new NetworkError(URL_, 'refused');
    const r = rig({ fetchError: down });
    r.store.failWrites = new Error('disk full');
    await assert.rejects(r.manager.getToken(), (e: unknown) => e === down);
    assert.equal(r.store.writes, 1);
  });

  it('a rejected refresh token is dropped from the record and from memory; one not rejected is kept', async () => {
    const down = new NetworkError(URL_, 'refused');
    const r = rig({ shared: false, fetchError: down, refreshes: { 'rt-1': rejected() } });
    // Held in memory first (a token obtained by this manager), then expired.
    const held = fresh('at-0', 'rt-1');
    r.client.fetchToken = async () => {
      r.calls.push('fetch');
      return held;
    };
    await r.manager.getToken();
    r.client.fetchToken = async () => {
      r.calls.push('fetch');
      throw down;
    };
    r.manager.invalidate();
    await assert.rejects(r.manager.getToken(), (e: unknown) => e === down);
    assert.deepEqual(r.calls, ['fetch', 'refresh rt-1', 'fetch']);
    assert.equal(r.store.entries.get('k')?.token?.accessToken, 'at-0');
    assert.equal(r.store.entries.get('k')?.token?.refreshToken, undefined);
    assert.equal(r.manager.peek()?.accessToken, 'at-0');
    assert.equal(r.manager.peek()?.refreshToken, undefined);
  });
});
