/**
 * The refresh token grant (RFC 6749 §6): the exact form it sends, the keep-the-old-refresh-token rule
 * (an answer without a new refresh token keeps the one used, with its expiry), `refreshWithToken`, and
 * which failed answers the manager treats as a rejected refresh token (`isRejectedRefresh`) — against a
 * recording loopback token endpoint and the loopback token server (one use per refresh token).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  ConfigError,
  InvalidTokenResponseError,
  TokenEndpointError,
  UnsupportedError,
  UpstreamUnavailableError,
} from '../../src/errors.js';
import { refreshTokenGrant, refreshWithToken } from '../../src/grants/refresh-token.js';
import { isRejectedRefresh } from '../../src/manager/token-manager.js';
import type { Token } from '../../src/token.js';
import { secretsInError } from '../e2e/helpers.js';
import { startTokenServer, TEST_CLIENT, type TokenServer } from '../helpers/token-server.js';
import { basicCredentials, CLIENT, grantContext, NOW, onlyFormRequest, useTokenEndpoint } from './helpers.js';

const ep = useTokenEndpoint();
const RT = 'rt-old-7c1d2e3f4a5b';

describe('refreshTokenGrant: the request', () => {
  it('sends grant_type and the refresh token in the form, the client in HTTP Basic, nothing in the URL', async () => {
    await refreshTokenGrant(grantContext(ep.tokenUrl), { refreshToken: RT });
    const { req, form } = onlyFormRequest(ep);
    assert.deepEqual(form, { grant_type: 'refresh_token', refresh_token: RT });
    assert.deepEqual(basicCredentials(req), { id: CLIENT.id, secret: CLIENT.secret });
  });

  it('sends a narrower scope and params (e.g. username); its own fields win over params', async () => {
    await refreshTokenGrant(grantContext(ep.tokenUrl), {
      refreshToken: RT,
      scope: ['api:read'],
      params: { username: 'alice', refresh_token: 'not-this-one', grant_type: 'password' },
    });
    assert.deepEqual(onlyFormRequest(ep).form, {
      username: 'alice',
      refresh_token: RT,
      grant_type: 'refresh_token',
      scope: 'api:read',
    });
  });

  it('an empty refresh token is a ConfigError on refresh_token, and nothing is sent', () => {
    assert.throws(
      () => refreshTokenGrant(grantContext(ep.tokenUrl), { refreshToken: '' }),
      (e: unknown) => e instanceof ConfigError && e.key === 'refresh_token',
    );
    assert.equal(ep.requests.length, 0);
  });
});

describe('refreshTokenGrant: keeping the refresh token', () => {
  it('an answer without a refresh token keeps the one used, with its known expiry', async () => {
    ep.answer(200, { access_token: 'at-new', token_type: 'Bearer', expires_in: 300 });
    const t = await refreshTokenGrant(grantContext(ep.tokenUrl), {
      refreshToken: RT,
      refreshExpiresAt: NOW + 86_400_000,
    });
    assert.equal(t.accessToken, 'at-new');
    assert.equal(t.refreshToken, RT);
    assert.equal(t.refreshExpiresAt, NOW + 86_400_000);
    assert.equal(t.expiresAt, NOW + 300_000);
  });

  it('without a known expiry the kept refresh token has none', async () => {
    ep.answer(200, { access_token: 'at-new', expires_in: 300 });
    const t = await refreshTokenGrant(grantContext(ep.tokenUrl), { refreshToken: RT });
    assert.equal(t.refreshToken, RT);
    assert.equal(t.refreshExpiresAt, undefined);
  });

  it('an answer with a new refresh token replaces the old one and its expiry (refresh_expires_in)', async () => {
    ep.answer(200, {
      access_token: 'at-new',
      expires_in: 300,
      refresh_token: 'rt-new',
      refresh_expires_in: 600,
    });
    const t = await refreshTokenGrant(grantContext(ep.tokenUrl), {
      refreshToken: RT,
      refreshExpiresAt: NOW + 86_400_000,
    });
    assert.equal(t.refreshToken, 'rt-new');
    assert.equal(t.refreshExpiresAt, NOW + 600_000);
  });
});

describe('refreshWithToken', () => {
  it("refreshes with the token's own refresh token and expiry, and the given params", async () => {
    ep.answer(200, { access_token: 'at-new', expires_in: 300 });
    const old: Token = {
      accessToken: 'at-old',
      tokenType: 'Bearer',
      obtainedAt: NOW - 600_000,
      expiresAt: NOW - 300_000,
      expirySource: 'expires_in',
      refreshToken: RT,
      refreshExpiresAt: NOW + 3_600_000,
      raw: {},
    };
    const t = await refreshWithToken(grantContext(ep.tokenUrl), old, {}, { username: 'alice' });
    assert.deepEqual(onlyFormRequest(ep).form, {
      username: 'alice',
      grant_type: 'refresh_token',
      refresh_token: RT,
    });
    assert.equal(t.refreshToken, RT);
    assert.equal(t.refreshExpiresAt, NOW + 3_600_000);
  });

  it('a token without a refresh token is an UnsupportedError, and nothing is sent', async () => {
    const bare: Token = {
      accessToken: 'at-old',
      tokenType: 'Bearer',
      obtainedAt: NOW,
      expiresAt: NOW + 1000,
      expirySource: 'expires_in',
      raw: {},
    };
    await assert.rejects(refreshWithToken(grantContext(ep.tokenUrl), bare), (e: unknown) => {
      assert.ok(e instanceof UnsupportedError);
      assert.equal(e.code, 'ERR_UNSUPPORTED');
      return true;
    });
    assert.equal(ep.requests.length, 0);
  });
});

describe('refreshTokenGrant: failed answers and the rejected-refresh rule', () => {
  // [what, status, body, the error class, a rejected refresh (the primary grant is tried, the refresh token dropped)]
  const cases: Array<[string, number, string, new (...a: never[]) => Error, boolean]> = [
    ['400 invalid_grant', 400, '{"error":"invalid_grant"}', TokenEndpointError, true],
    ['401 invalid_token', 401, '{"error":"invalid_token"}', TokenEndpointError, true],
    ['a bare 400 (empty body)', 400, '', TokenEndpointError, true],
    ['a bare 401 (empty body)', 401, '', TokenEndpointError, true],
    ['a 401 with an HTML page', 401, '<html>denied</html>', TokenEndpointError, true],
    ['400 invalid_client', 400, '{"error":"invalid_client"}', TokenEndpointError, false],
    ['401 invalid_client', 401, '{"error":"invalid_client"}', TokenEndpointError, false],
    ['400 invalid_scope', 400, '{"error":"invalid_scope"}', TokenEndpointError, false],
    ['a bare 403', 403, '', TokenEndpointError, false],
    ['a 500', 500, '{"error":"server_error"}', TokenEndpointError, false],
    ['a 503', 503, '', UpstreamUnavailableError, false],
    ['a malformed 200', 200, '{"token_type":"Bearer"}', InvalidTokenResponseError, false],
  ];
  for (const [what, status, body, type, rejected] of cases) {
    it(`${what}: ${type.name}, ${rejected ? '' : 'not '}a rejected refresh; the refresh token is not in it`, async () => {
      ep.answerEach((_n, _req, res) => {
        res.writeHead(
          status,
          body === '' ? {} : { 'content-type': body.startsWith('<') ? 'text/html' : 'application/json' },
        );
        res.end(body);
      });
      await assert.rejects(
        refreshTokenGrant(grantContext(ep.tokenUrl), { refreshToken: RT }),
        (e: unknown) => {
          assert.ok(e instanceof type, `${String(e)} is a ${type.name}`);
          assert.equal(isRejectedRefresh(e), rejected);
          if (e instanceof TokenEndpointError) assert.equal(e.status, status);
          assert.deepEqual(secretsInError(e as TokenEndpointError, [RT, CLIENT.secret]), []);
          return true;
        },
      );
      assert.equal(ep.requests.length, 1);
    });
  }

  it('a server echoing the refresh token in its error description does not put it in the error', async () => {
    ep.answer(400, { error: 'invalid_grant', error_description: `refresh token ${RT} is revoked` });
    await assert.rejects(refreshTokenGrant(grantContext(ep.tokenUrl), { refreshToken: RT }), (e: unknown) => {
      assert.ok(e instanceof TokenEndpointError);
      assert.equal(e.error, 'invalid_grant');
      assert.equal(isRejectedRefresh(e), true);
      assert.deepEqual(secretsInError(e, [RT]), []);
      return true;
    });
  });
});

describe('refreshTokenGrant against the token server', () => {
  let server: TokenServer;
  before(async () => {
    server = await startTokenServer({ clients: { [TEST_CLIENT.id]: TEST_CLIENT.secret } });
  });
  after(() => server.close());
  const ctx = () =>
    grantContext(server.tokenUrl, { client_id: TEST_CLIENT.id, client_secret: TEST_CLIENT.secret });

  it('rotation: the new refresh token works; the used one is then refused as a rejected refresh', async () => {
    server.reset();
    server.liveRefreshTokens.add('rt-seed');
    const t1 = await refreshTokenGrant(ctx(), { refreshToken: 'rt-seed' });
    assert.ok(t1.refreshToken !== undefined && t1.refreshToken !== 'rt-seed');
    const t2 = await refreshTokenGrant(ctx(), { refreshToken: t1.refreshToken });
    assert.notEqual(t2.refreshToken, t1.refreshToken);
    await assert.rejects(refreshTokenGrant(ctx(), { refreshToken: 'rt-seed' }), (e: unknown) => {
      assert.ok(e instanceof TokenEndpointError);
      assert.equal(e.error, 'invalid_grant');
      assert.equal(isRejectedRefresh(e), true);
      return true;
    });
    assert.deepEqual(server.counts.byGrant, { refresh_token: 3 });
    assert.equal(server.rejectedRefreshes, 1);
  });

  it('no rotation: the answer has no refresh token, the one used is kept, and it works again', async () => {
    server.reset();
    server.rotate = false;
    server.liveRefreshTokens.add('rt-long-lived');
    const t1 = await refreshTokenGrant(ctx(), { refreshToken: 'rt-long-lived' });
    assert.equal(t1.refreshToken, 'rt-long-lived');
    const t2 = await refreshTokenGrant(ctx(), { refreshToken: t1.refreshToken });
    assert.equal(t2.refreshToken, 'rt-long-lived');
    assert.notEqual(t2.accessToken, t1.accessToken);
    assert.deepEqual(server.counts.byGrant, { refresh_token: 2 });
    assert.equal(server.rejectedRefreshes, 0);
  });
});
