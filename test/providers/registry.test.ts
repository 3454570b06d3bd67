import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loopbackOnly } from '../../src/config/load.js';
import { PROFILE_KEYS, validateProfile } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors.js';
import { originsFromProfile } from '../../src/fetch/origins.js';
import { acronisApiBaseUrl, cylanceApiBaseUrl, msxApiBaseUrl, rdpApiBaseUrl } from '../../src/index.js';
import type { Profile } from '../../src/profile.js';
import { createTokenClient, descriptorOf, PROVIDERS } from '../../src/providers/index.js';
import { BUILT_IN_PRESETS, BUILT_IN_PROVIDERS, providerDescriptors } from '../../src/providers/registry.js';
import { SECRET_PROFILE_KEYS } from '../../src/secret-fields.js';
import { storeKey } from '../../src/stores/store-key.js';

const SECRETS = ['reg-app-secret-91a2', 'reg-client-secret-83b4', 'reg-password-75c6'] as const;
const profiles: Record<'cylance' | 'msx' | 'acronis' | 'rdp', Profile> = {
  cylance: { provider: 'cylance', region: 'au', app_id: 'app', app_secret: SECRETS[0], tenant_id: 'tid' },
  msx: {
    provider: 'msx',
    base_url: 'https://msx.example',
    client_id: 'cid',
    client_secret: SECRETS[1],
    username: 'user',
    password: SECRETS[2],
  },
  acronis: {
    provider: 'acronis',
    datacenter_url: 'https://eu8-cloud.acronis.com',
    client_id: 'cid',
    client_secret: SECRETS[1],
  },
  rdp: {
    provider: 'rdp',
    base_url: 'https://api.refinitiv.com',
    client_id: 'appkey',
    username: 'user',
    password: SECRETS[2],
  },
};

describe('provider registry: the vendor presets', () => {
  it('every provider name has a loader', () => {
    assert.deepEqual([...PROVIDERS].sort(), ['acronis', 'cylance', 'msx', 'oauth2', 'oidc', 'rdp']);
  });
  for (const [name, profile] of Object.entries(profiles)) {
    it(`${name}: builds a client without I/O; its identity names the provider and holds no secret`, async () => {
      const client = await createTokenClient(profile);
      assert.equal(client.identity['provider'], name);
      assert.ok(typeof client.identity['token_url'] === 'string');
      const text = JSON.stringify(client.identity);
      for (const s of SECRETS) assert.ok(!text.includes(s), `${name} identity holds a secret`);
    });
  }
  it('cache keys differ by tenant, user and scope', async () => {
    const key = async (p: Profile) => storeKey(undefined, (await createTokenClient(p)).identity);
    const base = await key(profiles.cylance);
    assert.notEqual(await key({ ...profiles.cylance, tenant_id: 'other' }), base);
    assert.notEqual(await key({ ...profiles.cylance, scopes: ['device:list'] }), base);
    assert.notEqual(await key({ ...profiles.rdp, username: 'other' }), await key(profiles.rdp));
    assert.notEqual(await key({ ...profiles.msx, tenant_id: 't2' }), await key(profiles.msx));
    assert.notEqual(await key({ ...profiles.acronis, scope: 's' }), await key(profiles.acronis));
    // a secret change alone keeps the key: the same identity
    assert.equal(
      await key({ ...profiles.acronis, client_secret: 'rotated-secret-1234' }),
      await key(profiles.acronis),
    );
  });
});

/** Representative profiles of every provider: defaults, derived URLs, every key that shapes the identity. */
const representative: Profile[] = [
  ...Object.values(profiles),
  {
    provider: 'cylance',
    token_url: 'http://127.0.0.1:9/auth/v2/token',
    app_id: 'a',
    app_secret: 's',
    tenant_id: 't',
    scopes: ['x', 'y'],
    issuer_claim: 'iss',
  },
  { provider: 'cylance', app_id: 'a', app_secret: 's', tenant_id: 't', scope: 'a b,c' },
  {
    provider: 'msx',
    base_url: 'https://msx.example/pre/',
    client_id: 'c',
    client_secret: 's',
    username: 'u',
    password: 'p',
    tenant_id: 't',
    scope: ['x', 'y'],
  },
  {
    provider: 'msx',
    token_url: 'https://MSX.example:443/idm/v2/token',
    client_id: 'c',
    client_secret: 's',
    username: 'u',
    password: 'p',
  },
  {
    provider: 'acronis',
    datacenter_url: 'https://eu8-cloud.acronis.com',
    token_path: 'bc',
    client_id: 'c',
    client_secret: 's',
    scope: 'z',
  },
  {
    provider: 'rdp',
    token_url: 'https://api.refinitiv.com/x',
    client_id: 'k',
    username: 'u',
    password: 'p',
    scope: 'a',
    client_id_in_basic: true,
    client_secret: 'q',
  },
  {
    token_url: 'https://idp.example/token',
    client_id: 'c',
    client_secret: 's',
    scope: ['a', 'b'],
    audience: 'aud',
    params: { api_key: 'k', z: '1' },
  },
  {
    provider: 'oauth2',
    token_url: 'https://idp.example/token',
    client_id: 'c',
    username: 'u',
    password: 'p',
    auth_method: 'client_secret_post',
    client_secret: 's',
  },
  { token_url: 'https://idp.example/token', grant: 'refresh_token', refresh_token: 'r', client_id: 'c' },
  { issuer: 'https://idp.example', client_id: 'c', client_secret: 's', resource: 'https://r' },
  {
    provider: 'oidc',
    issuer: 'https://idp.example',
    token_url: 'https://idp.example/t',
    client_id: 'c',
    auth_method: 'client_secret_jwt',
    client_secret: 'sec',
  },
];

describe('provider registry: descriptors', () => {
  it('one descriptor per provider, built-in ones in help order; the presets are the non-generic ones', () => {
    assert.deepEqual(
      BUILT_IN_PROVIDERS.map((d) => d.name),
      ['oauth2', 'oidc', 'cylance', 'msx', 'acronis', 'rdp'],
    );
    assert.deepEqual(
      [...PROVIDERS],
      BUILT_IN_PROVIDERS.map((d) => d.name),
    );
    assert.deepEqual([...BUILT_IN_PRESETS], ['cylance', 'msx', 'acronis', 'rdp']);
  });

  it('covers every provider in the representative profiles', () => {
    const seen = new Set(representative.map((p) => descriptorOf(p).name));
    assert.deepEqual([...seen].sort(), [...PROVIDERS].sort());
  });

  for (const [i, profile] of representative.entries()) {
    it(`identity is a pure function equal to the client's (${descriptorOf(profile).name} #${i})`, async () => {
      const client = await createTokenClient(profile);
      assert.deepEqual(descriptorOf(profile).identity(profile), client.identity);
      // pure: the same answer twice, and the profile is not changed
      const copy = structuredClone(profile);
      assert.deepEqual(descriptorOf(profile).identity(profile), descriptorOf(copy).identity(copy));
      assert.deepEqual(profile, copy);
    });
  }

  it('identities stay what they were (the cache keys of tokens already stored)', () => {
    assert.deepEqual(descriptorOf(profiles.cylance).identity(profiles.cylance), {
      provider: 'cylance',
      token_url: 'https://protectapi-au.cylance.com/auth/v2/token',
      app_id: 'app',
      tenant_id: 'tid',
      issuer_claim: 'http://cylance.com',
      scopes: undefined,
    });
    assert.deepEqual(descriptorOf(profiles.rdp).identity(profiles.rdp), {
      provider: 'rdp',
      token_url: 'https://api.refinitiv.com/auth/oauth2/v1/token',
      client_id: 'appkey',
      grant: 'password',
      username: 'user',
      scope: 'trapi',
    });
    const generic = representative[representative.length - 5] as Profile;
    assert.deepEqual(descriptorOf(generic).identity(generic), {
      provider: 'oauth2',
      token_url: 'https://idp.example/token',
      client_id: 'c',
      auth_method: 'client_secret_basic',
      grant: 'client_credentials',
      username: undefined,
      scope: 'a b',
      audience: 'aud',
      resource: undefined,
      params: 'api_key=sha256:c9bfa4ec94b2aca7&z=1',
    });
  });

  it('secret keys: each descriptor marks exactly its keys the catalogue (src/secret-fields.ts) names secret', () => {
    for (const d of providerDescriptors()) {
      for (const [key, spec] of Object.entries(d.keys)) {
        assert.equal(
          spec.secret === true,
          (SECRET_PROFILE_KEYS as readonly string[]).includes(key),
          `${d.name}.${key}`,
        );
      }
    }
    // and every catalogued secret key is a profile key
    for (const key of SECRET_PROFILE_KEYS) assert.ok((PROFILE_KEYS as readonly string[]).includes(key), key);
  });

  it('the schema: common keys plus every descriptor key; the provider picklist is the registry', () => {
    for (const d of providerDescriptors()) {
      for (const key of Object.keys(d.keys))
        assert.ok((PROFILE_KEYS as string[]).includes(key), `${d.name}.${key}`);
    }
    assert.throws(
      () => validateProfile({ provider: 'acme' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.key === 'provider' &&
        err.message.includes('"oauth2", "oidc", "cylance", "msx", "acronis", "rdp"'),
    );
    // an endpoint key gets the URL check
    assert.throws(
      () => validateProfile({ provider: 'acronis', datacenter_url: 'eu8-cloud' }),
      (err: unknown) =>
        err instanceof ConfigError && err.key === 'datacenter_url' && /http\(s\) URL/.test(err.message),
    );
  });

  it("origins: originsFromProfile and each preset's apiBaseUrl give one answer", () => {
    const cases: Array<[Profile, (p: Profile) => string, string]> = [
      [{ provider: 'cylance', region: 'euc1' }, cylanceApiBaseUrl, 'https://protectapi-euc1.cylance.com'],
      [{ provider: 'cylance' }, cylanceApiBaseUrl, 'https://protectapi.cylance.com'],
      [
        { provider: 'cylance', token_url: 'http://127.0.0.1:9/auth/v2/token' },
        cylanceApiBaseUrl,
        'http://127.0.0.1:9',
      ],
      [{ provider: 'msx', base_url: 'https://msx.example/p' }, msxApiBaseUrl, 'https://msx.example'],
      [
        { provider: 'msx', token_url: 'https://idm.example/idm/v2/token' },
        msxApiBaseUrl,
        'https://idm.example',
      ],
      [
        { provider: 'acronis', datacenter_url: 'https://dc.example' },
        acronisApiBaseUrl,
        'https://dc.example',
      ],
      [
        { provider: 'acronis', token_url: 'https://dc2.example/api/2/idp/token' },
        acronisApiBaseUrl,
        'https://dc2.example',
      ],
      [
        { provider: 'rdp', base_url: 'https://api.refinitiv.com' },
        rdpApiBaseUrl,
        'https://api.refinitiv.com',
      ],
      [{ provider: 'rdp', token_url: 'https://rdp.example/t' }, rdpApiBaseUrl, 'https://rdp.example'],
      [
        { provider: 'rdp', base_url: 'https://a.example', api_base_url: 'https://b.example/v1' },
        rdpApiBaseUrl,
        'https://b.example',
      ],
    ];
    for (const [profile, apiBaseUrl, origin] of cases) {
      assert.deepEqual(originsFromProfile(profile), [origin], JSON.stringify(profile));
      assert.equal(new URL(apiBaseUrl(profile)).origin, origin, JSON.stringify(profile));
    }
    // the generic providers name no origin of their own
    assert.throws(
      () => originsFromProfile({ token_url: 'https://idp.example/t', base_url: 'https://x.example' }),
      (err: unknown) => err instanceof ConfigError && err.key === 'api_base_url',
    );
    assert.throws(
      () => msxApiBaseUrl({ provider: 'msx' }),
      (err: unknown) => err instanceof ConfigError && err.key === 'api_base_url',
    );
  });

  it('loopbackOnly: every endpoint key, and where the provider sends the token', () => {
    assert.equal(loopbackOnly({ provider: 'msx', base_url: 'http://127.0.0.1:8080' }), true);
    assert.equal(loopbackOnly({ provider: 'acronis', datacenter_url: 'http://localhost:1' }), true);
    assert.equal(loopbackOnly({ provider: 'cylance', token_url: 'http://127.0.0.1:9/auth/v2/token' }), true);
    // Cylance's regional host is not loopback, whatever api_base_url says
    assert.equal(
      loopbackOnly({ provider: 'cylance', region: 'au', api_base_url: 'http://127.0.0.1:1' }),
      false,
    );
    assert.equal(loopbackOnly({ provider: 'cylance' }), false);
    assert.equal(
      loopbackOnly({ provider: 'msx', base_url: 'http://127.0.0.1:1', revocation_url: 'https://x.example' }),
      false,
    );
    assert.equal(loopbackOnly({ provider: 'rdp' }), false);
    assert.equal(
      loopbackOnly({ provider: 'nope' as NonNullable<Profile['provider']>, token_url: 'http://127.0.0.1:1' }),
      false,
    );
  });
});
