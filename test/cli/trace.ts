/**
 * Which modules a CLI run evaluates, for the tests that check a command loads only what it needs. The
 * ES module files are listed by the loader hooks of fixtures/trace-loads.mjs; when the CLI under test is
 * the installed bundle (dist/cli/tokenward.cjs, which holds every module in one file), the modules of
 * the bundle are listed by fixtures/trace-inits.cjs as each is evaluated (the bundle's trace hook, see
 * scripts/build-cli.mjs), with the CommonJS files required.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CLI, ROOT } from './helpers.js';

const TRACE_LOADS = pathToFileURL(join(ROOT, 'test', 'cli', 'fixtures', 'trace-loads.mjs')).href;
const TRACE_INITS = join(ROOT, 'test', 'cli', 'fixtures', 'trace-inits.cjs');

/** True when the CLI under test is the installed bundle. */
export const BUNDLED = CLI.at(-1)?.endsWith('.cjs') === true;

/** The node options that write the trace to `$TOKENWARD_TRACE_LOADS`. */
export function traceNodeArgs(): string[] {
  return ['--import', TRACE_LOADS, ...(BUNDLED ? ['--require', TRACE_INITS] : [])];
}

/**
 * The modules of the bundle that are not wrapped for evaluation on first use (esbuild leaves a module
 * reachable only through static imports from the entry at the top level): each runs on every call, so
 * the trace hook never lists them. Found in the bundle's text: esbuild starts each module with a
 * `// <path>` comment and names a wrapped one `"<path>"() {`.
 */
function unconditionalModules(): string[] {
  const text = readFileSync(join(ROOT, 'dist', 'cli', 'tokenward-bundle.cjs'), 'utf8');
  const wrapped = new Set([...text.matchAll(/^ {2}"([^"]+)"\(\) \{$/gm)].map((m) => m[1]));
  const all = new Set([...text.matchAll(/^\/\/ (\S+\.(?:[cm]?js|ts))$/gm)].map((m) => m[1]!));
  return [...all].filter((p) => !wrapped.has(p)).map((p) => `bundle:/${p}`);
}

/**
 * The modules a traced run evaluated: file URLs, and `bundle:/<source path>` for the bundle's modules
 * (those it evaluates on every call included).
 */
export function readTrace(file: string): string[] {
  const loaded = readFileSync(file, 'utf8')
    .split('\n')
    .filter((u) => u !== '');
  if (BUNDLED) {
    assert.ok(
      loaded.some((u) => u.startsWith('bundle:/src/cli/')),
      'the bundle reported its modules',
    );
    const always = unconditionalModules();
    assert.ok(always.includes('bundle:/src/cli/run.ts'), `unwrapped modules: ${always.join(', ')}`);
    loaded.push(...always);
  }
  return loaded;
}
