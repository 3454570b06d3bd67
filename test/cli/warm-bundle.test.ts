/**
 * The warm bundle (scripts/build-cli.mjs, src/cli/tokenward.cts, src/cli/warm.ts): `tokenward token …`
 * runs `tokenward-warm.cjs`, the full bundle without the modules a warm call does not evaluate. A call
 * that needs one of those is handed to the full bundle, which runs it over: the caller sees one run —
 * the output once, each warning once, one token request, the secret command run once (warm.test.ts) —
 * and the same output and exit code as the full bundle alone (`TOKENWARD_CLI_WARM=0`).
 */
import assert from 'node:assert/strict';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EXIT } from '../../src/cli/exit.js';
import { type Io, skipWarningsSaid, warn } from '../../src/cli/output.js';
import { type WarmRun, warmIo } from '../../src/cli/warm.js';
import { runProcess } from '../helpers/process.js';
import { dropPrefix, dropTable, requireService, uniqueName } from '../helpers/services.js';
import { startTokenServer, type TokenServer } from '../helpers/token-server.js';
import { CLI, ROOT, type TempHome, tempHome, tw, writeClientConfig } from './helpers.js';

const OUT = join(ROOT, 'dist', 'cli');
const BIN = join(OUT, 'tokenward.cjs');
const REPORT = join(ROOT, 'test', 'cli', 'fixtures', 'code-cache-report.cjs');
const skip =
  CLI.at(-1) === BIN
    ? false
    : 'the CLI under test is the TypeScript source (dist/ is not built or is older than src/)';

/** The bundles a call compiled, in order, as `<file> given=… rejected=…`. */
function compiled(stderr: string): string[] {
  return [...stderr.matchAll(/^@@code-cache (.*)$/gm)].map((m) => m[1]!);
}

/** stderr without the report's lines. */
function messages(stderr: string): string {
  return stderr.replace(/^@@code-cache .*\n/gm, '');
}

const WARM_ONLY = ['tokenward-warm.cjs given=true rejected=false'];
const HANDED_OVER = [...WARM_ONLY, 'tokenward-bundle.cjs given=true rejected=false'];

describe('the warm bundle', { skip }, () => {
  let home: TempHome;
  let ts: TokenServer;
  let env: NodeJS.ProcessEnv;
  const run = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
    tw(args, { env: { ...env, ...extra }, nodeArgs: ['--require', REPORT] });

  before(async () => {
    home = tempHome();
    ts = await startTokenServer({ latencyMs: 0, lifetime: 3600 });
    writeClientConfig(home, ts.tokenUrl, 'http://127.0.0.1:9/api');
    env = { ...home.env, TW_SECRET: 'warm-bundle-secret-value', TOKENWARD_CACHE_KEY: 'cd'.repeat(32) };
  });
  after(async () => {
    await ts.close();
    home.cleanup();
  });

  it('is the full bundle without most of its modules, with its own build id and code cache', () => {
    const full = readFileSync(join(OUT, 'tokenward-bundle.cjs'), 'latin1');
    const warm = readFileSync(join(OUT, 'tokenward-warm.cjs'), 'latin1');
    const id = (text: string) => /^\/\*! tokenward-bundle ([0-9a-f]{32}) \*\//.exec(text)?.[1];
    assert.ok(id(warm) !== undefined && id(warm) !== id(full), 'an id of its own');
    assert.equal(readFileSync(join(OUT, 'tokenward-warm.cache'), 'latin1').slice(0, 32), id(warm));
    assert.ok(warm.length < full.length / 2, `${warm.length} bytes against ${full.length}`);
    assert.match(warm, /^[\t\n\r -~]*$/, 'ASCII only (the loader reads it as latin1)');
    const stubs = [...warm.matchAll(/__twMissing\("([^"]+)"\)/g)].map((m) => m[1]!);
    assert.ok(stubs.length > 50, `${stubs.length} modules left out`);
    for (const m of ['src/grants/client-credentials.ts', 'src/http/token-endpoint.ts', 'src/cli/help.ts'])
      assert.ok(stubs.includes(m), `${m} is not in it`);
    for (const m of ['src/stores/file.ts', 'src/config/load.ts', 'src/cli/warm.ts'])
      assert.ok(!stubs.includes(m) && warm.includes(`"${m}"()`), `${m} is in it`);
  });

  it('a first call is handed to the full bundle: the token printed once, one request, a warning once', async () => {
    // A cache directory open to others: the warm bundle tightens it and warns before it needs the token
    // client; the full bundle, which then runs the call, finds it tight. The warning is not lost.
    const cacheDir = env['TOKENWARD_CACHE_DIR']!;
    mkdirSync(cacheDir, { recursive: true });
    chmodSync(cacheDir, 0o755);
    const r = await run(['token', 'p']);
    assert.equal(r.code, EXIT.OK, r.stderr);
    assert.deepEqual(compiled(r.stderr), HANDED_OVER);
    assert.match(r.stdout, /^[^\n]+\n$/, 'one line');
    assert.equal(ts.counts.total, 1);
    assert.equal(statSync(cacheDir).mode & 0o777, 0o700);
    const warnings = messages(r.stderr).match(/warning: .*changed it to 700/g) ?? [];
    assert.equal(warnings.length, 1, messages(r.stderr));
    // The next call is the warm bundle's alone, and prints the same token.
    const again = await run(['token', 'p']);
    assert.equal(again.code, EXIT.OK, again.stderr);
    assert.deepEqual(compiled(again.stderr), WARM_ONLY);
    assert.equal(again.stdout, r.stdout);
    assert.equal(messages(again.stderr), '');
    assert.equal(ts.counts.total, 1);
  });

  it('prints what the full bundle prints, with the same exit code', async () => {
    await run(['token', 'p']); // a token in the store
    // A profile whose token endpoint refuses connections: the call needs the token client (a miss), and
    // the full bundle reports the network error.
    const down = join(home.dir, 'down.toml');
    writeFileSync(
      down,
      '[profiles.d]\ntoken_url = "http://127.0.0.1:9/token"\nclient_id = "c"\nclient_secret = "env:TW_SECRET"\nretries = 0\n',
      { mode: 0o600 },
    );
    const WARM = 'the warm bundle';
    const HANDED = 'the warm bundle, then the full one';
    const FULL = 'the full bundle at once';
    type Runs = typeof WARM | typeof HANDED | typeof FULL;
    const cases: Array<{ args: string[]; runs: Runs; env?: NodeJS.ProcessEnv }> = [
      { args: ['token', 'p'], runs: WARM },
      { args: ['token', 'p', '--header'], runs: WARM },
      { args: ['token', 'nope'], runs: WARM }, // no such profile: an error of the config reader
      { args: ['token', 'p', 'q'], runs: WARM }, // a usage error
      { args: ['token', 'd'], runs: HANDED, env: { TOKENWARD_CONFIG: down } },
      // Options that always need the full bundle: the loader does not try the warm one.
      { args: ['token', '--help'], runs: FULL },
      { args: ['token', 'p', '--dpop-for', 'GET'], runs: FULL },
      { args: ['token', 'p', '--force', '--dpop-for=GET'], runs: FULL },
    ];
    const expected: Record<Runs, string[]> = {
      [WARM]: WARM_ONLY,
      [HANDED]: HANDED_OVER,
      [FULL]: [HANDED_OVER[1]!],
    };
    for (const { args, runs, env: extra = {} } of cases) {
      const warm = await run(args, extra);
      const full = await run(args, { ...extra, TOKENWARD_CLI_WARM: '0' });
      assert.deepEqual(
        [warm.code, warm.stdout, messages(warm.stderr)],
        [full.code, full.stdout, messages(full.stderr)],
        args.join(' '),
      );
      assert.deepEqual(compiled(warm.stderr), expected[runs], `${args.join(' ')}: ${runs}`);
      assert.deepEqual(compiled(full.stderr), [HANDED_OVER[1]], args.join(' '));
    }
    assert.equal(ts.counts.total, 1, 'no call asked the test server for a token');
  });

  for (const kind of ['redis', 'postgres'] as const) {
    it(`a warm call on ${kind === 'redis' ? 'Redis' : 'PostgreSQL'} is the warm bundle's too`, async (t) => {
      const url = await requireService(t, kind);
      if (url === undefined) return;
      const prefix = uniqueName('tw_warm_bundle');
      const config = join(home.dir, `${kind}.toml`);
      writeFileSync(
        config,
        [
          '[profiles.s]',
          `token_url = "${ts.tokenUrl}"`,
          'client_id = "warm-bundle"',
          'client_secret = "env:TW_SECRET"',
          `store = "${kind}"`,
          `store_url = "${url}"`,
          `store_prefix = "${prefix}${kind === 'redis' ? ':' : ''}"`,
          '',
        ].join('\n'),
        { mode: 0o600 },
      );
      const before = ts.counts.total;
      try {
        const first = await run(['token', 's'], { TOKENWARD_CONFIG: config });
        assert.equal(first.code, EXIT.OK, first.stderr);
        assert.deepEqual(compiled(first.stderr), HANDED_OVER, 'the first call asks for a token');
        const warm = await run(['token', 's'], { TOKENWARD_CONFIG: config });
        assert.equal(warm.code, EXIT.OK, warm.stderr);
        assert.equal(warm.stdout, first.stdout);
        assert.deepEqual(compiled(warm.stderr), WARM_ONLY);
        assert.equal(ts.counts.total, before + 1);
      } finally {
        await (kind === 'redis' ? dropPrefix(url, prefix) : dropTable(url, prefix));
      }
    });
  }

  it('without the warm bundle every call runs the full bundle', async () => {
    const first = await run(['token', 'p']);
    const copy = mkdtempSync(join(tmpdir(), 'tokenward-nowarm-'));
    try {
      for (const f of ['tokenward.cjs', 'tokenward-bundle.cjs', 'tokenward-bundle.cache'])
        copyFileSync(join(OUT, f), join(copy, f));
      const c = await runProcess(
        process.execPath,
        ['--require', REPORT, join(copy, 'tokenward.cjs'), 'token', 'p'],
        { env, cwd: ROOT, timeoutMs: 60_000 },
      );
      assert.equal(c.code, EXIT.OK, c.stderr);
      assert.equal(c.stdout, first.stdout);
      assert.deepEqual(compiled(c.stderr), [HANDED_OVER[1]]);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});

describe('the warm bundle’s output', () => {
  /** An Io whose streams and writeOut record what reaches them. */
  function recordingIo(): { io: Io; out: string[] } {
    const out: string[] = [];
    const stream = { write: (t: string) => out.push(t) } as unknown as Io['stderr'];
    return {
      out,
      io: {
        stdout: stream,
        stderr: stream,
        stdin: process.stdin,
        env: {},
        verbose: false,
        color: false,
        colorOut: false,
        writeOut: (t) => out.push(t),
      },
    };
  }

  it('stdout is held until flush; stderr goes out until a miss and is remembered, then dropped', (t) => {
    const written: string[] = [];
    t.mock.method(process.stderr, 'write', (chunk: string) => written.push(chunk) > 0);
    const warm: WarmRun = { fallback: () => Promise.reject(new Error('not here')) };
    const said = new Set<string>();
    const { io } = warmIo(recordingIo().io, warm, said);
    io.writeOut('token\n');
    io.stdout.write('more\n');
    warn(io, 'before the miss');
    warm.missed = 'src/cli/help.ts';
    warn(io, 'after the miss');
    assert.deepEqual(written, ['tokenward: warning: before the miss\n']);
    assert.deepEqual([...said], ['tokenward: warning: before the miss\n']);
  });

  it('a warning said before the hand-over is not said again', () => {
    const { io, out } = recordingIo();
    try {
      skipWarningsSaid(new Set(['tokenward: warning: said once\n']));
      warn(io, 'said once');
      warn(io, 'another');
      assert.deepEqual(out, ['tokenward: warning: another\n']);
    } finally {
      skipWarningsSaid(new Set());
    }
  });
});
