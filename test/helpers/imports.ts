/**
 * The import graph of `src/`, read from the source text: for each module, the relative modules it
 * imports statically (`import … from`, `export … from`, `import '…'`; `import type` and `export type`
 * are left out, as the compiler erases them) and dynamically (`import('…')`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** One module's imports, as paths relative to the source root (`providers/oauth2.ts`). */
export interface ModuleImports {
  static: string[];
  dynamic: string[];
  /** Bare specifiers (packages) imported statically: `valibot`, `jose`, `node:crypto`. */
  packages: string[];
}

const STATIC = /(?:^|\n)\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?'([^']+)'/g;
const DYNAMIC = /\bimport\(\s*'([^']+)'\s*\)/g;

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The import graph of every `.ts` module under `root`. */
export function importGraph(root: string): Map<string, ModuleImports> {
  const graph = new Map<string, ModuleImports>();
  for (const file of filesUnder(root)) {
    const text = readFileSync(file, 'utf8');
    const local = (spec: string) =>
      relative(root, resolve(dirname(file), spec))
        .replace(/\.js$/, '.ts')
        .replaceAll('\\', '/');
    const m: ModuleImports = { static: [], dynamic: [], packages: [] };
    for (const [, spec = ''] of text.matchAll(STATIC)) {
      if (spec.startsWith('.')) m.static.push(local(spec));
      else m.packages.push(spec);
    }
    for (const [, spec = ''] of text.matchAll(DYNAMIC)) if (spec.startsWith('.')) m.dynamic.push(local(spec));
    graph.set(relative(root, file).replaceAll('\\', '/'), m);
  }
  return graph;
}

/** Every module `start` loads through static imports (itself included). */
export function staticClosure(graph: Map<string, ModuleImports>, start: string): Set<string> {
  const seen = new Set<string>();
  const visit = (m: string) => {
    if (seen.has(m)) return;
    seen.add(m);
    for (const n of graph.get(m)?.static ?? []) visit(n);
  };
  visit(start);
  return seen;
}

/**
 * The import cycles of a graph (each as the list of modules around it), following the edges
 * `edges(module)` gives. Depth-first; each cycle is reported once, from the module where it was found.
 */
export function importCycles(
  graph: Map<string, ModuleImports>,
  edges: (module: string, imports: ModuleImports) => string[],
): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (m: string) => {
    state.set(m, 'open');
    stack.push(m);
    const imports = graph.get(m);
    for (const n of imports === undefined ? [] : edges(m, imports)) {
      if (state.get(n) === 'open') cycles.push([...stack.slice(stack.indexOf(n)), n]);
      else if (state.get(n) === undefined && graph.has(n)) visit(n);
    }
    stack.pop();
    state.set(m, 'done');
  };
  for (const m of [...graph.keys()].sort()) if (state.get(m) === undefined) visit(m);
  return cycles;
}
