/**
 * DPoP end to end: oidc-provider with its DPoP feature issues tokens bound to the profile's key (`token_type
 * DPoP`, `cnf.jkt`), and a loopback API verifies every proof with jose (see ./helpers.ts). Through
 * authFetch, the undici interceptor and axios; nonces from the token endpoint and from the API; the key
 * shared through one file store; bad input as typed errors, the earlier good token kept.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import axios from 'axios';
import { decodeJwt, decodeProtectedHeader, EmbeddedJWK, jwtVerify } from 'jose';
import { Agent, interceptors, request } from 'undici';
import { dpopKeyStoreKey } from '../../src/dpop/keys.js';
import { athOf } from '../../src/dpop/proof.js';
import { ConfigError, InvalidTokenResponseError, TokenEndpointError } from '../../src/errors.js';
import { attachAxios, createAuthFetch, tokenwardInterceptor } from '../../src/fetch/index.js';
import { createTokenManager } from '../../src/front-door.js';
import type { HttpExchange } from '../../src/http/types.js';
import type { TokenManager } from '../../src/manager/token-manager.js';
import { redactText } from '../../src/redact.js';
import { FileStore } from '../../src/stores/file.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { json, startLoopback } from '../helpers/loopback.js';
import { type DpopApi, type DpopProvider, startDpopApi, startDpopProvider } from './helpers.js';

let provider: DpopProvider;
let api: DpopApi;
const managers: TokenManager[] = [];

before(async () => {
  provider = await startDpopProvider({ requireNonce: true });
  api = await startDpopApi(provider);
});
after(async () => {
  for (const m of managers) await m.close();
  await api.close();
  await provider.close();
});

async function managerFor(
  extra: Record<string, unknown> = {},
  options: Parameters<typeof createTokenManager>[1] = {},
): Promise<TokenManager> {
  const m = await createTokenManager(
    {
      token_url: provider.tokenUrl,
      client_id: provider.client.clientId,
      client_secret: provider.client.clientSecret,
      scope: 'api:read',
      dpop: true,
      ...extra,
    },
    { store: new MemoryStore(), ...options },
  );
  managers.push(m);
  return m;
}

describe('token requests', () => {
  test('the token is DPoP-bound to the key (cnf.jkt), after one use_dpop_nonce from the token endpoint', async () => {
    const m = await managerFor();
    const before = { ...provider.counts };
    const token = await m.getToken();
    assert.equal(token.tokenType, 'DPoP');
    const claims = decodeJwt(token.accessToken) as { cnf?: { jkt?: string } };
    assert.equal(claims.cnf?.jkt, await m.dpop!.thumbprint());
    // The first request had no nonce: one challenge, one more request with the nonce.
    assert.equal(provider.counts.token - before.token, 2);
    assert.equal(provider.counts.nonceChallenges - before.nonceChallenges, 1);
    // The nonce is remembered: the next token request goes through at once.
    await m.getToken({ force: true });
    assert.equal(provider.counts.token - before.token, 3);
    assert.equal(provider.counts.nonceChallenges - before.nonceChallenges, 1);
  });

  for (const alg of ['PS256', 'EdDSA'] as const) {
    test(`dpop = "${alg}": a ${alg} key, accepted by the server`, async () => {
      const m = await managerFor({ dpop: alg });
      const token = await m.getToken();
      assert.equal(token.tokenType, 'DPoP');
      assert.equal((await m.dpop!.key()).alg, alg);
      assert.equal(
        (decodeJwt(token.accessToken) as { cnf?: { jkt?: string } }).cnf?.jkt,
        await m.dpop!.thumbprint(),
      );
    });
  }

  test('client_secret_jwt: the nonce attempt gets a new client assertion (its jti is not replayed)', async () => {
    const m = await managerFor({
      client_id: `${provider.client.clientId}-jwt`,
      client_secret: `${provider.client.clientSecret}${provider.client.clientSecret}`,
      auth_method: 'client_secret_jwt',
    });
    const before = { ...provider.counts };
    const token = await m.getToken();
    assert.equal(token.tokenType, 'DPoP');
    assert.equal(provider.counts.token - before.token, 2);
    assert.equal(provider.counts.nonceChallenges - before.nonceChallenges, 1);
  });

  test('an algorithm DPoP cannot use is a ConfigError naming dpop', async () => {
    for (const alg of ['HS256', 'none', 'ES257']) {
      await assert.rejects(
        managerFor({ dpop: alg }),
        (e: unknown) => e instanceof ConfigError && e.message.includes('dpop'),
      );
    }
  });

  test('dpop on a vendor preset is a ConfigError naming dpop', async () => {
    await assert.rejects(
      createTokenManager({ provider: 'rdp', client_id: 'x', client_secret: 'y', dpop: true } as never, {
        store: new MemoryStore(),
      }),
      (e: unknown) => e instanceof ConfigError && e.key === 'dpop',
    );
  });

  test('the proof never shows in the exchange trace nor in errors', async () => {
    const exchanges: HttpExchange[] = [];
    const m = await managerFor({}, { http: { onExchange: (x) => exchanges.push(x) } });
    await m.getToken();
    assert.ok(exchanges.length >= 1);
    for (const x of exchanges) {
      const shown = x.requestHeaders['dpop'] ?? x.requestHeaders['DPoP'];
      assert.ok(shown !== undefined && !shown.includes('eyJ'), `proof shown: ${shown}`);
    }
    const proof = await m.dpop!.proof({ method: 'GET', url: 'https://api.example/x' }, 'at');
    assert.ok(!redactText(`proof ${proof} and header DPoP: ${proof}`).includes(proof.slice(20)));
  });
});

describe('API requests', () => {
  test('authFetch: Authorization DPoP, a proof the API accepts; the API nonce once, then remembered', async () => {
    const m = await managerFor();
    api.requireNonce = true;
    api.verdicts.length = 0;
    try {
      const f = createAuthFetch(m, { origins: [api.url] });
      const r = await f(`${api.url}/items?page=2#frag`, { method: 'POST', body: 'x' });
      assert.equal(r.status, 200);
      assert.deepEqual(
        api.verdicts.map((v) => `${v.status} ${v.reason}`),
        ['401 nonce', '200 ok'],
      );
      const proof = api.verdicts[1]!.dpop!;
      const { payload } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt' });
      assert.equal(payload['htm'], 'POST');
      assert.equal(payload['htu'], `${api.url}/items`);
      assert.equal(payload['ath'], athOf((await m.getToken()).accessToken));
      assert.equal(payload['nonce'], api.nonce);
      assert.equal((decodeProtectedHeader(proof).jwk as Record<string, unknown>)['d'], undefined); // never the private part
      const r2 = await f(`${api.url}/again`);
      assert.equal(r2.status, 200);
      assert.equal(api.verdicts.length, 3); // the nonce went at once
    } finally {
      api.requireNonce = false;
    }
  });

  test('a nonce rotated on a 200 answer is used by the next request at once', async () => {
    const m = await managerFor();
    api.requireNonce = true;
    api.rotateOnSuccess = true;
    api.verdicts.length = 0;
    try {
      const f = createAuthFetch(m, { origins: [api.url] });
      for (const path of ['/a', '/b', '/c']) assert.equal((await f(`${api.url}${path}`)).status, 200);
      assert.deepEqual(
        api.verdicts.map((v) => `${v.path} ${v.status}`),
        ['/a 401', '/a 200', '/b 200', '/c 200'],
      );
    } finally {
      api.requireNonce = false;
      api.rotateOnSuccess = false;
    }
  });

  test('undici interceptor and axios send the same proofs; the API nonce once, then remembered for both', async () => {
    const m = await managerFor();
    api.verdicts.length = 0;
    api.requireNonce = true;
    const agent = new Agent().compose(
      interceptors.redirect({ maxRedirections: 0 }),
      tokenwardInterceptor(m, { origins: [api.url] }),
    );
    try {
      const r = await request(`${api.url}/undici?q=1`, { dispatcher: agent });
      await r.body.text();
      assert.equal(r.statusCode, 200);
      const client = axios.create();
      attachAxios(client, m, { origins: [api.url] });
      const a = await client.get(`${api.url}/axios`);
      assert.equal(a.status, 200);
      assert.deepEqual(
        api.verdicts.map((v) => `${v.path} ${v.status} ${v.reason}`),
        ['/undici?q=1 401 nonce', '/undici?q=1 200 ok', '/axios 200 ok'],
      );
      for (const v of api.verdicts) assert.match(v.authorization ?? '', /^DPoP /);
    } finally {
      api.requireNonce = false;
      await agent.close();
    }
  });

  test('a proof by another key is refused (jkt), and a replayed proof is refused (jti)', async () => {
    const m = await managerFor();
    const other = await managerFor();
    const token = await m.getToken();
    api.verdicts.length = 0;
    const target = { method: 'GET', url: `${api.url}/x` };
    const wrong = await other.dpop!.proof(target, token.accessToken);
    const send = (proof: string) =>
      fetch(target.url, { headers: { authorization: `DPoP ${token.accessToken}`, dpop: proof } });
    assert.equal((await send(wrong)).status, 401);
    // The right key, but a proof for another token (its ath).
    assert.equal((await send(await m.dpop!.proof(target, `${token.accessToken}x`))).status, 401);
    const right = await m.dpop!.proof(target, token.accessToken);
    assert.equal((await send(right)).status, 200);
    assert.equal((await send(right)).status, 401);
    assert.deepEqual(
      api.verdicts.map((v) => v.reason),
      ['jkt', 'ath', 'ok', 'jti replayed'],
    );
  });
});

describe('the key in the store', () => {
  test('two managers sharing one file store (two processes) use one key, made once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-dpop-'));
    const key = randomBytes(32);
    try {
      const stores = [new FileStore({ dir, key }), new FileStore({ dir, key })];
      const [a, b] = await Promise.all(stores.map((store) => managerFor({ name: 'shared' }, { store })));
      const [ta, tb] = await Promise.all([a!.dpop!.thumbprint(), b!.dpop!.thumbprint()]);
      assert.equal(ta, tb);
      const entries = (await stores[0]!.list()).filter((e) => e.dpopKey !== undefined);
      assert.equal(entries.length, 1);
      assert.equal(entries[0]!.key, dpopKeyStoreKey(a!.key, 'ES256'));
      // A token one of them got is usable with the other's proofs.
      const token = await a!.getToken();
      assert.equal((await b!.getToken()).accessToken, token.accessToken);
      const r = await createAuthFetch(b!, { origins: [api.url] })(`${api.url}/shared`);
      assert.equal(r.status, 200);
      // A third store over the same directory (a later process) finds the same key.
      const later = await managerFor({ name: 'shared' }, { store: new FileStore({ dir, key }) });
      assert.equal(await later.dpop!.thumbprint(), ta);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('logout and introspection', () => {
  test('logout revokes with a proof for the revocation endpoint and deletes the key pair; the next token gets a new key', async () => {
    const store = new MemoryStore();
    const m = await managerFor({ revocation_url: `${provider.issuer}/token/revocation` }, { store });
    const token = await m.getToken();
    const jkt = await m.dpop!.thumbprint();
    const keyEntry = dpopKeyStoreKey(m.key, 'ES256');
    assert.notEqual(await store.get(keyEntry), undefined);
    const before = provider.proofs['/token/revocation']?.length ?? 0;
    const warnings: string[] = [];
    const out = await m.logout();
    assert.deepEqual(out, { revoked: true, deleted: true }, warnings.join('; '));
    const proofs = (provider.proofs['/token/revocation'] ?? []).slice(before);
    assert.equal(proofs.length, 1, 'one revocation request, with a proof');
    const { payload } = await jwtVerify(proofs[0]!, EmbeddedJWK, { typ: 'dpop+jwt' });
    assert.equal(payload['htm'], 'POST');
    assert.equal(payload['htu'], `${provider.issuer}/token/revocation`);
    assert.equal(payload['ath'], undefined);
    assert.equal(await store.get(keyEntry), undefined, 'the key pair survived logout');
    assert.equal(await store.get(m.key), undefined);
    // A new sign-in: a new key pair, and a token bound to it.
    const next = await m.getToken();
    assert.notEqual(next.accessToken, token.accessToken);
    const jkt2 = await m.dpop!.thumbprint();
    assert.notEqual(jkt2, jkt);
    assert.equal((decodeJwt(next.accessToken) as { cnf?: { jkt?: string } }).cnf?.jkt, jkt2);
  });

  test("another process's logout: the next token request of a running manager uses the store's new key", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-dpop-logout-'));
    const key = randomBytes(32);
    try {
      const a = await managerFor({ name: 'shared' }, { store: new FileStore({ dir, key }) });
      const b = await managerFor({ name: 'shared' }, { store: new FileStore({ dir, key }) });
      await a.getToken();
      const old = await b.dpop!.thumbprint(); // b holds the key in memory
      await a.logout();
      const t = await a.getToken(); // a new key pair in the store
      const jkt = await a.dpop!.thumbprint();
      assert.notEqual(jkt, old);
      const tb = await b.getToken({ force: true });
      assert.notEqual(tb.accessToken, t.accessToken);
      assert.equal(await b.dpop!.thumbprint(), jkt);
      assert.equal((decodeJwt(tb.accessToken) as { cnf?: { jkt?: string } }).cnf?.jkt, jkt);
      api.verdicts.length = 0;
      const r = await createAuthFetch(b, { origins: [api.url] })(`${api.url}/after-logout`);
      assert.equal(r.status, 200);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('introspection of a DPoP profile: a proof for the introspection endpoint; its answer is not taken for a token', async () => {
    const seen: { path: string; htu: unknown }[] = [];
    const lb = await startLoopback(async (req, res) => {
      const proof = req.headers['dpop'];
      const htu =
        typeof proof === 'string'
          ? (await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt' })).payload['htu']
          : undefined;
      seen.push({ path: req.url, htu });
      if (req.url === '/introspect') return json(res, 200, { active: true, cnf: { jkt: 'jkt-1' } });
      json(res, 200, { access_token: 'at-1', token_type: 'DPoP', expires_in: 600 });
    });
    try {
      const m = await createTokenManager(
        {
          token_url: `${lb.url}/token`,
          introspection_url: `${lb.url}/introspect`,
          client_id: 'c',
          client_secret: 's',
          dpop: true,
        },
        { store: new MemoryStore() },
      );
      managers.push(m);
      const r = await m.introspect();
      assert.equal(r.active, true);
      assert.deepEqual(r.cnf, { jkt: 'jkt-1' });
      assert.deepEqual(seen, [
        { path: '/token', htu: `${lb.url}/token` },
        { path: '/introspect', htu: `${lb.url}/introspect` },
      ]);
    } finally {
      await lb.close();
    }
  });
});

describe('bad answers keep the earlier good token', () => {
  test('a server that answers Bearer (unbound) is refused naming dpop; one that refuses the proof too', async () => {
    let mode: 'dpop' | 'bearer' | 'refuse' = 'dpop';
    let n = 0;
    const seen: string[] = [];
    const lb = await startLoopback((req, res) => {
      const proof = req.headers['dpop'];
      seen.push(typeof proof === 'string' ? 'proof' : 'none');
      n++;
      if (mode === 'refuse')
        return json(res, 400, { error: 'invalid_dpop_proof', error_description: 'bad proof' });
      json(res, 200, {
        access_token: `at-${n}`,
        token_type: mode === 'dpop' ? 'DPoP' : 'Bearer',
        expires_in: 600,
      });
    });
    try {
      const m = await createTokenManager(
        { token_url: `${lb.url}/token`, client_id: 'c', client_secret: 's', dpop: true },
        { store: new MemoryStore() },
      );
      managers.push(m);
      const good = await m.getToken();
      assert.equal(good.tokenType, 'DPoP');
      mode = 'bearer';
      await assert.rejects(
        m.getToken({ force: true }),
        (e: unknown) => e instanceof InvalidTokenResponseError && e.message.includes('`dpop`'),
      );
      mode = 'refuse';
      await assert.rejects(
        m.getToken({ force: true }),
        (e: unknown) =>
          e instanceof TokenEndpointError && e.error === 'invalid_dpop_proof' && e.message.includes('`dpop`'),
      );
      assert.equal((await m.getToken()).accessToken, good.accessToken);
      assert.deepEqual(seen, ['proof', 'proof', 'proof']);
    } finally {
      await lb.close();
    }
  });

  test('refresh requests carry a proof too (no ath at the token endpoint)', async () => {
    const proofs: Record<string, unknown>[] = [];
    let n = 0;
    const lb = await startLoopback(async (req, res) => {
      const form = new URLSearchParams(req.body);
      const proof = req.headers['dpop'];
      if (typeof proof === 'string')
        proofs.push({
          grant: form.get('grant_type'),
          ...(await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt' })).payload,
        });
      n++;
      json(res, 200, {
        access_token: `at-${n}`,
        token_type: 'DPoP',
        expires_in: 600,
        refresh_token: `rt-${n}`,
      });
    });
    try {
      const m = await createTokenManager(
        { token_url: `${lb.url}/token?tenant=1`, client_id: 'c', client_secret: 's', dpop: true },
        { store: new MemoryStore() },
      );
      managers.push(m);
      await m.getToken();
      m.invalidate();
      await m.getToken();
      assert.deepEqual(
        proofs.map((p) => [p['grant'], p['htm'], p['htu'], p['ath']]),
        [
          ['client_credentials', 'POST', `${lb.url}/token`, undefined],
          ['refresh_token', 'POST', `${lb.url}/token`, undefined],
        ],
      );
      assert.notEqual(proofs[0]!['jti'], proofs[1]!['jti']);
    } finally {
      await lb.close();
    }
  });
});
