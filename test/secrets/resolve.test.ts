/**
 * `secret:NAME` through the library: resolved from the local secret store (TOKENWARD_SECRET_BACKEND=local),
 * registered for redaction whatever key holds it, and errors that are ConfigErrors naming the profile
 * key and the secret's name, never its value.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveProfileSecrets } from '../../src/config/secrets.js';
import { ConfigError, StoreError } from '../../src/errors.js';
import { redactText } from '../../src/redact.js';
import { LocalSecretStore } from '../../src/secrets/local.js';

let dir: string;
let env: NodeJS.ProcessEnv;
const AUDIENCE = `aud-${randomBytes(6).toString('hex')}`;
const SECRET = `cs-${randomBytes(8).toString('hex')}`;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tw-secret-resolve-'));
  env = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    TOKENWARD_CONFIG_DIR: join(dir, 'config'),
    TOKENWARD_SECRET_BACKEND: 'local',
    TOKENWARD_CACHE_KEY: randomBytes(32).toString('hex'),
  };
  const store = new LocalSecretStore({ env });
  await store.set('cs', SECRET);
  await store.set('aud', AUDIENCE);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('secret: references', () => {
  it('resolve from the local store; every resolved value is registered for redaction', async () => {
    const p = await resolveProfileSecrets(
      { name: 'p', client_id: 'c', client_secret: 'secret:cs', params: { audience: 'secret:aud' } },
      { env },
    );
    assert.equal(p.client_secret, SECRET);
    assert.equal(p.params?.['audience'], AUDIENCE);
    assert.equal(redactText(`x ${SECRET} y ${AUDIENCE}`), 'x [REDACTED] y [REDACTED]');
  });

  it('a missing secret: a ConfigError naming the key and the name', async () => {
    await assert.rejects(
      resolveProfileSecrets({ name: 'p', client_secret: 'secret:nope' }, { env }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.key === 'profiles.p.client_secret' &&
        /no secret "nope" in the local secret store/.test(e.message),
    );
  });

  it('a store encrypted with another key: a ConfigError with the StoreError as cause, no value', async () => {
    const other = { ...env, TOKENWARD_CACHE_KEY: randomBytes(32).toString('hex') };
    await assert.rejects(
      resolveProfileSecrets({ name: 'p', client_secret: 'secret:cs' }, { env: other }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.key === 'profiles.p.client_secret' &&
        /the secret "cs": .*encrypted with another key/.test(e.message) &&
        e.cause instanceof StoreError &&
        !JSON.stringify({ m: e.message, s: e.stack }).includes(SECRET),
    );
  });

  it('a bad name: a ConfigError naming the key', async () => {
    await assert.rejects(
      resolveProfileSecrets({ name: 'p', password: 'secret:../etc/passwd' }, { env }),
      (e: unknown) =>
        e instanceof ConfigError && e.key === 'profiles.p.password' && /is not a secret name/.test(e.message),
    );
  });
});
