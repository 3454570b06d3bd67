/**
 * Foreground mode's renewal decision, branch by branch (written against the `flight` group's surviving
 * mutants in `#getForeground`; see docs/testing.md, "Mutation testing"): a forced token is not renewed
 * again, a caller arriving during a renewal joins it, the abort signal and the warning of a failed
 * renewal, and the options of the renewal's flight. Real client stack and file store, injected clock,
 * exact counts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TokenClient } from '../../src/token-client.js';
import { makeManager, realClient, useRealStack } from '../manager/real-stack.js';
import { before, deferred, SharedMemoryStore } from './flight-helpers.js';

const stack = useRealStack({ lifetime: 300, latencyMs: 0 });
const refreshes = () => stack.server.counts.byGrant['refresh_token'] ?? 0;
const SERVER_ERROR = { status: 500, body: '{"error":"server_error"}', contentType: 'application/json' };

/** A foreground-mode manager on the real stack, eager at half the lifetime. */
async function foreground(client?: TokenClient) {
  return makeManager(client ?? (await realClient(stack.server)), stack.stores.store(), stack.clock, {
    eagerRefreshFraction: 0.5,
    refreshMode: 'foreground',
  });
}

describe('foreground mode: when a renewal runs', () => {
  it('a forced token that is already past its eager point when the caller gets it is returned, not renewed again', async () => {
    // The real client, wrapped only to let 200 s pass between the answer and the caller's check (a
    // slow caller): the forced token is then past the eager point (half of 300 s) on arrival.
    const real = await realClient(stack.server);
    let slow = false;
    const client: TokenClient = {
      identity: real.identity,
      fetchToken: async (ctx) => {
        const t = await real.fetchToken(ctx);
        if (slow) stack.now += 200_000;
        return t;
      },
      refresh: async (token, ctx) => {
        const t = await (real.refresh as NonNullable<TokenClient['refresh']>)(token, ctx);
        if (slow) stack.now += 200_000;
        return t;
      },
    };
    const { manager, warnings } = await foreground(client);
    const t1 = await manager.getToken();
    slow = true;
    const t2 = await manager.getToken({ force: true });
    assert.notEqual(t2.accessToken, t1.accessToken);
    assert.equal(stack.server.counts.total, 2, 'the forced request only: no eager renewal on top of it');
    assert.equal(refreshes(), 1);
    assert.deepEqual(warnings, []);
    await manager.close();
  });

  it('a caller arriving while a renewal runs joins it (even within the retry gap) and gets the renewed token', async () => {
    const { manager, warnings } = await foreground();
    const t1 = await manager.getToken();
    stack.now += 200_000; // past the eager point
    const first = manager.getToken(); // starts the renewal (and notes the attempt: the gap starts now)
    const second = manager.getToken(); // same instant: within the gap, but the renewal is under way
    const [a, b] = await Promise.all([first, second]);
    assert.notEqual(a.accessToken, t1.accessToken);
    assert.equal(b.accessToken, a.accessToken, 'the second caller waited for the same renewal');
    assert.equal(refreshes(), 1);
    assert.equal(stack.server.counts.total, 2);
    assert.deepEqual(warnings, []);
    await manager.close();
  });

  it('a failing renewal is tried once per retry gap (5 s): the valid token is served meanwhile', async () => {
    const { manager, warnings } = await foreground();
    const t1 = await manager.getToken();
    stack.server.fault = SERVER_ERROR;
    stack.now += 200_000;
    for (let i = 0; i < 3; i++) assert.equal((await manager.getToken()).accessToken, t1.accessToken);
    assert.equal(stack.server.counts.total, 2, 'one attempt for three calls within the gap');
    stack.now += 4_999;
    await manager.getToken();
    assert.equal(stack.server.counts.total, 2, '1 ms before the gap ends: none');
    stack.now += 1;
    await manager.getToken();
    assert.equal(stack.server.counts.total, 3, 'at the gap: one more');
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['EAGER_REFRESH_FAILED', 'EAGER_REFRESH_FAILED'],
    );
    await manager.close();
  });

  it('an optional renewal that gave up on a held lock (nothing recorded to back off from) is not tried again within the gap', async () => {
    const store = new SharedMemoryStore();
    const { manager, warnings } = makeManager(await realClient(stack.server), store, stack.clock, {
      eagerRefreshFraction: 0.5,
      refreshMode: 'foreground',
      optionalBudgetMs: 1,
      lockTimeoutMs: 1,
    });
    const t1 = await manager.getToken();
    stack.now += 200_000;
    // Another process holds the lock (renewing, slowly): the renewal waits at most its budget, then serves t1.
    const held = await store.lock('manager-test-key', { ttlMs: 10_000, timeoutMs: 0 });
    try {
      assert.equal((await manager.getToken()).accessToken, t1.accessToken);
      const tried = store.locks.length;
      for (let i = 0; i < 3; i++) assert.equal((await manager.getToken()).accessToken, t1.accessToken);
      assert.equal(store.locks.length, tried, 'no new attempt within the gap');
      stack.now += 5_000;
      assert.equal((await manager.getToken()).accessToken, t1.accessToken);
      assert.equal(store.locks.length, tried + 1, 'one at the gap');
    } finally {
      await held.release();
    }
    assert.equal(stack.server.counts.total, 1);
    assert.deepEqual(warnings, []);
    await manager.close();
  });
});

describe('foreground mode: the caller’s signal and the failure warning', () => {
  it('a caller whose signal is aborted while the renewal runs is rejected with the reason at once; the renewal goes on', async () => {
    const { manager, warnings } = await foreground();
    const t1 = await manager.getToken();
    stack.now += 200_000;
    const arrived = deferred();
    const gate = deferred();
    stack.server.onRequest = async () => {
      arrived.resolve();
      await gate.promise;
    };
    const ac = new AbortController();
    const reason = new Error('the caller gave up');
    const waiting = manager.getToken({ signal: ac.signal });
    await before(arrived.promise, waiting, 'the renewal reaching the server'); // held there
    ac.abort(reason);
    // Released before the caller's promise is awaited: a caller that did not stop waiting would now get
    // the renewed token instead of the rejection.
    gate.resolve();
    await assert.rejects(waiting, (e) => e === reason);
    const t2 = await manager.getToken();
    assert.notEqual(t2.accessToken, t1.accessToken, 'the renewal finished for the others');
    assert.equal(refreshes(), 1);
    assert.deepEqual(warnings, [], 'an aborted caller is not a failed renewal');
    await manager.close();
  });

  it('a caller whose signal is aborted right after the call (before its renewal starts) is rejected, not made to wait', async () => {
    const { manager } = await foreground();
    await manager.getToken();
    stack.now += 200_000;
    const gate = deferred();
    stack.server.onRequest = () => gate.promise;
    const ac = new AbortController();
    const reason = new Error('the caller gave up at once');
    const waiting = manager.getToken({ signal: ac.signal });
    ac.abort(reason);
    await assert.rejects(waiting, (e) => e === reason);
    gate.resolve();
    await manager.close();
    assert.equal(refreshes(), 1);
  });

  it('with a signal that is never aborted, a failed renewal serves the valid token with one exact warning', async () => {
    const { manager, warnings } = await foreground();
    const t1 = await manager.getToken();
    stack.server.fault = SERVER_ERROR;
    stack.now += 200_000;
    const ac = new AbortController();
    assert.equal((await manager.getToken({ signal: ac.signal })).accessToken, t1.accessToken);
    assert.equal(stack.server.counts.total, 2);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]?.code, 'EAGER_REFRESH_FAILED');
    assert.equal(warnings[0]?.message, 'renewal before expiry failed; the current token is still served');
    assert.equal((warnings[0]?.cause as { status?: number } | undefined)?.status, 500);
    await manager.close();
  });
});

describe('foreground mode: the renewal’s flight', () => {
  it('is not forced: a newer token another process stored is taken from the store, without a request', async () => {
    const a = makeManager(await realClient(stack.server), stack.stores.store(), stack.clock).manager;
    const { manager: b, warnings } = await foreground();
    const t1 = await a.getToken();
    assert.equal((await b.getToken()).accessToken, t1.accessToken, 'b took it from the store');
    stack.now += 200_000; // past b's eager point
    const t2 = await a.getToken({ force: true }); // "another process" renews and stores
    assert.equal(stack.server.counts.total, 2);
    assert.equal((await b.getToken()).accessToken, t2.accessToken, "b's renewal found a's token");
    assert.equal(stack.server.counts.total, 2, 'b made no request');
    assert.equal(b.counts.storeHits, 2);
    assert.deepEqual(warnings, []);
    await a.close();
    await b.close();
  });
});
