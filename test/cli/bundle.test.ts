/**
 * The installed executables (package.json `bin`): `dist/cli/tokenward.cjs` runs the CLI bundle
 * (`tokenward-bundle.cjs`) with the V8 code cache the build made for it (scripts/build-cli.mjs). V8
 * accepts that cache on the Node that built it; a cache of another build or a damaged one is not used and
 * the CLI works as before; `npm pack` ships all of it. (What a warm call evaluates: warm.test.ts.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runProcess } from '../helpers/process.js';
import { CLI, ROOT } from './helpers.js';

const BIN = join(ROOT, 'dist', 'cli', 'tokenward.cjs');
const REPORT = join(ROOT, 'test', 'cli', 'fixtures', 'code-cache-report.cjs');
const BUNDLED = CLI.at(-1) === BIN;
const skip = BUNDLED
  ? false
  : 'the CLI under test is the TypeScript source (dist/ is not built or is older than src/)';

function codeCache(stderr: string): { given: boolean; rejected: boolean } {
  const m = /@@code-cache tokenward-bundle\.cjs given=(true|false) rejected=(true|false)/.exec(stderr);
  assert.ok(m, `no code-cache report in ${JSON.stringify(stderr)}`);
  return { given: m[1] === 'true', rejected: m[2] === 'true' };
}

describe('the installed executables', { skip }, () => {
  let copy: string;
  before(() => {
    copy = mkdtempSync(join(tmpdir(), 'tokenward-bundle-'));
    for (const f of ['tokenward.cjs', 'tokenward-bundle.cjs', 'tokenward-bundle.cache'])
      copyFileSync(join(ROOT, 'dist', 'cli', f), join(copy, f));
  });
  after(() => rmSync(copy, { recursive: true, force: true }));

  it('package.json names them, and the bundle starts with the build id its cache starts with', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
    };
    assert.deepEqual(pkg.bin, {
      tokenward: 'dist/cli/tokenward.cjs',
      'docker-credential-tokenward': 'dist/cli/docker-credential-tokenward.cjs',
    });
    const id = /^\/\*! tokenward-bundle ([0-9a-f]{32}) \*\//.exec(
      readFileSync(join(ROOT, 'dist', 'cli', 'tokenward-bundle.cjs'), 'latin1'),
    )?.[1];
    assert.ok(id !== undefined);
    assert.equal(
      readFileSync(join(ROOT, 'dist', 'cli', 'tokenward-bundle.cache'), 'latin1').slice(0, 32),
      id,
    );
  });

  it('V8 accepts the code cache the build made', async () => {
    const r = await runProcess(process.execPath, ['--require', REPORT, BIN, '--version'], {});
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\d+\.\d+\.\d+/);
    assert.deepEqual(codeCache(r.stderr), { given: true, rejected: false });
  });

  it('a cache of another build is not used; the CLI runs without it', async () => {
    const cache = readFileSync(join(ROOT, 'dist', 'cli', 'tokenward-bundle.cache'));
    writeFileSync(
      join(copy, 'tokenward-bundle.cache'),
      Buffer.concat([Buffer.from('0'.repeat(32)), cache.subarray(32)]),
    );
    const r = await runProcess(
      process.execPath,
      ['--require', REPORT, join(copy, 'tokenward.cjs'), 'help', 'token'],
      {},
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /tokenward token/);
    assert.deepEqual(codeCache(r.stderr), { given: false, rejected: false });
  });

  it('a damaged cache is rejected by V8; the CLI runs without it', async () => {
    const cache = readFileSync(join(ROOT, 'dist', 'cli', 'tokenward-bundle.cache'));
    const damaged = Buffer.from(cache);
    damaged.fill(0x55, 32, 96); // the id is intact, V8's header is not
    writeFileSync(join(copy, 'tokenward-bundle.cache'), damaged);
    const r = await runProcess(
      process.execPath,
      ['--require', REPORT, join(copy, 'tokenward.cjs'), 'help', 'token'],
      {},
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /tokenward token/);
    assert.deepEqual(codeCache(r.stderr), { given: true, rejected: true });
  });

  it('without a cache file the CLI runs as well', async () => {
    rmSync(join(copy, 'tokenward-bundle.cache'), { force: true });
    const r = await runProcess(
      process.execPath,
      ['--require', REPORT, join(copy, 'tokenward.cjs'), 'help', 'token'],
      {},
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(codeCache(r.stderr), { given: false, rejected: false });
  });

  it('the build drops only the __name calls that change no name: a renamed function keeps its own', () => {
    // esbuild renames a top-level function whose name is taken (`f` → `f2`) and, with keepNames, gives
    // it its name back with `__name(f2, "f")`; scripts/build-cli.mjs drops the calls that name a
    // function what JavaScript names it anyway, so that one must stay.
    const text = readFileSync(join(ROOT, 'dist', 'cli', 'tokenward-bundle.cjs'), 'latin1');
    const declared = new Set([...text.matchAll(/\bfunction\*?\s+([\w$]+)\s*\(/g)].map((m) => m[1]!));
    let renamed = 0;
    for (const id of declared) {
      const base = /^(.*\D)\d+$/.exec(id)?.[1];
      if (base === undefined || !declared.has(base)) continue;
      renamed++;
      assert.ok(text.includes(`__name(${id}, "${base}");`), `${id} lost its name ${base}`);
    }
    assert.ok(renamed > 5, `only ${renamed} renamed functions found`);
    // Most calls that JavaScript makes redundant are gone (a declared function; a function in `x: …`).
    const same = [...text.matchAll(/^\s*__name\(([\w$]+), "\1"\);$/gm)].length;
    assert.ok(same < 50, `${same} calls __name(f, "f") are left`);
    assert.ok(
      !/validate: (\/\* @__PURE__ \*\/ )?__name\(/.test(text),
      'valibot validate functions are still renamed',
    );
  });

  it('npm pack ships the executables, the bundles and their caches', () => {
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const files = (JSON.parse(r.stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map(
      (f) => f.path,
    );
    for (const f of [
      'dist/cli/tokenward.cjs',
      'dist/cli/docker-credential-tokenward.cjs',
      'dist/cli/tokenward-bundle.cjs',
      'dist/cli/tokenward-bundle.cache',
      'dist/cli/tokenward-warm.cjs',
      'dist/cli/tokenward-warm.cache',
    ])
      assert.ok(files.includes(f), `npm pack leaves out ${f}`);
  });
});
