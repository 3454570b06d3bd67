/**
 * The sandbox's OpenID Connect server over plain HTTP: discovery and JWKS, the code flow end to end
 * (PKCE, state, nonce, exact redirect, single-use code, refresh rotation, revocation, the ID token
 * verified with jose against the JWKS), the device flow (pending, slow_down, expiry through the sandbox
 * clock, denial), bad requests, and the browserless helpers the demo uses.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import {
  approveSandboxDevice,
  completeSandboxSignIn,
  DEMO_CREDENTIALS,
  SandboxSignInError,
  sandboxIssuer,
  startSandbox,
} from '../../src/sandbox/index.js';
import { type Loopback, startLoopback } from '../helpers/loopback.js';
import { basic, body, type ClockedSandbox, getBearer, postForm, startClocked } from './helpers.js';
import {
  authorizeRequest,
  type CodeRequest,
  codeOf,
  DEVICE_GRANT,
  oauthErrorOf,
  redirectListener,
  tokenRequest,
} from './oidc-helpers.js';

let t: ClockedSandbox;
let listener: Loopback & { redirectUri: string };
let issuer = '';
before(async () => {
  t = await startClocked();
  listener = await redirectListener();
  issuer = sandboxIssuer(t.sandbox);
});
after(async () => {
  await listener.close();
  await t.sandbox.close();
});
beforeEach(() => {
  t.sandbox.reset();
  listener.requests.length = 0;
});

const oidc = () => t.sandbox.credentials.oidc;

/** Runs the code flow's front channel; returns the request and the code. */
async function signIn(
  params: Record<string, string | undefined> = {},
): Promise<{ req: CodeRequest; code: string }> {
  const req = authorizeRequest(t.sandbox, listener.redirectUri, params);
  const redirect = await completeSandboxSignIn(req.url, { awaitRedirect: true });
  return { req, code: codeOf(redirect, req, issuer) };
}

/** Exchanges a code with the right verifier. */
async function exchange(
  req: CodeRequest,
  code: string,
  extra: Record<string, string> = {},
): Promise<Response> {
  return tokenRequest(t.sandbox, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: req.redirectUri,
    code_verifier: req.verifier,
    ...extra,
  });
}

async function tokensOf(res: Response): Promise<Record<string, unknown>> {
  assert.equal(res.status, 200, await res.clone().text());
  return body(res);
}

function pageOf(res: Response): Promise<string> {
  return res.text();
}

describe('oidc: discovery and JWKS', () => {
  it('serves the metadata at both well-known addresses', async () => {
    const res = await fetch(`${issuer}/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    const m = await body(res);
    assert.equal(m['issuer'], issuer);
    assert.equal(m['authorization_endpoint'], `${issuer}/authorize`);
    assert.equal(m['token_endpoint'], `${issuer}/token`);
    assert.equal(m['device_authorization_endpoint'], `${issuer}/device/auth`);
    assert.equal(m['jwks_uri'], `${issuer}/jwks`);
    assert.equal(m['userinfo_endpoint'], `${issuer}/userinfo`);
    assert.equal(m['revocation_endpoint'], `${issuer}/revoke`);
    assert.deepEqual(m['code_challenge_methods_supported'], ['S256']);
    assert.deepEqual(m['grant_types_supported'], ['authorization_code', DEVICE_GRANT, 'refresh_token']);
    assert.deepEqual(m['scopes_supported'], ['openid', 'profile', 'email', 'offline_access']);
    assert.deepEqual(m['id_token_signing_alg_values_supported'], ['RS256']);
    assert.deepEqual(m['response_types_supported'], ['code']);
    assert.ok((m['token_endpoint_auth_methods_supported'] as string[]).includes('none'));
    const rfc8414 = await fetch(`${t.sandbox.url}/.well-known/oauth-authorization-server/oidc`);
    assert.deepEqual(await body(rfc8414), m);
    assert.equal(t.sandbox.stats().api.oidc, 2);
  });

  it('publishes one RS256 signing key with a kid, and no private part', async () => {
    const jwks = (await body(await fetch(`${issuer}/jwks`))) as { keys: Array<Record<string, unknown>> };
    assert.equal(jwks.keys.length, 1);
    const [key] = jwks.keys;
    assert.equal(key?.['kty'], 'RSA');
    assert.equal(key?.['alg'], 'RS256');
    assert.equal(key?.['use'], 'sig');
    assert.equal(typeof key?.['kid'], 'string');
    for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal(key?.[priv], undefined, priv);
  });
});

describe('oidc: the code flow over HTTP', () => {
  it('sign-in, consent, redirect with code+state+iss to the listener, tokens with a verified ID token', async () => {
    const { req, code } = await signIn();
    assert.equal(listener.requests.length, 1, 'the listener got exactly one redirect');
    const got = new URL(listener.requests[0]?.url ?? '', listener.url);
    assert.equal(got.pathname, '/callback');
    assert.equal(got.searchParams.get('code'), code);
    assert.equal(got.searchParams.get('state'), req.state);

    const tokens = await tokensOf(await exchange(req, code));
    assert.equal(tokens['token_type'], 'Bearer');
    assert.equal(tokens['expires_in'], 3600);
    assert.equal(tokens['scope'], 'openid profile email offline_access');
    assert.equal(typeof tokens['refresh_token'], 'string');
    const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
    const { payload, protectedHeader } = await jwtVerify(tokens['id_token'] as string, jwks, {
      issuer,
      audience: oidc().clientId,
      algorithms: ['RS256'],
      currentDate: new Date(t.nowS() * 1000),
    });
    assert.equal(protectedHeader.alg, 'RS256');
    assert.equal(payload.sub, '6c1f7a52-3e9b-4d18-a0c4-8b2d5e7f9a13');
    assert.equal(payload['azp'], oidc().clientId);
    assert.equal(payload['nonce'], req.nonce);
    assert.equal(payload['email'], 'person@example.com');
    assert.equal(payload['name'], 'Sandbox Person');
    assert.equal(payload['preferred_username'], DEMO_CREDENTIALS.oidc.username);
    assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 3600);
    assert.equal(typeof payload['auth_time'], 'number');
    assert.deepEqual(t.sandbox.stats().token.oidc, { authorization_code: 1 });

    const info = await getBearer(`${issuer}/userinfo`, tokens['access_token'] as string);
    assert.deepEqual(await body(info), {
      sub: payload.sub,
      name: 'Sandbox Person',
      preferred_username: DEMO_CREDENTIALS.oidc.username,
      email: 'person@example.com',
      email_verified: true,
    });
  });

  it('a code is single-use: the replay is invalid_grant and revokes what the first use issued', async () => {
    const { req, code } = await signIn();
    const first = await tokensOf(await exchange(req, code));
    assert.deepEqual(await oauthErrorOf(await exchange(req, code)), [400, 'invalid_grant']);
    assert.equal((await getBearer(`${issuer}/userinfo`, first['access_token'] as string)).status, 401);
    const refresh = await tokenRequest(t.sandbox, {
      grant_type: 'refresh_token',
      refresh_token: first['refresh_token'] as string,
    });
    assert.deepEqual(await oauthErrorOf(refresh), [400, 'invalid_grant']);
    assert.deepEqual(t.sandbox.stats().token.oidc, { authorization_code: 1 });
  });

  it('a wrong code_verifier is invalid_grant, and uses the code up', async () => {
    const { req, code } = await signIn();
    const other = authorizeRequest(t.sandbox, listener.redirectUri);
    const wrong = await exchange(req, code, { code_verifier: other.verifier });
    assert.deepEqual(await oauthErrorOf(wrong), [400, 'invalid_grant']);
    assert.deepEqual(await oauthErrorOf(await exchange(req, code)), [400, 'invalid_grant']);
    assert.deepEqual(t.sandbox.stats().token.oidc, {});
  });

  it('the token request needs code_verifier, code, and the exact redirect_uri', async () => {
    const { req, code } = await signIn();
    const noVerifier = await tokenRequest(t.sandbox, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: req.redirectUri,
    });
    assert.deepEqual(await oauthErrorOf(noVerifier), [400, 'invalid_request']);
    const noCode = await tokenRequest(t.sandbox, {
      grant_type: 'authorization_code',
      redirect_uri: req.redirectUri,
      code_verifier: req.verifier,
    });
    assert.deepEqual(await oauthErrorOf(noCode), [400, 'invalid_request']);
    // Another port of the same loopback redirect URI is another redirect URI for the token request.
    const second = await signIn();
    const otherPort = second.req.redirectUri.replace(/:(\d+)\//, (_m, p: string) => `:${Number(p) + 1}/`);
    const wrongRedirect = await exchange(second.req, second.code, { redirect_uri: otherPort });
    assert.deepEqual(await oauthErrorOf(wrongRedirect), [400, 'invalid_grant']);
  });

  it('a code expires after 60 s of the sandbox clock', async () => {
    const { req, code } = await signIn();
    t.advance(61);
    const res = await exchange(req, code);
    const b = await body(res);
    assert.equal(res.status, 400);
    assert.equal(b['error'], 'invalid_grant');
    assert.match(String(b['error_description']), /expired/);
  });

  it('client authentication: unknown client, a secret sent by the public client, the confidential client', async () => {
    const { req, code } = await signIn();
    assert.deepEqual(await oauthErrorOf(await exchange(req, code, { client_id: 'nobody' })), [
      401,
      'invalid_client',
    ]);
    assert.deepEqual(await oauthErrorOf(await exchange(req, code, { client_secret: 'x' })), [
      401,
      'invalid_client',
    ]);
    // The confidential client: Basic works, a wrong secret or none is invalid_client.
    const c = oidc();
    const conf = await signIn({ client_id: c.confidentialClientId });
    const params = {
      grant_type: 'authorization_code',
      code: conf.code,
      redirect_uri: conf.req.redirectUri,
      code_verifier: conf.req.verifier,
    };
    const url = `${issuer}/token`;
    assert.deepEqual(
      await oauthErrorOf(await postForm(url, { ...params, client_id: c.confidentialClientId })),
      [401, 'invalid_client'],
    );
    const wrong = await postForm(url, params, { authorization: basic(c.confidentialClientId, 'wrong') });
    assert.deepEqual(await oauthErrorOf(wrong), [401, 'invalid_client']);
    assert.equal(wrong.headers.get('www-authenticate'), 'Basic realm="oidc"');
    const ok = await tokensOf(
      await postForm(url, params, { authorization: basic(c.confidentialClientId, c.clientSecret) }),
    );
    assert.equal(decodeJwt(ok['id_token'] as string).aud, c.confidentialClientId);
    // client_secret_post works too.
    const post = await signIn({ client_id: c.confidentialClientId });
    const viaPost = await postForm(url, {
      grant_type: 'authorization_code',
      code: post.code,
      redirect_uri: post.req.redirectUri,
      code_verifier: post.req.verifier,
      client_id: c.confidentialClientId,
      client_secret: c.clientSecret,
    });
    assert.equal(viaPost.status, 200);
    assert.deepEqual(t.sandbox.stats().token.oidc, { authorization_code: 2 });
  });

  it('the public client may also come as Basic with an empty secret; another scheme is invalid_client', async () => {
    const c = oidc();
    const { req, code } = await signIn();
    const params = {
      grant_type: 'authorization_code',
      code,
      redirect_uri: req.redirectUri,
      code_verifier: req.verifier,
    };
    const bearerAuth = await postForm(`${issuer}/token`, params, { authorization: 'Bearer abc' });
    assert.deepEqual(await oauthErrorOf(bearerAuth), [401, 'invalid_client']);
    const mismatch = await postForm(
      `${issuer}/token`,
      { ...params, client_id: c.confidentialClientId },
      { authorization: basic(c.clientId, '') },
    );
    assert.deepEqual(await oauthErrorOf(mismatch), [400, 'invalid_request']);
    const second = await signIn();
    const ok = await postForm(
      `${issuer}/token`,
      {
        grant_type: 'authorization_code',
        code: second.code,
        redirect_uri: second.req.redirectUri,
        code_verifier: second.req.verifier,
      },
      { authorization: basic(c.clientId, '') },
    );
    assert.equal(ok.status, 200);
    assert.deepEqual(t.sandbox.stats().token.oidc, { authorization_code: 1 });
  });

  it('a code issued to one client cannot be redeemed by the other', async () => {
    const { req, code } = await signIn();
    const c = oidc();
    const res = await postForm(
      `${issuer}/token`,
      { grant_type: 'authorization_code', code, redirect_uri: req.redirectUri, code_verifier: req.verifier },
      { authorization: basic(c.confidentialClientId, c.clientSecret) },
    );
    assert.deepEqual(await oauthErrorOf(res), [400, 'invalid_grant']);
  });

  it('refresh tokens rotate: the new one works, the used one is refused; the ID token has no nonce', async () => {
    const { req, code } = await signIn();
    const first = await tokensOf(await exchange(req, code));
    const rt1 = first['refresh_token'] as string;
    const second = await tokensOf(
      await tokenRequest(t.sandbox, { grant_type: 'refresh_token', refresh_token: rt1 }),
    );
    const rt2 = second['refresh_token'] as string;
    assert.notEqual(rt2, rt1);
    assert.notEqual(second['access_token'], first['access_token']);
    const id = decodeJwt(second['id_token'] as string);
    assert.equal(id['nonce'], undefined);
    assert.equal(id['auth_time'], decodeJwt(first['id_token'] as string)['auth_time']);
    assert.deepEqual(
      await oauthErrorOf(await tokenRequest(t.sandbox, { grant_type: 'refresh_token', refresh_token: rt1 })),
      [400, 'invalid_grant'],
    );
    const third = await tokensOf(
      await tokenRequest(t.sandbox, { grant_type: 'refresh_token', refresh_token: rt2 }),
    );
    assert.equal(typeof third['refresh_token'], 'string');
    assert.deepEqual(t.sandbox.stats().token.oidc, { authorization_code: 1, refresh_token: 2 });
  });

  it('a refresh may narrow the scope, never widen it', async () => {
    const { req, code } = await signIn({ scope: 'openid email offline_access' });
    const first = await tokensOf(await exchange(req, code));
    const wider = await tokenRequest(t.sandbox, {
      grant_type: 'refresh_token',
      refresh_token: first['refresh_token'] as string,
      scope: 'openid profile',
    });
    assert.deepEqual(await oauthErrorOf(wider), [400, 'invalid_scope']);
    const narrower = await tokensOf(
      await tokenRequest(t.sandbox, {
        grant_type: 'refresh_token',
        refresh_token: first['refresh_token'] as string,
        scope: 'openid offline_access',
      }),
    );
    assert.equal(narrower['scope'], 'openid offline_access');
    assert.equal(decodeJwt(narrower['id_token'] as string)['email'], undefined);
  });

  it('the session ends after sessionLifetimeSeconds: the refresh token is then refused', async () => {
    t.sandbox.configure('oidc', { sessionLifetimeSeconds: 600 });
    try {
      const { req, code } = await signIn();
      const first = await tokensOf(await exchange(req, code));
      t.advance(601);
      const res = await tokenRequest(t.sandbox, {
        grant_type: 'refresh_token',
        refresh_token: first['refresh_token'] as string,
      });
      const b = await body(res);
      assert.equal(res.status, 400);
      assert.equal(b['error'], 'invalid_grant');
      assert.match(String(b['error_description']), /expired/);
    } finally {
      t.sandbox.configure('oidc', { sessionLifetimeSeconds: undefined });
    }
  });

  it('without offline_access no refresh token; without openid no ID token and no userinfo', async () => {
    const a = await signIn({ scope: 'openid' });
    const ta = await tokensOf(await exchange(a.req, a.code));
    assert.equal(ta['refresh_token'], undefined);
    assert.equal(typeof ta['id_token'], 'string');
    assert.deepEqual(await body(await getBearer(`${issuer}/userinfo`, ta['access_token'] as string)), {
      sub: '6c1f7a52-3e9b-4d18-a0c4-8b2d5e7f9a13',
    });
    const b = await signIn({ scope: 'profile offline_access' });
    const tb = await tokensOf(await exchange(b.req, b.code));
    assert.equal(tb['id_token'], undefined);
    assert.equal(typeof tb['refresh_token'], 'string');
    const info = await getBearer(`${issuer}/userinfo`, tb['access_token'] as string);
    assert.equal(info.status, 403);
    assert.match(info.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);
  });

  it('revoking the refresh token ends the grant; revoking an access token leaves the refresh token', async () => {
    const revoke = (token: string) => postForm(`${issuer}/revoke`, { token, client_id: oidc().clientId });
    const a = await signIn();
    const ta = await tokensOf(await exchange(a.req, a.code));
    const r1 = await revoke(ta['refresh_token'] as string);
    assert.equal(r1.status, 200);
    assert.equal((await r1.arrayBuffer()).byteLength, 0);
    assert.equal((await getBearer(`${issuer}/userinfo`, ta['access_token'] as string)).status, 401);
    const refused = await tokenRequest(t.sandbox, {
      grant_type: 'refresh_token',
      refresh_token: ta['refresh_token'] as string,
    });
    assert.deepEqual(await oauthErrorOf(refused), [400, 'invalid_grant']);

    const b = await signIn();
    const tb = await tokensOf(await exchange(b.req, b.code));
    assert.equal((await revoke(tb['access_token'] as string)).status, 200);
    const info = await getBearer(`${issuer}/userinfo`, tb['access_token'] as string);
    assert.equal(info.status, 401);
    assert.match(info.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    const still = await tokenRequest(t.sandbox, {
      grant_type: 'refresh_token',
      refresh_token: tb['refresh_token'] as string,
    });
    assert.equal(still.status, 200);
    // Unknown tokens are 200 too (RFC 7009); an unknown client is not.
    assert.equal((await revoke('no-such-token')).status, 200);
    const stranger = await postForm(`${issuer}/revoke`, { token: 'x', client_id: 'nobody' });
    assert.deepEqual(await oauthErrorOf(stranger), [401, 'invalid_client']);
  });

  it('userinfo without a token is 401 with a Bearer challenge', async () => {
    const res = await fetch(`${issuer}/userinfo`);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="oidc"');
    await res.arrayBuffer();
  });

  it('injected faults and latency apply to its token endpoint', async () => {
    const { req, code } = await signIn();
    t.sandbox.configure('oidc', { fault: { kind: '5xx', times: 1 } });
    assert.equal((await exchange(req, code)).status, 503);
    assert.equal((await exchange(req, code)).status, 200, 'the fault answered instead of the server');
    assert.equal(t.sandbox.stats().faults.oidc, 1);
  });
});

describe('oidc: races and overrides', () => {
  it('two concurrent exchanges of one code: exactly one gets tokens', async () => {
    const { req, code } = await signIn();
    const answers = await Promise.all([exchange(req, code), exchange(req, code), exchange(req, code)]);
    assert.deepEqual(answers.map((r) => r.status).sort(), [200, 400, 400]);
    await Promise.all(answers.map((r) => r.arrayBuffer()));
    assert.deepEqual(t.sandbox.stats().token.oidc, { authorization_code: 1 });
  });

  it('two concurrent refreshes with one refresh token: exactly one succeeds', async () => {
    const { req, code } = await signIn();
    const first = await tokensOf(await exchange(req, code));
    const refresh = () =>
      tokenRequest(t.sandbox, {
        grant_type: 'refresh_token',
        refresh_token: first['refresh_token'] as string,
      });
    const answers = await Promise.all([refresh(), refresh(), refresh()]);
    assert.deepEqual(answers.map((r) => r.status).sort(), [200, 400, 400]);
    await Promise.all(answers.map((r) => r.arrayBuffer()));
    assert.deepEqual(t.sandbox.stats().token.oidc, { authorization_code: 1, refresh_token: 1 });
    assert.equal(t.sandbox.stats().rejected.oidc, 2);
  });

  it('credential overrides change the test user and the clients', async () => {
    const own = await startSandbox({
      credentials: { oidc: { password: 'another-password', clientId: 'my-cli' } },
    });
    try {
      assert.equal(own.credentials.oidc.clientId, 'my-cli');
      const req = authorizeRequest(own, listener.redirectUri);
      assert.ok(req.url.includes('client_id=my-cli'));
      await assert.rejects(completeSandboxSignIn(req.url), (e: unknown) => {
        return e instanceof SandboxSignInError && e.problem === 'credentials';
      });
      const redirect = await completeSandboxSignIn(req.url, {
        password: 'another-password',
        awaitRedirect: true,
      });
      const got = new URL(redirect);
      assert.equal(got.searchParams.get('state'), req.state);
      assert.ok(got.searchParams.get('code'));
      const old = await completeSandboxSignIn(
        authorizeRequest(own, listener.redirectUri, { client_id: DEMO_CREDENTIALS.oidc.clientId }).url,
        { password: 'another-password' },
      ).catch((e: unknown) => e);
      assert.ok(old instanceof SandboxSignInError && old.status === 400, 'the default client id is gone');
    } finally {
      await own.close();
    }
  });
});

describe('oidc: the authorize endpoint refuses bad requests', () => {
  const get = (url: string) => fetch(url, { redirect: 'manual' });

  it('an unknown client or an unregistered redirect_uri gets an error page, never a redirect', async () => {
    const unknown = await get(authorizeRequest(t.sandbox, listener.redirectUri, { client_id: 'nobody' }).url);
    assert.equal(unknown.status, 400);
    assert.equal(unknown.headers.get('location'), null);
    assert.match(await pageOf(unknown), /invalid_client/);
    for (const redirect of [
      'https://evil.example/callback',
      'http://evil.example/callback',
      `${listener.url}/callback/`,
      `${listener.url}/other`,
      `${listener.url}/callback#frag`,
      `${listener.url}/callback?x=1`,
      'http://127.0.0.1:0/callback',
      'http://user@127.0.0.1:8080/callback',
      'http://127.0.0.2:8080/callback',
      'http://LOCALHOST:8080/callback',
    ]) {
      const res = await get(authorizeRequest(t.sandbox, redirect).url);
      assert.equal(res.status, 400, redirect);
      assert.equal(res.headers.get('location'), null, redirect);
      await res.arrayBuffer();
    }
    const missing = await get(
      authorizeRequest(t.sandbox, listener.redirectUri, { redirect_uri: undefined }).url,
    );
    assert.equal(missing.status, 400);
    await missing.arrayBuffer();
  });

  it('any port on a registered loopback redirect URI is accepted (RFC 8252 §7.3)', async () => {
    for (const redirect of [
      'http://127.0.0.1:1234/callback',
      'http://[::1]:65535/callback',
      'http://localhost:8080/callback',
      'http://127.0.0.1:8080/',
      'http://127.0.0.1/callback',
    ]) {
      const res = await get(authorizeRequest(t.sandbox, redirect).url);
      assert.equal(res.status, 200, redirect);
      assert.match(await pageOf(res), /name="password"/);
    }
  });

  it('other errors go back to the client with error, state and iss', async () => {
    const cases: Array<[Record<string, string | undefined>, string]> = [
      [{ code_challenge: undefined }, 'invalid_request'],
      [{ code_challenge_method: 'plain' }, 'invalid_request'],
      [{ code_challenge_method: undefined }, 'invalid_request'],
      [{ code_challenge: 'too-short' }, 'invalid_request'],
      [{ response_type: 'token' }, 'unsupported_response_type'],
      [{ scope: 'openid admin' }, 'invalid_scope'],
      [{ scope: undefined }, 'invalid_scope'],
      [{ prompt: 'none' }, 'login_required'],
      [{ request: 'eyJ' }, 'request_not_supported'],
    ];
    for (const [params, error] of cases) {
      const req = authorizeRequest(t.sandbox, listener.redirectUri, params);
      const res = await get(req.url);
      assert.equal(res.status, 303, JSON.stringify(params));
      const loc = new URL(res.headers.get('location') ?? '');
      assert.equal(`${loc.origin}${loc.pathname}`, listener.redirectUri);
      assert.equal(loc.searchParams.get('error'), error, JSON.stringify(params));
      assert.equal(loc.searchParams.get('state'), req.state);
      assert.equal(loc.searchParams.get('iss'), issuer);
      assert.equal(loc.searchParams.get('code'), null);
    }
  });

  it('a parameter given twice is an error page', async () => {
    const req = authorizeRequest(t.sandbox, listener.redirectUri);
    const res = await get(`${req.url}&state=again`);
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null);
    assert.match(await pageOf(res), /state/);
  });

  it('wrong password: the sign-in page again with a message; the right one then works', async () => {
    const req = authorizeRequest(t.sandbox, listener.redirectUri);
    const page = await pageOf(await get(req.url));
    const interaction = /name="interaction" value="([^"]+)"/.exec(page)?.[1] ?? '';
    const wrong = await postForm(`${issuer}/login`, { interaction, username: 'person', password: 'nope' });
    assert.equal(wrong.status, 401);
    const again = await pageOf(wrong);
    assert.match(again, /Wrong username or password/);
    assert.ok(again.includes(`value="${interaction}"`));
    await assert.rejects(completeSandboxSignIn(req.url, { password: 'nope' }), (e: unknown) => {
      return e instanceof SandboxSignInError && e.problem === 'credentials' && e.status === 401;
    });
    const right = await postForm(`${issuer}/login`, {
      interaction,
      username: DEMO_CREDENTIALS.oidc.username,
      password: DEMO_CREDENTIALS.oidc.password,
    });
    assert.equal(right.status, 200);
    assert.match(await pageOf(right), /value="allow"/);
  });

  it('Deny sends error=access_denied with the state to the listener', async () => {
    const req = authorizeRequest(t.sandbox, listener.redirectUri);
    const redirect = await completeSandboxSignIn(req.url, { decision: 'deny', awaitRedirect: true });
    const u = new URL(redirect);
    assert.equal(u.searchParams.get('error'), 'access_denied');
    assert.equal(u.searchParams.get('state'), req.state);
    assert.equal(u.searchParams.get('code'), null);
    assert.equal(listener.requests.length, 1);
    assert.equal(
      new URL(listener.requests[0]?.url ?? '', listener.url).searchParams.get('error'),
      'access_denied',
    );
  });

  it('a sign-in expires after 10 minutes of the sandbox clock; a consent counts once', async () => {
    const req = authorizeRequest(t.sandbox, listener.redirectUri);
    const interaction =
      /name="interaction" value="([^"]+)"/.exec(await pageOf(await get(req.url)))?.[1] ?? '';
    t.advance(601);
    const late = await postForm(`${issuer}/login`, {
      interaction,
      username: DEMO_CREDENTIALS.oidc.username,
      password: DEMO_CREDENTIALS.oidc.password,
    });
    assert.equal(late.status, 400);
    assert.match(await pageOf(late), /expired/);

    const req2 = authorizeRequest(t.sandbox, listener.redirectUri);
    const id2 = /name="interaction" value="([^"]+)"/.exec(await pageOf(await get(req2.url)))?.[1] ?? '';
    const consentPage = await postForm(`${issuer}/login`, {
      interaction: id2,
      username: DEMO_CREDENTIALS.oidc.username,
      password: DEMO_CREDENTIALS.oidc.password,
    });
    await consentPage.arrayBuffer();
    const allow = () =>
      fetch(`${issuer}/consent`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ interaction: id2, decision: 'allow' }).toString(),
      });
    const first = await allow();
    assert.equal(first.status, 303);
    const second = await allow();
    assert.equal(second.status, 400);
    assert.equal(second.headers.get('location'), null);
    await second.arrayBuffer();
  });

  it('consent without signing in first is refused', async () => {
    const req = authorizeRequest(t.sandbox, listener.redirectUri);
    const interaction =
      /name="interaction" value="([^"]+)"/.exec(await pageOf(await get(req.url)))?.[1] ?? '';
    const res = await postForm(`${issuer}/consent`, { interaction, decision: 'allow' });
    assert.equal(res.status, 400);
    assert.match(await pageOf(res), /sign in first/);
  });

  it('pages escape what they echo and are sent with a strict CSP, no caching, no framing', async () => {
    const hint = '"><script>alert(1)</script>';
    const res = await get(authorizeRequest(t.sandbox, listener.redirectUri, { login_hint: hint }).url);
    const html = await pageOf(res);
    assert.ok(!html.includes('<script>'), 'no raw script tag');
    assert.ok(html.includes('&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
  });
});

describe('oidc: the device flow over HTTP', () => {
  interface DeviceAnswer {
    device_code: string;
    user_code: string;
    verification_uri: string;
    verification_uri_complete: string;
    expires_in: number;
    interval: number;
  }

  async function start(scope = 'openid profile email offline_access'): Promise<DeviceAnswer> {
    const res = await postForm(`${issuer}/device/auth`, { client_id: oidc().clientId, scope });
    assert.equal(res.status, 200);
    return (await res.json()) as DeviceAnswer;
  }

  const poll = (d: DeviceAnswer, clientId = oidc().clientId) =>
    tokenRequest(t.sandbox, { grant_type: DEVICE_GRANT, device_code: d.device_code, client_id: clientId });

  it('answers the device authorization request per RFC 8628', async () => {
    const d = await start();
    assert.match(d.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    assert.equal(d.verification_uri, `${issuer}/device`);
    assert.equal(d.verification_uri_complete, `${issuer}/device?user_code=${d.user_code}`);
    assert.equal(d.expires_in, 600);
    assert.equal(d.interval, 5);
    assert.ok(d.device_code.length >= 32);
  });

  it('pending, slow_down when polled too fast (the interval grows by 5 s), then approved, then used', async () => {
    const d = await start();
    assert.deepEqual(await oauthErrorOf(await poll(d)), [400, 'authorization_pending']);
    assert.deepEqual(await oauthErrorOf(await poll(d)), [400, 'slow_down']);
    t.advance(5);
    // The interval is now 10 s: 5 s later is still too soon.
    assert.deepEqual(await oauthErrorOf(await poll(d)), [400, 'slow_down']);
    t.advance(15);
    assert.deepEqual(await oauthErrorOf(await poll(d)), [400, 'authorization_pending']);
    await approveSandboxDevice(d.verification_uri, d.user_code);
    const tokens = await tokensOf(await poll(d));
    assert.equal(typeof tokens['refresh_token'], 'string');
    const id = await jwtVerify(tokens['id_token'] as string, createRemoteJWKSet(new URL(`${issuer}/jwks`)), {
      issuer,
      audience: oidc().clientId,
      currentDate: new Date(t.nowS() * 1000),
    });
    assert.equal(id.payload['nonce'], undefined);
    assert.equal(id.payload['email'], 'person@example.com');
    assert.deepEqual(await oauthErrorOf(await poll(d)), [400, 'invalid_grant']);
    assert.deepEqual(t.sandbox.stats().token.oidc, { device_code: 1 });
    // Its refresh token rotates like the code flow's.
    const r = await tokensOf(
      await tokenRequest(t.sandbox, {
        grant_type: 'refresh_token',
        refresh_token: tokens['refresh_token'] as string,
      }),
    );
    assert.notEqual(r['refresh_token'], tokens['refresh_token']);
  });

  it('deviceIntervalSeconds sets the interval; it is validated', async () => {
    t.sandbox.configure('oidc', { deviceIntervalSeconds: 1 });
    try {
      const d = await start();
      assert.equal(d.interval, 1);
      assert.deepEqual(await oauthErrorOf(await poll(d)), [400, 'authorization_pending']);
      t.advance(1);
      assert.deepEqual(await oauthErrorOf(await poll(d)), [400, 'authorization_pending']);
      assert.deepEqual(await oauthErrorOf(await poll(d)), [400, 'slow_down']);
      t.advance(5);
      assert.deepEqual(await oauthErrorOf(await poll(d)), [400, 'slow_down'], 'the interval is now 6 s');
      // That slow_down raised it again, to 11 s.
      t.advance(11);
      assert.deepEqual(await oauthErrorOf(await poll(d)), [400, 'authorization_pending']);
      assert.throws(
        () => t.sandbox.configure('oidc', { deviceIntervalSeconds: 0 }),
        (e: unknown) => e instanceof Error && (e as { code?: string }).code === 'ERR_CONFIG',
      );
    } finally {
      t.sandbox.configure('oidc', { deviceIntervalSeconds: undefined });
    }
  });

  it('denied: access_denied once, then the device code is gone', async () => {
    const d = await start();
    await approveSandboxDevice(d.verification_uri_complete, d.user_code, { decision: 'deny' });
    assert.deepEqual(await oauthErrorOf(await poll(d)), [400, 'access_denied']);
    assert.deepEqual(await oauthErrorOf(await poll(d)), [400, 'invalid_grant']);
    assert.deepEqual(t.sandbox.stats().token.oidc, {});
  });

  it('expires after expires_in of the sandbox clock: expired_token, and the page refuses the code', async () => {
    const d = await start();
    t.advance(601);
    assert.deepEqual(await oauthErrorOf(await poll(d)), [400, 'expired_token']);
    await assert.rejects(approveSandboxDevice(d.verification_uri, d.user_code), (e: unknown) => {
      return e instanceof SandboxSignInError && e.problem === 'device-code' && e.status === 400;
    });
  });

  it('the user code is accepted in lower case and without the dash; a wrong password is refused', async () => {
    const d = await start();
    await assert.rejects(
      approveSandboxDevice(d.verification_uri, d.user_code, { password: 'nope' }),
      (e: unknown) => {
        return e instanceof SandboxSignInError && e.problem === 'credentials' && e.status === 401;
      },
    );
    await approveSandboxDevice(d.verification_uri, d.user_code.replace('-', '').toLowerCase());
    assert.equal((await poll(d)).status, 200);
  });

  it('the verification page pre-fills the code from verification_uri_complete, escaped', async () => {
    const d = await start();
    const html = await (await fetch(d.verification_uri_complete)).text();
    assert.ok(html.includes(`value="${d.user_code}"`));
    const odd = await (await fetch(`${issuer}/device?user_code=${encodeURIComponent('"><b>x')}`)).text();
    assert.ok(!odd.includes('<b>x'));
  });

  it('refuses an unknown device code, another client’s, an unknown client and an unknown scope', async () => {
    const d = await start();
    const c = oidc();
    assert.deepEqual(await oauthErrorOf(await poll({ ...d, device_code: 'nope' })), [400, 'invalid_grant']);
    const other = await postForm(
      `${issuer}/token`,
      { grant_type: DEVICE_GRANT, device_code: d.device_code },
      { authorization: basic(c.confidentialClientId, c.clientSecret) },
    );
    assert.deepEqual(await oauthErrorOf(other), [400, 'invalid_grant']);
    const stranger = await postForm(`${issuer}/device/auth`, { client_id: 'nobody', scope: 'openid' });
    assert.deepEqual(await oauthErrorOf(stranger), [401, 'invalid_client']);
    const scope = await postForm(`${issuer}/device/auth`, { client_id: c.clientId, scope: 'openid admin' });
    assert.deepEqual(await oauthErrorOf(scope), [400, 'invalid_scope']);
    const grant = await tokenRequest(t.sandbox, { grant_type: 'password', username: 'a', password: 'b' });
    assert.deepEqual(await oauthErrorOf(grant), [400, 'unsupported_grant_type']);
  });
});

describe('oidc: browserless helpers', () => {
  it('refuse URLs off loopback without sending anything', async () => {
    for (const url of ['https://idp.example.com/authorize', 'http://10.0.0.1/oidc/authorize', 'not a url']) {
      await assert.rejects(completeSandboxSignIn(url), (e: unknown) => {
        return (
          e instanceof SandboxSignInError && e.problem === 'not-loopback' && e.code === 'ERR_SANDBOX_SIGN_IN'
        );
      });
      await assert.rejects(approveSandboxDevice(url, 'BCDF-GHJK'), (e: unknown) => {
        return e instanceof SandboxSignInError && e.problem === 'not-loopback';
      });
    }
  });

  it('completeSandboxSignIn returns once the redirect is sent, before the listener answers', async () => {
    // A client like tokenward's answers its listener only after redeeming the code, which it does only
    // once its openBrowser hook has returned: waiting for that answer would deadlock.
    let release = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    let arrived = () => {};
    const got = new Promise<void>((r) => {
      arrived = r;
    });
    const slow = await startLoopback(async (_req, res) => {
      arrived();
      await held;
      res.end('signed in');
    });
    try {
      const req = authorizeRequest(t.sandbox, `${slow.url}/callback`);
      const redirect = await completeSandboxSignIn(req.url);
      assert.ok(new URL(redirect).searchParams.get('code'));
      await got;
      assert.equal(slow.requests.length, 1);
      assert.equal(new URL(slow.requests[0]?.url ?? '', slow.url).searchParams.get('state'), req.state);
    } finally {
      release();
      await slow.close();
    }
  });

  it('an authorize URL the sandbox refuses is an unexpected-answer error naming the status', async () => {
    const req = authorizeRequest(t.sandbox, listener.redirectUri, { client_id: 'nobody' });
    await assert.rejects(completeSandboxSignIn(req.url), (e: unknown) => {
      return e instanceof SandboxSignInError && e.problem === 'unexpected-answer' && e.status === 400;
    });
    assert.equal(listener.requests.length, 0);
  });
});
