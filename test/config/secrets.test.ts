import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  isSecretReference,
  parseSecretReference,
  resolveProfileSecrets,
  resolveSecretReference,
  SECRET_KEYS,
} from '../../src/config/secrets.js';
import { ConfigError } from '../../src/errors.js';
import { redactText } from '../../src/redact.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tokenward-secrets-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('secret references', () => {
  it('parses the four kinds and leaves literals alone', () => {
    assert.deepEqual(parseSecretReference('env:X'), { kind: 'env', target: 'X' });
    assert.deepEqual(parseSecretReference('file:/a/b'), { kind: 'file', target: '/a/b' });
    assert.deepEqual(parseSecretReference('cmd:echo hi'), { kind: 'cmd', target: 'echo hi' });
    assert.deepEqual(parseSecretReference('keyring:rdp'), { kind: 'keyring', target: 'rdp' });
    assert.equal(parseSecretReference('https://x'), undefined);
    assert.equal(isSecretReference('hunter2'), false);
    assert.ok(SECRET_KEYS.includes('client_secret'));
  });

  it('env: reads the given environment and fails with the key when unset', async () => {
    const env = { MY_SECRET: 'from-env-1234' };
    assert.equal(await resolveSecretReference('env:MY_SECRET', { key: 'k' }, { env }), 'from-env-1234');
    await assert.rejects(
      resolveSecretReference('env:NOPE', { key: 'profiles.a.password' }, { env }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.equal(e.key, 'profiles.a.password');
        assert.match(e.message, /NOPE is not set/);
        return true;
      },
    );
  });

  it('file: trims, and relative paths resolve against baseDir', async () => {
    await writeFile(join(dir, 'pw.txt'), '  s3cret-from-file \n');
    assert.equal(
      await resolveSecretReference(`file:${join(dir, 'pw.txt')}`, { key: 'k' }),
      's3cret-from-file',
    );
    assert.equal(
      await resolveSecretReference('file:pw.txt', { key: 'k' }, { baseDir: dir }),
      's3cret-from-file',
    );
    await assert.rejects(
      resolveSecretReference('file:missing.txt', { key: 'k' }, { baseDir: dir }),
      ConfigError,
    );
  });

  it('cmd: returns trimmed stdout; a failing command does not leak its output', async () => {
    assert.equal(await resolveSecretReference('cmd:echo "  cmd-secret-99  "', { key: 'k' }), 'cmd-secret-99');
    await assert.rejects(
      resolveSecretReference('cmd:echo leaked-output-777; exit 3', { key: 'profiles.x.client_secret' }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, /exited with status 3/);
        assert.doesNotMatch(e.message, /leaked-output-777/);
        return true;
      },
    );
    await assert.rejects(
      resolveSecretReference('cmd:sleep 5', { key: 'k' }, { commandTimeoutMs: 100 }),
      /did not finish within 100 ms/,
    );
  });

  it('resolveProfileSecrets resolves every reference, registers secrets and keeps the input', async () => {
    const file = join(dir, 'cs.txt');
    await writeFile(file, 'client-secret-from-file\n');
    await chmod(file, 0o600);
    const profile = {
      name: 'p',
      client_id: 'env:CID',
      client_secret: `file:${file}`,
      password: 'cmd:printf pass-from-cmd-42',
      params: { extra_token: 'env:XT' },
      token_url: 'https://example.test/token',
    };
    const out = await resolveProfileSecrets(profile, { env: { CID: 'client-abc', XT: 'xt-secret-value' } });
    assert.equal(out.client_id, 'client-abc');
    assert.equal(out.client_secret, 'client-secret-from-file');
    assert.equal(out.password, 'pass-from-cmd-42');
    assert.equal(out.params?.['extra_token'], 'xt-secret-value');
    assert.equal(profile.client_secret, `file:${file}`);
    assert.equal(
      redactText('x client-secret-from-file pass-from-cmd-42 xt-secret-value'),
      'x [REDACTED] [REDACTED] [REDACTED]',
    );
    // client_id is not a secret
    assert.equal(redactText('client-abc'), 'client-abc');
  });

  it('registers the password part of store_url', async () => {
    await resolveProfileSecrets({ store: 'redis', store_url: 'redis://user:pw-in-url-555@127.0.0.1:6379' });
    assert.equal(redactText('pw-in-url-555'), '[REDACTED]');
  });
});
