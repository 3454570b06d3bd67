/**
 * The CI gate of the test helpers: under CI (any usual truthy `CI`) a test whose service or program is
 * missing fails; elsewhere it is reported as skipped, with the reason. Runs a fixture test file in a
 * child `node --test` with the gate's inputs set, and reads the TAP summary.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isCI } from './helpers/services.js';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'helpers', 'fixtures', 'gate.ts');

describe('isCI', () => {
  it('the usual truthy values are CI', () => {
    for (const v of ['true', 'TRUE', '1', 'yes', 'on', 'github-actions', ' true ']) {
      assert.equal(isCI({ CI: v }), true, `CI=${JSON.stringify(v)}`);
    }
  });
  it('unset, empty and the usual falsy values are not', () => {
    assert.equal(isCI({}), false, 'unset');
    for (const v of ['', ' ', 'false', 'False', '0', 'no', 'off']) {
      assert.equal(isCI({ CI: v }), false, `CI=${JSON.stringify(v)}`);
    }
  });
});

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

interface Summary {
  code: number | null;
  pass: number;
  fail: number;
  skipped: number;
  out: string;
}

async function runFixture(ci: string | undefined): Promise<Summary> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env['CI'];
  delete env['NODE_TEST_CONTEXT']; // else the child thinks it is a subtest of this file and runs nothing
  if (ci !== undefined) env['CI'] = ci;
  env['TOKENWARD_TEST_REDIS_URL'] = `redis://127.0.0.1:${await closedPort()}`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', FIXTURE], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  const count = (name: string): number => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(out)?.[1] ?? -1);
  return { code, pass: count('pass'), fail: count('fail'), skipped: count('skipped'), out };
}

describe('the gate, end to end', () => {
  for (const ci of [undefined, 'false']) {
    it(`CI=${ci === undefined ? '(unset)' : JSON.stringify(ci)}: both tests are reported as skipped, with the reason`, async () => {
      const r = await runFixture(ci);
      assert.deepEqual(
        { code: r.code, pass: r.pass, fail: r.fail, skipped: r.skipped },
        { code: 0, pass: 0, fail: 0, skipped: 2 },
        r.out,
      );
      assert.match(r.out, /# SKIP Redis not reachable at 127\.0\.0\.1:\d+/);
      assert.match(
        r.out,
        /# SKIP tokenward-no-such-program is not available \(install it: apt-get install nothing\)/,
      );
    });
  }
  for (const ci of ['1']) {
    it(`CI=${ci}: both tests fail, the run exits non-zero`, async () => {
      const r = await runFixture(ci);
      assert.deepEqual(
        { code: r.code, pass: r.pass, fail: r.fail, skipped: r.skipped },
        { code: 1, pass: 0, fail: 2, skipped: 0 },
        r.out,
      );
      assert.match(r.out, /the service is required/);
      assert.match(r.out, /required, not skipped/);
    });
  }
});
