/**
 * The CLI's warm path: a `tokenward token` served from the file store runs no secret command and loads
 * no token-client code (client authentication, grants, the HTTP layer, discovery, jose). The `cmd:`
 * secret appends a line to a file per run, so its runs are counted exactly. The modules are listed by
 * the loader hooks of fixtures/trace-loads.mjs (every ES module file loaded) and, when the CLI under test
 * is the installed bundle (dist/cli/tokenward.cjs), by fixtures/trace-inits.cjs: each module of the
 * bundle as it is evaluated (the bundle holds them all, so which file loads says nothing) and each
 * CommonJS file required.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EXIT } from '../../src/cli/exit.js';
import { startTokenServer, type TokenServer } from '../helpers/token-server.js';
import { CLI, ROOT, type TempHome, tempHome, tw } from './helpers.js';
import { BUNDLED, readTrace, traceNodeArgs } from './trace.js';

/** The token-client graph: a warm call evaluates none of it. */
const TOKEN_CLIENT = [
  /\/(src|dist)\/(auth|grants)\//,
  /\/(src|dist)\/http\/(?!budget\.|url\.|types\.)/,
  /\/(src|dist)\/(discovery|revocation|token)\.[jt]s$/,
  /\/(src|dist)\/providers\/(?!index\.|registry\.|values\.|descriptor\.|interactive\.keys\.|[a-z0-9]+\.descriptor\.)/,
  /\/node_modules\/(jose|undici)\//,
];

/** Runs `tokenward token w ...args` with the module traces on; resolves to the run and the modules. */
async function traced(args: string[]): Promise<{ r: Awaited<ReturnType<typeof tw>>; loaded: string[] }> {
  const trace = join(home.dir, 'loads.txt');
  rmSync(trace, { force: true });
  const r = await tw(['token', 'w', ...args], {
    env: { ...env, TOKENWARD_TRACE_LOADS: trace },
    nodeArgs: traceNodeArgs(),
  });
  return { r, loaded: readTrace(trace) };
}

/**
 * Runs a warm `tokenward token w` with only the CommonJS preload of the module trace (the ES module
 * loader hooks of the other traces load fs/promises themselves); resolves to what it loaded, builtins
 * as `builtin:<id>`.
 */
async function builtinsOfWarmCall(file: string, token: string): Promise<string[]> {
  const trace = join(home.dir, file);
  rmSync(trace, { force: true });
  const r = await tw(['token', 'w'], {
    env: { ...env, TOKENWARD_TRACE_LOADS: trace },
    nodeArgs: ['--require', join(ROOT, 'test', 'cli', 'fixtures', 'trace-inits.cjs')],
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${token}\n`);
  return readFileSync(trace, 'utf8').split('\n');
}

let home: TempHome;
let ts: TokenServer;
let env: NodeJS.ProcessEnv;
let runs: string;

function commandRuns(): number {
  try {
    return readFileSync(runs, 'utf8')
      .split('\n')
      .filter((l) => l !== '').length;
  } catch {
    return 0;
  }
}

before(async () => {
  home = tempHome();
  ts = await startTokenServer({ latencyMs: 0, lifetime: 3600 });
  runs = join(home.dir, 'runs.log');
  const script = join(home.dir, 'secret.sh');
  writeFileSync(script, `#!/bin/sh\necho run >> '${runs}'\necho cli-warm-secret\n`, { mode: 0o700 });
  env = { ...home.env, TOKENWARD_CACHE_KEY: 'ab'.repeat(32) };
  mkdirSync(dirname(home.config), { recursive: true });
  writeFileSync(
    home.config,
    `[profiles.w]
token_url = "${ts.tokenUrl}"
client_id = "cli-warm"
client_secret = "cmd:sh '${script}'"
`,
    { mode: 0o600 },
  );
});
after(async () => {
  await ts.close();
  home.cleanup();
});

describe('a warm tokenward token', () => {
  let token = '';

  it('the first call runs the secret command once and gets a token', async () => {
    const r = await tw(['token', 'w'], { env });
    assert.equal(r.code, 0, r.stderr);
    token = r.stdout.trim();
    assert.equal(commandRuns(), 1);
    assert.equal(ts.counts.total, 1);
  });

  it('later calls run it 0 times and make no request', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await tw(['token', 'w'], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${token}\n`);
    }
    const j = await tw(['token', 'w', '--json'], { env });
    assert.equal(JSON.parse(j.stdout).access_token, token);
    assert.equal(commandRuns(), 1);
    assert.equal(ts.counts.total, 1);
  });

  it('loads no token-client module: auth, grants, http (but its budget/url helpers), discovery, jose', async () => {
    const { r, loaded } = await traced([]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${token}\n`);
    assert.ok(
      loaded.some((u) => /\/stores\/file\.[jt]s$/.test(u)),
      'the trace saw the file store',
    );
    for (const re of TOKEN_CLIENT) {
      const hits = loaded.filter((u) => re.test(u));
      assert.deepEqual(hits, [], `the warm path loaded ${hits.join(', ')}`);
    }
    assert.equal(commandRuns(), 1);
    assert.equal(ts.counts.total, 1);
  });

  it("the bundled CLI reads its files without Node's promise API of the file system", async (t) => {
    if (!BUNDLED) {
      t.skip('the unbundled CLI imports node:fs as an ES module, which reads fs.promises at once');
      return;
    }
    const loaded = await builtinsOfWarmCall('builtins.txt', token);
    assert.ok(loaded.includes('builtin:crypto'), 'the trace lists the builtins loaded');
    // The trust checks and token/key reads are synchronous and the config file is read with the
    // callback API (docs/architecture.md, "The warm CLI path"): node:fs/promises and what it loads stay out.
    // The token goes to file descriptor 1 with fs.writeSync: Node's stdout and stderr streams are not
    // built (on a pipe, `net` and the stream machinery), and the URL checks do not load `node:net`.
    // Plain arguments are parsed without util.parseArgs (src/cli/args.ts), and the diagnostics channels
    // load node:diagnostics_channel only once something else has (src/observe/channels.ts).
    for (const m of [
      'builtin:internal/util/parse_args/parse_args',
      'builtin:diagnostics_channel',
      'builtin:fs/promises',
      'builtin:internal/fs/promises',
      'builtin:internal/readline/interface',
      'builtin:net',
      'builtin:tty',
      'builtin:internal/fs/sync_write_stream',
    ])
      assert.ok(!loaded.includes(m), `the warm path loaded ${m}`);
    assert.equal(commandRuns(), 1);
  });

  it("the bundled CLI loads neither node:module nor Node's ES module loader", async (t) => {
    if (!BUNDLED) {
      t.skip('the unbundled CLI is a tree of ES modules, loaded by the ES module loader');
      return;
    }
    // The bundle file is one function expression that the executable compiles and calls with its own
    // `require` (scripts/build-cli.mjs, src/cli/tokenward.cts): no `createRequire()` from node:module,
    // which loads the ES module loader with it. (`node -e 0` loads both; a CommonJS --require does not.)
    const loaded = await builtinsOfWarmCall('builtins-module.txt', token);
    assert.ok(loaded.includes('builtin:vm'), 'the trace lists the builtins loaded');
    for (const m of ['builtin:module', 'builtin:internal/modules/esm/loader'])
      assert.ok(!loaded.includes(m), `the warm path loaded ${m}`);
    assert.equal(commandRuns(), 1);
  });

  it('into a closed pipe: exit 141, nothing on stderr, no stack trace', async () => {
    const child = spawn(process.execPath, [...CLI, 'token', 'w'], {
      env,
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy(); // every write to fd 1 fails with EPIPE
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
    assert.equal(signal, null);
    assert.equal(code, EXIT.BROKEN_PIPE);
    assert.equal(stderr, '');
    assert.equal(commandRuns(), 1);
    assert.equal(ts.counts.total, 1);
  });

  it('--force builds the client: the command runs once more, one request, the token client is loaded', async () => {
    const { r, loaded } = await traced(['--force']);
    assert.equal(r.code, 0, r.stderr);
    // The trace sees the token client when it is used (so the warm run's empty lists mean something).
    for (const re of [TOKEN_CLIENT[0]!, TOKEN_CLIENT[1]!, TOKEN_CLIENT[4]!])
      assert.ok(
        loaded.some((u) => re.test(u)),
        `the trace saw ${re}`,
      );
    assert.notEqual(r.stdout.trim(), token);
    assert.equal(commandRuns(), 2);
    assert.equal(ts.counts.total, 2);
  });
});
