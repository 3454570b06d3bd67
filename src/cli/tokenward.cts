#!/usr/bin/env node
/**
 * The installed `tokenward` executable (package.json `bin`). It runs a CLI bundle that `npm run build`
 * makes (`scripts/build-cli.mjs`) with V8's code cache made by the build, so a warm `tokenward token`
 * neither resolves and reads dozens of module files nor compiles the functions it runs:
 * - `tokenward-bundle.cjs`, the full bundle: every module of the CLI and the library code it uses, and
 *   the ESM-only packages, in one CommonJS file, each module evaluated only when first used;
 * - `tokenward-warm.cjs`, the warm bundle: the same file without the modules a warm `tokenward token`
 *   does not evaluate (a third of the size, with a smaller code cache). It runs `tokenward token …`
 *   only; a call that needs another module (a token request, an error that offers a sign-in, `--help`…)
 *   is handed to the full bundle, which starts it over (`src/cli/warm.ts`).
 * A cache made by another Node or V8 version, or for another bundle, is rejected (V8 checks its version
 * and flags, this file the build id both carry) and the bundle is compiled as usual. Without the warm
 * bundle (or with `TOKENWARD_CLI_WARM=0`), every call runs the full bundle.
 * @module
 */

import fs = require('node:fs');
import path = require('node:path');
import url = require('node:url');
import vm = require('node:vm');

/** The bundle's first line: `/*! tokenward-bundle <build id> *\/`. The cache file starts with the same id. */
const HEADER = /^\/\*! tokenward-bundle ([0-9a-f]{32}) \*\//;

/** What the bundle's start gets from here (`LoaderHooks` in src/cli/start.ts). */
interface Hooks {
  said: Set<string>;
  warm?: { missed?: string; fallback(): Promise<never> };
}

/** Compiles `<name>.cjs` with `<name>.cache` when it fits, and calls it; `false` when there is no such bundle. */
function run(name: string, hooks: Hooks): boolean {
  const file = path.join(__dirname, `${name}.cjs`);
  // The build makes the bundle ASCII only: read as latin1, it becomes a one-byte string by a plain copy
  // (UTF-8 decoding of the same bytes costs far more).
  let source: string;
  try {
    source = fs.readFileSync(file, 'latin1');
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return false;
    throw err;
  }
  let cachedData: Buffer | undefined;
  const id = HEADER.exec(source)?.[1];
  if (id !== undefined) {
    try {
      const cache = fs.readFileSync(path.join(__dirname, `${name}.cache`));
      if (cache.toString('latin1', 0, id.length) === id) cachedData = cache.subarray(id.length);
    } catch {
      // no cache: compile as usual
    }
  }
  // No importModuleDynamically: the build turned every import() into a require().
  const options: vm.ScriptOptions = { filename: file };
  if (cachedData !== undefined) options.cachedData = cachedData;
  // The file is one function expression, `(function (exports, require, module, __filename, __dirname,
  // __twMeta, __twTrace, __twHooks) {…})` (scripts/build-cli.mjs), so it is compiled as it was
  // read. Its `require` is this file's own: the bundle sits in this directory, so it resolves the same
  // packages as a `createRequire()` for the bundle would, without loading `node:module` (and the ES
  // module loader).
  const script = new vm.Script(source, options);
  const mod = { exports: {} };
  (script.runInThisContext() as (...args: unknown[]) => void)(
    mod.exports,
    require,
    mod,
    file,
    __dirname,
    // `import.meta` of the bundle's modules: its `url`, made on first use (a file URL costs 0.3 ms).
    {
      get url() {
        return url.pathToFileURL(file).href;
      },
    },
    // Test hook: an array here receives the path of each module of the bundle as it is evaluated.
    (globalThis as Record<symbol, unknown>)[Symbol.for('tokenward.cli.trace')],
    hooks,
  );
  return true;
}

/**
 * Options of `tokenward token` that always need a module the warm bundle does not hold (a token
 * request, the help text, a DPoP proof): such a call goes to the full bundle at once, without the warm
 * bundle's attempt (about 11 ms that a call handed over pays).
 */
const NEEDS_FULL = /^(?:--force|--help|-h|--dpop-for)(?:=|$)/;
const said = new Set<string>();
const full = (): Promise<never> => {
  if (!run('tokenward-bundle', { said }))
    throw new Error(`${__dirname}: the CLI bundle is missing (run npm run build)`);
  // The full bundle exits the process when its call is done.
  return new Promise<never>(() => {});
};
// The warm bundle, when this is a call for it and the build made one; else the full bundle.
const warm =
  process.argv[2] === 'token' &&
  process.env['TOKENWARD_CLI_WARM'] !== '0' &&
  !process.argv.some((a) => NEEDS_FULL.test(a)) &&
  run('tokenward-warm', { said, warm: { fallback: full } });
if (!warm) void full();
