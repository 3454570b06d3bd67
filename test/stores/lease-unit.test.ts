/**
 * The shared pieces behind store bounds and leases, without a server: `resolveStoreTimeouts` (options,
 * `store_url` parameters, defaults, validation without leaking the URL) and `Lease` (renews until
 * stopped, lost when a renewal says so or none succeeds within the lease, never after stop()).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError } from '../../src/errors.js';
import { DEFAULT_STORE_TIMEOUTS, Lease, resolveStoreTimeouts, settledWithin } from '../../src/stores/util.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('resolveStoreTimeouts', () => {
  test('defaults when nothing is given; the URL is passed through unchanged', () => {
    const url = 'redis://:pw@127.0.0.1:6379/0';
    assert.deepEqual(resolveStoreTimeouts('redis', url, {}), {
      url,
      timeouts: { ...DEFAULT_STORE_TIMEOUTS },
    });
    assert.deepEqual(DEFAULT_STORE_TIMEOUTS, {
      connectTimeoutMs: 5_000,
      commandTimeoutMs: 5_000,
      closeTimeoutMs: 2_000,
    });
  });

  test('store_url parameters are read and removed (other parameters kept); options win over them', () => {
    const r = resolveStoreTimeouts(
      'postgres',
      'postgres://u:pw@db:5432/app?sslmode=require&command_timeout_ms=700&connect_timeout_ms=900&close_timeout_ms=300',
      { closeTimeoutMs: 1_234 },
    );
    assert.deepEqual(r.timeouts, { connectTimeoutMs: 900, commandTimeoutMs: 700, closeTimeoutMs: 1_234 });
    assert.equal(r.url, 'postgres://u:pw@db:5432/app?sslmode=require');
  });

  test('a bound that is not a whole number of ms in 1..600000 is a ConfigError naming it, never the URL', () => {
    const secret = 'S3cret-Pw-in-url';
    for (const bad of ['0', '-5', '1.5', 'abc', '600001', '']) {
      assert.throws(
        () => resolveStoreTimeouts('redis', `redis://:${secret}@h:1/0?command_timeout_ms=${bad}`, {}),
        (err: unknown) =>
          err instanceof ConfigError &&
          /command_timeout_ms must be a whole number of milliseconds from 1 to 600000/.test(err.message) &&
          !err.message.includes(secret),
      );
    }
    for (const bad of [0, -1, 1.5, Number.NaN, 700_000]) {
      assert.throws(() => resolveStoreTimeouts('redis', 'redis://h', { commandTimeoutMs: bad }), ConfigError);
    }
  });
});

describe('Lease', () => {
  test('renews about every third of the lease until stopped, and is not lost while renewals succeed', async () => {
    let renewals = 0;
    const lost: string[] = [];
    const lease = new Lease({
      leaseMs: 150,
      renew: async () => {
        renewals++;
        return true;
      },
      onLost: (why) => lost.push(why),
    });
    for (let i = 0; i < 200 && renewals < 5; i++) await sleep(20);
    assert.ok(renewals >= 5, `renewed ${renewals} times`);
    await lease.stop();
    const after = renewals;
    await sleep(300);
    assert.equal(renewals, after, 'no renewal after stop()');
    assert.deepEqual(lost, []);
  });

  test('a renewal that finds the lock taken over marks it lost at once, reports it once, and stops renewing', async () => {
    let renewals = 0;
    const lost: string[] = [];
    const lease = new Lease({
      leaseMs: 60_000,
      intervalMs: 10,
      renew: async () => {
        renewals++;
        return renewals < 3;
      },
      onLost: (why) => lost.push(why),
    });
    for (let i = 0; i < 500 && !lease.lost; i++) await sleep(10);
    assert.equal(lease.lost, true);
    assert.equal(renewals, 3);
    await sleep(100);
    assert.equal(renewals, 3, 'no renewal after the loss');
    assert.equal(lost.length, 1);
    assert.match(lost[0] ?? '', /taken over or removed/);
  });

  test('renewals that fail (the store does not answer) lose the lease only once a whole lease has passed without success', async () => {
    let failures = 0;
    const lost: string[] = [];
    const lease = new Lease({
      leaseMs: 300,
      intervalMs: 20,
      renew: async () => {
        failures++;
        throw new Error('no answer');
      },
      onLost: (why) => lost.push(why),
    });
    for (let i = 0; i < 500 && !lease.lost; i++) await sleep(10);
    assert.equal(lease.lost, true);
    assert.ok(failures >= 2, `failures before the loss: ${failures}`);
    assert.equal(lost.length, 1);
    assert.match(lost[0] ?? '', /300 ms/);
  });

  test('markLost() reports once; after stop() nothing is reported', async () => {
    const lost: string[] = [];
    const a = new Lease({ leaseMs: 60_000, renew: async () => true, onLost: (w) => lost.push(w) });
    a.markLost('connection ended');
    a.markLost('again');
    assert.equal(a.lost, true);
    assert.deepEqual(lost, ['connection ended']);
    const b = new Lease({ leaseMs: 60_000, renew: async () => true, onLost: (w) => lost.push(w) });
    await b.stop();
    b.markLost('late');
    assert.equal(b.lost, false);
    assert.deepEqual(lost, ['connection ended']);
  });
});

test('settledWithin: true for a promise that resolves or rejects in time, false for one that does not', async () => {
  assert.equal(await settledWithin(Promise.resolve(1), 1_000), true);
  assert.equal(await settledWithin(Promise.reject(new Error('x')), 1_000), true);
  // Its timer is unref'd (it never keeps a process alive): keep this one alive meanwhile.
  const keepAlive = setTimeout(() => {}, 10_000);
  assert.equal(await settledWithin(new Promise(() => {}), 20), false);
  clearTimeout(keepAlive);
});
