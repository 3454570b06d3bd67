#!/usr/bin/env node
/**
 * The installed `tokenward` executable (package.json `bin`). It runs the CLI bundle that
 * `npm run build` makes (`scripts/build-cli.mjs`: every module of the CLI and the library code it uses,
 * and the ESM-only packages, in one CommonJS file, `tokenward-bundle.cjs`, each module evaluated only
 * when first used) with V8's code cache made by the build (`tokenward-bundle.cache`), so a warm
 * `tokenward token` neither resolves and reads dozens of module files nor compiles the functions it
 * runs. A cache made by another Node or V8 version, or for another bundle, is rejected (V8 checks its
 * version and flags, this file the build id both carry) and the bundle is compiled as usual.
 * @module
 */

import fs = require('node:fs');
import path = require('node:path');
import url = require('node:url');
import vm = require('node:vm');

const BUNDLE = path.join(__dirname, 'tokenward-bundle.cjs');
/** The bundle's first line: `/*! tokenward-bundle <build id> *\/`. The cache file starts with the same id. */
const HEADER = /^\/\*! tokenward-bundle ([0-9a-f]{32}) \*\//;

// The build makes the bundle ASCII only: read as latin1, it becomes a one-byte string by a plain copy
// (UTF-8 decoding of the same bytes costs far more).
const source = fs.readFileSync(BUNDLE, 'latin1');
let cachedData: Buffer | undefined;
const id = HEADER.exec(source)?.[1];
if (id !== undefined) {
  try {
    const cache = fs.readFileSync(path.join(__dirname, 'tokenward-bundle.cache'));
    if (cache.toString('latin1', 0, id.length) === id) cachedData = cache.subarray(id.length);
  } catch {
    // no cache: compile as usual
  }
}
// No importModuleDynamically: the build turned every import() into a require().
const options: vm.ScriptOptions = { filename: BUNDLE };
if (cachedData !== undefined) options.cachedData = cachedData;
// The file is one function expression, `(function (exports, require, module, __filename, __dirname,
// __twImportMetaUrl, __twTrace) {…})` (scripts/build-cli.mjs), so it is compiled as it was read. Its
// `require` is this file's own: the bundle sits in this directory, so it resolves the same packages as
// a `createRequire()` for the bundle would, without loading `node:module` (and the ES module loader).
const script = new vm.Script(source, options);
const mod = { exports: {} };
(script.runInThisContext() as (...args: unknown[]) => void)(
  mod.exports,
  require,
  mod,
  BUNDLE,
  __dirname,
  url.pathToFileURL(BUNDLE).href,
  // Test hook: an array here receives the path of each module of the bundle as it is evaluated.
  (globalThis as Record<symbol, unknown>)[Symbol.for('tokenward.cli.trace')],
);
