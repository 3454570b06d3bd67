/**
 * The sandbox and the vendor presets stay in step: one emulator and one ready-made profile per preset of
 * the provider registry, each of which gets a token through its preset's real client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { originsFromProfile } from '../../src/fetch/origins.js';
import { createTokenClient, providerOf } from '../../src/providers/index.js';
import { BUILT_IN_PRESETS } from '../../src/providers/registry.js';
import {
  SANDBOX_VENDORS,
  type Sandbox,
  sandboxProfiles,
  startSandbox,
  VENDORS,
} from '../../src/sandbox/index.js';

let sandbox: Sandbox;
before(async () => {
  sandbox = await startSandbox({ port: 0 });
});
after(async () => {
  await sandbox.close();
});

describe('sandbox vendors and presets', () => {
  it('the sandbox emulates exactly the registry’s presets, in its order, then its OpenID Connect server', () => {
    assert.deepEqual([...VENDORS], [...BUILT_IN_PRESETS]);
    assert.deepEqual([...SANDBOX_VENDORS], [...BUILT_IN_PRESETS, 'oidc']);
    assert.deepEqual(Object.keys(sandbox.stats().token), [...BUILT_IN_PRESETS, 'oidc']);
  });

  it('one profile per preset, named after it and using it, whose token goes to the sandbox', () => {
    const profiles = sandboxProfiles(sandbox);
    assert.deepEqual(Object.keys(profiles), [...BUILT_IN_PRESETS]);
    for (const [name, profile] of Object.entries(profiles)) {
      assert.equal(profile.name, name);
      assert.equal(providerOf(profile), name);
      assert.deepEqual(originsFromProfile(profile), [sandbox.url], name);
    }
  });

  it('each preset’s client gets one token from its emulator', async () => {
    for (const [name, profile] of Object.entries(sandboxProfiles(sandbox))) {
      const client = await createTokenClient(profile);
      const token = await client.fetchToken({ now: Date.now });
      assert.ok(token.accessToken.length > 0, name);
    }
    const issued = Object.fromEntries(
      Object.entries(sandbox.stats().token).map(([v, byGrant]) => [
        v,
        Object.values(byGrant).reduce((a, b) => a + b, 0),
      ]),
    );
    assert.deepEqual(issued, { ...Object.fromEntries(BUILT_IN_PRESETS.map((p) => [p, 1])), oidc: 0 });
  });
});
