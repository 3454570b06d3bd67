/**
 * A minimum TTL longer than the lifetime the server gives (issue 11): no new token could meet it, so
 * honouring it literally would renew on every call. The manager cuts it to half the token's usable
 * lifetime, says so once, and serves. Exact counts, injected clock, real client stack.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeManager, realClient, useRealStack } from './real-stack.js';

const stack = useRealStack({ lifetime: 300, latencyMs: 0 });

const HOUR = 3_600_000;

describe('a minimum TTL longer than the server’s token lifetime', () => {
  it('warns once and serves; renews once half the usable lifetime (290 s) is gone, not on every call', async () => {
    const { manager, warnings } = makeManager(
      await realClient(stack.server),
      stack.stores.store(),
      stack.clock,
    );
    const t1 = await manager.getToken({ minTtlMs: HOUR });
    assert.equal(stack.server.counts.total, 1);
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['MIN_TTL_EXCEEDS_LIFETIME'],
    );
    assert.match(warnings[0]!.message, /3600 s.*290 s/);
    for (let i = 0; i < 50; i++)
      assert.equal((await manager.getToken({ minTtlMs: HOUR })).accessToken, t1.accessToken);
    stack.now += 144_999; // less than half of 290 s gone
    assert.equal((await manager.getToken({ minTtlMs: HOUR })).accessToken, t1.accessToken);
    assert.equal(stack.server.counts.total, 1);
    stack.now += 1; // half gone
    const t2 = await manager.getToken({ minTtlMs: HOUR });
    assert.notEqual(t2.accessToken, t1.accessToken);
    assert.equal(stack.server.counts.total, 2);
    for (let i = 0; i < 50; i++) await manager.getToken({ minTtlMs: HOUR });
    assert.equal(stack.server.counts.total, 2);
    assert.equal(warnings.length, 1, 'said once per manager');
  });

  it('a new process (the CLI: one per call) serves the stored token instead of renewing', async () => {
    const first = makeManager(await realClient(stack.server), stack.stores.store(), stack.clock);
    await first.manager.getToken();
    for (let i = 0; i < 5; i++) {
      const cli = makeManager(await realClient(stack.server), stack.stores.store(), stack.clock);
      await cli.manager.getToken({ minTtlMs: HOUR });
      assert.deepEqual(
        cli.warnings.map((w) => w.code),
        ['MIN_TTL_EXCEEDS_LIFETIME'],
      );
    }
    assert.equal(stack.server.counts.total, 1);
  });

  it('a minimum TTL a new token can meet is honoured as asked (no cut, no warning)', async () => {
    const { manager, warnings } = makeManager(
      await realClient(stack.server),
      stack.stores.store(),
      stack.clock,
    );
    const t1 = await manager.getToken();
    stack.now += 100_000; // 200 s left, 190 s beyond the margin
    assert.equal((await manager.getToken({ minTtlMs: 189_000 })).accessToken, t1.accessToken);
    assert.equal(stack.server.counts.total, 1);
    const t2 = await manager.getToken({ minTtlMs: 250_000 });
    assert.notEqual(t2.accessToken, t1.accessToken);
    assert.equal(stack.server.counts.total, 2);
    assert.deepEqual(warnings, []);
  });
});
