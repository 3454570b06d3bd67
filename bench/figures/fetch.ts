/**
 * Figure 5 — `authFetch` (src/fetch, `createAuthFetch(manager, { origins })`) on a warm cache against
 * plain `fetch` to the same loopback API. The fetch module is imported dynamically from dist/: when it
 * has not been built (it is being written), the figure says so and the run goes on.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeAll, createTokenManager } from '../../src/front-door.js';
import type { TokenManager } from '../../src/manager/token-manager.js';
import { startTokenServer } from '../../test/helpers/token-server.js';
import {
  type CompareOptions,
  compare,
  describeCompare,
  type FigureResult,
  fmtMs,
  fmtOps,
  fmtRatio,
  importOptional,
  roundRatio,
  runFigure,
} from '../lib/harness.js';

const ID = '5-fetch';
const TITLE = '`authFetch` on a warm cache';
const OPTS: CompareOptions = { rounds: 40, timeMs: 40, warmupMs: 200, iterations: 5 };

/** The shape the bench needs of src/fetch/index.ts (the same one src/cli/lazy.ts uses). */
interface FetchModule {
  createAuthFetch(
    source: TokenManager,
    options: { origins: string[] },
  ): (input: string | URL, init?: RequestInit) => Promise<Response>;
}

await runFigure(ID, TITLE, async (): Promise<FigureResult[]> => {
  const mod = await importOptional<FetchModule>('fetch/index.js');
  if (mod === undefined || typeof mod.createAuthFetch !== 'function') {
    return [
      {
        id: ID,
        title: TITLE,
        method: '',
        columns: [],
        rows: [],
        notes: [],
        headline: [],
        skipped:
          mod === undefined
            ? 'not available — dist/fetch/index.js is not built (src/fetch/index.ts has not landed yet)'
            : 'not available — dist/fetch/index.js does not export createAuthFetch',
      },
    ];
  }

  // The API: answers 200 with a small JSON body, counts requests with and without a bearer token.
  const seen = { withToken: 0, without: 0 };
  const api = createServer((req, res) => {
    if (/^Bearer .+/.test(req.headers.authorization ?? '')) seen.withToken++;
    else seen.without++;
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"items":[1,2,3],"ok":true}');
    });
  });
  api.listen(0, '127.0.0.1');
  await once(api, 'listening');
  const apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}/v1/items`;
  const tokens = await startTokenServer({ lifetime: 3600, latencyMs: 0, issueRefreshTokens: false });
  try {
    const manager = await createTokenManager(
      {
        name: 'bench',
        token_url: tokens.tokenUrl,
        client_id: 'bench-fetch',
        client_secret: 'bench-fetch-secret',
        store: 'memory',
        api_base_url: new URL(apiUrl).origin,
      },
      { onWarning: () => {} },
    );
    const token = await manager.getToken();
    const authFetch = mod.createAuthFetch(manager, { origins: [new URL(apiUrl).origin] });
    const header = { authorization: `Bearer ${token.accessToken}` };
    const drain = async (res: Response) => {
      if (res.status !== 200) throw new Error(`API answered ${res.status}`);
      await res.arrayBuffer();
    };
    const tokenRequestsBefore = tokens.counts.total;
    const results = await compare(
      [
        { name: 'plain', fn: async () => drain(await fetch(apiUrl)) },
        { name: 'header', fn: async () => drain(await fetch(apiUrl, { headers: header })) },
        { name: 'auth', fn: async () => drain(await authFetch(apiUrl)) },
      ],
      OPTS,
    );
    const tokenRequests = tokens.counts.total - tokenRequestsBefore;
    const by = new Map(results.map((r) => [r.name, r]));
    const plain = by.get('plain')!;
    const hdr = by.get('header')!;
    const auth = by.get('auth')!;
    const label: Record<string, string> = {
      plain: 'plain `fetch(url)` (no token)',
      header: '`fetch(url, { headers: { authorization } })` (token fetched beforehand)',
      auth: '`authFetch(url)` (createAuthFetch over a warm manager)',
    };
    return [
      {
        id: ID,
        title: TITLE,
        method:
          'GET of a small JSON document from a loopback API server started by the bench, body read each time. ' +
          `\`authFetch\` wraps a TokenManager whose token is already cached (memory store). ${describeCompare(OPTS)}`,
        columns: ['client', 'median per request', 'requests/s', '× plain fetch', '× fetch + header'],
        rows: results.map((r) => [
          label[r.name] ?? r.name,
          fmtMs(r.medianMs),
          fmtOps(1000 / r.medianMs),
          fmtRatio(roundRatio(r, plain)),
          fmtRatio(roundRatio(r, hdr)),
        ]),
        notes: [
          `Token requests while measuring: ${tokenRequests}; API requests carrying a bearer token: ` +
            `${seen.withToken}, without: ${seen.without}.`,
          `authFetch costs ${fmtRatio(roundRatio(auth, hdr))} a \`fetch\` with a hand-added header ` +
            `(~${fmtMs(Math.max(0, (roundRatio(auth, hdr) - 1) * hdr.medianMs))} per request): the cached ` +
            '`getToken()` (figure 1), the origin check (`OriginScope.allowsUrl`), a `Headers` object built per ' +
            "call, and `redirect: 'manual'` — it follows redirects itself, so that the token is not carried to " +
            'another origin.',
        ],
        headline: [
          `\`authFetch\` on a warm cache: ${fmtRatio(roundRatio(auth, plain))} plain \`fetch\`, ` +
            `${fmtRatio(roundRatio(auth, hdr))} \`fetch\` with a hand-added header.`,
        ],
      },
    ];
  } finally {
    await closeAll();
    await tokens.close();
    api.closeAllConnections();
    api.close();
  }
});
