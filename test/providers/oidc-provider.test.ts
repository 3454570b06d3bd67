import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { type ClientAuthProfile, createClientAuth } from '../../src/auth/index.js';
import { clearDiscoveryCache, discover } from '../../src/discovery.js';
import { ConfigError, TokenEndpointError, UnsupportedError } from '../../src/errors.js';
import { clientCredentials } from '../../src/grants/client-credentials.js';
import { passwordGrant } from '../../src/grants/password.js';
import { refreshTokenGrant } from '../../src/grants/refresh-token.js';
import type { GrantContext } from '../../src/grants/types.js';
import { closeAgents } from '../../src/http/agent.js';
import { TokenManager } from '../../src/manager/token-manager.js';
import { createTokenClient } from '../../src/providers/index.js';
import { createClient as createOAuth2 } from '../../src/providers/oauth2.js';
import { createClient as createOidc } from '../../src/providers/oidc.js';
import { revokeToken } from '../../src/revocation.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { type OidcTestProvider, startOidcProvider, USER } from '../helpers/oidc-provider.js';

let p: OidcTestProvider;
const http = { retries: 0, timeoutMs: 5000 };

before(async () => {
  p = await startOidcProvider();
});
after(async () => {
  await p.close();
  await closeAgents();
});
beforeEach(() => {
  p.resetCounts();
  clearDiscoveryCache();
});

function ctxFor(profile: ClientAuthProfile): GrantContext {
  return { tokenUrl: p.tokenUrl, clientAuth: createClientAuth(profile), http };
}

describe('oidc-provider: client_credentials with each client authentication method', () => {
  const profiles = (): Array<[string, ClientAuthProfile]> => {
    const c = p.clients;
    return [
      ['client_secret_basic', { client_id: c.basic.clientId, client_secret: c.basic.clientSecret }],
      [
        'client_secret_post',
        { client_id: c.post.clientId, client_secret: c.post.clientSecret, auth_method: 'client_secret_post' },
      ],
      [
        'client_secret_jwt',
        { client_id: c.jwt.clientId, client_secret: c.jwt.clientSecret, auth_method: 'client_secret_jwt' },
      ],
      [
        'private_key_jwt (PEM)',
        { client_id: c.pkjwt.clientId, private_key: c.pkjwt.privateKeyPem, key_id: c.pkjwt.kid },
      ],
      ['private_key_jwt (JWK)', { client_id: c.pkjwt.clientId, private_key: c.pkjwt.privateJwk }],
      [
        'private_key_jwt (aud = issuer)',
        { client_id: c.pkjwt.clientId, private_key: c.pkjwt.privateKeyPem, assertion_audience: p.issuer },
      ],
    ];
  };
  it('gets a Bearer token with the asked scope', async () => {
    for (const [name, prof] of profiles()) {
      const t = await clientCredentials(ctxFor(prof), { scope: 'api:read' });
      assert.equal(t.tokenType, 'Bearer', name);
      assert.equal(t.scope, 'api:read', name);
      assert.equal(t.expirySource, 'expires_in', name);
      assert.ok(t.accessToken.length > 10, name);
    }
    assert.equal(p.counts.byGrant['client_credentials'], profiles().length);
  });
  it('public client (none): client_credentials is refused', async () => {
    await assert.rejects(clientCredentials(ctxFor({ client_id: p.clients.public.clientId }), {}), (e) => {
      assert.ok(e instanceof TokenEndpointError);
      assert.equal(e.status, 400);
      return true;
    });
  });
});

describe('oidc-provider: rejections', () => {
  it('bad client secret → invalid_client (401)', async () => {
    const ctx = ctxFor({ client_id: p.clients.basic.clientId, client_secret: 'wrong-secret-value' });
    await assert.rejects(clientCredentials(ctx, {}), (e) => {
      assert.ok(e instanceof TokenEndpointError);
      assert.ok(e.status === 401 || e.status === 400);
      assert.equal(e.error, 'invalid_client');
      assert.match(e.message, /check client_id/);
      return true;
    });
    assert.equal(p.counts.token, 1, 'a 4xx is not retried');
  });
  it('bad password → invalid_grant; scope not allowed → invalid_scope', async () => {
    const ctx = ctxFor({ client_id: p.clients.basic.clientId, client_secret: p.clients.basic.clientSecret });
    await assert.rejects(
      passwordGrant(ctx, { username: USER.username, password: 'not-the-password' }),
      (e) => {
        assert.ok(e instanceof TokenEndpointError);
        assert.equal(e.error, 'invalid_grant');
        return true;
      },
    );
    await assert.rejects(clientCredentials(ctx, { scope: 'api:write' }), (e) => {
      assert.ok(e instanceof TokenEndpointError);
      assert.equal(e.error, 'invalid_scope');
      return true;
    });
  });
});

describe('oidc-provider: password + refresh_token with rotation', () => {
  it('a refresh returns a new refresh token; the old one is then rejected', async () => {
    const ctx = ctxFor({ client_id: p.clients.basic.clientId, client_secret: p.clients.basic.clientSecret });
    const t1 = await passwordGrant(ctx, { ...USER, scope: ['openid', 'offline_access', 'api:read'] });
    assert.ok(t1.refreshToken);
    assert.equal(t1.scope, 'openid offline_access api:read');
    const t2 = await refreshTokenGrant(ctx, { refreshToken: t1.refreshToken! });
    assert.ok(t2.refreshToken);
    assert.notEqual(t2.refreshToken, t1.refreshToken);
    assert.notEqual(t2.accessToken, t1.accessToken);
    await assert.rejects(refreshTokenGrant(ctx, { refreshToken: t1.refreshToken! }), (e) => {
      assert.ok(e instanceof TokenEndpointError);
      assert.equal(e.error, 'invalid_grant');
      return true;
    });
    assert.deepEqual(p.counts.byGrant, { password: 1, refresh_token: 2 });
  });
  it('a public client (none) can use the password and refresh grants', async () => {
    const ctx = ctxFor({ client_id: p.clients.public.clientId });
    const t1 = await passwordGrant(ctx, { ...USER });
    const t2 = await refreshTokenGrant(ctx, { refreshToken: t1.refreshToken! });
    assert.notEqual(t2.refreshToken, t1.refreshToken);
  });
});

describe('oidc-provider: discovery and revocation', () => {
  it('discovers once and caches (concurrent callers share one fetch)', async () => {
    const [a, b] = await Promise.all([discover(p.issuer, http), discover(p.issuer, http)]);
    const c = await discover(p.issuer, http);
    assert.equal(a, b);
    assert.equal(a, c);
    assert.equal(a.token_endpoint, p.tokenUrl);
    assert.equal(a.revocation_endpoint, p.revocationUrl);
    assert.equal(p.counts.discovery, 1);
  });
  it('revokes refresh and access tokens (RFC 7009); a revoked refresh token no longer works', async () => {
    const prof = {
      client_id: p.clients.post.clientId,
      client_secret: p.clients.post.clientSecret,
      auth_method: 'client_secret_post' as const,
    };
    const ctx = ctxFor(prof);
    const t = await passwordGrant(ctx, { ...USER });
    await revokeToken(
      { revocationUrl: p.revocationUrl, tokenUrl: p.tokenUrl, clientAuth: ctx.clientAuth, http },
      t,
    );
    assert.equal(p.counts.revocation, 2);
    await assert.rejects(
      refreshTokenGrant(ctx, { refreshToken: t.refreshToken! }),
      (e) => e instanceof TokenEndpointError && e.error === 'invalid_grant',
    );
  });
  it('revocation without an endpoint → UnsupportedError', async () => {
    const ctx = ctxFor({ client_id: p.clients.post.clientId, client_secret: p.clients.post.clientSecret });
    await assert.rejects(
      revokeToken({ tokenUrl: p.tokenUrl, clientAuth: ctx.clientAuth, http }, {
        accessToken: 'x1234',
      } as never),
      UnsupportedError,
    );
  });
});

describe('generic providers (oauth2 / oidc) against oidc-provider', () => {
  it('oidc: discovers lazily, client_credentials with private_key_jwt, identity has no secrets', async () => {
    const client = await createOidc(
      {
        issuer: p.issuer,
        client_id: p.clients.pkjwt.clientId,
        private_key: p.clients.pkjwt.privateKeyPem,
        scope: ['api:read'],
      },
      http,
    );
    assert.equal(p.counts.discovery, 0, 'no I/O when the client is built');
    assert.deepEqual(Object.fromEntries(Object.entries(client.identity).filter(([, v]) => v !== undefined)), {
      provider: 'oidc',
      issuer: p.issuer,
      client_id: p.clients.pkjwt.clientId,
      auth_method: 'private_key_jwt',
      grant: 'client_credentials',
      scope: 'api:read',
    });
    const t = await client.fetchToken({ now: Date.now });
    await client.fetchToken({ now: Date.now });
    assert.equal(t.scope, 'api:read');
    assert.equal(p.counts.discovery, 1);
    assert.equal(p.counts.byGrant['client_credentials'], 2);
  });
  it('oauth2 with token_url: password grant, refresh with rotation, revoke through the TokenManager', async () => {
    const client = await createOAuth2(
      {
        token_url: p.tokenUrl,
        revocation_url: p.revocationUrl,
        client_id: p.clients.basic.clientId,
        client_secret: p.clients.basic.clientSecret,
        username: USER.username,
        password: USER.password,
        scope: 'openid offline_access api:read',
      },
      http,
    );
    assert.equal(client.identity['grant'], 'password');
    assert.equal(client.identity['username'], USER.username);
    const t1 = await client.fetchToken({ now: Date.now });
    const t2 = await client.refresh!(t1, { now: Date.now });
    assert.notEqual(t2.refreshToken, t1.refreshToken);
    await client.revoke!(t2, { now: Date.now });
    assert.equal(p.counts.revocation, 2);

    const manager = new TokenManager({ client, key: 'oidc-core', store: new MemoryStore() });
    const got = await Promise.all([manager.getToken(), manager.getToken(), manager.getToken()]);
    assert.equal(new Set(got.map((x) => (typeof x === 'string' ? x : x.accessToken))).size, 1);
    assert.equal(p.counts.byGrant['password'], 2, 'single flight: one password grant for three callers');
  });
  it('oauth2 with only issuer delegates to discovery; revoke without any endpoint is unsupported', async () => {
    const client = await createOAuth2(
      {
        issuer: p.issuer,
        client_id: p.clients.post.clientId,
        client_secret: p.clients.post.clientSecret,
        auth_method: 'client_secret_post',
      },
      http,
    );
    assert.equal(client.identity['provider'], 'oidc');
    const t = await client.fetchToken({ now: Date.now });
    assert.ok(t.accessToken);
    const plain = await createOAuth2(
      {
        token_url: p.tokenUrl,
        client_id: p.clients.post.clientId,
        client_secret: p.clients.post.clientSecret,
        auth_method: 'client_secret_post',
      },
      http,
    );
    const t2 = await plain.fetchToken({ now: Date.now });
    await assert.rejects(plain.revoke!(t2, { now: Date.now }), UnsupportedError);
  });
  it('grant = refresh_token starts from a given refresh token', async () => {
    const ctx = ctxFor({ client_id: p.clients.basic.clientId, client_secret: p.clients.basic.clientSecret });
    const seed = await passwordGrant(ctx, { ...USER });
    const client = await createOAuth2(
      {
        token_url: p.tokenUrl,
        client_id: p.clients.basic.clientId,
        client_secret: p.clients.basic.clientSecret,
        grant: 'refresh_token',
        refresh_token: seed.refreshToken!,
      },
      http,
    );
    const t = await client.fetchToken({ now: Date.now });
    assert.notEqual(t.refreshToken, seed.refreshToken);
  });
  it('validates profiles with ConfigError naming the key (the schema, then the provider)', async () => {
    const bad: Array<[Parameters<typeof createOAuth2>[0], string]> = [
      [{ client_id: 'c', client_secret: 's3cret' }, 'token_url'],
      [{ token_url: 'not a url', client_id: 'c', client_secret: 's3cret' }, 'token_url'],
      [{ token_url: p.tokenUrl, client_id: 'c' }, 'client_secret'],
      // The schema's rule spanning keys: 'grant: grant "password" needs username and password'.
      [{ token_url: p.tokenUrl, client_id: 'c', client_secret: 's3cret', grant: 'password' }, 'grant'],
      [{ token_url: p.tokenUrl, client_id: 'c', client_secret: 's3cret', username: 'u' }, 'password'],
      [
        { token_url: p.tokenUrl, client_id: 'c', client_secret: 's3cret', grant: 'refresh_token' },
        'refresh_token',
      ],
      [
        { token_url: p.tokenUrl, client_id: 'c', client_secret: 's3cret', grant: 'implicit' as never },
        'grant',
      ],
      [{ token_url: p.tokenUrl, client_id: 'c', client_secret: 's3cret', scope: 5 as never }, 'scope'],
      [
        { token_url: p.tokenUrl, client_id: 'c', client_secret: 's3cret', default_lifetime: -1 },
        'default_lifetime',
      ],
      [
        { token_url: p.tokenUrl, client_id: 'c', client_secret: 's3cret', revocation_url: 'ftp://x' },
        'revocation_url',
      ],
      [
        { token_url: p.tokenUrl, client_id: 'c', client_secret: 's3cret', ca_file: '/nonexistent/ca.pem' },
        'ca_file',
      ],
    ];
    for (const [profile, key] of bad) {
      // Through the public door, which validates with the schema first (types, ranges, the grant list).
      await assert.rejects(createTokenClient(profile, http), (e) => {
        assert.ok(e instanceof ConfigError, `${key}: ${String(e)}`);
        assert.equal(e.key, key);
        return true;
      });
    }
    await assert.rejects(
      createOidc({ client_id: 'c' }, http),
      (e) => e instanceof ConfigError && e.key === 'issuer',
    );
  });
});
