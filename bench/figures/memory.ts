/**
 * Figure 6 — memory held by 100,000 cached tokens (~900-byte JWT-shaped access tokens, one per tenant):
 * a bare Map (the floor), the MemoryStore with what a TokenManager writes, the same with the redaction
 * registry as built, and one TokenManager per tenant. Each variant runs in its own `--expose-gc` process.
 */
import { type FigureResult, fmtBytes, fmtRatio, runFigure } from '../lib/harness.js';
import { startWorker } from '../lib/proc.js';

const ID = '6-memory';
const TITLE = 'Memory: 100,000 cached tokens';
const COUNT = 100_000;

interface Measured {
  variant: string;
  count: number;
  payloadBytes: number;
  rss: number;
  heapUsed: number;
  external: number;
}

const VARIANTS: Array<{ name: string; label: string }> = [
  { name: 'map', label: 'floor: `Map<key, { accessToken, expiresAt }>`' },
  { name: 'store', label: 'tokenward `MemoryStore`, entries as the manager writes them' },
  { name: 'store-registry', label: '… with the redaction registry as built (every token registered)' },
  { name: 'managers', label: 'one `TokenManager` per tenant over one shared `MemoryStore`' },
];

async function measure(variant: string): Promise<Measured> {
  const w = startWorker('children/memory', [variant, String(COUNT)], process.env, ['--expose-gc']);
  const line = await w.waitFor((l) => l.startsWith('{'));
  await w.exited;
  return JSON.parse(line) as Measured;
}

await runFigure(ID, TITLE, async (): Promise<FigureResult[]> => {
  const results: Measured[] = [];
  for (const v of VARIANTS) {
    process.stderr.write(`memory: ${v.name}...\n`);
    results.push(await measure(v.name));
  }
  const floor = results[0]!;
  const per = (x: number) => x / COUNT;
  const rows = results.map((r, i) => [
    VARIANTS[i]!.label,
    fmtBytes(r.rss),
    fmtBytes(r.heapUsed),
    `${per(r.heapUsed).toFixed(0)} B`,
    `${per(r.rss).toFixed(0)} B`,
    fmtRatio(r.heapUsed / floor.heapUsed),
  ]);
  const avgToken = floor.payloadBytes / COUNT;
  const store = results[1]!;
  const withRegistry = results[2]!;
  const managers = results[3]!;
  const registryPer = per(withRegistry.heapUsed - store.heapUsed);
  return [
    {
      id: ID,
      title: TITLE,
      method:
        `${COUNT.toLocaleString('en')} tenants, each with its own cache key (\`cacheKey(profile, identity)\`) and a unique ` +
        `JWT-shaped access token of ${avgToken.toFixed(0)} bytes on average (RS256 header, multi-tenant claims, ` +
        '256-byte signature), parsed from a JSON response text as a server sends it. Each variant runs in its own ' +
        'Node process with `--expose-gc`. Heap: what the cache retains — V8 heap used with the cache minus heap ' +
        'used after dropping it, both read after repeated `gc()`. RSS: growth of the resident set from before ' +
        'the cache was built to after (RSS is what the OS sees; it also carries allocator slack). The response ' +
        'texts exist at every reading, so they are not counted.',
      columns: [
        'what holds the tokens',
        'RSS growth',
        'heap retained',
        'heap per token',
        'RSS per token',
        'heap × floor',
      ],
      rows,
      notes: [
        `The floor is ${per(floor.heapUsed).toFixed(0)} bytes per token: the ~${avgToken.toFixed(0)}-byte token string ` +
          '(one byte per character: V8 keeps ASCII strings one-byte, plus a 16-byte header), a small object and ' +
          'the Map slot. The 67-character cache keys are computed before the first reading and not counted in ' +
          'any row.',
        `The MemoryStore costs ${fmtRatio(store.heapUsed / floor.heapUsed)} the floor ` +
          `(+${per(store.heapUsed - floor.heapUsed).toFixed(0)} B per token) in small objects, none of them large: ` +
          'the entry envelope, the parsed `Token` (nine fields, two of them heap-allocated doubles), **its `raw` ' +
          'response object** (`token.raw`: the whole parsed answer, with its own copy of the `scope` string), ' +
          'the identity object (here four strings per tenant) and the profile-name string. The token string ' +
          'itself is shared, not copied.',
        `The redaction registry adds ${Math.max(0, registryPer).toFixed(0)} bytes per token (${fmtRatio(withRegistry.heapUsed / floor.heapUsed)} ` +
          'the floor in all): `parseTokenResponse` registers every access token with `registerToken()`, whose ' +
          'tier keeps only the most recent 256 issued tokens (src/redact.ts), so the registry is a constant ' +
          '~0.5 MB at most, whatever the number of tenants or refreshes. (An earlier build kept every token and ' +
          'a base64 copy forever: ~1.4 KB per token received.)',
        `One TokenManager per tenant: ${per(managers.heapUsed - store.heapUsed).toFixed(0)} bytes per manager ` +
          'over the store alone (the manager, its token client and closures, and the token held in memory — the ' +
          'same object as the store entry).',
      ],
      headline: [
        `Memory: ${per(store.heapUsed).toFixed(0)} B of heap per cached ~${avgToken.toFixed(0)}-byte token in the ` +
          `MemoryStore (${fmtRatio(store.heapUsed / floor.heapUsed)} a bare Map), ` +
          `${per(withRegistry.heapUsed).toFixed(0)} B (${fmtRatio(withRegistry.heapUsed / floor.heapUsed)}) with the ` +
          'redaction registry as built.',
      ],
    },
  ];
});
