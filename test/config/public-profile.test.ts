/**
 * getPublicProfile(): the values a program may read (references resolved), never a secret, and no
 * secret reference resolved on the way (a `cmd:` secret's command does not run).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getPublicProfile, publicProfile } from '../../src/config/public.js';
import { ConfigError } from '../../src/errors.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tokenward-public-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('getPublicProfile', () => {
  it('resolves public references and leaves every secret out, running no secret command', async () => {
    const ran = join(dir, 'secret-command-ran');
    const config = join(dir, 'config.toml');
    await writeFile(
      config,
      [
        '[profiles.acronis]',
        'provider = "acronis"',
        'datacenter_url = "https://eu2-cloud.acronis.com"',
        'client_id = "env:ACRONIS_CLIENT_ID"',
        `client_secret = "cmd:touch ${ran} && echo s3cret-value"`,
        'store = "redis"',
        'store_url = "env:REDIS_URL"',
        '',
      ].join('\n'),
    );
    const env = { ACRONIS_CLIENT_ID: 'client-42', REDIS_URL: 'redis://user:pa55word@127.0.0.1:6379/0' };
    const p = await getPublicProfile('acronis', { path: config, env });
    assert.equal(p.client_id, 'client-42');
    assert.equal(p.datacenter_url, 'https://eu2-cloud.acronis.com');
    assert.equal(p.client_secret, undefined);
    assert.equal(existsSync(ran), false, 'the cmd: secret must not run');
    assert.equal(p.store_url, 'redis://user@127.0.0.1:6379/0');
    assert.ok(!JSON.stringify(p).includes('pa55word'));
  });

  it('drops secret params entries and keeps the others', async () => {
    const p = await publicProfile(
      {
        token_url: 'https://idp.example.com/token',
        client_id: 'c',
        params: { api_key: 'k-123', audience: 'env:AUD' },
      },
      { env: { AUD: 'https://api.example.com' } },
    );
    assert.deepEqual(p.params, { audience: 'https://api.example.com' });
  });

  it('an unresolvable public reference is a ConfigError naming the key', async () => {
    await assert.rejects(
      publicProfile(
        { name: 'x', token_url: 'https://idp.example.com/token', client_id: 'env:NOPE' },
        { env: {} },
      ),
      (e: unknown) => e instanceof ConfigError && /client_id/.test(e.message) && /NOPE/.test(e.message),
    );
  });
});
