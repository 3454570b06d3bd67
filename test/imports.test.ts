/**
 * The shape of `src/`'s import graph: no import cycle, and the provider registry (with every
 * descriptor) loads no token-client code.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { importCycles, importGraph, staticClosure } from './helpers/imports.js';

const graph = importGraph(fileURLToPath(new URL('../src', import.meta.url)));

/** A descriptor's `load()` imports its own client module, which imports the descriptor: by design. */
const isLoadEdge = (from: string, to: string) =>
  from.endsWith('.descriptor.ts') && to === from.replace(/\.descriptor\.ts$/, '.ts');

describe('src/ import graph', () => {
  it('reads the modules it should', () => {
    assert.ok(graph.size > 100, `only ${graph.size} modules`);
    assert.deepEqual(graph.get('providers/oauth2.descriptor.ts')?.dynamic, ['providers/oauth2.ts']);
    assert.ok(graph.get('providers/registry.ts')?.static.includes('providers/rdp.descriptor.ts'));
  });

  it('has no import cycle, static or dynamic (but for a descriptor loading its client module)', () => {
    const cycles = importCycles(graph, (m, i) => [
      ...new Set([...i.static, ...i.dynamic.filter((to) => !isLoadEdge(m, to))]),
    ]);
    assert.deepEqual(
      cycles.map((c) => c.join(' -> ')),
      [],
    );
  });

  it('finds a cycle when there is one (the check itself works)', () => {
    const g = new Map([
      ['a.ts', { static: ['b.ts'], dynamic: [], packages: [] }],
      ['b.ts', { static: [], dynamic: ['a.ts'], packages: [] }],
    ]);
    assert.deepEqual(
      importCycles(g, (_, i) => [...i.static, ...i.dynamic]),
      [['a.ts', 'b.ts', 'a.ts']],
    );
  });

  it('the provider registry and its descriptors load no grant, HTTP, client-auth, JOSE or client code', () => {
    const loaded = staticClosure(graph, 'providers/registry.ts');
    assert.ok(loaded.has('providers/cylance.descriptor.ts'));
    const heavy = [...loaded].filter(
      (m) =>
        /^(grants|http|auth|manager|stores|fetch)\//.test(m) ||
        m === 'client.ts' ||
        (m.startsWith('providers/') &&
          !/\.(descriptor|keys)\.ts$|\/(descriptor|registry|values)\.ts$/.test(m)),
    );
    assert.deepEqual(heavy, []);
    const packages = new Set([...loaded].flatMap((m) => graph.get(m)?.packages ?? []));
    assert.deepEqual([...packages].sort(), ['node:crypto', 'valibot']);
  });
});
