/**
 * Figure 2 — one client_credentials round trip (a new token every call) through tokenward, against raw
 * `fetch` with a hand-built form, openid-client v6 and simple-oauth2; on the loopback oidc-provider (a real
 * authorization server) and on a minimal loopback token endpoint (where the client's own cost shows most).
 */
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { ClientCredentials } from 'simple-oauth2';
import { createClientAuth } from '../../src/auth/index.js';
import { closeAll, createTokenManager } from '../../src/front-door.js';
import { clientCredentials } from '../../src/grants/client-credentials.js';
import { closeAgents } from '../../src/http/agent.js';
import { clearRegisteredSecrets } from '../../src/redact.js';
import { parseTokenResponse } from '../../src/token.js';
import { startOidcProvider } from '../../test/helpers/oidc-provider.js';
import { startTokenServer } from '../../test/helpers/token-server.js';
import {
  type CompareOptions,
  type CompareResult,
  compare,
  describeCompare,
  type FigureResult,
  fmtMs,
  fmtOps,
  fmtRatio,
  median,
  roundRatio,
  runFigure,
  stopwatch,
} from '../lib/harness.js';

const ID = '2-roundtrip';
const TITLE = 'Token round trip (client_credentials)';
const SCOPE = 'api:read';
const OPTS: CompareOptions = { rounds: 30, timeMs: 40, warmupMs: 200, iterations: 5 };

interface Target {
  label: string;
  issuer: string;
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  requests(): number;
}

/** RFC 6749 §2.3.1: the client id and secret are form-urlencoded before Basic encoding. */
function basicHeader(id: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

async function measure(t: Target): Promise<{ results: CompareResult[]; requests: number }> {
  const manager = await createTokenManager(
    {
      name: 'bench',
      token_url: t.tokenUrl,
      client_id: t.clientId,
      client_secret: t.clientSecret,
      scope: SCOPE,
      store: 'memory',
      retries: 0,
    },
    { onWarning: () => {} },
  );
  const grantCtx = {
    tokenUrl: t.tokenUrl,
    clientAuth: createClientAuth({ client_id: t.clientId, client_secret: t.clientSecret }),
    http: { retries: 0 },
  };
  const oidcConfig = new oidc.Configuration(
    { issuer: t.issuer, token_endpoint: t.tokenUrl },
    t.clientId,
    t.clientSecret,
    oidc.ClientSecretBasic(t.clientSecret),
  );
  oidc.allowInsecureRequests(oidcConfig);
  const so = new ClientCredentials({
    client: { id: t.clientId, secret: t.clientSecret },
    auth: { tokenHost: t.issuer, tokenPath: new URL(t.tokenUrl).pathname },
  });
  const authorization = basicHeader(t.clientId, t.clientSecret);
  const form = new URLSearchParams({ grant_type: 'client_credentials', scope: SCOPE }).toString();
  const check = (at: unknown) => {
    if (typeof at !== 'string' || at === '') throw new Error('no access_token');
  };
  const before = t.requests();
  const results = await compare(
    [
      {
        name: 'fetch',
        fn: async () => {
          const res = await fetch(t.tokenUrl, {
            method: 'POST',
            headers: {
              authorization,
              'content-type': 'application/x-www-form-urlencoded',
              accept: 'application/json',
            },
            body: form,
          });
          if (!res.ok) throw new Error(`token endpoint answered ${res.status}`);
          check(((await res.json()) as { access_token?: unknown }).access_token);
        },
      },
      {
        name: 'manager',
        fn: async () => {
          check((await manager.getToken({ force: true })).accessToken);
        },
      },
      {
        name: 'grant',
        fn: async () => {
          check((await clientCredentials(grantCtx, { scope: SCOPE })).accessToken);
        },
      },
      {
        name: 'openid',
        fn: async () => check((await oidc.clientCredentialsGrant(oidcConfig, { scope: SCOPE })).access_token),
      },
      { name: 'simple', fn: async () => check((await so.getToken({ scope: SCOPE })).token['access_token']) },
    ],
    OPTS,
  );
  const requests = t.requests() - before;
  await manager.close();
  return { results, requests };
}

/** Registry sizes (tokens already received by the process) for the growth table. */
const GROWTH = [0, 250, 1000, 2000];
const GROWTH_CALLS = 21;

/**
 * tokenward as built after the process has received `k` tokens: `k` token responses are parsed first
 * (`parseTokenResponse` registers each received access and refresh token for redaction).
 */
async function growth(t: Target): Promise<Array<{ k: number; medianMs: number }>> {
  const manager = await createTokenManager(
    {
      token_url: t.tokenUrl,
      client_id: t.clientId,
      client_secret: t.clientSecret,
      store: 'memory',
      retries: 0,
    },
    { onWarning: () => {} },
  );
  const out: Array<{ k: number; medianMs: number }> = [];
  for (let i = 0; i < 5; i++) await manager.getToken({ force: true }); // connection and code paths warm
  for (const k of GROWTH) {
    clearRegisteredSecrets();
    for (let i = 0; i < k; i++) {
      const id = randomBytes(12).toString('base64url');
      parseTokenResponse(
        { access_token: `at-${i}-${id}`, refresh_token: `rt-${i}-${id}`, expires_in: 300 },
        { url: t.tokenUrl },
      );
    }
    const times: number[] = [];
    for (let i = 0; i < GROWTH_CALLS; i++) {
      const elapsed = stopwatch();
      await manager.getToken({ force: true });
      times.push(elapsed());
    }
    out.push({ k, medianMs: median(times) });
  }
  clearRegisteredSecrets();
  await manager.close();
  return out;
}

const LABEL: Record<string, string> = {
  fetch: 'raw `fetch` + hand-built form and Basic header',
  manager: 'tokenward `manager.getToken({ force: true })` ¹',
  grant: 'tokenward `clientCredentials()` grant function (no manager) ¹',
  openid: 'openid-client v6 `clientCredentialsGrant`',
  simple: 'simple-oauth2 `ClientCredentials.getToken`',
};

await runFigure(ID, TITLE, async (): Promise<FigureResult[]> => {
  const provider = await startOidcProvider();
  const minimal = await startTokenServer({ lifetime: 3600, latencyMs: 0, issueRefreshTokens: false });
  try {
    const targets: Target[] = [
      {
        label: 'oidc-provider',
        issuer: provider.issuer,
        tokenUrl: provider.tokenUrl,
        clientId: provider.clients.basic.clientId,
        clientSecret: provider.clients.basic.clientSecret,
        requests: () => provider.counts.token,
      },
      {
        label: 'minimal endpoint',
        issuer: minimal.url,
        tokenUrl: minimal.tokenUrl,
        clientId: 'bench-client',
        clientSecret: 'bench-secret-value',
        requests: () => minimal.counts.total,
      },
    ];
    const rows: string[][] = [];
    const byTarget: Record<string, Map<string, CompareResult>> = {};
    let requests = 0;
    for (const t of targets) {
      const m = await measure(t);
      requests += m.requests;
      const by = new Map(m.results.map((r) => [r.name, r]));
      byTarget[t.label] = by;
      const base = by.get('fetch')!;
      for (const r of m.results) {
        rows.push([
          t.label,
          LABEL[r.name] ?? r.name,
          fmtMs(r.medianMs),
          fmtOps(1000 / r.medianMs),
          fmtRatio(roundRatio(r, base)),
          String(r.samples),
        ]);
      }
    }
    const op = byTarget['oidc-provider']!;
    const mini = byTarget['minimal endpoint']!;
    const ratio = (by: Map<string, CompareResult>, a: string, b: string) =>
      roundRatio(by.get(a)!, by.get(b)!);
    const twOp = ratio(op, 'manager', 'fetch');
    const twMini = ratio(mini, 'manager', 'fetch');
    const grantMini = ratio(mini, 'grant', 'fetch');
    const managerOverMini = mini.get('manager')!.medianMs - mini.get('grant')!.medianMs;

    process.stderr.write('registry growth...\n');
    const grown = await growth(targets[1]!);
    const zero = grown[0]!.medianMs;
    const last = grown[grown.length - 1]!;
    return [
      {
        id: ID,
        title: TITLE,
        method:
          'Every call obtains a new token over a kept-alive loopback connection (client_credentials, ' +
          '`client_secret_basic`, `scope=api:read`) and checks it has an `access_token`. Two servers, both in the ' +
          "bench's process: panva's oidc-provider (as test/helpers/oidc-provider.ts starts it) and the minimal " +
          'token endpoint of test/helpers/token-server.ts (no latency, no checks), where the client side is most ' +
          `of the time. ${describeCompare(OPTS)} Ratios are against raw \`fetch\` on the same server.`,
        columns: ['server', 'client', 'median per token', 'tokens/s', '× raw fetch', 'samples'],
        rows,
        notes: [
          '¹ As built: every token received is registered for redaction (a bounded tier of recent tokens); ' +
            'the next table shows that the cost does not grow with the tokens a process has received.',
          `Token requests made: ${requests} (one per call, nothing served from a cache).`,
          `On oidc-provider the server's own work (Koa, client authentication, issuing and storing an opaque token) ` +
            `is a large part of each round trip (tokenward ${fmtRatio(twOp)} raw fetch). The minimal endpoint ` +
            `exposes client-side cost: tokenward ${fmtRatio(twMini)}, of which the grant function alone is ` +
            `${fmtRatio(grantMini)}; the manager adds ${fmtMs(Math.max(0, managerOverMini))} (single flight, ` +
            'store write).',
          '`node --cpu-prof` of 4,000 round trips on the minimal endpoint is flat (no tokenward function ' +
            'above ~2% self time): undici 7 `request()` with an `AbortSignal` and a timer per attempt, the body ' +
            'read as a stream and strict JSON parsing; the request body is redacted only when a trace hook ' +
            '(`onExchange`, `--verbose`) is set. Raw `fetch`, for its part, pays for WHATWG `Request`/`Response`/`Headers` objects and ' +
            "web streams on every call, which undici's `request()` does not.",
        ],
        headline: [
          `Round trip: tokenward ${fmtRatio(twOp)} raw \`fetch\` on oidc-provider, ${fmtRatio(twMini)} on a minimal ` +
            `endpoint; openid-client ${fmtRatio(ratio(op, 'openid', 'fetch'))} / ` +
            `${fmtRatio(ratio(mini, 'openid', 'fetch'))}, simple-oauth2 ${fmtRatio(ratio(op, 'simple', 'fetch'))} / ` +
            `${fmtRatio(ratio(mini, 'simple', 'fetch'))}.`,
          `A token request costs the same however many tokens the process has received: ` +
            `${grown.map((g) => `${fmtMs(g.medianMs)} after ${g.k.toLocaleString('en')}`).join(', ')} ` +
            `(${fmtRatio(last.medianMs / zero)} a fresh process at ${last.k.toLocaleString('en')}).`,
        ],
      },
      {
        id: `${ID}-growth`,
        title: `${TITLE}: cost as the process ages`,
        method:
          `\`manager.getToken({ force: true })\` against the minimal endpoint, median of ${GROWTH_CALLS} calls, after ` +
          'parsing as many token responses as a process that had received that many tokens ' +
          '(`parseTokenResponse` registers every access and refresh token it parses). The ' +
          '0 row is the same method with an empty registry (sequential calls, so not directly comparable with ' +
          'the tinybench table above).',
        columns: ['tokens already received', 'median per token', '× fresh process'],
        rows: grown.map((g) => [g.k.toLocaleString('en'), fmtMs(g.medianMs), fmtRatio(g.medianMs / zero)]),
        notes: [
          'Why it stays flat: issued tokens go to a bounded tier of the redaction registry (the most recent ' +
            '256, src/redact.ts `registerToken`), long-lived secrets to a small permanent one, and the request body ' +
            'is redacted only for a trace hook. An earlier build registered every token forever and redacted every ' +
            'request body, so each request was O(tokens ever received): 36 ms after 1,000 tokens, 112 ms after ' +
            '2,000 (this figure found it).',
        ],
        headline: [],
      },
    ];
  } finally {
    await closeAll();
    await closeAgents();
    await provider.close();
    await minimal.close();
  }
});
