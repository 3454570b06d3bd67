/**
 * Figure 4 — wall time of a warm `tokenward token <profile>` (the installed executable,
 * `dist/cli/tokenward.cjs`: the warm bundle with its V8 code cache; a temporary config and a file store
 * that already holds a fresh token) against `node -e 0`, the CLI's own `--version`, the full bundle
 * (`TOKENWARD_CLI_WARM=0`), the full bundle without its code cache and the unbundled CLI
 * (`dist/cli/main.js`, as the bin was before). A failing CLI is recorded, not fatal: another engineer may
 * be changing it while the bench runs.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startTokenServer } from '../../test/helpers/token-server.js';
import { DIST, type FigureResult, fmtMs, fmtRatio, median, ROOT, range, runFigure } from '../lib/harness.js';
import { type Timed, timeCommand } from '../lib/proc.js';

const ID = '4-cli';
const TITLE = 'CLI: warm `tokenward token`';
const ITERATIONS = 20;
const WARMUP = 3;
const BREAKDOWN_ITERATIONS = 8;

/**
 * A `--require` preload: the bundle's trace hook (scripts/build-cli.mjs) lists each module of the bundle
 * as it is evaluated; printed at exit with every CommonJS file required (external packages).
 */
const INIT_TRACE = `const inits = [];
globalThis[Symbol.for('tokenward.cli.trace')] = inits;
process.on('exit', () => {
  for (const m of inits) process.stderr.write('@@module bundle:' + m + '\\n');
  for (const f of Object.keys(require.cache)) process.stderr.write('@@module file://' + f + '\\n');
});
`;

/** Loader hooks that print every module URL resolved (to count what a command loads). */
const HOOKS = `export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  process.stderr.write('@@module ' + r.url + '\\n');
  return r;
}
`;

function firstLine(t: Timed): string {
  const line = (t.stderr.trim().split('\n')[0] ?? '').slice(0, 300);
  return `exit ${t.code ?? t.signal}${line === '' ? '' : `: ${line}`}`;
}

await runFigure(ID, TITLE, async (): Promise<FigureResult[]> => {
  const server = await startTokenServer({ lifetime: 86_400, latencyMs: 0, issueRefreshTokens: false });
  const dir = await mkdtemp(join(tmpdir(), 'tw-bench-cli-'));
  try {
    const config = join(dir, 'config.toml');
    await writeFile(
      config,
      [
        '[profiles.bench]',
        `token_url = ${JSON.stringify(server.tokenUrl)}`,
        'client_id = "bench-cli"',
        'client_secret = "bench-cli-secret"',
        'store = "file"',
        `cache_dir = ${JSON.stringify(join(dir, 'cache'))}`,
        '',
      ].join('\n'),
    );
    await mkdir(join(dir, 'home'), { recursive: true });
    // A clean environment: nothing of the caller's tokenward settings, home and XDG dirs in the temp dir.
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (
        !k.startsWith('TOKENWARD_') &&
        !k.startsWith('XDG_') &&
        k !== 'NODE_OPTIONS' &&
        !k.startsWith('npm_')
      )
        env[k] = v;
    }
    Object.assign(env, {
      HOME: join(dir, 'home'),
      TOKENWARD_CONFIG: config,
      TOKENWARD_CONFIG_DIR: join(dir, 'config-dir'), // the cache key file is created here by the first run
      NO_COLOR: '1',
    });
    const node = process.execPath;
    const cli = join(DIST, 'cli', 'tokenward.cjs');
    // The full bundle without its code cache (a copy of the executable and the full bundle alone: no
    // warm bundle, no cache).
    const nocache = join(dir, 'nocache');
    await mkdir(nocache);
    for (const f of ['tokenward.cjs', 'tokenward-bundle.cjs'])
      await copyFile(join(DIST, 'cli', f), join(nocache, f)).catch(() => {});
    const commands: Array<{ name: string; label: string; args: string[]; env?: NodeJS.ProcessEnv }> = [
      { name: 'node', label: '`node -e 0`', args: ['-e', '0'] },
      { name: 'version', label: '`tokenward --version` (the CLI shell)', args: [cli, '--version'] },
      { name: 'token', label: '`tokenward token bench` (warm, file store)', args: [cli, 'token', 'bench'] },
      {
        name: 'full',
        label: '… the full bundle (`TOKENWARD_CLI_WARM=0`), the bin before the warm bundle',
        args: [cli, 'token', 'bench'],
        env: { TOKENWARD_CLI_WARM: '0' },
      },
      {
        name: 'nocache',
        label: '… the full bundle without its code cache',
        args: [join(nocache, 'tokenward.cjs'), 'token', 'bench'],
      },
      {
        name: 'unbundled',
        label: '… the unbundled CLI (`node dist/cli/main.js`, the bin before the bundle)',
        args: [join(DIST, 'cli', 'main.js'), 'token', 'bench'],
      },
    ];

    // The first run obtains the token (one request); every later run must be served from the file store.
    const first = await timeCommand(node, [cli, 'token', 'bench'], env);
    const token = first.stdout.trim();
    const failures: string[] = [];
    if (first.code !== 0 || token === '')
      failures.push(`first \`tokenward token bench\`: ${firstLine(first)}`);
    const requestsAfterFirst = server.counts.total;

    const times = new Map<string, number[]>(commands.map((c) => [c.name, []]));
    const ratios: Record<string, number[]> = { token: [], version: [], full: [], nocache: [], unbundled: [] };
    let tokenFailures = 0;
    let lastFailure: Timed | undefined;
    if (failures.length === 0) {
      for (let i = 0; i < WARMUP + ITERATIONS; i++) {
        const round: Record<string, number> = {};
        for (let j = 0; j < commands.length; j++) {
          const c = commands[(i + j) % commands.length]!;
          const t = await timeCommand(node, c.args, c.env === undefined ? env : { ...env, ...c.env });
          const ok = t.code === 0 && (c.name === 'node' || c.name === 'version' || t.stdout.trim() === token);
          if (!ok) {
            if (c.name !== 'node' && c.name !== 'version') tokenFailures++;
            lastFailure = t;
            continue;
          }
          round[c.name] = t.ms;
          if (i >= WARMUP) times.get(c.name)!.push(t.ms);
        }
        if (i >= WARMUP && round['node'] !== undefined) {
          for (const [name, xs] of Object.entries(ratios))
            if (round[name] !== undefined) xs.push(round[name] / round['node']);
        }
      }
    }
    if (tokenFailures > 0 && lastFailure !== undefined)
      failures.push(`${tokenFailures} warm run(s) failed, last: ${firstLine(lastFailure)}`);
    const warmRequests = server.counts.total - requestsAfterFirst;

    // What the warm command loads (one extra run with loader hooks that log every resolved module).
    const hooks = join(dir, 'hooks.mjs');
    await writeFile(hooks, HOOKS);
    const register = join(dir, 'register.mjs');
    await writeFile(
      register,
      `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`,
    );
    const initTrace = join(dir, 'init-trace.cjs');
    await writeFile(initTrace, INIT_TRACE);
    const traced = await timeCommand(
      node,
      ['--import', pathToFileURL(register).href, '--require', initTrace, cli, 'token', 'bench'],
      env,
    );
    // Modules of the bundle that are not wrapped (reachable only statically from its entry) run on every
    // call and never reach the trace hook: listed from the bundle's `// <path>` module comments.
    const bundleText = await readFile(join(DIST, 'cli', 'tokenward-bundle.cjs'), 'utf8').catch(() => '');
    const wrapped = new Set([...bundleText.matchAll(/^ {2}"([^"]+)"\(\) \{$/gm)].map((m) => m[1]));
    const unwrapped = [
      ...new Set([...bundleText.matchAll(/^\/\/ (\S+\.(?:[cm]?js|ts))$/gm)].map((m) => m[1]!)),
    ]
      .filter((p) => !wrapped.has(p))
      .map((p) => `@@module bundle:${p}`);
    const modules = [
      ...new Set(
        [...unwrapped, ...traced.stderr.split('\n')]
          .filter((l) => l.startsWith('@@module file:') || l.startsWith('@@module bundle:'))
          .map((l) =>
            l
              .slice('@@module '.length)
              // A module of the bundle is named by its source path: src/x.ts is dist/x.js unbundled.
              .replace(/^bundle:src\/(.*)\.ts$/, 'dist/$1.js')
              .replace(/^bundle:/, '')
              .replace(`${pathToFileURL(DIST).href}/`, 'dist/')
              .replace(`${pathToFileURL(ROOT).href}/`, ''),
          ),
      ),
    ].filter((u) => !u.startsWith('file:') || !u.includes(tmpdir()));
    const ours = modules.filter((m) => m.startsWith('dist/'));
    const packages = new Map<string, number>();
    for (const m of modules) {
      // Unanchored: the packages may resolve outside ROOT (a linked node_modules).
      const pm = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(m);
      if (pm) packages.set(pm[1]!, (packages.get(pm[1]!) ?? 0) + 1);
    }
    // The token-client graph: a warm call must load none of it (test/cli/warm.test.ts asserts this too).
    const unneeded = modules.filter(
      (m) =>
        /^dist\/(auth|grants)\/|^dist\/http\/(?!budget\.|url\.|types\.)|^dist\/(discovery|revocation|token)\.js$/.test(
          m,
        ) ||
        /^dist\/providers\/(?!index\.|registry\.|values\.|descriptor\.|interactive\.keys\.|[a-z0-9]+\.descriptor\.)/.test(
          m,
        ) ||
        /(?:^|\/)node_modules\/(jose|undici)\//.test(m),
    );

    // Where the time goes: the extra wall time to import each part of the warm path in a bare process.
    const esm0 = ['--input-type=module', '-e', '0'];
    const parts = [
      { rel: 'config/load.js', label: 'config reader (`config/load.js`: smol-toml, valibot schema)' },
      { rel: 'stores/file.js', label: 'file store (`stores/file.js`: envelope, keys)' },
      {
        rel: 'providers/oauth2.js',
        label: 'token client graph (`providers/oauth2.js`: auth, grants, http, discovery, jose)',
      },
      { rel: 'front-door.js', label: 'the whole front door (`front-door.js`)' },
    ];
    const extra = new Map<string, number[]>(parts.map((p) => [p.rel, []]));
    for (let i = 0; i < BREAKDOWN_ITERATIONS; i++) {
      const base = await timeCommand(node, esm0, env);
      for (let j = 0; j < parts.length; j++) {
        const part = parts[(i + j) % parts.length]!;
        const code = `await import(${JSON.stringify(pathToFileURL(join(DIST, part.rel)).href)})`;
        const t = await timeCommand(node, ['--input-type=module', '-e', code], env);
        if (t.code === 0 && base.code === 0) extra.get(part.rel)!.push(t.ms - base.ms);
      }
    }
    const breakdown = parts.map((p) => `${p.label} +${fmtMs(median(extra.get(p.rel)!))}`).join('; ');

    const rows = commands.map((c) => {
      const xs = times.get(c.name)!;
      const r = c.name === 'node' ? [1] : (ratios[c.name] ?? []);
      return [
        c.label,
        fmtMs(median(xs)),
        range(xs, fmtMs),
        c.name === 'node' ? '1.00×' : fmtRatio(median(r)),
        String(xs.length),
      ];
    });
    const tokenRatio = median(ratios['token']!);
    const versionRatio = median(ratios['version']!);
    const notes: string[] = [];
    if (failures.length > 0) notes.push(`**The CLI failed**: ${failures.join('; ')}.`);
    if ((env['NODE_EXTRA_CA_CERTS'] ?? '') !== '')
      notes.push(
        '`NODE_EXTRA_CA_CERTS` was set in the environment the commands ran with (passed on as it was): Node 20 ' +
          'reads and parses those certificates at the start of every process, `node -e 0` included, so the same ' +
          'fixed cost sits on both sides of each ratio and pulls it towards 1× (docs/cli.md#speed gives ' +
          'instruction counts with and without it).',
      );
    notes.push(
      `Token requests during the warm runs: ${warmRequests} (the token came from the encrypted file store).`,
      'The executable (`dist/cli/tokenward.cjs`, package.json `bin`) reads one file, a CLI bundle (esbuild, ' +
        'CommonJS, each module evaluated on first use), and compiles it with the V8 code cache `npm run build` made ' +
        'in a training run of a warm `tokenward token` (scripts/build-cli.mjs), so neither the module resolution and ' +
        'file reads of the unbundled CLI nor the compilation of the functions the warm path runs is paid per call. ' +
        'For `tokenward token` it is the warm bundle (`tokenward-warm.cjs`): the full bundle (`tokenward-bundle.cjs`: ' +
        "the CLI, the library code it uses and the ESM-only packages) without the modules the training's warm call " +
        'did not evaluate, minified, so there is less to read and a smaller code cache; a call that needs another ' +
        'module is handed to the full bundle (src/cli/warm.ts). ' +
        `The full bundle: ${fmtRatio(median(ratios['full']!))}; without its cache: ${fmtRatio(median(ratios['nocache']!))}; unbundled: ${fmtRatio(median(ratios['unbundled']!))} \`node -e 0\` in this run. ` +
        'The warm command prints with `fs.writeSync` on descriptor 1 and builds neither `process.stdout` nor ' +
        '`process.stderr` (on a pipe they load `net` and the stream modules); what is left above Node is mostly ' +
        '`node:vm` and the code cache, `node:crypto` for the one decryption (`node -e 0` loads it too) and one ' +
        'garbage collection (docs/cli.md#speed: what was measured, and what was not done).',
      `The warm command evaluates ${modules.length} modules (of the bundle, or files loaded): ${ours.length} of tokenward's own (src/ → dist/ names) and ` +
        `${[...packages].map(([p, n]) => `${p} (${n})`).join(', ') || 'no packages'}; ` +
        `${unneeded.length} of them from the token-client graph (client authentication, grants, the HTTP layer, ` +
        `discovery, the provider's client module, jose, undici)${unneeded.length > 0 ? `: ${unneeded.join(', ')}` : ''}. ` +
        "`createTokenManager()` computes the cache key with the provider descriptor's pure identity function and " +
        'builds the token client (secrets resolved, provider module imported) on the first request only. Module ' +
        `list: ${ours.map((m) => m.replace(/^dist\//, '')).join(', ')}.`,
      `Extra wall time to import each part in a bare process (median of ${BREAKDOWN_ITERATIONS}, over ` +
        `\`node --input-type=module -e 0\`; the parts share modules, so they do not add up): ${breakdown}.`,
    );
    return [
      {
        id: ID,
        title: TITLE,
        method:
          `The installed executable (\`node dist/cli/tokenward.cjs\`, run from the bench's snapshot of dist/) with a temporary config (\`TOKENWARD_CONFIG\`), key directory and ` +
          `file store; the first run fetched a token (lifetime 24 h) from the loopback token endpoint, so every ` +
          `measured run reads and decrypts it from the file store and prints it. ${ITERATIONS} iterations after ` +
          `${WARMUP} warm-up ones; each iteration runs the commands in rotated order; wall time is spawn to ` +
          `exit. The ratio is the median of the per-iteration ratios to \`node -e 0\`.`,
        columns: ['command', 'median wall time', 'min–max', '× `node -e 0`', 'runs'],
        rows,
        notes,
        headline: [
          failures.length > 0 && times.get('token')!.length === 0
            ? `CLI: warm \`tokenward token\` failed (${failures[0]}).`
            : `CLI: warm \`tokenward token\` takes ${fmtRatio(tokenRatio)} \`node -e 0\` ` +
              `(${fmtMs(median(times.get('token')!))} vs ${fmtMs(median(times.get('node')!))}); \`--version\` ${fmtRatio(versionRatio)}.`,
        ],
      },
    ];
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
