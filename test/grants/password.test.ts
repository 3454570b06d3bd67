/**
 * The resource owner password grant (RFC 6749 §4.3): the exact form it sends (username and password in
 * the body, never the URL), its checks before sending, and how a refused password maps — against a
 * recording loopback token endpoint and the loopback token server's resource owners.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError, TokenEndpointError } from '../../src/errors.js';
import { passwordGrant } from '../../src/grants/password.js';
import { secretsInError } from '../e2e/helpers.js';
import { startTokenServer, TEST_CLIENT, TEST_USER, type TokenServer } from '../helpers/token-server.js';
import { basicCredentials, CLIENT, grantContext, onlyFormRequest, useTokenEndpoint } from './helpers.js';

const ep = useTokenEndpoint();
const USER = { username: 'alice@example.com', password: 'p&ss=word+ %' } as const;

describe('passwordGrant: the request', () => {
  it('sends username and password in the form body (encoded), the client in HTTP Basic, nothing in the URL', async () => {
    await passwordGrant(grantContext(ep.tokenUrl), { ...USER });
    const { req, form } = onlyFormRequest(ep);
    assert.deepEqual(form, { grant_type: 'password', username: USER.username, password: USER.password });
    assert.ok(!req.body.includes(USER.password), 'the password is form-encoded');
    assert.deepEqual(basicCredentials(req), { id: CLIENT.id, secret: CLIENT.secret });
  });

  it('sends scope, audience, resource and params; its own fields win over params', async () => {
    await passwordGrant(grantContext(ep.tokenUrl), {
      ...USER,
      scope: ['openid', 'offline_access'],
      audience: 'aud-1',
      resource: 'https://rs.example.com/',
      params: { takeExclusiveSignOnControl: 'true', username: 'mallory', grant_type: 'client_credentials' },
    });
    assert.deepEqual(onlyFormRequest(ep).form, {
      takeExclusiveSignOnControl: 'true',
      username: USER.username,
      grant_type: 'password',
      password: USER.password,
      scope: 'openid offline_access',
      audience: 'aud-1',
      resource: 'https://rs.example.com/',
    });
  });

  it('a missing username or password is a ConfigError naming the key, and nothing is sent', async () => {
    const ctx = grantContext(ep.tokenUrl);
    assert.throws(
      () => passwordGrant(ctx, { username: '', password: 'x' }),
      (e: unknown) => e instanceof ConfigError && e.key === 'username',
    );
    assert.throws(
      () => passwordGrant(ctx, { username: 'u', password: '' }),
      (e: unknown) => e instanceof ConfigError && e.key === 'password',
    );
    assert.equal(ep.requests.length, 0);
  });
});

describe('passwordGrant: the answer', () => {
  let server: TokenServer;
  before(async () => {
    server = await startTokenServer({
      clients: { [TEST_CLIENT.id]: TEST_CLIENT.secret },
      users: { [TEST_USER.username]: TEST_USER.password },
    });
  });
  after(() => server.close());
  const ctx = () =>
    grantContext(server.tokenUrl, { client_id: TEST_CLIENT.id, client_secret: TEST_CLIENT.secret });

  it('the right password gets an access token and a refresh token', async () => {
    const t = await passwordGrant(ctx(), { ...TEST_USER });
    assert.match(t.accessToken, /^at-/);
    assert.ok(t.refreshToken !== undefined && server.liveRefreshTokens.has(t.refreshToken));
    assert.deepEqual(server.counts.byGrant, { password: 1 });
  });

  it('a wrong password is invalid_grant (400) with the server description; neither password is in the error', async () => {
    const wrong = 'not the password of alice';
    await assert.rejects(
      passwordGrant(ctx(), { username: TEST_USER.username, password: wrong }),
      (e: unknown) => {
        assert.ok(e instanceof TokenEndpointError);
        assert.equal(e.code, 'ERR_TOKEN_ENDPOINT');
        assert.equal(e.status, 400);
        assert.equal(e.error, 'invalid_grant');
        assert.equal(e.errorDescription, 'wrong username or password');
        assert.deepEqual(secretsInError(e, [wrong, TEST_USER.password, TEST_CLIENT.secret]), []);
        return true;
      },
    );
  });
});
