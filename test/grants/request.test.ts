/**
 * `grantRequest`, the shared body of every form grant: how the form and headers are built (undefined
 * fields left out, the client authentication's part added, with the context's token URL, assertion
 * audience and clock), and how the answer becomes a token or a typed error — against a recording
 * loopback token endpoint.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { InvalidTokenResponseError, NetworkError, TokenEndpointError } from '../../src/errors.js';
import { grantRequest } from '../../src/grants/request.js';
import { secretsInError } from '../e2e/helpers.js';
import { until } from '../helpers/wait.js';
import {
  basicCredentials,
  CLIENT,
  grantContext,
  NOW,
  onlyFormRequest,
  TOKEN_PATH,
  useTokenEndpoint,
} from './helpers.js';

const ep = useTokenEndpoint();
/** The test client, authenticating with its secret by `method`. */
const secretAuth = (method: 'client_secret_post' | 'client_secret_jwt') =>
  ({ client_id: CLIENT.id, client_secret: CLIENT.secret, auth_method: method }) as const;

describe('grantRequest: the request', () => {
  it('one form POST: undefined fields are left out, the client is in HTTP Basic and not in the form', async () => {
    await grantRequest(grantContext(ep.tokenUrl), {
      grant_type: 'client_credentials',
      scope: undefined,
      extra: 'a b&c=d',
    });
    const { req, form } = onlyFormRequest(ep);
    assert.deepEqual(form, { grant_type: 'client_credentials', extra: 'a b&c=d' });
    assert.deepEqual(basicCredentials(req), { id: CLIENT.id, secret: CLIENT.secret });
  });

  it('client_secret_post puts id and secret in the form; none sends only client_id; neither sends Authorization', async () => {
    const post = secretAuth('client_secret_post');
    await grantRequest(grantContext(ep.tokenUrl, post), { grant_type: 'client_credentials' });
    const sent = onlyFormRequest(ep);
    assert.deepEqual(sent.form, {
      grant_type: 'client_credentials',
      client_id: CLIENT.id,
      client_secret: CLIENT.secret,
    });
    assert.equal(sent.req.headers.authorization, undefined);

    ep.requests.length = 0;
    await grantRequest(grantContext(ep.tokenUrl, { client_id: 'public-app', auth_method: 'none' }), {
      grant_type: 'password',
      username: 'u',
      password: 'p',
    });
    const pub = onlyFormRequest(ep);
    assert.deepEqual(pub.form, {
      grant_type: 'password',
      username: 'u',
      password: 'p',
      client_id: 'public-app',
    });
    assert.equal(pub.req.headers.authorization, undefined);
  });

  it('a JWT client assertion gets the token URL as aud, or assertionAudience, and iat from the context clock', async () => {
    const jwtAuth = secretAuth('client_secret_jwt');
    const key = new TextEncoder().encode(CLIENT.secret);
    const assertionOf = async () => {
      const { req, form } = onlyFormRequest(ep);
      assert.equal(req.headers.authorization, undefined);
      assert.equal(form['client_assertion_type'], 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      assert.equal(form['client_secret'], undefined);
      const jwt = form['client_assertion'] ?? '';
      assert.equal(decodeProtectedHeader(jwt).alg, 'HS256');
      ep.requests.length = 0;
      return (await jwtVerify(jwt, key, { currentDate: new Date(NOW) })).payload;
    };

    await grantRequest(grantContext(ep.tokenUrl, jwtAuth), { grant_type: 'client_credentials' });
    const a = await assertionOf();
    assert.equal(a.aud, ep.tokenUrl);
    assert.equal(a.iss, CLIENT.id);
    assert.equal(a.sub, CLIENT.id);
    assert.equal(a.iat, NOW / 1000);

    const issuer = 'http://127.0.0.1/issuer';
    await grantRequest(grantContext(ep.tokenUrl, jwtAuth, { assertionAudience: issuer }), {
      grant_type: 'client_credentials',
    });
    assert.equal((await assertionOf()).aud, issuer);
  });

  it("extras.headers are sent along with the client authentication's header", async () => {
    await grantRequest(
      grantContext(ep.tokenUrl),
      { grant_type: 'client_credentials' },
      { headers: { 'x-request-id': 'req-42' } },
    );
    const { req } = onlyFormRequest(ep);
    assert.equal(req.headers['x-request-id'], 'req-42');
    assert.deepEqual(basicCredentials(req), { id: CLIENT.id, secret: CLIENT.secret });
  });

  it('extras.signal aborts a request the endpoint does not answer: a NetworkError, one request', async () => {
    ep.answerEach(() => {
      // never answers; the abort ends the request
    });
    const ac = new AbortController();
    const pending = grantRequest(
      grantContext(ep.tokenUrl),
      { grant_type: 'client_credentials' },
      { signal: ac.signal },
    );
    await until(() => ep.requests.length === 1, 'the request reaches the endpoint');
    ac.abort();
    await assert.rejects(pending, (e: unknown) => {
      assert.ok(e instanceof NetworkError);
      assert.equal(e.code, 'ERR_NETWORK');
      assert.match(e.message, /was aborted/);
      return true;
    });
    assert.equal(ep.requests.length, 1);
  });
});

describe('grantRequest: the answer', () => {
  it('a success becomes a token timed by the context clock', async () => {
    ep.answer(200, {
      access_token: 'at-1',
      token_type: 'bearer',
      expires_in: 600,
      refresh_token: 'rt-1',
      scope: 'a b',
    });
    const t = await grantRequest(grantContext(ep.tokenUrl), { grant_type: 'client_credentials' });
    assert.equal(t.accessToken, 'at-1');
    assert.equal(t.tokenType, 'Bearer');
    assert.equal(t.obtainedAt, NOW);
    assert.equal(t.expiresAt, NOW + 600_000);
    assert.equal(t.expirySource, 'expires_in');
    assert.equal(t.refreshToken, 'rt-1');
    assert.equal(t.scope, 'a b');
  });

  it("the context's parse options apply: default lifetime, lifetime cap, accepted token types", async () => {
    ep.answer(200, { access_token: 'at-2', token_type: 'Bearer' });
    const parse = { defaultLifetimeSeconds: 120, maxLifetimeSeconds: 300 };
    const t = await grantRequest(grantContext(ep.tokenUrl, undefined, { parse }), { grant_type: 'x' });
    assert.equal(t.expiresAt, NOW + 120_000);
    ep.answer(200, { access_token: 'at-3', token_type: 'Bearer', expires_in: 86_400 });
    const capped = await grantRequest(grantContext(ep.tokenUrl, undefined, { parse }), { grant_type: 'x' });
    assert.equal(capped.expiresAt, NOW + 300_000);

    ep.answer(200, { access_token: 'at-4', token_type: 'N_A', expires_in: 60 });
    await assert.rejects(
      grantRequest(grantContext(ep.tokenUrl), { grant_type: 'x' }),
      (e: unknown) => e instanceof InvalidTokenResponseError && e.status === 200 && /N_A/.test(e.message),
    );
    const ok = await grantRequest(
      grantContext(ep.tokenUrl, undefined, { parse: { acceptedTokenTypes: ['N_A'] } }),
      {
        grant_type: 'x',
      },
    );
    assert.equal(ok.accessToken, 'at-4');
  });

  it('an OAuth error is a TokenEndpointError with status, error and error_description', async () => {
    ep.answer(400, { error: 'invalid_request', error_description: 'the request is missing a field' });
    await assert.rejects(grantRequest(grantContext(ep.tokenUrl), { grant_type: 'x' }), (e: unknown) => {
      assert.ok(e instanceof TokenEndpointError);
      assert.equal(e.code, 'ERR_TOKEN_ENDPOINT');
      assert.equal(e.status, 400);
      assert.equal(e.error, 'invalid_request');
      assert.equal(e.errorDescription, 'the request is missing a field');
      assert.equal(e.url, ep.tokenUrl);
      return true;
    });
    assert.equal(ep.requests.length, 1);
  });

  it('a server echoing the Basic client secret in its error does not put the secret in the error', async () => {
    ep.answer(401, { error: 'invalid_client', error_description: `bad secret ${CLIENT.secret}` });
    await assert.rejects(grantRequest(grantContext(ep.tokenUrl), { grant_type: 'x' }), (e: unknown) => {
      assert.ok(e instanceof TokenEndpointError);
      assert.equal(e.status, 401);
      assert.equal(e.error, 'invalid_client');
      assert.deepEqual(secretsInError(e, [CLIENT.secret]), []);
      return true;
    });
  });

  it('a malformed 200 (not JSON, a JSON list, no access_token) is an InvalidTokenResponseError; no token', async () => {
    const bad: Array<[string, string | undefined, RegExp]> = [
      ['<html>sign in</html>', 'text/html', /HTML|JSON/],
      ['[1,2]', 'application/json', /not an object/],
      ['{"token_type":"Bearer","expires_in":60}', 'application/json', /access_token/],
    ];
    for (const [body, type, why] of bad) {
      ep.requests.length = 0;
      ep.answerRaw(200, body, type);
      await assert.rejects(grantRequest(grantContext(ep.tokenUrl), { grant_type: 'x' }), (e: unknown) => {
        assert.ok(e instanceof InvalidTokenResponseError, String(e));
        assert.equal(e.code, 'ERR_INVALID_TOKEN_RESPONSE');
        assert.equal(e.status, 200);
        assert.equal(e.url, ep.tokenUrl);
        assert.match(e.message, why);
        return true;
      });
      assert.equal(ep.requests.length, 1);
      assert.equal(ep.requests[0]?.url, TOKEN_PATH);
    }
  });
});
