/**
 * A token issued for less than the safety margin (issue 11: "lifetimes at or below the safety margin make
 * every call renew"): the margin shrinks to half the lifetime, so such a token is served for the first
 * half of its life. Below the parser's floor (1 s) the answer is refused outright (test/reliability).
 * Exact counts, injected clock, real client stack.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeManager, realClient, useRealStack } from './real-stack.js';

const stack = useRealStack({ lifetime: 4, latencyMs: 0 });

describe('a token lifetime below the 10 s safety margin', () => {
  it('a 4 s token is served for its first 2 s, then renewed once — not renewed on every call', async () => {
    const { manager } = makeManager(await realClient(stack.server), stack.stores.store(), stack.clock);
    const t1 = await manager.getToken();
    assert.equal(stack.server.counts.total, 1);
    for (let i = 0; i < 20; i++) {
      stack.now += 50; // 1 s in all: within the first half
      assert.equal((await manager.getToken()).accessToken, t1.accessToken);
    }
    assert.equal(stack.server.counts.total, 1, 'served from the cache');
    stack.now += 1_100; // 2.1 s after it was obtained: past half its life
    const t2 = await manager.getToken();
    assert.notEqual(t2.accessToken, t1.accessToken);
    assert.equal(stack.server.counts.total, 2, 'exactly one renewal');
    assert.equal((await manager.getToken()).accessToken, t2.accessToken);
    assert.equal(stack.server.counts.total, 2);
    await manager.close();
  });

  it('a long-lived token keeps the full 10 s margin', async () => {
    stack.server.lifetime = 3600;
    try {
      const { manager } = makeManager(await realClient(stack.server), stack.stores.store(), stack.clock);
      await manager.getToken();
      stack.now += 3_589_000; // 11 s left: usable
      await manager.getToken();
      assert.equal(stack.server.counts.total, 1);
      stack.now += 2_000; // 9 s left: within the margin
      await manager.getToken();
      assert.equal(stack.server.counts.total, 2);
      await manager.close();
    } finally {
      stack.server.lifetime = 4;
    }
  });
});
