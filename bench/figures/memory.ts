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

const VARIANTS: Array<{ name: string; label: string; row: boolean }> = [
  { name: 'map', label: 'floor: `Map<key, { accessToken, expiresAt }>`', row: true },
  { name: 'store', label: 'tokenward `MemoryStore`, entries as the manager writes them', row: true },
  {
    name: 'store-registry',
    label: '… with the redaction registry as built (every token registered)',
    row: true,
  },
  {
    name: 'store-own-identity',
    label: '… each entry with an identity object and profile name of its own (counted)',
    row: true,
  },
  { name: 'managers', label: 'one `TokenManager` per tenant over one shared `MemoryStore`', row: true },
  { name: 'abort-controllers', label: 'one `AbortController` per tenant, nothing else', row: false },
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
  const rows = results.flatMap((r, i) =>
    VARIANTS[i]!.row
      ? [
          [
            VARIANTS[i]!.label,
            fmtBytes(r.rss),
            fmtBytes(r.heapUsed),
            `${per(r.heapUsed).toFixed(0)} B`,
            `${per(r.rss).toFixed(0)} B`,
            fmtRatio(r.heapUsed / floor.heapUsed),
          ],
        ]
      : [],
  );
  const avgToken = floor.payloadBytes / COUNT;
  const store = results[1]!;
  const withRegistry = results[2]!;
  const ownIdentity = results[3]!;
  const managers = results[4]!;
  const controllers = results[5]!;
  const registryPer = per(withRegistry.heapUsed - store.heapUsed);
  return [
    {
      id: ID,
      title: TITLE,
      method:
        `${COUNT.toLocaleString('en')} tenants, each with its own cache key (\`storeKey(profile, identity)\`) and a unique ` +
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
          "the Map slot. The 67-character cache keys, and each tenant's identity object and profile name (its " +
          'configuration, which its manager and token client hold whether or not anything is cached), are built ' +
          'before the first reading and not counted, except in the row that says so.',
        `The MemoryStore costs ${fmtRatio(store.heapUsed / floor.heapUsed)} the floor ` +
          `(+${per(store.heapUsed - floor.heapUsed).toFixed(0)} B per token): one flat record per entry ` +
          '(src/stores/memory.ts) — the access token and its expiry inline, the lifetime and the write time as ' +
          'small-integer offsets (V8 keeps them unboxed), a reference to what entries share across tenants (token ' +
          'type, expiry source, scope and the `raw` flags: one interned record per combination), the identity ' +
          'object and the profile name. `raw` is not kept as an object: its standard fields are the ' +
          "token's own, only the others are kept, and `get()` rebuilds an equal entry (docs/stores.md). The token " +
          'string itself is shared, not copied. (Kept as written — the entry, the `Token` and its `raw` object — ' +
          'it was 1.45× at commit f269906; with the type, expiry source, scope and flags in each record, 1.06× at ' +
          'commit 114db12.)',
        `Counting an identity object (four strings) and a profile name built for each entry, as this figure did ` +
          `before: ${fmtRatio(ownIdentity.heapUsed / floor.heapUsed)} the floor ` +
          `(+${per(ownIdentity.heapUsed - store.heapUsed).toFixed(0)} B per token over the store alone).`,
        `The redaction registry adds ${Math.max(0, registryPer).toFixed(0)} bytes per token (${fmtRatio(withRegistry.heapUsed / floor.heapUsed)} ` +
          'the floor in all): `parseTokenResponse` registers every access token with `registerToken()`, whose ' +
          'tier keeps only the most recent 256 issued tokens (src/redact.ts), so the registry is a constant ' +
          '~0.5 MB at most, whatever the number of tenants or refreshes.',
        `One TokenManager per tenant: ${fmtRatio(managers.heapUsed / floor.heapUsed)} the floor, ` +
          `${per(managers.heapUsed - store.heapUsed).toFixed(0)} bytes per manager over the store alone — the ` +
          "manager's memory, not the store's. A heap snapshot of 10,000 such managers puts it at: the manager " +
          'object (120 B: eleven fields and the class brand), the token it holds (~104 B: six fields and its two ' +
          'times, which V8 boxes as doubles) and the token client this figure builds per tenant (an object, its ' +
          "`fetchToken` closure and the closure's context, ~150 B). Since commit 114db12 (1.51×, 505 B per " +
          'manager): the manager keeps what a token request in progress needs (the `AbortController` for ' +
          '`close()`, ' +
          `${per(controllers.heapUsed).toFixed(0)} B per controller measured alone in this run, and the build of a ` +
          'lazy client) in an object made with the request and dropped after it, and its rarely set state (a ' +
          'rejected token, the last error, the last eager attempt, warnings given) in one object made when first ' +
          'set; the store and DPoP signer are in the settings object that managers configured alike share; and ' +
          "the token's `raw` is kept lazily: a response with only the fields the token carries is rebuilt on " +
          'read by an accessor instead of kept (~56 B; a response with vendor fields keeps its `raw`; ' +
          'docs/stores.md). At commit 181d6fa this row was 2.68× (1,802 B per manager).',
      ],
      headline: [
        `Memory: ${per(store.heapUsed).toFixed(0)} B of heap per cached ~${avgToken.toFixed(0)}-byte token in the ` +
          `MemoryStore (${fmtRatio(store.heapUsed / floor.heapUsed)} a bare Map), ` +
          `${per(withRegistry.heapUsed).toFixed(0)} B (${fmtRatio(withRegistry.heapUsed / floor.heapUsed)}) with the ` +
          `redaction registry as built; one TokenManager per tenant ${fmtRatio(managers.heapUsed / floor.heapUsed)}.`,
      ],
    },
  ];
});
