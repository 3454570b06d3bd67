/**
 * The front door (src/tokenward.ts) against a real oidc-provider: createTokenManager resolves secret
 * references, picks the provider (oauth2 / oidc by issuer), opens the store the profile names; openProfile
 * and getToken share one manager per profile of the config file.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ConfigError, TokenEndpointError } from '../src/errors.js';
import { closeAll, createTokenManager, getToken, openProfile } from '../src/front-door.js';
import { closeAgents } from '../src/http/agent.js';
import { providerOf } from '../src/providers/index.js';
import { type OidcTestProvider, startOidcProvider } from './helpers/oidc-provider.js';

let p: OidcTestProvider;
let dir: string;

before(async () => {
  p = await startOidcProvider();
  dir = await mkdtemp(join(tmpdir(), 'tw-front-'));
});
after(async () => {
  await closeAll();
  await p.close();
  await closeAgents();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => p.resetCounts());

describe('createTokenManager', () => {
  it('resolves env: references, uses the oauth2 provider and the memory store', async () => {
    const env = { ...process.env, TW_TEST_SECRET: p.clients.basic.clientSecret };
    const m = await createTokenManager(
      {
        token_url: p.tokenUrl,
        client_id: p.clients.basic.clientId,
        client_secret: 'env:TW_TEST_SECRET',
        scope: 'api:read',
        store: 'memory',
      },
      { env },
    );
    try {
      const t = await m.getToken();
      const again = await m.getToken();
      assert.equal(again.accessToken, t.accessToken);
      assert.equal(p.counts.token, 1, 'one token request for two calls');
      assert.equal(t.scope, 'api:read');
    } finally {
      await m.close();
    }
  });

  it('discovers the token endpoint from `issuer` (provider oidc) once', async () => {
    assert.equal(providerOf({ issuer: p.issuer }), 'oidc');
    const m = await createTokenManager({
      issuer: p.issuer,
      client_id: p.clients.post.clientId,
      client_secret: p.clients.post.clientSecret,
      auth_method: 'client_secret_post',
      store: 'memory',
    });
    try {
      await m.getToken();
      await m.getToken({ force: true });
      assert.equal(p.counts.token, 2);
      assert.equal(p.counts.discovery, 1, 'metadata fetched exactly once (not per token request)');
    } finally {
      await m.close();
    }
  });

  it('keeps tokens in the encrypted file store by default', async () => {
    const cacheDir = join(dir, 'cache');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TOKENWARD_CACHE_DIR: cacheDir,
      TOKENWARD_CONFIG_DIR: join(dir, 'cfg'),
    };
    delete env['TOKENWARD_CACHE_KEY'];
    const profile = {
      name: 'filed',
      token_url: p.tokenUrl,
      client_id: p.clients.basic.clientId,
      client_secret: p.clients.basic.clientSecret,
    };
    const first = await createTokenManager(profile, { env });
    const t = await first.getToken();
    await first.close();
    assert.ok((await readdir(cacheDir)).length > 0, 'the cache directory holds the token');
    const second = await createTokenManager(profile, { env });
    try {
      assert.equal((await second.getToken()).accessToken, t.accessToken, 'a new manager reads the file');
      assert.equal(p.counts.token, 1);
    } finally {
      await second.close();
    }
  });

  it('reports a bad secret as invalid_client, with the server error and no secret', async () => {
    const m = await createTokenManager({
      token_url: p.tokenUrl,
      client_id: p.clients.basic.clientId,
      client_secret: 'wrong-secret-value-1234',
      store: 'memory',
    });
    try {
      await assert.rejects(m.getToken(), (err: unknown) => {
        assert.ok(err instanceof TokenEndpointError);
        assert.equal(err.error, 'invalid_client');
        assert.equal(err.status, 401);
        assert.ok(!JSON.stringify({ m: err.message, s: err.stack }).includes('wrong-secret-value-1234'));
        return true;
      });
    } finally {
      await m.close();
    }
  });

  it('refuses an unknown provider with ConfigError, and a missing env reference on the first request', async () => {
    await assert.rejects(
      createTokenManager({ provider: 'nope' as 'oauth2', token_url: p.tokenUrl, store: 'memory' }),
      ConfigError,
    );
    // A secret key's reference is resolved when the token client is built (test/front-door-warm.test.ts).
    const m = await createTokenManager(
      { token_url: p.tokenUrl, client_id: 'x', client_secret: 'env:TW_DOES_NOT_EXIST', store: 'memory' },
      { env: {} },
    );
    try {
      await assert.rejects(
        m.getToken(),
        (e) =>
          e instanceof ConfigError &&
          e.key === 'client_secret' &&
          /TW_DOES_NOT_EXIST is not set/.test(e.message),
      );
    } finally {
      await m.close();
    }
    assert.equal(p.counts.token, 0);
  });

  // The TLS-verification-off warning (once per origin, through onWarning): test/config/input-bounds.test.ts
});

describe('openProfile and getToken (config file)', () => {
  it('share one manager per profile: 200 concurrent getToken() calls make one request', async () => {
    const config = join(dir, 'config.toml');
    await writeFile(
      config,
      `[profiles.api]\ntoken_url = "${p.tokenUrl}"\nclient_id = "${p.clients.basic.clientId}"\nclient_secret = "env:TW_FRONT_SECRET"\nstore = "memory"\n`,
      { mode: 0o600 },
    );
    const env = { ...process.env, TW_FRONT_SECRET: p.clients.basic.clientSecret };
    const tokens = await Promise.all(Array.from({ length: 200 }, () => getToken('api', { config, env })));
    assert.equal(new Set(tokens.map((t) => t.accessToken)).size, 1);
    assert.equal(p.counts.token, 1);
    assert.equal(await openProfile('api', { config, env }), await openProfile('api', { config, env }));
    await assert.rejects(getToken('missing', { config, env }), ConfigError);
  });
});

describe('front door edge cases', () => {
  it('eager_refresh outside (0, 1] is a ConfigError before any store is opened', async () => {
    for (const eager_refresh of [0, 30, -1]) {
      await assert.rejects(
        createTokenManager({
          token_url: p.tokenUrl,
          client_id: 'x',
          client_secret: 'y',
          store: 'memory',
          eager_refresh,
        }),
        (err: unknown) => err instanceof ConfigError && err.key === 'eager_refresh',
      );
    }
  });

  it('a secret reference is checked again once resolved: an env: token_url that is not a URL names the key', async () => {
    await assert.rejects(
      createTokenManager(
        { token_url: 'env:TW_FRONT_URL', client_id: 'x', client_secret: 'y', store: 'memory' },
        { env: { TW_FRONT_URL: 'idp.example.com/token' } },
      ),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.key === 'token_url' &&
        /expected an http\(s\) URL/.test(err.message),
    );
  });

  it('closeAll() while a profile is still opening: the next getToken opens a fresh manager', async () => {
    const config = join(dir, 'config-close.toml');
    await writeFile(
      config,
      `[profiles.c]\ntoken_url = "${p.tokenUrl}"\nclient_id = "${p.clients.basic.clientId}"\nclient_secret = "${p.clients.basic.clientSecret}"\nstore = "memory"\n`,
      { mode: 0o600 },
    );
    const opening = openProfile('c', { config });
    await closeAll();
    const first = await opening;
    const second = await openProfile('c', { config });
    assert.notEqual(second, first, 'the manager closed by closeAll() is not reused');
    assert.ok((await getToken('c', { config })).accessToken);
  });
});
