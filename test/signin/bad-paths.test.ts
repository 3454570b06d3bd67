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
  createTokenManager,
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
  /** The server's time for `iat`/`exp`, seconds (default: the real time). */
  nowS?: number;
  /** What the userinfo endpoint says `sub` is (default the ID token's). */
  userinfoSub?: string;
  /** A refresh answer carries no ID token (as Google's and Entra ID's often do not). */
  noIdTokenOnRefresh?: boolean;
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
          userinfo_endpoint: `${as.url}/userinfo`,
        });
      } else if (req.url === '/jwks') json(200, { keys: published });
      else if (req.url === '/userinfo') {
        if (req.headers.authorization !== 'Bearer at-1') json(401, { error: 'invalid_token' });
        else json(200, { sub: scenario.userinfoSub ?? 'alice', email: 'alice@example.test' });
      } else if (req.url === '/token') {
        const now = scenario.nowS ?? Math.floor(Date.now() / 1000);
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
        const refresh = new URLSearchParams(req.body).get('grant_type') === 'refresh_token';
        json(200, {
          access_token: refresh ? 'at-2' : 'at-1',
          token_type: 'Bearer',
          expires_in: 300,
          refresh_token: refresh ? 'rt-2' : 'rt-1',
          ...(refresh && scenario.noIdTokenOnRefresh === true ? {} : { id_token: idToken }),
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

  async function run(
    extra: Partial<Profile>,
    b: ReturnType<typeof browser>,
    timeoutMs = 600_000,
    more: { clock?: () => number; signal?: AbortSignal } = {},
  ) {
    const store = new MemoryStore();
    const p = login(profile(extra), {
      store,
      openBrowser: (u) => b.open(u),
      onAuthorizationUrl: () => {},
      redirectTimeoutMs: timeoutMs,
      ...more,
    });
    return { store, p };
  }
  const jwksFetches = () => as.requests.filter((r) => r.url === '/jwks').length;
  /** Resolves true when nothing listens on `url` any more (the connection is refused). */
  const refusedAt = (url: string) =>
    fetch(url).then(
      () => false,
      (e: unknown) => (e as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED',
    );

  it('a good answer is accepted (the scripted server is sound); the browser is told; the listener is gone after', async () => {
    published = [jwk];
    let redirectUri = '';
    const b = browser((q) => {
      redirectUri = q.get('redirect_uri') ?? '';
      return { code: 'the-code', state: q.get('state') ?? '' };
    });
    const { store, p } = await run({}, b);
    const token = await p;
    assert.equal(token.accessToken, 'at-1');
    const page = await b.page.result;
    assert.equal(page?.status, 200);
    assert.match(page?.text ?? '', /<h1>Signed in<\/h1>/);
    assert.match(page?.text ?? '', /You can close this tab\./);
    assert.equal((await store.list()).length, 1);
    assert.equal(await refusedAt(redirectUri), true, 'the listener closed after its one answer');
  });

  const refused = async (extra: Partial<Profile>, check: (e: unknown) => boolean, b = browser()) => {
    const { store, p } = await run(extra, b);
    await assert.rejects(p, check);
    const page = await b.page.result;
    if (page !== undefined) {
      assert.equal(page.status, 400);
      assert.match(page.text, /<h1>Sign-in failed<\/h1>/);
      // What went wrong, as the terminal says it (HTML-escaped).
      const err: unknown = await p.then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof Error);
      const escaped = err.message.replace(/[&<>"']/g, (c: string) => `&#${c.charCodeAt(0)};`);
      assert.ok(page.text.includes(escaped), page.text);
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

  it('a redirect that never comes: LoginTimeoutError (the timeout is injected); the listener is closed', async () => {
    const store = new MemoryStore();
    let url = '';
    await assert.rejects(
      login(profile(), {
        store,
        openBrowser: false,
        onAuthorizationUrl: (u) => {
          url = u;
        },
        redirectTimeoutMs: 50,
      }),
      (e: unknown) =>
        e instanceof LoginTimeoutError &&
        e.code === 'ERR_LOGIN_TIMEOUT' &&
        /no answer from the browser/.test(e.message),
    );
    assert.equal((await store.list()).length, 0);
    assert.equal(await refusedAt(new URL(url).searchParams.get('redirect_uri') ?? ''), true);
  });

  it("an aborted sign-in: rejects with the signal's reason, closes the listener, stores nothing", async () => {
    const abort = new AbortController();
    const tokenRequests = () => as.requests.filter((r) => r.url === '/token').length;
    const before = tokenRequests();
    let redirectUri = '';
    const { store, p } = await run(
      {},
      {
        page: {},
        open(u) {
          redirectUri = new URL(u).searchParams.get('redirect_uri') ?? '';
          abort.abort(new Error('the person pressed Ctrl-C'));
        },
      },
      600_000,
      { signal: abort.signal },
    );
    await assert.rejects(p, (e: unknown) => e instanceof Error && e.message === 'the person pressed Ctrl-C');
    assert.equal((await store.list()).length, 0);
    assert.equal(await refusedAt(redirectUri), true);
    assert.equal(tokenRequests() - before, 0);
  });

  it('prompt, login_hint, acr_values, max_age and authorize_params go on the authorization URL', async () => {
    const sent: URLSearchParams[] = [];
    const b = browser();
    scenario = { claims: { auth_time: Math.floor(Date.now() / 1000) } };
    const { p } = await run(
      {
        prompt: 'login consent',
        login_hint: 'alice@example.test',
        acr_values: 'urn:mace:incommon:iap:silver',
        max_age: 3600,
        // Cannot override what the flow itself sets.
        authorize_params: { ui_locales: 'fr', state: 'mine', response_type: 'token' },
      },
      {
        page: b.page,
        open(u) {
          sent.push(new URL(u).searchParams);
          b.open(u);
        },
      },
    );
    await p;
    const q = sent[0];
    assert.equal(sent.length, 1);
    assert.equal(q?.get('prompt'), 'login consent');
    assert.equal(q?.get('login_hint'), 'alice@example.test');
    assert.equal(q?.get('acr_values'), 'urn:mace:incommon:iap:silver');
    assert.equal(q?.get('max_age'), '3600');
    assert.equal(q?.get('ui_locales'), 'fr');
    assert.equal(q?.get('response_type'), 'code');
    assert.notEqual(q?.get('state'), 'mine');
    assert.equal(q?.get('scope'), 'openid');
    assert.equal(q?.get('code_challenge_method'), 'S256');
  });

  it('max_age: an ID token without auth_time, or with one older than max_age, is refused', async () => {
    const nowS = Math.floor(Date.now() / 1000);
    await refused({ max_age: 60 }, idTokenError('auth_time'));
    scenario = { claims: { auth_time: nowS - 3600 } };
    await refused({ max_age: 60 }, idTokenError('auth_time'));
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

  it('ID token with an HMAC algorithm: refused by the allow-list, saying what to change', async () => {
    scenario = { alg: 'HS256' };
    await refused(
      {},
      (e) =>
        idTokenError('alg')(e) &&
        (e as Error).message.includes('signed with "HS256", which is not allowed (accepted: RS256,') &&
        (e as Error).message.includes('HMAC-signed ID tokens are refused'),
    );
  });

  it('ID token with several audiences and no azp', async () => {
    scenario = { claims: { aud: [CLIENT, 'other'] } };
    await refused({}, idTokenError('azp'));
  });

  it('ID token whose azp is another client', async () => {
    scenario = { claims: { azp: 'other-app' } };
    await refused({}, idTokenError('azp'));
  });

  it('ID token from another issuer', async () => {
    scenario = { claims: { iss: 'https://evil.example' } };
    await refused({}, idTokenError('iss'));
  });

  it('ID token signed with alg "none": refused by the allow-list', async () => {
    // An unsecured JWT (RFC 7519 §6): the server's answer is replaced by one.
    const saved = as.handler;
    as.handler = async (req, res, n) => {
      if (req.url !== '/token') return saved(req, res, n);
      const nowS = Math.floor(Date.now() / 1000);
      const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const claims = { iss: as.url, aud: CLIENT, sub: 'alice', iat: nowS, exp: nowS + 300, nonce };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          access_token: 'at-1',
          token_type: 'Bearer',
          expires_in: 300,
          id_token: `${part({ alg: 'none' })}.${part(claims)}.`,
        }),
      );
    };
    try {
      await refused({}, idTokenError('alg'));
    } finally {
      as.handler = saved;
    }
  });

  it('exp and iat with the clock skew: the manager clock decides (10 s by default; skew_seconds)', async () => {
    const T = 1_800_000_000;
    const clock = () => T * 1000;
    // Expired 5 s ago: within the 10 s skew, accepted.
    scenario = { nowS: T - 305 };
    assert.equal((await (await run({}, browser(), 600_000, { clock })).p).accessToken, 'at-1');
    // Expired 11 s ago: refused.
    scenario = { nowS: T - 311 };
    const late = await run({}, browser(), 600_000, { clock });
    await assert.rejects(late.p, idTokenError('exp'));
    assert.equal((await late.store.list()).length, 0);
    // With skew_seconds = 30 the same token is accepted.
    scenario = { nowS: T - 311 };
    assert.equal(
      (await (await run({ skew_seconds: 30 }, browser(), 600_000, { clock })).p).accessToken,
      'at-1',
    );
    // Issued 11 s in the future: refused; 5 s: accepted.
    scenario = { nowS: T + 11 };
    const early = await run({}, browser(), 600_000, { clock });
    await assert.rejects(early.p, idTokenError('iat'));
    assert.equal((await early.store.list()).length, 0);
    scenario = { nowS: T + 5 };
    assert.equal((await (await run({}, browser(), 600_000, { clock })).p).accessToken, 'at-1');
  });

  it('userinfo = true: asked once with the new access token; another sub is refused, nothing stored', async () => {
    const before = as.requests.filter((r) => r.url === '/userinfo').length;
    const { store, p } = await run({ userinfo: true }, browser());
    await p;
    assert.equal((await store.list()).length, 1);
    assert.equal(as.requests.filter((r) => r.url === '/userinfo').length - before, 1);
    scenario = { userinfoSub: 'mallory' };
    await refused({ userinfo: true }, idTokenError('sub'));
  });

  it("a refresh without an ID token keeps the sign-in's (who is signed in); a new one must name the same sub", async () => {
    const { store, p } = await run({}, browser());
    const signedIn = await p;
    scenario = { noIdTokenOnRefresh: true };
    const m = await createTokenManager(profile(), { store });
    const kept = await m.getToken({ force: true });
    assert.equal(kept.accessToken, 'at-2');
    assert.equal(kept.idToken, signedIn.idToken);
    assert.equal((await store.list())[0]?.token?.idToken, signedIn.idToken, 'stored with it');
    // A refresh whose new ID token names another person is refused; the stored token stays.
    scenario = { claims: { sub: 'mallory', nonce: undefined } };
    await assert.rejects(m.getToken({ force: true }), idTokenError('sub'));
    assert.equal((await store.list())[0]?.token?.accessToken, 'at-2');
    await m.close();
  });

  it('the JWKS is cached: two sign-ins with the same key fetch it once', async () => {
    const before = jwksFetches();
    await (await run({}, browser())).p;
    await (await run({}, browser())).p;
    assert.equal(jwksFetches() - before, 1);
  });

  it('a kid the JWKS never has: fetched once more, then refused (signature), nothing stored', async () => {
    await (await run({}, browser())).p;
    const before = jwksFetches();
    scenario = { signWith: await generateKeyPair('RS256'), kid: 'k-unknown' };
    await refused({}, idTokenError('signature'));
    assert.equal(jwksFetches() - before, 1, 'one re-fetch, not one per attempt');
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

  it('a JWKS that accepts the connection and never answers: a timeout (NetworkError), nothing stored', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const silent: Server = createServer(() => {
      // Never answers.
    });
    silent.on('connection', (c) => sockets.add(c));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as AddressInfo;
    try {
      await refused(
        // The profile's HTTP timeout bounds the JWKS fetch too (2 s here; the loopback token endpoint
        // answers well within it even on a loaded machine).
        { jwks_url: `http://127.0.0.1:${port}/jwks`, timeout: 2 },
        (e) => e instanceof NetworkError && e.code === 'ERR_TIMEOUT' && e.url.includes(`:${port}/jwks`),
      );
    } finally {
      for (const c of sockets) c.destroy();
      silent.close();
    }
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
