/**
 * The code flow's bad paths against a scripted authorization server on loopback (discovery, JWKS, token
 * endpoint; the "browser" is the `openBrowser` hook, which follows the redirect itself): each ends in a
 * typed error with a clear message, the browser is told, and nothing is stored.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { clearDiscoveryCache } from '../../src/discovery.js';
import {
  AuthorizationError,
  ConfigError,
  IdTokenError,
  LoginTimeoutError,
  login,
  NetworkError,
  type Profile,
} from '../../src/index.js';
import { clearJwksCache } from '../../src/signin/id-token.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { type Loopback, startLoopback } from '../helpers/loopback.js';

type Keys = Awaited<ReturnType<typeof generateKeyPair>>;

interface Scenario {
  /** Claims laid over the good ones (undefined values delete). */
  claims?: Record<string, unknown>;
  /** Sign with these keys instead of the published ones (same kid). */
  signWith?: Keys;
  alg?: string;
  kid?: string;
}

describe('code flow: bad paths, each typed and storing nothing', () => {
  let as: Loopback;
  let keys: Keys;
  let jwk: JWK;
  let published: JWK[] = [];
  let nonce = '';
  let scenario: Scenario = {};
  const CLIENT = 'cli-app';
  before(async () => {
    keys = await generateKeyPair('RS256');
    jwk = { ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    as = await startLoopback(async (req, res) => {
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.url === '/.well-known/openid-configuration') {
        json(200, {
          issuer: as.url,
          authorization_endpoint: `${as.url}/authorize`,
          token_endpoint: `${as.url}/token`,
          jwks_uri: `${as.url}/jwks`,
        });
      } else if (req.url === '/jwks') json(200, { keys: published });
      else if (req.url === '/token') {
        const now = Math.floor(Date.now() / 1000);
        const claims: Record<string, unknown> = {
          iss: as.url,
          aud: CLIENT,
          sub: 'alice',
          iat: now,
          exp: now + 300,
          nonce,
          ...scenario.claims,
        };
        for (const k of Object.keys(claims)) if (claims[k] === undefined) delete claims[k];
        const alg = scenario.alg ?? 'RS256';
        const key = alg.startsWith('HS')
          ? new TextEncoder().encode('x'.repeat(64))
          : (scenario.signWith ?? keys).privateKey;
        const idToken = await new SignJWT(claims)
          .setProtectedHeader({ alg, kid: scenario.kid ?? 'k1' })
          .sign(key);
        json(200, {
          access_token: 'at-1',
          token_type: 'Bearer',
          expires_in: 300,
          refresh_token: 'rt-1',
          id_token: idToken,
        });
      } else json(404, {});
    });
  });
  after(() => as.close());
  afterEach(() => {
    clearDiscoveryCache();
    clearJwksCache();
    scenario = {};
    published = [jwk];
  });

  const profile = (extra: Partial<Profile> = {}): Profile => ({
    name: 'me',
    provider: 'oidc',
    issuer: as.url,
    client_id: CLIENT,
    grant: 'authorization_code',
    scope: 'openid',
    retries: 0,
    ...extra,
  });

  /** A "browser" that follows the authorization URL straight to the redirect with `answer` (or the code). */
  function browser(answer?: (q: URLSearchParams) => Record<string, string>) {
    const page: { result?: Promise<{ status: number; text: string }> } = {};
    return {
      page,
      open(url: string) {
        const q = new URL(url).searchParams;
        nonce = q.get('nonce') ?? '';
        const back = new URL(q.get('redirect_uri') ?? '');
        const params = answer?.(q) ?? { code: 'the-code', state: q.get('state') ?? '' };
        for (const [k, v] of Object.entries(params)) back.searchParams.set(k, v);
        page.result = fetch(back).then(async (r) => ({ status: r.status, text: await r.text() }));
      },
    };
  }

  async function run(extra: Partial<Profile>, b: ReturnType<typeof browser>, timeoutMs = 600_000) {
    const store = new MemoryStore();
    const p = login(profile(extra), {
      store,
      openBrowser: (u) => b.open(u),
      onAuthorizationUrl: () => {},
      redirectTimeoutMs: timeoutMs,
    });
    return { store, p };
  }

  it('a good answer is accepted (the scripted server is sound)', async () => {
    published = [jwk];
    const b = browser();
    const { store, p } = await run({}, b);
    const token = await p;
    assert.equal(token.accessToken, 'at-1');
    assert.equal((await b.page.result)?.status, 200);
    assert.equal((await store.list()).length, 1);
  });

  const refused = async (extra: Partial<Profile>, check: (e: unknown) => boolean, b = browser()) => {
    const { store, p } = await run(extra, b);
    await assert.rejects(p, check);
    const page = await b.page.result;
    if (page !== undefined) {
      assert.equal(page.status, 400);
      assert.match(page.text, /Sign-in failed/);
    }
    assert.equal((await store.list()).length, 0, 'nothing stored');
  };
  const idTokenError = (reason: string) => (e: unknown) =>
    e instanceof IdTokenError &&
    e.code === 'ERR_ID_TOKEN' &&
    e.reason === reason &&
    /nothing was stored/.test(e.message);

  it('wrong state', async () => {
    await refused(
      {},
      (e) =>
        e instanceof AuthorizationError && e.error === 'state_mismatch' && /another "state"/.test(e.message),
      browser(() => ({ code: 'c', state: 'forged' })),
    );
  });

  it('error= on the redirect, with its description', async () => {
    await refused(
      {},
      (e) =>
        e instanceof AuthorizationError &&
        e.error === 'access_denied' &&
        e.errorDescription === 'user said no' &&
        /access_denied \(user said no\)/.test(e.message),
      browser((q) => ({
        error: 'access_denied',
        error_description: 'user said no',
        state: q.get('state') ?? '',
      })),
    );
  });

  it('a redirect that never comes: LoginTimeoutError (the timeout is injected)', async () => {
    const store = new MemoryStore();
    await assert.rejects(
      login(profile(), { store, openBrowser: false, onAuthorizationUrl: () => {}, redirectTimeoutMs: 50 }),
      (e: unknown) =>
        e instanceof LoginTimeoutError &&
        e.code === 'ERR_LOGIN_TIMEOUT' &&
        /no answer from the browser/.test(e.message),
    );
    assert.equal((await store.list()).length, 0);
  });

  it('a fixed redirect port in use: ConfigError naming redirect_uri', async () => {
    const busy: Server = createServer();
    busy.listen(0, '127.0.0.1');
    await once(busy, 'listening');
    const { port } = busy.address() as AddressInfo;
    try {
      const store = new MemoryStore();
      await assert.rejects(
        login(profile({ redirect_uri: `http://127.0.0.1:${port}/cb` }), {
          store,
          openBrowser: false,
          onAuthorizationUrl: () => {},
        }),
        (e: unknown) =>
          e instanceof ConfigError &&
          e.key === 'redirect_uri' &&
          new RegExp(`port ${port} is in use`).test(e.message),
      );
      assert.equal((await store.list()).length, 0);
    } finally {
      busy.close();
    }
  });

  it('a fixed redirect_uri is used exactly', async () => {
    const b = browser();
    const probe: Server = createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const { port } = probe.address() as AddressInfo;
    await new Promise((r) => probe.close(r));
    let sent = '';
    const { p } = await run(
      { redirect_uri: `http://127.0.0.1:${port}/my/cb` },
      {
        page: b.page,
        open(u) {
          sent = new URL(u).searchParams.get('redirect_uri') ?? '';
          b.open(u);
        },
      },
    );
    await p;
    assert.equal(sent, `http://127.0.0.1:${port}/my/cb`);
    const tokenReq = as.requests.filter((r) => r.url === '/token').at(-1);
    assert.equal(new URLSearchParams(tokenReq?.body).get('redirect_uri'), sent);
    assert.ok((new URLSearchParams(tokenReq?.body).get('code_verifier') ?? '').length >= 43);
  });

  it('ID token with a wrong aud', async () => {
    scenario = { claims: { aud: 'someone-else' } };
    await refused({}, idTokenError('aud'));
  });

  it('ID token with a wrong nonce', async () => {
    scenario = { claims: { nonce: 'replayed' } };
    await refused({}, idTokenError('nonce'));
  });

  it('ID token with a bad signature', async () => {
    scenario = { signWith: await generateKeyPair('RS256') };
    await refused({}, idTokenError('signature'));
  });

  it('ID token that has expired (beyond the skew)', async () => {
    const now = Math.floor(Date.now() / 1000);
    scenario = { claims: { iat: now - 7200, exp: now - 3600 } };
    await refused({}, idTokenError('exp'));
  });

  it('ID token with an HMAC algorithm: refused by the allow-list', async () => {
    scenario = { alg: 'HS256' };
    await refused({}, idTokenError('alg'));
  });

  it('ID token with several audiences and no azp', async () => {
    scenario = { claims: { aud: [CLIENT, 'other'] } };
    await refused({}, idTokenError('azp'));
  });

  it('an unknown kid fetches the JWKS once more (a rotated key), then verifies', async () => {
    const rotated = await generateKeyPair('RS256');
    const rotatedJwk = { ...(await exportJWK(rotated.publicKey)), kid: 'k2', alg: 'RS256' };
    // First login caches the JWKS with k1 only.
    await (await run({}, browser())).p;
    const before = as.requests.filter((r) => r.url === '/jwks').length;
    published = [jwk, rotatedJwk];
    scenario = { signWith: rotated, kid: 'k2' };
    await (await run({}, browser())).p;
    assert.equal(as.requests.filter((r) => r.url === '/jwks').length - before, 1);
  });

  it('a JWKS that does not answer: NetworkError, nothing stored', async () => {
    const gone: Server = createServer();
    gone.listen(0, '127.0.0.1');
    await once(gone, 'listening');
    const { port } = gone.address() as AddressInfo;
    await new Promise((r) => gone.close(r));
    await refused(
      { jwks_url: `http://127.0.0.1:${port}/jwks` },
      (e) => e instanceof NetworkError && e.code === 'ERR_NETWORK' && e.url.includes(`:${port}/jwks`),
    );
  });

  it('scope openid without an ID token is refused', async () => {
    const noId = await startLoopback((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ access_token: 'x', token_type: 'Bearer', expires_in: 60 }));
    });
    try {
      await refused(
        {
          issuer: undefined,
          provider: 'oauth2',
          token_url: `${noId.url}/token`,
          authorization_url: `${as.url}/authorize`,
        } as unknown as Partial<Profile>,
        idTokenError('missing'),
      );
    } finally {
      await noId.close();
    }
  });
});
