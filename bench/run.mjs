#!/usr/bin/env node
/**
 * `npm run bench` (= `npm run build && node bench/run.mjs`).
 *
 * Copies the built dist/ to bench/.work/dist/ (a snapshot: a rebuild by someone else during the run
 * cannot tear it), bundles the TypeScript sources of bench/ with esbuild into bench/.work/ — rewriting
 * every import of `src/…` to that snapshot of `dist/…`, so the benchmarks measure the compiled package —
 * then runs bench/.work/main.mjs, which runs each figure in its own process and writes bench/RESULTS.md.
 *
 * Usage: node bench/run.mjs [figure…]   (figures: cached roundtrip herd cli fetch memory, or 1–6)
 */
import { spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const benchDir = dirname(fileURLToPath(import.meta.url));
const root = resolve(benchDir, '..');
const srcDir = join(root, 'src');
const builtDir = join(root, 'dist');
const workDir = join(benchDir, '.work');
const distDir = join(workDir, 'dist');

if (!existsSync(join(builtDir, 'index.js'))) {
  process.stderr.write('bench: dist/ is missing; run `npm run bench` (it builds first) or `npm run build`\n');
  process.exit(1);
}
rmSync(workDir, { recursive: true, force: true });
cpSync(builtDir, distDir, { recursive: true });
// The CLI reads ../../package.json (--version), and "type": "module" must apply to the copied .js files.
copyFileSync(join(root, 'package.json'), join(workDir, 'package.json'));

const entries = [join(benchDir, 'main.ts')];
for (const sub of ['figures', 'children']) {
  if (!existsSync(join(benchDir, sub))) continue;
  for (const f of readdirSync(join(benchDir, sub))) {
    if (f.endsWith('.ts')) entries.push(join(benchDir, sub, f));
  }
}

/** Redirects imports of `src/<x>.js` to the snapshot of `dist/<x>.js`, left external (loaded as built). */
const srcToDist = {
  name: 'src-to-dist',
  setup(build) {
    build.onResolve({ filter: /^\.\.?\// }, (args) => {
      const abs = resolve(args.resolveDir, args.path);
      if (!abs.startsWith(srcDir + sep)) return undefined;
      const target = join(distDir, relative(srcDir, abs));
      if (!existsSync(target)) {
        return {
          errors: [{ text: `dist/${relative(distDir, target)} is not built (import of ${args.path})` }],
        };
      }
      return { path: pathToFileURL(target).href, external: true };
    });
  },
};

const esbuild = await import('esbuild');
await esbuild.build({
  entryPoints: entries,
  outdir: workDir,
  outbase: benchDir,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
  plugins: [srcToDist],
});

const child = spawn(process.execPath, [join(workDir, 'main.mjs'), ...process.argv.slice(2)], {
  cwd: root,
  env: { ...process.env, TOKENWARD_BENCH_ROOT: root },
  stdio: 'inherit',
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
