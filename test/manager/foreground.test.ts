/**
 * `refreshMode: 'foreground'` (issue 12, "One policy, one place"): a renewal past the eager-refresh
 * point runs in the caller's flight and is awaited, so a short-lived process never leaves one running.
 * Exact request counts with the managers' injected clock, real client stack and file store; and a
 * child process that exits right after `getToken()`.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FileStore } from '../../src/stores/file.js';
import { storeKey } from '../../src/stores/store-key.js';
import type { LockOptions, TokenStore } from '../../src/stores/types.js';
import { isPastEagerPoint } from '../../src/token-state.js';
import { runProcess } from '../helpers/process.js';
import { makeManager, realClient, useRealStack } from './real-stack.js';

const stack = useRealStack({ lifetime: 300, latencyMs: 0 });
const KEY = 'manager-test-key';
const refreshes = () => stack.server.counts.byGrant['refresh_token'] ?? 0;
const grants = () => stack.server.counts.byGrant['client_credentials'] ?? 0;
const SERVER_ERROR = { status: 500, body: '{"error":"server_error"}', contentType: 'application/json' };

/** A foreground-mode manager on the real stack, eager at `fraction` of the lifetime. */
async function foreground(fraction: number) {
  return makeManager(await realClient(stack.server), stack.stores.store(), stack.clock, {
    eagerRefreshFraction: fraction,
    refreshMode: 'foreground',
  });
}

/** `inner`, with each write taking "200 s" of the injected clock (advanced once the write is done). */
function slowWrites(inner: TokenStore): TokenStore {
  return {
    kind: inner.kind,
    shared: inner.shared,
    get: (key) => inner.get(key),
    set: async (entry) => {
      await inner.set(entry);
      stack.now += 200_000;
    },
    delete: (key) => inner.delete(key),
    list: () => inner.list(),
    lock: ((key: string, options: LockOptions) => inner.lock(key, options)) as TokenStore['lock'],
    close: () => inner.close(),
  };
}

describe('foreground refresh mode', () => {
  it('past the eager point getToken returns the renewed token, already stored: 1 grant + 1 refresh, then none', async () => {
    const { manager, warnings } = await foreground(0.8);
    const t1 = await manager.getToken();
    stack.now += 239_000; // 79.7 % of 300 s: not yet due
    assert.equal((await manager.getToken()).accessToken, t1.accessToken);
    assert.equal(stack.server.counts.total, 1);
    stack.now += 11_000; // 83 %: due
    const t2 = await manager.getToken();
    assert.notEqual(t2.accessToken, t1.accessToken, 'the caller got the renewed token');
    assert.equal(grants(), 1);
    assert.equal(refreshes(), 1);
    assert.equal((await stack.stores.store().get(KEY))?.token?.accessToken, t2.accessToken, 'already stored');
    for (let i = 0; i < 20; i++) assert.equal((await manager.getToken()).accessToken, t2.accessToken);
    assert.equal(stack.server.counts.total, 2);
    assert.deepEqual(warnings, []);
    await manager.close();
  });

  it('a token obtained during the call is not renewed again in it, however long the call took; the next call renews it once', async () => {
    // Each write to the store takes "200 s" of the injected clock: a token is past its eager point
    // (50 % of 300 s) by the time getToken() looks at it after writing it.
    const slow = slowWrites(stack.stores.store());
    const { manager, warnings } = makeManager(await realClient(stack.server), slow, stack.clock, {
      eagerRefreshFraction: 0.5,
      refreshMode: 'foreground',
    });
    const t1 = await manager.getToken();
    assert.ok(isPastEagerPoint(t1, stack.now, 0.5), 'the new token is past its eager point when served');
    assert.deepEqual([grants(), refreshes()], [1, 0], 'obtained in this call: not renewed in it');
    const t2 = await manager.getToken();
    assert.notEqual(t2.accessToken, t1.accessToken, 'a later call renews it');
    assert.deepEqual([grants(), refreshes()], [1, 1], 'once: the renewed token is not renewed again');
    const t3 = await manager.getToken();
    assert.notEqual(t3.accessToken, t2.accessToken, 'and the call after that renews the renewed one');
    assert.deepEqual([grants(), refreshes()], [1, 2]);
    assert.deepEqual(warnings, []);
    await manager.close();
  });

  it('a token another process obtained and stored during the call is not renewed in it either', async () => {
    const slowB = slowWrites(stack.stores.store());
    const b = makeManager(await realClient(stack.server), slowB, stack.clock).manager;
    const a = await foreground(0.5);
    let answer: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      answer = resolve;
    });
    let requested: () => void = () => {};
    const requestSeen = new Promise<void>((resolve) => {
      requested = resolve;
    });
    stack.server.onRequest = async () => {
      requested();
      await held;
    };
    const fromB = b.getToken(); // B takes the lock and asks the server, which holds the answer
    await requestSeen;
    const fromA = a.manager.getToken(); // A begins (the time it asked is read now) and waits for the lock
    stack.now += 1; // B's token is obtained after A began; B's write then takes "200 s"
    answer();
    const [tb, ta] = await Promise.all([fromB, fromA]);
    assert.equal(ta.accessToken, tb.accessToken, "A was served B's token from the store");
    assert.ok(isPastEagerPoint(ta, stack.now, 0.5), 'past its eager point when served');
    assert.deepEqual([grants(), refreshes()], [1, 0], 'not renewed: it is newer than the call');
    assert.deepEqual(a.manager.counts, { grants: 0, refreshes: 0, storeHits: 1 });
    assert.deepEqual(a.warnings, []);
    await Promise.all([a.manager.close(), b.close()]);
  });

  it('a token from before the call is renewed past its eager point, even one obtained in the same millisecond', async () => {
    // eager_refresh 0: every token is past its eager point. The clock does not move.
    const { manager, warnings } = await foreground(0);
    const t1 = await manager.getToken();
    assert.deepEqual([grants(), refreshes()], [1, 0], 'the first call obtained it: not renewed in it');
    const t2 = await manager.getToken();
    assert.equal(t2.obtainedAt, t1.obtainedAt, 'the same instant');
    assert.notEqual(t2.accessToken, t1.accessToken);
    assert.deepEqual([grants(), refreshes()], [1, 1], 'the second call renewed it, once');
    assert.deepEqual(warnings, []);
    await manager.close();
  });

  it('background mode (the default) serves the old token at once and renews behind the caller', async () => {
    const { manager } = makeManager(await realClient(stack.server), stack.stores.store(), stack.clock, {
      eagerRefreshFraction: 0.8,
    });
    const t1 = await manager.getToken();
    stack.now += 250_000;
    assert.equal((await manager.getToken()).accessToken, t1.accessToken, 'the old token, at once');
    await manager.close(); // waits for the background renewal
    assert.equal(refreshes(), 1);
    assert.notEqual((await stack.stores.store().get(KEY))?.token?.accessToken, t1.accessToken);
  });

  it('8 concurrent callers past the eager point share 1 renewal', async () => {
    const { manager } = await foreground(0.5);
    await manager.getToken();
    stack.now += 200_000;
    const got = await Promise.all(Array.from({ length: 8 }, () => manager.getToken()));
    assert.equal(new Set(got.map((t) => t.accessToken)).size, 1);
    assert.equal(refreshes(), 1);
    assert.equal(stack.server.counts.total, 2);
    await manager.close();
  });

  it('8 concurrent callers and a failing renewal: 1 request, the valid token to all, 1 warning', async () => {
    const { manager, warnings } = await foreground(0.5);
    const t1 = await manager.getToken();
    stack.server.fault = SERVER_ERROR;
    stack.now += 200_000;
    const got = await Promise.all(Array.from({ length: 8 }, () => manager.getToken()));
    assert.deepEqual(
      got.map((t) => t.accessToken),
      Array(8).fill(t1.accessToken),
    );
    assert.equal(stack.server.counts.total, 2);
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['EAGER_REFRESH_FAILED'],
    );
    await manager.close();
  });

  it('a failed renewal serves the valid token with EAGER_REFRESH_FAILED; none within the retry gap, 1 after it', async () => {
    const { manager, warnings } = await foreground(0.5);
    const t1 = await manager.getToken();
    stack.server.fault = SERVER_ERROR;
    stack.now += 200_000;
    assert.equal((await manager.getToken()).accessToken, t1.accessToken);
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['EAGER_REFRESH_FAILED'],
    );
    assert.equal(stack.server.counts.total, 2);
    stack.now += 4_999;
    for (let i = 0; i < 10; i++) assert.equal((await manager.getToken()).accessToken, t1.accessToken);
    assert.equal(stack.server.counts.total, 2, 'backed off within the gap');
    stack.server.fault = undefined;
    stack.now += 1;
    const t2 = await manager.getToken();
    assert.notEqual(t2.accessToken, t1.accessToken);
    assert.equal(stack.server.counts.total, 3);
    await manager.close();
  });

  it('a new process finds a stored token past its eager point: renews once; the next one serves the renewed token', async () => {
    const seed = makeManager(await realClient(stack.server), stack.stores.store(), stack.clock, {
      eagerRefreshFraction: 0.8,
    });
    const t1 = await seed.manager.getToken();
    await seed.manager.close();
    stack.now += 250_000;
    const runs = [];
    for (let i = 0; i < 3; i++) {
      const cli = await foreground(0.8);
      runs.push((await cli.manager.getToken()).accessToken);
      await cli.manager.close();
    }
    assert.notEqual(runs[0], t1.accessToken);
    assert.deepEqual(runs, [runs[0], runs[0], runs[0]]);
    assert.equal(grants(), 1);
    assert.equal(refreshes(), 1);
  });

  it('force: one request, no second renewal on top of it', async () => {
    const { manager } = await foreground(0.5);
    await manager.getToken();
    stack.now += 200_000;
    await manager.getToken({ force: true });
    assert.equal(stack.server.counts.total, 2);
    await manager.close();
  });
});

describe('a process that exits right after getToken()', () => {
  const CHILD = join(import.meta.dirname, 'fixtures', 'exit-after-get-token.ts');

  async function run(mode: 'foreground' | 'background', dir: string, key: Buffer, offsetMs: number) {
    const r = await runProcess(process.execPath, [
      '--import',
      'tsx',
      CHILD,
      stack.server.tokenUrl,
      dir,
      key.toString('hex'),
      String(offsetMs),
      mode,
    ]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  }

  it('foreground: the server saw the refresh and the store holds the token the process printed', async () => {
    const key = randomBytes(32);
    const dir = stack.stores.dir;
    assert.match(await run('foreground', dir, key, 0), /^at-/);
    assert.equal(stack.server.counts.total, 1);
    // 250 s later (of 300 s): past the eager point. The process exits as soon as getToken() returns.
    const printed = await run('foreground', dir, key, 250_000);
    assert.equal(refreshes(), 1);
    assert.equal(stack.server.rejectedRefreshes, 0);
    const store = new FileStore({ dir, key, onWarning: () => {} });
    const [entry] = await store.list();
    await store.close();
    assert.equal(entry?.token?.accessToken, printed, 'the renewed token was stored before the exit');
    assert.ok(entry.key === storeKey('child', entry.identity ?? {}));
    assert.ok(
      stack.server.liveRefreshTokens.has(entry.token.refreshToken ?? ''),
      'with the live refresh token',
    );
  });

  it('background (contrast): the process exits with the old token printed and the renewal not stored', async () => {
    const key = randomBytes(32);
    const dir = stack.stores.dir;
    const first = await run('background', dir, key, 0);
    const printed = await run('background', dir, key, 250_000);
    assert.equal(printed, first, 'the old token');
    const store = new FileStore({ dir, key, onWarning: () => {} });
    const [entry] = await store.list();
    await store.close();
    assert.equal(entry?.token?.accessToken, first, 'no renewal reached the store');
  });
});
