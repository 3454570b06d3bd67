#!/usr/bin/env node
// Runs every test/**/*.test.ts with Node's own test runner (TypeScript through tsx).
// Usage: node scripts/test.mjs [substring…]   — only files whose path contains one of the substrings.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = find('test')
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// The timeout also bounds each test FILE as a whole. 10 minutes: on two cores saturated by other work,
// merely starting the 16 processes of a herd test (test/stores/herd.ts) has taken 90 s; no test waits on
// the wall clock, so this bound only ends a test that hangs.
// TAP goes to stdout as the tests run; the list of failures (scripts/failures-reporter.mjs) goes to a file
// and is printed last, so that the tail of a long log names what failed.
const dir = mkdtempSync(join(tmpdir(), 'tokenward-test-'));
const summary = join(dir, 'failures.txt');
const r = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=2',
    '--test-timeout=600000',
    '--test-reporter=tap',
    '--test-reporter-destination=stdout',
    '--test-reporter=./scripts/failures-reporter.mjs',
    `--test-reporter-destination=${summary}`,
    ...files,
  ],
  { stdio: 'inherit' },
);
try {
  process.stdout.write(readFileSync(summary, 'utf8'));
} catch {
  // The runner did not get as far as writing the summary; its own output says why.
}
rmSync(dir, { recursive: true, force: true });
process.exit(r.status ?? 1);
