/**
 * MSX switch-tenant and switch-user tokens as profiles (`parent_profile` + `switch_tenant` /
 * `switch_user`), against the sandbox's MSX emulator: cached per tenant/user, renewed after expiry,
 * inheriting the parent's endpoint and client, available through the CLI like any profile; bad input
 * as typed errors naming the key.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { getProfile } from '../../src/config/load.js';
import { ConfigError, TokenEndpointError } from '../../src/errors.js';
import { closeAll, createTokenManager } from '../../src/front-door.js';
import type { TokenManager } from '../../src/manager/token-manager.js';
import { MSX_SWITCH_TENANT_GRANT, MSX_SWITCH_USER_GRANT } from '../../src/providers/msx.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { type TempHome, tempHome, tw } from '../cli/helpers.js';

const COKE = '133815cb-2335-474d-8c10-3e635aba94fd';
let sandbox: Sandbox;
let home: TempHome;
let now = Date.now();
const key = randomBytes(32);
const managers: TokenManager[] = [];

before(async () => {
  sandbox = await startSandbox({ port: 0, clock: () => now });
});
after(() => sandbox.close());
beforeEach(() => {
  home = tempHome();
  now = Date.now();
  sandbox.reset();
  const c = sandbox.credentials.msx;
  mkdirSync(dirname(home.config), { recursive: true });
  writeFileSync(
    home.config,
    [
      '[profiles.msx]',
      'provider = "msx"',
      `base_url = "${sandbox.url}"`,
      `client_id = "${c.clientId}"`,
      `client_secret = "${c.clientSecret}"`,
      `username = "${c.username}"`,
      `password = "${c.password}"`,
      '',
      '[profiles.coke]',
      'parent_profile = "msx"',
      `switch_tenant = "${COKE}"`,
      '',
      '[profiles.operator]',
      'parent_profile = "msx"',
      'switch_user = "operator"',
      '',
      '[profiles.nobody]',
      'parent_profile = "msx"',
      'switch_user = "no-such-user"',
      '',
      '[profiles.plain]',
      `token_url = "${sandbox.url}/idm/v2/token"`,
      '',
      '[profiles.orphan]',
      'parent_profile = "plain"',
      'switch_tenant = "t"',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
});
afterEach(async () => {
  await Promise.allSettled(managers.splice(0).map((m) => m.close()));
  await closeAll();
  home.cleanup();
});

async function open(name: string): Promise<TokenManager> {
  const m = await createTokenManager(await getProfile(name, { path: home.config, env: home.env }), {
    env: home.env,
    clock: () => now,
    encryptionKey: key,
    onWarning: () => {},
  });
  managers.push(m);
  return m;
}

const stats = () => sandbox.stats().token.msx;

describe('msx switch profiles', () => {
  it('switch_tenant: one password grant for the parent, one switch; cached; renewed after expiry', async () => {
    const m = await open('coke');
    assert.equal(m.identity['grant'], 'switch-tenant');
    assert.equal(m.identity['tenant_id'], COKE);
    assert.equal(m.identity['parent_profile'], 'msx');
    assert.equal(
      m.identity['parent_key'],
      (await open('msx')).key,
      "keyed by the parent session's cache key",
    );
    assert.equal(
      m.identity['client_id'],
      sandbox.credentials.msx.clientId,
      'the client comes from the parent',
    );
    const t1 = await m.getToken();
    assert.equal(t1.raw['tenantId'], COKE);
    for (let i = 0; i < 5; i++) assert.equal((await m.getToken()).accessToken, t1.accessToken);
    assert.deepEqual(stats(), { password: 1, [MSX_SWITCH_TENANT_GRANT]: 1 });

    // Another manager of the profile: the same key, the stored token.
    const again = await open('coke');
    assert.equal(again.key, m.key);
    assert.equal((await again.getToken()).accessToken, t1.accessToken);
    assert.deepEqual(stats(), { password: 1, [MSX_SWITCH_TENANT_GRANT]: 1 });

    // Both the parent's and the switched token expire: one new sign-in, one new switch.
    now = t1.expiresAt + 1_000;
    const t2 = await m.getToken();
    assert.notEqual(t2.accessToken, t1.accessToken);
    assert.equal(t2.raw['tenantId'], COKE);
    assert.deepEqual(stats(), { password: 2, [MSX_SWITCH_TENANT_GRANT]: 2 });
  });

  it('switch_user: a token of the other user, cached apart from the tenant switch', async () => {
    const op = await open('operator');
    const coke = await open('coke');
    assert.notEqual(op.key, coke.key);
    const t = await op.getToken();
    assert.equal(t.raw['username'], 'operator');
    await coke.getToken();
    assert.deepEqual(stats(), { password: 1, [MSX_SWITCH_USER_GRANT]: 1, [MSX_SWITCH_TENANT_GRANT]: 1 });
  });

  it('a switch the server refuses is a TokenEndpointError; the parent token stays cached', async () => {
    const parent = await open('msx');
    const pt = await parent.getToken();
    const m = await open('nobody');
    await assert.rejects(
      m.getToken(),
      (e: unknown) => e instanceof TokenEndpointError && e.status === 400 && e.error === 'invalid_grant',
    );
    assert.equal((await parent.getToken()).accessToken, pt.accessToken);
    assert.deepEqual(stats(), { password: 1 });
  });

  it('a parent that is not msx, and switch_tenant without a parent, are ConfigErrors naming the key', async () => {
    await assert.rejects(
      open('orphan'),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.key === 'profiles.orphan.parent_profile' &&
        e.file === home.config &&
        e.line === 25,
    );
    const m = await createTokenManager(
      {
        provider: 'msx',
        base_url: sandbox.url,
        client_id: 'c',
        client_secret: 's',
        username: 'u',
        password: 'p',
        switch_tenant: 't',
        store: 'memory',
      },
      { env: {} },
    );
    managers.push(m);
    await assert.rejects(m.getToken(), (e: unknown) => e instanceof ConfigError && e.key === 'switch_tenant');
    assert.deepEqual(stats(), {});
  });

  it('through the CLI: tokenward token coke prints the switched token; a second run is served from the cache', async () => {
    const env = { ...home.env, TOKENWARD_CONFIG: home.config };
    const r1 = await tw(['token', 'coke'], { env });
    assert.equal(r1.code, 0, r1.stderr);
    const token = r1.stdout.trim();
    assert.ok(token.length > 20);
    const r2 = await tw(['token', 'coke'], { env });
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(r2.stdout.trim(), token);
    assert.deepEqual(stats(), { password: 1, [MSX_SWITCH_TENANT_GRANT]: 1 });
  });
});
