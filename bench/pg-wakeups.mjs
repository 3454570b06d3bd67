#!/usr/bin/env node
/**
 * How PostgreSQL lock waiters could be woken together: the shared-lock barrier the PostgreSQL store
 * uses (each waiter takes and lets go of the shared advisory lock in one statement; the server passes
 * them all when the exclusive lock is released) against LISTEN/NOTIFY (the releaser notifies, waiters
 * listen). One holder and N waiter connections in one process; rounds alternate the two; for each round,
 * the time from sending the release to each waiter woken. Not a figure of `npm run bench` (docs/
 * architecture.md quotes it).
 *
 * Usage: node bench/pg-wakeups.mjs [waiters=16] [rounds=20]   (TOKENWARD_TEST_POSTGRES_URL, default the
 * test server postgres://postgres@127.0.0.1:5432/test)
 */
import pg from 'pg';

const N = Number(process.argv[2] ?? 16);
const ROUNDS = Number(process.argv[3] ?? 20);
const url = process.env.TOKENWARD_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const id = String(BigInt.asIntN(64, BigInt(Date.now()) * 7919n));
const channel = `tw_wake_${process.pid}`;
const connect = async () => {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  return c;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1];

const holder = await connect();
const waiters = await Promise.all(Array.from({ length: N }, connect));
for (const w of waiters) await w.query(`LISTEN ${channel}`);
const res = { barrier: [], notify: [] };
try {
  for (let r = 0; r < ROUNDS; r++) {
    for (const mode of r % 2 === 1 ? ['barrier', 'notify'] : ['notify', 'barrier']) {
      await holder.query(`SELECT pg_advisory_lock(${id}::bigint)`);
      let woken;
      let t0;
      if (mode === 'barrier') {
        woken = waiters.map((w) =>
          w
            .query(`SELECT pg_advisory_lock_shared(${id}::bigint), pg_advisory_unlock_shared(${id}::bigint)`)
            .then(() => performance.now()),
        );
        // Every waiter queued on the server before the release.
        for (;;) {
          const q = await holder.query(
            `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND mode = 'ShareLock'
              AND classid = (${id}::bigint >> 32)::bit(32)::int::oid AND objid = (${id}::bigint & 4294967295)::bit(32)::int::oid`,
          );
          if (q.rows[0].n >= N) break;
        }
        t0 = performance.now();
        await holder.query(`SELECT pg_advisory_unlock(${id}::bigint)`);
      } else {
        woken = waiters.map(
          (w) => new Promise((resolve) => w.once('notification', () => resolve(performance.now()))),
        );
        t0 = performance.now();
        await holder.query(`SELECT pg_advisory_unlock(${id}::bigint); NOTIFY ${channel}`);
      }
      const lags = (await Promise.all(woken)).map((t) => t - t0);
      res[mode].push({ median: median(lags), last: Math.max(...lags) });
    }
  }
} finally {
  await holder.end();
  for (const w of waiters) await w.end();
}
for (const [mode, rounds] of Object.entries(res)) {
  console.log(
    `${mode}: ${N} waiters, ${ROUNDS} rounds: woken ${median(rounds.map((x) => x.median)).toFixed(2)} ms after the release ` +
      `(median of the rounds' medians), the last ${median(rounds.map((x) => x.last)).toFixed(2)} ms (median of the rounds' last)`,
  );
}
