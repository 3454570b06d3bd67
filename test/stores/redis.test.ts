/**
 * The Redis store against a real server: one key per token under a configurable prefix, a TTL that
 * matches how long the entry is useful (checked as a range around the token's expiry, not a timing),
 * values encrypted, and a lock that only its owner releases.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { ENVELOPE_MAGIC } from '../../src/stores/envelope.js';
import { createStore } from '../../src/stores/index.js';
import { DEFAULT_REDIS_PREFIX, RedisStore } from '../../src/stores/redis.js';
import type { StoredEntry } from '../../src/stores/types.js';
import { dropPrefix, requireService, uniqueName } from '../helpers/services.js';
import { sampleEntry, sampleToken } from './conformance.js';

const DAY = 24 * 3600_000;

async function withRedis<T>(url: string, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(url, { lazyConnect: true, connectTimeout: 3000, retryStrategy: () => null });
  r.on('error', () => {});
  await r.connect();
  try {
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

/** Sets `entry` and returns its key's PTTL, with the clock read just before the write and just after PTTL. */
async function setAndPttl(
  store: RedisStore,
  r: Redis,
  entry: StoredEntry,
): Promise<{ pttl: number; before: number; after: number }> {
  const before = Date.now();
  await store.set(entry);
  const pttl = await r.pttl(`${store.prefix}tok:${entry.key}`);
  return { pttl, before, after: Date.now() };
}

/** The TTL set at a moment in [before, after] for an entry useful until `until` lies in this range when read. */
function assertTtlFor(
  m: { pttl: number; before: number; after: number },
  until: number,
  label: string,
): void {
  assert.ok(
    m.pttl >= until - m.after - 5 && m.pttl <= until - m.before + 1,
    `${label}: PTTL ${m.pttl} should be within [${until - m.after - 5}, ${until - m.before + 1}]`,
  );
}

test('TTL: the remaining lifetime of a token; a refresh token extends it to its own expiry (or 7 days past the access token)', async (t) => {
  const url = await requireService(t, 'redis');
  if (url === undefined) return;
  const prefix = `${uniqueName()}:`;
  const store = new RedisStore({ url, prefix, key: randomBytes(32) });
  try {
    await withRedis(url, async (r) => {
      const now = Date.now();
      // No refresh token: the access token's remaining lifetime.
      const { refreshToken: _a, ...plain } = sampleToken({ expiresAt: now + 90_000 });
      assertTtlFor(
        await setAndPttl(store, r, sampleEntry('k-plain', { token: plain })),
        plain.expiresAt,
        'no refresh token',
      );

      // A refresh token with a known expiry: until then.
      const withRtExp = sampleToken({ expiresAt: now + 60_000, refreshExpiresAt: now + 2 * 3600_000 });
      assertTtlFor(
        await setAndPttl(store, r, sampleEntry('k-rt-exp', { token: withRtExp })),
        now + 2 * 3600_000,
        'refresh token with expiry',
      );

      // A refresh token of unknown lifetime: 7 days past the access token's expiry.
      const withRt = sampleToken({ expiresAt: now + 60_000 });
      assertTtlFor(
        await setAndPttl(store, r, sampleEntry('k-rt', { token: withRt })),
        withRt.expiresAt + 7 * DAY,
        'refresh token, unknown expiry',
      );

      // Only a last error: a day after it.
      const at = Date.now();
      const errOnly: StoredEntry = {
        v: 1,
        key: 'k-err',
        lastError: { code: 'ERR_NETWORK', message: 'refused', at },
        updatedAt: at,
      };
      assertTtlFor(await setAndPttl(store, r, errOnly), at + DAY, 'last error only');

      // Nothing useful left (expired, no refresh token): the key is deleted rather than kept.
      const { refreshToken: _b, ...dead } = sampleToken({ expiresAt: now - 1_000, obtainedAt: now - 60_000 });
      await store.set(sampleEntry('k-plain', { token: dead }));
      assert.equal(await r.exists(`${prefix}tok:k-plain`), 0);
      assert.equal(await store.get('k-plain'), undefined);
    });
  } finally {
    await store.close();
    await dropPrefix(url, prefix);
  }
});

test('store_prefix: every key the store makes (token and lock) starts with it; the default is "tokenward:"', async (t) => {
  const url = await requireService(t, 'redis');
  if (url === undefined) return;
  const prefix = `${uniqueName()}:app:`;
  const k = `k-${randomBytes(8).toString('hex')}`;
  const store = await createStore(
    { store: 'redis', store_url: url, store_prefix: prefix },
    { key: randomBytes(32) },
  );
  try {
    assert.ok(store instanceof RedisStore);
    assert.equal(store.prefix, prefix);
    await store.set(sampleEntry(k));
    const lock = await store.lock(k, { ttlMs: 30_000, timeoutMs: 1_000 });
    const keys = await withRedis(url, async (r) => (await r.keys(`*${k}*`)).sort());
    await lock.release();
    assert.deepEqual(keys, [`${prefix}lock:${k}`, `${prefix}tok:${k}`]);
    assert.equal(await withRedis(url, (r) => r.exists(`${prefix}lock:${k}`)), 0, 'released');
  } finally {
    await store.close();
    await dropPrefix(url, prefix);
  }

  const plain = new RedisStore({ url, key: randomBytes(32) });
  try {
    assert.equal(plain.prefix, DEFAULT_REDIS_PREFIX);
    assert.equal(DEFAULT_REDIS_PREFIX, 'tokenward:');
    await plain.set(sampleEntry(k));
    assert.equal(await withRedis(url, (r) => r.exists(`tokenward:tok:${k}`)), 1);
  } finally {
    await plain.delete(k);
    await plain.close();
  }
});

test('values are encrypted: the raw key holds a tw1 envelope, no plaintext token', async (t) => {
  const url = await requireService(t, 'redis');
  if (url === undefined) return;
  const prefix = `${uniqueName()}:`;
  const store = new RedisStore({ url, prefix, key: randomBytes(32) });
  try {
    const token = sampleToken({ idToken: `id-${randomBytes(8).toString('hex')}` });
    await store.set(sampleEntry('k-raw', { token }));
    const raw = await withRedis(url, (r) => r.getBuffer(`${prefix}tok:k-raw`));
    assert.ok(raw !== null);
    assert.ok(raw.subarray(0, 4).equals(ENVELOPE_MAGIC));
    for (const s of [token.accessToken, token.refreshToken as string, token.idToken as string]) {
      assert.equal(raw.indexOf(s), -1);
      assert.equal(raw.indexOf(Buffer.from(s).toString('base64')), -1);
    }
    assert.deepEqual((await store.get('k-raw'))?.token, token);
  } finally {
    await store.close();
    await dropPrefix(url, prefix);
  }
});

test('the lock: a random value with PTTL at most its TTL; only its owner deletes it (compare-and-delete); waiters get LockTimeoutError', async (t) => {
  const url = await requireService(t, 'redis');
  if (url === undefined) return;
  const prefix = `${uniqueName()}:`;
  const warnings: string[] = [];
  const store = new RedisStore({ url, prefix, key: randomBytes(32), onWarning: (m) => warnings.push(m) });
  const lockKey = `${prefix}lock:k-own`;
  try {
    await withRedis(url, async (r) => {
      const mine = await store.lock('k-own', { ttlMs: 20_000, timeoutMs: 1_000 });
      const nonce = await r.get(lockKey);
      assert.match(nonce ?? '', /^[0-9a-f]{32}$/);
      const pttl = await r.pttl(lockKey);
      assert.ok(pttl > 0 && pttl <= 20_000, `PTTL ${pttl}`);

      await assert.rejects(store.lock('k-own', { ttlMs: 20_000, timeoutMs: 100 }), (err: unknown) => {
        assert.equal((err as { name?: string }).name, 'LockTimeoutError');
        assert.equal((err as { code?: string }).code, 'ERR_LOCK_TIMEOUT');
        assert.equal((err as { store?: string }).store, 'redis');
        assert.match((err as Error).message, new RegExp(`${lockKey} at redis://127\\.0\\.0\\.1:\\d+/0`));
        return true;
      });

      // Our lock expired and someone else took it: our release must not delete theirs.
      await r.set(lockKey, 'someone-else', 'PX', 20_000);
      await mine.release();
      assert.equal(await r.get(lockKey), 'someone-else');
      assert.equal(warnings.length, 1);
      assert.match(warnings[0] ?? '', /had expired before release/);

      // Their lock is still in force for us.
      await assert.rejects(store.lock('k-own', { ttlMs: 20_000, timeoutMs: 100 }), {
        code: 'ERR_LOCK_TIMEOUT',
      });
      await r.del(lockKey);
      const again = await store.lock('k-own', { ttlMs: 20_000, timeoutMs: 1_000 });
      await again.release();
      assert.equal(await r.exists(lockKey), 0);
    });
  } finally {
    await store.close();
    await dropPrefix(url, prefix);
  }
});

test('a value written with another key: a warning naming the Redis key and a miss; the value is not deleted by reading', async (t) => {
  const url = await requireService(t, 'redis');
  if (url === undefined) return;
  const prefix = `${uniqueName()}:`;
  const a = new RedisStore({ url, prefix, key: randomBytes(32) });
  const warnings: string[] = [];
  const b = new RedisStore({ url, prefix, key: randomBytes(32), onWarning: (m) => warnings.push(m) });
  try {
    const e = sampleEntry('k-wrong');
    await a.set(e);
    assert.equal(await b.get('k-wrong'), undefined);
    assert.equal(warnings.length, 1);
    assert.ok(warnings[0]?.includes(`${prefix}tok:k-wrong`));
    assert.match(warnings[0] ?? '', /encrypted with another key.*TOKENWARD_CACHE_KEY/);
    assert.deepEqual(await a.get('k-wrong'), e);
  } finally {
    await a.close();
    await b.close();
    await dropPrefix(url, prefix);
  }
});
