/**
 * A fifth vendor preset, added in one file (`fixtures/acme-preset.ts`) plus one registry line: the
 * schema, the origins, the endpoint checks, the CLI's help, completion and `profiles add`, and the
 * identity all pick it up, and the front door gets a token with it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { profileAddWords } from '../../src/cli/commands/completion.js';
import { profileFromPairs } from '../../src/cli/commands/profiles.js';
import { HELP, providersHelp } from '../../src/cli/help.js';
import { loopbackOnly } from '../../src/config/load.js';
import { PROFILE_KEYS, profileKeys, validateProfile } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors.js';
import { originsFromProfile } from '../../src/fetch/origins.js';
import { createTokenManager } from '../../src/front-door.js';
import type { Profile } from '../../src/profile.js';
import { createTokenClient, descriptorOf, providerOf } from '../../src/providers/index.js';
import { presetNames, providerNames, registerProvider } from '../../src/providers/registry.js';
import { startTokenServer, TEST_CLIENT, type TokenServer } from '../helpers/token-server.js';
import { acme } from './fixtures/acme-preset.js';

let server: TokenServer;
let unregister: () => void;

/** An Acme profile against the loopback token server (Acme's token URL is `{acme_url}/token`). */
const profile = (extra: Record<string, unknown> = {}): Profile =>
  ({
    provider: 'acme',
    acme_url: server.url,
    client_id: TEST_CLIENT.id,
    client_secret: TEST_CLIENT.secret,
    ...extra,
  }) as unknown as Profile;

before(async () => {
  server = await startTokenServer({ clients: { [TEST_CLIENT.id]: TEST_CLIENT.secret } });
  unregister = registerProvider(acme); // the one registry line
});
after(async () => {
  unregister();
  await server.close();
});

describe('a fifth preset in one file plus one registry line', () => {
  it('the registry lists it; a name cannot be registered twice', () => {
    assert.deepEqual(providerNames().slice(-1), ['acme']);
    assert.ok(presetNames().includes('acme'));
    assert.equal(providerOf(profile()), 'acme');
    assert.throws(
      () => registerProvider(acme),
      (err: unknown) => err instanceof TypeError && /already registered/.test(err.message),
    );
  });

  it('the schema accepts its keys and provider name, checks their types, and suggests them', () => {
    assert.deepEqual(
      validateProfile({ provider: 'acme', acme_url: 'https://acme.example', acme_audit: true }),
      { provider: 'acme', acme_url: 'https://acme.example', acme_audit: true },
    );
    assert.ok(profileKeys().includes('acme_url' as keyof Profile));
    assert.ok(!PROFILE_KEYS.includes('acme_url' as keyof Profile), 'the built-in key list stays as it was');
    assert.throws(
      () => validateProfile({ provider: 'acme', acme_url: 'acme.example' }),
      (err: unknown) =>
        err instanceof ConfigError && err.key === 'acme_url' && /http\(s\) URL/.test(err.message),
    );
    assert.throws(
      () => validateProfile({ provider: 'acme', acme_audit: 'yes' }),
      (err: unknown) => err instanceof ConfigError && err.key === 'acme_audit',
    );
    assert.throws(
      () => validateProfile({ acme_relm: 'x' }),
      (err: unknown) => err instanceof ConfigError && /did you mean "acme_realm"/.test(err.message),
    );
  });

  it('origins and endpoint checks read it', () => {
    assert.deepEqual(originsFromProfile(profile({ acme_url: 'https://acme.example/t/1' })), [
      'https://acme.example',
    ]);
    assert.equal(loopbackOnly(profile()), true);
    assert.equal(loopbackOnly(profile({ acme_url: 'https://acme.example' })), false);
  });

  it('the CLI: profiles --help, completion and profiles add know it', async () => {
    assert.match(providersHelp(), /^ {2}acme +Acme Cloud \(client_credentials with HTTP Basic\)$/m);
    assert.match(
      providersHelp(),
      /needs acme_url, client_id, client_secret\n +own keys acme_url, acme_realm, acme_audit/,
    );
    assert.ok(HELP['profiles']?.includes('acme_realm'));
    const words = profileAddWords();
    assert.ok(words.includes('provider=acme') && words.includes('acme_audit='));
    assert.deepEqual(await profileFromPairs(['provider=acme', 'acme_audit=true', 'acme_realm=eu']), {
      provider: 'acme',
      acme_audit: true,
      acme_realm: 'eu',
    });
  });

  it('identity: the descriptor and the client agree; the realm is part of it', async () => {
    const p = profile({ acme_realm: 'eu' });
    const client = await createTokenClient(p);
    assert.deepEqual(client.identity, descriptorOf(p).identity(p));
    assert.deepEqual(client.identity, {
      provider: 'acme',
      token_url: `${server.url}/token`,
      client_id: TEST_CLIENT.id,
      realm: 'eu',
      audit: undefined,
    });
  });

  it('the front door gets a token with it, once, and serves it again from memory', async () => {
    server.reset();
    const realms: Array<string | null> = [];
    server.onRequest = (_grant, form) => {
      realms.push(form.get('realm'));
    };
    const manager = await createTokenManager(profile({ store: 'memory' }));
    try {
      const a = await manager.getToken();
      const b = await manager.getToken();
      assert.equal(a.accessToken, b.accessToken);
      assert.equal(server.counts.total, 1);
      assert.deepEqual(realms, ['main']);
      assert.equal(server.requests[0]?.auth, 'basic');
      assert.equal(server.requests[0]?.clientId, TEST_CLIENT.id);
    } finally {
      server.onRequest = undefined;
      await manager.close();
    }
  });
});

describe('registering a provider that breaks a rule', () => {
  it('a secret key the catalogue does not name, or a key another provider types differently', () => {
    const base = { ...acme, name: 'acme2', keys: {} };
    assert.throws(
      () =>
        registerProvider({ ...base, keys: { acme_token: { ...acme.keys['acme_realm']!, secret: true } } }),
      (err: unknown) => err instanceof TypeError && /SECRET_PROFILE_KEYS/.test(err.message),
    );
    assert.throws(
      () => registerProvider({ ...base, keys: { base_url: acme.keys['acme_audit']! } }),
      (err: unknown) =>
        err instanceof TypeError && /"msx" declares it as string, not boolean/.test(err.message),
    );
    assert.ok(!providerNames().includes('acme2'));
  });
});
