#!/usr/bin/env node
/**
 * `npm run build`, after `tsc`: bundles the CLI for the installed executables (`dist/cli/tokenward.cjs`,
 * `dist/cli/docker-credential-tokenward.cjs`, compiled from `src/cli/*.cts`), and makes V8's code cache
 * for it. The library stays unbundled in dist/.
 *
 * - `dist/cli/tokenward-bundle.cjs`: `src/cli/start.ts` and everything it imports, with esbuild, as one
 *   CommonJS file (each module wrapped so it is evaluated on first use: a command's module, the token
 *   client, jose… only when a command gets there). Packages that Node 20 can `require()` (CommonJS:
 *   undici, pg, ioredis) and the optional peers stay external; the ESM-only ones (valibot, smol-toml,
 *   jose, env-paths…) are bundled. The file is one function expression,
 *   `(function (exports, require, module, __filename, __dirname, __twMeta, __twTrace, __twHooks)
 *   {…})`, that the loader (`src/cli/tokenward.cts`) compiles as read and calls with its own `require`.
 * - `dist/cli/tokenward-bundle.cache`: the build id, then the V8 code cache of the bundle as a warm
 *   `tokenward token` leaves it — a training run against a loopback token endpoint and a temporary file
 *   store, so the functions of the warm path are in it. The loader uses it only when the ids match and V8
 *   accepts it (same V8 version and flags); else it compiles the bundle as usual.
 * - `dist/cli/tokenward-warm.cjs` and `.cache`: the warm bundle, the same file without the lazily
 *   evaluated modules that the training's warm call did not evaluate (each replaced by a stub that
 *   records the miss and throws), with its own build id and code cache. The loader runs it for
 *   `tokenward token …` only; a call that reaches a stub is handed to the full bundle (src/cli/warm.ts).
 *   When anything of it fails, it is not written, and every call runs the full bundle.
 *
 * Test hook: the loader passes `globalThis[Symbol.for('tokenward.cli.trace')]` to the bundle; when it is
 * an array, the bundle appends the path of each module as the module is evaluated
 * (test/cli/warm.test.ts proves with it that a warm call evaluates no token-client module).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build, transform } from 'esbuild';
import ts from 'typescript';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'dist', 'cli');
const BUNDLE = join(OUT, 'tokenward-bundle.cjs');
const CACHE = join(OUT, 'tokenward-bundle.cache');
const BIN = join(OUT, 'tokenward.cjs');

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const isEsmOnly = (name) =>
  JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).type === 'module';
const external = [
  ...Object.keys(pkg.peerDependencies ?? {}),
  ...Object.keys(pkg.dependencies ?? {}).filter((d) => !isEsmOnly(d)),
].flatMap((d) => [d, `${d}/*`]);

const id = randomBytes(16).toString('hex');
rmSync(CACHE, { force: true });
const result = await build({
  absWorkingDir: ROOT,
  stdin: {
    // `__twHooks` is the bundle function's last parameter (below): what the loader hands the bundle.
    contents: "import { start } from './src/cli/start.ts';\nvoid start(process.argv.slice(2), __twHooks);\n",
    resolveDir: ROOT,
    sourcefile: 'tokenward-bundle-entry.ts',
    loader: 'ts',
  },
  outfile: BUNDLE,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external,
  keepNames: true, // errors take their name from their class (src/errors.ts)
  banner: { js: `/*! tokenward-bundle ${id} */` },
  // `import process from 'node:process'` (env-paths) is the global, not a copy of its properties.
  alias: { 'node:process': join(ROOT, 'scripts', 'shims', 'node-process.mjs') },
  // The loader (src/cli/tokenward.cts) passes the bundle's `import.meta` (its file URL, made on first use).
  define: { 'import.meta.url': '__twMeta.url' },
  write: false,
  logLevel: 'warning',
});
let text = result.outputFiles[0].text;
// Module evaluation trace (the test hook above): esbuild's lazy-module helper, one line added.
const helper = 'var __esm = (fn, res, err) => function __init() {\n';
if (text.split(helper).length !== 2)
  throw new Error('build-cli: esbuild changed its __esm helper; update the trace hook');
text = text.replace(helper, `${helper}  if (fn && __twTrace) __twTrace.push(__getOwnPropNames(fn)[0]);\n`);
// keepNames makes esbuild give every function and class its name back with `__name(f, "f")` (a
// renamed one, `f2`, gets "f"): a `defineProperty` per function, as each module is evaluated and as each
// closure is made — 655 on a warm `tokenward token`, some 13 M instructions. Where the call changes
// nothing it goes (test/cli/bundle.test.ts compares the names):
// - the statement `__name(f, "f");` for a function that is only ever declared (`function f(`, once in
//   the bundle, never assigned): a declared function is named after its identifier;
// - `__name(<anonymous function or arrow>, "x")` as the value of `const x =`, `x =` or a property `x:`:
//   JavaScript names the function "x" there itself (NamedEvaluation).
// A renamed function, a class (its `static { __name(this, "C") }`) and any other call keep theirs.
const declared = new Map();
for (const m of text.matchAll(/\bfunction\*?\s+([\w$]+)\s*\(/g))
  declared.set(m[1], (declared.get(m[1]) ?? 0) + 1);
const assigned = new Set([...text.matchAll(/(?<![\w$.])([\w$]+)\s*=(?![=>])/g)].map((m) => m[1]));
let unnamed = 0;
text = text.replace(/^[ \t]*__name\(([\w$]+), "([\w$]+)"\);\n/gm, (line, id, name) => {
  if (id !== name || declared.get(id) !== 1 || assigned.has(id)) return line;
  unnamed++;
  return '';
});
text = dropNamingCalls(text);
if (unnamed < 100)
  throw new Error(`build-cli: only ${unnamed} __name calls dropped; did esbuild change its output?`);

/** Removes `__name(fn, "x")` around an anonymous function that JavaScript names "x" by its place. */
function dropNamingCalls(source) {
  const sf = ts.createSourceFile('bundle.js', source, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  /** The name JavaScript gives an anonymous function in this place, if any. */
  const nameByPlace = (call) => {
    const p = call.parent;
    if (ts.isVariableDeclaration(p) && p.initializer === call && ts.isIdentifier(p.name)) return p.name.text;
    if (
      ts.isPropertyAssignment(p) &&
      p.initializer === call &&
      (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name))
    )
      return p.name.text === '__proto__' ? undefined : p.name.text;
    if (
      ts.isBinaryExpression(p) &&
      p.right === call &&
      p.operatorToken.kind === ts.SyntaxKind.EqualsToken &&
      ts.isIdentifier(p.left)
    )
      return p.left.text;
    return undefined;
  };
  const cuts = [];
  const visit = (node) => {
    if (
      ts.isCallExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === '__name' &&
      node.arguments.length === 2
    ) {
      const [fn, name] = node.arguments;
      const anonymous = ts.isArrowFunction(fn) || (ts.isFunctionExpression(fn) && fn.name === undefined);
      if (anonymous && ts.isStringLiteral(name) && nameByPlace(node) === name.text) {
        cuts.push([node.getStart(sf), fn.getStart(sf)], [fn.end, node.end]);
        unnamed++;
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  cuts.sort((a, b) => a[0] - b[0]);
  let out = '';
  let at = 0;
  for (const [from, to] of cuts) {
    out += source.slice(at, from);
    at = to;
  }
  return out + source.slice(at);
}
// A script compiled with a code cache cannot `import()` (Node 20 drops its dynamic-import callback), so
// the import() of an external package or a builtin becomes a require() (externals are CommonJS, above).
text = text.replace(/(?<![\w.$])import\((?:"([^"]+)"|[^)]*)\)/g, (call, name) => {
  if (name === undefined || !(name.startsWith('node:') || external.includes(name)))
    throw new Error(`build-cli: cannot turn ${call} into a require()`);
  return `Promise.resolve().then(() => __toESM(require(${JSON.stringify(name)})))`;
});
// ASCII only, so the loader reads it as latin1: a one-byte string made by a copy, where UTF-8 decoding
// (a few non-ASCII characters that esbuild leaves in comments) makes V8 decode all of it into a
// two-byte string. A \uXXXX escape means the same character in a string, template, regexp or
// identifier; in a comment it means nothing.
// (Each UTF-16 unit on its own: a surrogate pair becomes two escapes, which JavaScript joins again.)
text = text.replace(/[^ -~\t\n\r]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
// The file is itself one function expression that the loader compiles and calls with its own
// `require` (src/cli/tokenward.cts): the loader concatenates no wrapper around the 0.9 MB source, and
// neither `node:module` (for a `createRequire`) nor the ES module loader behind it is loaded. The
// header stays the first thing on the first line, so the line numbers of the bundle stay esbuild's.
const banner = `/*! tokenward-bundle ${id} */\n`;
if (!text.startsWith(banner)) throw new Error('build-cli: the bundle does not start with its banner');
text =
  `${banner.slice(0, -1)}(function (exports, require, module, __filename, __dirname, __twMeta, __twTrace, __twHooks) {\n` +
  `${text.slice(banner.length)}\n})`;
writeFileSync(BUNDLE, text);

const WARM = join(OUT, 'tokenward-warm.cjs');
const WARM_CACHE = join(OUT, 'tokenward-warm.cache');
rmSync(WARM, { force: true });
rmSync(WARM_CACHE, { force: true });

/**
 * The warm bundle: `full` without the lazily evaluated modules (`var init_x = __esm({ "path"() {…} })`)
 * that are not in `keep`. Each module of the bundle is the text from its `// path` comment to the next
 * one (its hoisted functions and variables, then its init); a dropped module's text becomes a stub of its
 * init that records the miss in the loader's hooks and throws. Nothing else can reach a dropped module's
 * bindings: a kept module that imports it statically calls its init as it is evaluated (so the training
 * evaluated it too, and it is kept), and an `import()` of it is `(init_x(), x_exports)`.
 */
async function warmBundle(full, keep, warmId) {
  const header = /^\/\*! tokenward-bundle [0-9a-f]{32} \*\//;
  if (!header.test(full)) throw new Error('the bundle has no header');
  const wrapped = new Set([...full.matchAll(/^ {2}"([^"]+)"\(\) \{$/gm)].map((m) => m[1]));
  const out = [];
  let current;
  let dropped = 0;
  for (const line of full.split('\n')) {
    const m = /^\/\/ (\S+\.(?:[cm]?js|ts))$/.exec(line);
    if (m) current = m[1];
    if (current === undefined || !wrapped.has(current) || keep.has(current)) {
      out.push(line);
      continue;
    }
    const init = /^var (init_[\w$]+) = __esm\(\{$/.exec(line);
    if (init) {
      out.push(`var ${init[1]} = __twMissing(${JSON.stringify(current)});`);
      dropped++;
    }
  }
  if (dropped === 0) throw new Error('no module to leave out');
  // The stubs sit before esbuild's lazy-module helper (`helper`, the same line the trace hook follows).
  let text = out.join('\n').replace(header, `/*! tokenward-bundle ${warmId} */`);
  if (text.split(helper).length !== 2) throw new Error("esbuild's __esm helper is not there");
  text = text.replace(
    helper,
    [
      'var __twMissing = (path) => function __init() {',
      '  __twHooks.warm.missed ??= path;',
      '  throw new Error(path + " is not in the warm bundle");',
      '};',
      helper,
    ].join('\n'),
  );
  // Without the whitespace and comments (a third less to read; the names stay, the licences go to the
  // end): the header is put back in front, and the function expression stays one (no `;` after it).
  const body = text.slice(text.indexOf('(function'));
  const { code } = await transform(body, {
    minifyWhitespace: true,
    legalComments: 'eof',
    charset: 'ascii',
    loader: 'js',
  });
  const min = code.trim().replace(/;$/, '');
  if (!min.startsWith('(function(') || !/^[\t\n\r -~]*$/.test(min))
    throw new Error('the minified warm bundle is not one ASCII function expression');
  return `/*! tokenward-bundle ${warmId} */${min}`;
}

/**
 * `modules` and every module they import statically, in the bundle `full`: the modules whose init a
 * module's init calls first (`init_x();` at the top of its body).
 */
function withImports(full, modules) {
  const pathOf = new Map();
  const importsOf = new Map();
  for (const m of full.matchAll(
    /^var (init_[\w$]+) = __esm\(\{\n {2}"([^"]+)"\(\) \{\n([\s\S]*?)\n {2}\}\n\}\);$/gm,
  )) {
    pathOf.set(m[1], m[2]);
    importsOf.set(
      m[2],
      [...m[3].matchAll(/^ {4}(init_[\w$]+)\(\);$/gm)].map((c) => c[1]),
    );
  }
  const keep = new Set();
  const visit = (path) => {
    if (keep.has(path)) return;
    keep.add(path);
    for (const init of importsOf.get(path) ?? []) {
      const dep = pathOf.get(init);
      if (dep === undefined) throw new Error(`${path} imports ${init}, which is no module`);
      visit(dep);
    }
  };
  for (const m of modules) {
    if (!importsOf.has(m)) throw new Error(`${m} is not a module of the bundle`);
    visit(m);
  }
  return keep;
}

/**
 * The training runs: a cold and a warm `tokenward token` with the full bundle (the warm one writes its
 * code cache and lists the modules it evaluates), then the warm bundle made of those, trained the same
 * way.
 */
async function train() {
  const dir = mkdtempSync(join(tmpdir(), 'tokenward-build-'));
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          access_token: `build-${randomBytes(8).toString('hex')}`,
          token_type: 'Bearer',
          expires_in: 3600,
        }),
      );
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const config = join(dir, 'config.toml');
    writeFileSync(
      config,
      `[profiles.build]\ntoken_url = "http://127.0.0.1:${server.address().port}/token"\nclient_id = "build"\n` +
        `client_secret = "build-secret"\nstore = "file"\ncache_dir = ${JSON.stringify(join(dir, 'cache'))}\n`,
      { mode: 0o600 },
    );
    const modules = join(dir, 'modules.json');
    const compiled = join(dir, 'compiled.json');
    // Saves the code cache of `file` (prefixed with `cacheId`) as the call leaves it, the modules the call
    // evaluated and the files it compiled.
    const capture = (file, cache, cacheId) => {
      const path = join(dir, `capture-${cacheId}.cjs`);
      writeFileSync(
        path,
        `const vm = require('node:vm'); const fs = require('node:fs'); const Script = vm.Script;
const trace = []; const files = []; globalThis[Symbol.for('tokenward.cli.trace')] = trace;
vm.Script = class extends Script { constructor(s, o) { super(s, o); files.push(o && o.filename); if (o && o.filename === ${JSON.stringify(file)})
  process.once('exit', () => fs.writeFileSync(${JSON.stringify(cache)}, Buffer.concat([Buffer.from(${JSON.stringify(cacheId)}, 'latin1'), this.createCachedData()]))); } };
process.once('exit', () => { fs.writeFileSync(${JSON.stringify(modules)}, JSON.stringify(trace)); fs.writeFileSync(${JSON.stringify(compiled)}, JSON.stringify(files)); });\n`,
      );
      return ['--require', path];
    };
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: dir,
      TOKENWARD_CONFIG: config,
      TOKENWARD_CONFIG_DIR: join(dir, 'config'),
      NO_COLOR: '1',
    };
    const run = (pre, extra = {}) =>
      promisify(execFile)(process.execPath, [...pre, BIN, 'token', 'build'], {
        env: { ...env, ...extra },
        timeout: 120_000,
      });
    const cold = await run([], { TOKENWARD_CLI_WARM: '0' });
    const warm = await run(capture(BUNDLE, CACHE, id), { TOKENWARD_CLI_WARM: '0' });
    if (warm.stdout !== cold.stdout || !cold.stdout.startsWith('build-'))
      throw new Error('the warm run did not print the token');
    try {
      // The full bundle's run did not need the warm bundle's own module; the training ran on the file
      // store, and the other shared stores are kept too, so that their warm calls are the warm bundle's.
      const keep = withImports(text, [
        ...JSON.parse(readFileSync(modules, 'utf8')),
        'src/cli/warm.ts',
        'src/stores/redis.ts',
        'src/stores/postgres.ts',
      ]);
      const warmId = randomBytes(16).toString('hex');
      writeFileSync(WARM, await warmBundle(text, keep, warmId));
      const again = await run(capture(WARM, WARM_CACHE, warmId));
      const files = JSON.parse(readFileSync(compiled, 'utf8'));
      if (again.stdout !== cold.stdout) throw new Error('it did not print the token');
      if (files.join() !== WARM) throw new Error(`it compiled ${files.join(', ')}`);
    } catch (err) {
      rmSync(WARM, { force: true });
      rmSync(WARM_CACHE, { force: true });
      console.warn(`build-cli: no warm bundle (${err instanceof Error ? err.message : err})`);
    }
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
try {
  await train();
} catch (err) {
  for (const f of [CACHE, WARM, WARM_CACHE]) rmSync(f, { force: true });
  console.warn(
    `build-cli: no code cache (the training run failed: ${err instanceof Error ? err.message : err})`,
  );
}
