/**
 * A token issued for less than the safety margin (issue 11: "lifetimes at or below the safety margin make
 * every call renew"): the margin shrinks to half the lifetime, so such a token is served for the first
 * half of its life. Below the parser's floor (1 s) the answer is refused outright (test/reliability).
 * Exact counts, injected clock, real client stack.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { startTokenServer, type TokenServer } from '../helpers/token-server.js';
import { fileStores, makeManager, realClient } from './real-stack.js';

let server: TokenServer;
let now: number;
const clock = () => now;
let stores: Awaited<ReturnType<typeof fileStores>>;

before(async () => {
  server = await startTokenServer({ lifetime: 4, latencyMs: 0 });
});
after(() => server.close());
beforeEach(async () => {
  server.counts = { total: 0, byGrant: {} };
  now = Date.now();
  stores = await fileStores();
});
afterEach(() => stores.cleanup());

describe('a token lifetime below the 10 s safety margin', () => {
  it('a 4 s token is served for its first 2 s, then renewed once — not renewed on every call', async () => {
    const { manager } = makeManager(await realClient(server), stores.store(), clock);
    const t1 = await manager.getToken();
    assert.equal(server.counts.total, 1);
    for (let i = 0; i < 20; i++) {
      now += 50; // 1 s in all: within the first half
      assert.equal((await manager.getToken()).accessToken, t1.accessToken);
    }
    assert.equal(server.counts.total, 1, 'served from the cache');
    now += 1_100; // 2.1 s after it was obtained: past half its life
    const t2 = await manager.getToken();
    assert.notEqual(t2.accessToken, t1.accessToken);
    assert.equal(server.counts.total, 2, 'exactly one renewal');
    assert.equal((await manager.getToken()).accessToken, t2.accessToken);
    assert.equal(server.counts.total, 2);
    await manager.close();
  });

  it('a long-lived token keeps the full 10 s margin', async () => {
    server.lifetime = 3600;
    try {
      const { manager } = makeManager(await realClient(server), stores.store(), clock);
      await manager.getToken();
      now += 3_589_000; // 11 s left: usable
      await manager.getToken();
      assert.equal(server.counts.total, 1);
      now += 2_000; // 9 s left: within the margin
      await manager.getToken();
      assert.equal(server.counts.total, 2);
      await manager.close();
    } finally {
      server.lifetime = 4;
    }
  });
});
