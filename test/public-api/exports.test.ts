/**
 * The public API, guarded: every entry point of package.json's `exports`, its runtime names (what
 * `import()` gives) and its type names (from the TypeScript compiler), compared with the checked-in
 * snapshot `exports.snapshot.json`. A name added, removed or changed in kind fails with the list of
 * differences; when the change is meant, regenerate the snapshot and commit it with the change:
 *
 *   UPDATE_API_SNAPSHOT=1 node scripts/test.mjs public-api     (or: npm run api-snapshot)
 *
 * Also checked: each entry point has a source file, types and a `@module` comment, the test tsconfig's
 * `paths` map the same subpaths to the same files, the main entry stays small, and the examples and the
 * documentation's code import tokenward only through its entry points.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { ROOT } from '../cli/helpers.js';
import { docBlocks, where } from '../docs/blocks.js';

const SNAPSHOT = join(ROOT, 'test', 'public-api', 'exports.snapshot.json');
const UPDATE = process.env['UPDATE_API_SNAPSHOT'] === '1';
/** The most runtime names the main entry may have: the front door, not the building blocks (issue 12). */
const MAIN_ENTRY_BUDGET = 50;

/** One entry point's surface: `kind name` lines, sorted by name. */
interface Surface {
  /** What `import()` of the entry gives: `function getToken`, `class TokenManager`, `const PROFILE_KEYS`. */
  runtime: string[];
  /** Names that exist only for the type checker: `interface Token`, `type Profile`. */
  types: string[];
}
type Snapshot = Record<string, Surface>;

interface PackageJson {
  name: string;
  exports: Record<string, string | { types?: string; default?: string }>;
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;

/** `./dist/entry/oauth.js` (or `.d.ts`) → `src/entry/oauth.ts`. */
function sourceOf(built: string): string {
  return join(ROOT, built.replace(/^\.\/dist\//, 'src/').replace(/(\.d)?\.js$|\.d\.ts$/, '.ts'));
}

/** Every entry point: its import specifier, its built files and its source file. */
const entries = Object.entries(pkg.exports)
  .filter(([sub]) => sub !== './package.json')
  .map(([sub, target]) => {
    const t = typeof target === 'string' ? { default: target } : target;
    return {
      specifier: sub === '.' ? pkg.name : `${pkg.name}/${sub.slice(2)}`,
      subpath: sub,
      types: t.types,
      default: t.default,
      source: sourceOf(t.default ?? ''),
    };
  });

function kindOf(checker: ts.TypeChecker, exported: ts.Symbol): string {
  const s = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
  const f = s.flags;
  if (f & ts.SymbolFlags.Class) return 'class';
  if (f & ts.SymbolFlags.Function) return 'function';
  if (f & ts.SymbolFlags.Enum) return 'enum';
  if (f & ts.SymbolFlags.Variable) return 'const';
  if (f & ts.SymbolFlags.Interface) return 'interface';
  if (f & ts.SymbolFlags.TypeAlias) return 'type';
  if (f & ts.SymbolFlags.Module) return 'namespace';
  return 'other';
}

const VALUE_KINDS = new Set(['class', 'function', 'enum', 'const', 'namespace']);

/** The surface of every entry point, from the compiler (the source files, with the build's options). */
function compilerSurfaces(): Map<string, Surface> {
  const configPath = join(ROOT, 'tsconfig.json');
  const config = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT, { noEmit: true }, configPath);
  const program = ts.createProgram(
    entries.map((e) => e.source),
    parsed.options,
  );
  const checker = program.getTypeChecker();
  const out = new Map<string, Surface>();
  for (const e of entries) {
    const file = program.getSourceFile(e.source);
    assert.ok(file, `${e.specifier}: ${relative(ROOT, e.source)} is not in the program`);
    const moduleSymbol = checker.getSymbolAtLocation(file);
    assert.ok(moduleSymbol, `${e.specifier}: ${relative(ROOT, e.source)} is not a module`);
    const surface: Surface = { runtime: [], types: [] };
    const byName = [...checker.getExportsOfModule(moduleSymbol)].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    for (const s of byName) {
      const kind = kindOf(checker, s);
      // A type-only re-export of a class (`export type { X }`) is no runtime name.
      const typeOnly = s.declarations?.some((d) => ts.isTypeOnlyImportOrExportDeclaration(d)) === true;
      if (VALUE_KINDS.has(kind) && !typeOnly) surface.runtime.push(`${kind} ${s.name}`);
      else surface.types.push(`${kind} ${s.name}`);
    }
    out.set(e.specifier, surface);
  }
  return out;
}

function lineDiff(label: string, expected: readonly string[], actual: readonly string[]): string[] {
  const want = new Set(expected);
  const have = new Set(actual);
  return [
    ...actual.filter((x) => !want.has(x)).map((x) => `  + ${label}: ${x}`),
    ...expected.filter((x) => !have.has(x)).map((x) => `  - ${label}: ${x}`),
  ];
}

describe('public API', () => {
  const surfaces = compilerSurfaces();

  test('every entry point has types, a source file and a @module comment', () => {
    assert.ok(entries.length >= 7, `found ${entries.length} entry points`);
    for (const e of entries) {
      assert.ok(
        e.types !== undefined && e.default !== undefined,
        `${e.subpath}: needs "types" and "default"`,
      );
      assert.equal(sourceOf(e.types ?? ''), e.source, `${e.subpath}: "types" and "default" differ`);
      assert.ok(existsSync(e.source), `${e.subpath}: no source file ${relative(ROOT, e.source)}`);
      const head = readFileSync(e.source, 'utf8').match(/^\/\*\*[\s\S]*?\*\//)?.[0] ?? '';
      assert.match(
        head,
        e.subpath === '.' ? /@packageDocumentation/ : /@module/,
        `${e.specifier}: ${relative(ROOT, e.source)} must open with a TSDoc comment naming its @module`,
      );
    }
  });

  test("the test tsconfig's paths map the same entry points to the same files", () => {
    const config = ts.readConfigFile(join(ROOT, 'tsconfig.test.json'), (p) => ts.sys.readFile(p));
    const paths = (config.config as { compilerOptions: { paths: Record<string, string[]> } }).compilerOptions
      .paths;
    const want = Object.fromEntries(entries.map((e) => [e.specifier, [`./${relative(ROOT, e.source)}`]]));
    assert.deepEqual(paths, want);
  });

  test('what import() gives is what the compiler calls runtime names', async () => {
    for (const e of entries) {
      const mod = (await import(pathToFileURL(e.source).href)) as Record<string, unknown>;
      const names = Object.keys(mod).sort();
      const surface = surfaces.get(e.specifier);
      assert.ok(surface);
      assert.deepEqual(
        names,
        surface.runtime.map((x) => x.split(' ')[1]).sort(),
        `${e.specifier}: runtime exports`,
      );
    }
  });

  test(`the main entry is the front door: at most ${MAIN_ENTRY_BUDGET} runtime names`, () => {
    const main = surfaces.get(pkg.name);
    assert.ok(main);
    assert.ok(
      main.runtime.length <= MAIN_ENTRY_BUDGET,
      `${pkg.name} exports ${main.runtime.length} runtime names; put building blocks behind a subpath (tokenward/oauth, tokenward/stores, tokenward/config)`,
    );
  });

  test('examples and documentation import tokenward only through its entry points', () => {
    const specifiers = new Set(entries.map((e) => e.specifier));
    const sources = [
      ...readdirSync(join(ROOT, 'examples'))
        .filter((f) => f.endsWith('.ts'))
        .map((f) => ({ where: `examples/${f}`, code: readFileSync(join(ROOT, 'examples', f), 'utf8') })),
      // A block marked `doc-test: skip` says why it is not user code (e.g. a sketch of a module inside src/).
      ...docBlocks('ts')
        .filter((b) => b.directive?.kind !== 'skip')
        .map((b) => ({ where: where(b), code: b.code })),
    ];
    assert.ok(sources.length >= 15, `found ${sources.length} examples and snippets`);
    const bad: string[] = [];
    for (const s of sources) {
      for (const m of s.code.matchAll(/\b(?:from|import)\s*\(?\s*'([^']+)'/g)) {
        const spec = m[1] ?? '';
        const ok = spec.startsWith('tokenward')
          ? specifiers.has(spec)
          : !spec.startsWith('.') || /^\.\/[^/]+$/.test(spec);
        if (!ok) bad.push(`${s.where}: '${spec}'`);
      }
    }
    assert.deepEqual(
      bad,
      [],
      'use the package entry points (tokenward, tokenward/oauth, …), not paths into src/',
    );
  });

  test('the surface matches exports.snapshot.json', () => {
    const actual: Snapshot = Object.fromEntries(surfaces);
    if (UPDATE) {
      writeFileSync(SNAPSHOT, `${JSON.stringify(actual, null, 2)}\n`);
      return;
    }
    assert.ok(
      existsSync(SNAPSHOT),
      'no snapshot yet: run UPDATE_API_SNAPSHOT=1 node scripts/test.mjs public-api',
    );
    const expected = JSON.parse(readFileSync(SNAPSHOT, 'utf8')) as Snapshot;
    const diff: string[] = [];
    for (const name of new Set([...Object.keys(expected), ...Object.keys(actual)])) {
      const want = expected[name];
      const have = actual[name];
      if (want === undefined) diff.push(`+ entry point ${name}`);
      else if (have === undefined) diff.push(`- entry point ${name}`);
      else {
        const lines = [
          ...lineDiff('runtime', want.runtime, have.runtime),
          ...lineDiff('type', want.types, have.types),
        ];
        if (lines.length > 0) diff.push(`${name}:`, ...lines);
      }
    }
    assert.ok(
      diff.length === 0,
      `the public API changed (+ added, - removed):\n${diff.join('\n')}\n` +
        'If that is intended, regenerate the snapshot and commit it with the change:\n' +
        '  UPDATE_API_SNAPSHOT=1 node scripts/test.mjs public-api',
    );
  });
});
