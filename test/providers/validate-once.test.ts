/**
 * Validate once, at the front door: `createTokenManager` and `createTokenClient` both check a profile
 * with the config file's schema (`validateProfile`), so the provider modules below trust the types and
 * ranges of its values and no longer check them again. Every value a provider used to refuse on its own
 * is still refused — by the schema, through both doors, with the same key-level message.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/errors.js';
import { createTokenManager } from '../../src/front-door.js';
import type { Profile } from '../../src/profile.js';
import { createTokenClient } from '../../src/providers/index.js';

/** A profile each provider can build a client from (no network I/O until a token is asked for). */
const BASES: Readonly<Record<string, Profile>> = {
  oauth2: {
    provider: 'oauth2',
    token_url: 'https://idp.example.com/oauth2/token',
    client_id: 'reporting',
    client_secret: 'oauth2-secret-3c1d',
    store: 'memory',
  },
  oidc: {
    provider: 'oidc',
    issuer: 'https://idp.example.com',
    client_id: 'reporting',
    client_secret: 'oidc-secret-8e2f',
    store: 'memory',
  },
  cylance: {
    provider: 'cylance',
    app_id: 'app-1234',
    app_secret: 'cy-secret-5a9b',
    tenant_id: 'tenant-5678',
    store: 'memory',
  },
  msx: {
    provider: 'msx',
    base_url: 'https://msx.example.com',
    client_id: 'msx-client',
    client_secret: 'msx-secret-7d4e',
    username: 'operator',
    password: 'msx-password-1f6a',
    store: 'memory',
  },
  acronis: {
    provider: 'acronis',
    datacenter_url: 'https://eu8-cloud.acronis.com',
    client_id: 'acronis-client',
    client_secret: 'acronis-secret-2b8c',
    store: 'memory',
  },
  rdp: {
    provider: 'rdp',
    base_url: 'https://api.refinitiv.com',
    client_id: 'rdp-app-key',
    username: 'rdp-user',
    password: 'rdp-password-9c3d',
    store: 'memory',
  },
};

/** One value a provider module used to refuse itself: the key the error names, and the schema's words. */
interface Case {
  provider: keyof typeof BASES;
  key: string;
  value: unknown;
  message: RegExp;
}

const STRING = /expected a string, got /;
const BOOLEAN = /expected true or false, got /;
const NUMBER = /expected a number, got /;
const POSITIVE = /expected a number greater than 0/;
const LIST = /expected a list, got /;

const CASES: readonly Case[] = [
  // values.ts optionalString / requiredString: the type branch (the empty-string rule stays there)
  { provider: 'oauth2', key: 'audience', value: 42, message: STRING },
  { provider: 'oauth2', key: 'resource', value: true, message: /expected a string or a list of strings/ },
  { provider: 'oauth2', key: 'client_secret', value: 918273645, message: STRING },
  { provider: 'cylance', key: 'app_id', value: 7, message: STRING },
  { provider: 'cylance', key: 'app_secret', value: ['cy-secret-in-a-list'], message: STRING },
  { provider: 'cylance', key: 'tenant_id', value: {}, message: STRING },
  { provider: 'msx', key: 'username', value: 5, message: STRING },
  { provider: 'msx', key: 'password', value: 71829364, message: STRING },
  { provider: 'msx', key: 'base_url', value: 9, message: STRING },
  { provider: 'acronis', key: 'datacenter_url', value: { url: 'x' }, message: STRING },
  { provider: 'rdp', key: 'client_id', value: 11, message: STRING },
  // values.ts optionalBoolean
  { provider: 'rdp', key: 'client_id_in_basic', value: 'yes', message: BOOLEAN },
  { provider: 'rdp', key: 'take_exclusive_sign_on', value: 1, message: BOOLEAN },
  // values.ts positive(): default_lifetime, max_lifetime, timeout, retries
  { provider: 'oauth2', key: 'default_lifetime', value: 0, message: POSITIVE },
  { provider: 'oauth2', key: 'default_lifetime', value: '3600', message: NUMBER },
  { provider: 'msx', key: 'max_lifetime', value: -60, message: POSITIVE },
  {
    provider: 'msx',
    key: 'max_lifetime',
    value: Number.POSITIVE_INFINITY,
    message: /expected a finite number/,
  },
  { provider: 'acronis', key: 'timeout', value: 0, message: POSITIVE },
  { provider: 'acronis', key: 'timeout', value: '30', message: NUMBER },
  { provider: 'cylance', key: 'retries', value: -1, message: /expected a whole number from 0 to 10/ },
  { provider: 'cylance', key: 'retries', value: 1.5, message: /expected a whole number from 0 to 10/ },
  // values.ts parseOptionsFromProfile: token_types
  { provider: 'oauth2', key: 'token_types', value: 'dpop', message: LIST },
  { provider: 'oauth2', key: 'token_types', value: [7], message: STRING },
  { provider: 'oauth2', key: 'token_types', value: [''], message: /expected a non-empty token type name/ },
  // values.ts httpOptionsFromProfile: insecure_skip_tls_verify
  { provider: 'oidc', key: 'insecure_skip_tls_verify', value: 'true', message: BOOLEAN },
  // values.ts scopeFromProfile: the type branch
  {
    provider: 'oauth2',
    key: 'scope',
    value: 5,
    message: /expected a string or a list of strings, got a number/,
  },
  {
    provider: 'acronis',
    key: 'scope',
    value: [1],
    message: /expected a string or a list of strings, got a list/,
  },
  // values.ts paramsFromProfile
  { provider: 'oauth2', key: 'params', value: 'a=b', message: /expected a table, got a string/ },
  { provider: 'oauth2', key: 'params', value: ['a'], message: /expected a table, got a list/ },
  { provider: 'oidc', key: 'params', value: { tenant: 1 }, message: STRING },
  // values.ts grantFromProfile: the grant list
  { provider: 'oauth2', key: 'grant', value: 'implicit', message: /expected one of "client_credentials", / },
  // generic.ts client_id, oauth2.ts token_url, oidc.ts issuer
  { provider: 'oauth2', key: 'client_id', value: 42, message: STRING },
  { provider: 'oauth2', key: 'token_url', value: 42, message: STRING },
  { provider: 'oidc', key: 'issuer', value: 42, message: STRING },
  // cylance.descriptor.ts token_url, region, cylanceScopes; cylance.ts scp_format, issuer_claim
  { provider: 'cylance', key: 'token_url', value: 42, message: STRING },
  { provider: 'cylance', key: 'region', value: 1, message: STRING },
  { provider: 'cylance', key: 'scopes', value: 'device:list', message: LIST },
  { provider: 'cylance', key: 'scopes', value: [1], message: STRING },
  { provider: 'cylance', key: 'scope', value: { a: 1 }, message: /expected a string or a list of strings/ },
  { provider: 'cylance', key: 'scp_format', value: 'csv', message: /expected one of "list", "string"/ },
  { provider: 'cylance', key: 'issuer_claim', value: 5, message: STRING },
  { provider: 'cylance', key: 'issuer_claim', value: '', message: /expected a non-empty string/ },
  // cylance auth_token_lifetime: the schema says what the client needs, whole seconds from 1 to 1800
  { provider: 'cylance', key: 'auth_token_lifetime', value: 0.5, message: /from 1 to 1800/ },
  { provider: 'cylance', key: 'auth_token_lifetime', value: 1801, message: /from 1 to 1800/ },
  { provider: 'cylance', key: 'auth_token_lifetime', value: '600', message: NUMBER },
  // acronis.descriptor.ts token_path
  { provider: 'acronis', key: 'token_path', value: 'v3', message: /expected one of "api2", "bc"/ },
  // auth_method: the schema's picklist answers first (createClientAuth keeps its own list: it is public in
  // tokenward/oauth and takes its input directly, not through validateProfile)
  {
    provider: 'oauth2',
    key: 'auth_method',
    value: 'client_secret_bsic',
    message: /expected one of "client_secret_basic", /,
  },
];

/** The ConfigError of one case: it names the key (or a path inside it) and carries the schema's words. */
function refusal(c: Case): (e: unknown) => boolean {
  return (e) =>
    e instanceof ConfigError &&
    (e.key === c.key || (e.key?.startsWith(`${c.key}.`) ?? false)) &&
    e.message.startsWith(`${e.key}: `) &&
    c.message.test(e.message);
}

describe('validate once: a profile is checked by the schema, the providers trust it', () => {
  it('every base profile builds a client through createTokenClient and a manager through createTokenManager', async () => {
    for (const [name, base] of Object.entries(BASES)) {
      const client = await createTokenClient({ ...base });
      assert.equal(client.identity['provider'], name);
      const manager = await createTokenManager({ ...base });
      await manager.close();
    }
  });

  it('each value a provider used to refuse is refused by the schema, through both doors, with one message', async () => {
    let refused = 0;
    for (const c of CASES) {
      const bad = { ...BASES[c.provider], [c.key]: c.value } as Profile;
      const label = `${c.provider} ${c.key} = ${String(c.value)}`;
      let fromClient: ConfigError | undefined;
      await assert.rejects(
        createTokenClient(bad),
        (e: unknown) => {
          fromClient = e as ConfigError;
          return refusal(c)(e);
        },
        label,
      );
      await assert.rejects(
        createTokenManager(bad),
        (e: unknown) => refusal(c)(e) && (e as ConfigError).message === fromClient?.message,
        label,
      );
      // A secret's value never appears in the message, in any case.
      if (c.key === 'client_secret' || c.key === 'app_secret' || c.key === 'password') {
        assert.ok(!fromClient?.message.includes(String(c.value)), label);
      }
      refused++;
    }
    assert.equal(refused, CASES.length);
  });

  it('createTokenClient names an unknown key with the nearest known one, as the config file does', async () => {
    await assert.rejects(
      createTokenClient({ ...BASES['oauth2'], client_secrett: 'x' } as Profile),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.key === 'client_secrett' &&
        /did you mean "client_secret"\?/.test(e.message),
    );
  });

  it('the rules that span keys stay with the providers: a missing key the provider needs', async () => {
    const { app_secret: _drop, ...noSecret } = BASES['cylance'] as Profile;
    await assert.rejects(
      createTokenClient(noSecret),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.key === 'app_secret' &&
        e.message === 'app_secret: is required for provider "cylance"',
    );
    await assert.rejects(
      createTokenClient({ ...BASES['oauth2'], client_id: '' }),
      (e: unknown) =>
        e instanceof ConfigError && e.key === 'client_id' && /must be a non-empty string/.test(e.message),
    );
  });
});
