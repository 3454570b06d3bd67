import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Profile } from '../../src/profile.js';
import { createTokenClient, PROVIDERS } from '../../src/providers/index.js';
import { cacheKey } from '../../src/stores/cache-key.js';

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
    const key = async (p: Profile) => cacheKey(undefined, (await createTokenClient(p)).identity);
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
