/**
 * The back-off between background (eager) refresh attempts (issue 18: removing it passed the suite).
 * Exact counts with the manager's injected clock: within the gap a failing endpoint is not asked again
 * and the hot path does no I/O at all; at the end of the gap exactly one more attempt.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_RETRY_GAP_MS } from '../../src/manager/token-manager.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { makeManager, realClient, useRealStack, warningArrives } from './real-stack.js';

/** A memory store that counts reads: the hot path must not read the store. */
class CountingStore extends MemoryStore {
  gets = 0;
  override get(key: string) {
    this.gets++;
    return super.get(key);
  }
}

const stack = useRealStack({ lifetime: 300, latencyMs: 0 });

describe('back-off between eager refresh attempts', () => {
  it('default gap (5 s): 0 requests and no store read within it, exactly 1 attempt after it', async () => {
    assert.equal(DEFAULT_RETRY_GAP_MS, 5_000);
    const store = new CountingStore();
    const { manager, warnings } = makeManager(await realClient(stack.server), store, stack.clock, {
      eagerRefreshFraction: 0.5,
    });
    assert.equal(manager.parameters.retryGapMs, 5_000);
    const t1 = await manager.getToken();
    assert.equal(stack.server.counts.total, 1);
    stack.server.fault = { status: 502, body: '<html>bad gateway</html>', contentType: 'text/html' };

    stack.now += 200_000; // past 50 % of 300 s, still valid
    assert.equal((await manager.getToken()).accessToken, t1.accessToken);
    await warningArrives(warnings, 'EAGER_REFRESH_FAILED');
    assert.equal(stack.server.counts.total, 2, 'the first background attempt');
    const reads = store.gets;

    stack.now += 4_999; // within the gap
    for (let i = 0; i < 20; i++) assert.equal((await manager.getToken()).accessToken, t1.accessToken);
    assert.equal(store.gets, reads, 'no background refresh started: not even a store read');
    await manager.close();
    assert.equal(stack.server.counts.total, 2, 'no request within the gap');
    assert.equal(warnings.length, 1);

    stack.now += 1; // the gap is over
    assert.equal((await manager.getToken()).accessToken, t1.accessToken);
    await warningArrives(warnings, 'EAGER_REFRESH_FAILED', 2);
    for (let i = 0; i < 20; i++) await manager.getToken();
    await manager.close();
    assert.equal(stack.server.counts.total, 3, 'exactly one more attempt');
    assert.equal(warnings.length, 2);

    // The endpoint is back: the next attempt after the gap renews.
    stack.server.fault = undefined;
    stack.now += 5_000;
    await manager.getToken();
    await manager.close();
    assert.equal(stack.server.counts.total, 4);
    assert.notEqual((await manager.getToken()).accessToken, t1.accessToken);
    assert.equal(stack.server.counts.total, 4);
  });

  it('the gap is a parameter: 60 s means no attempt for 60 s', async () => {
    const { manager, warnings } = makeManager(
      await realClient(stack.server),
      new MemoryStore(),
      stack.clock,
      {
        eagerRefreshFraction: 0.5,
        eagerRetryGapMs: 60_000,
      },
    );
    await manager.getToken();
    stack.server.fault = { status: 503, body: '{}' };
    stack.now += 160_000;
    await manager.getToken();
    await warningArrives(warnings, 'EAGER_REFRESH_FAILED');
    for (const step of [5_000, 20_000, 34_999]) {
      stack.now += step;
      await manager.getToken();
      await manager.close();
    }
    assert.equal(stack.server.counts.total, 2);
    stack.now += 1;
    await manager.getToken();
    await manager.close();
    assert.equal(stack.server.counts.total, 3);
  });
});
