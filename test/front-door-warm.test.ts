/**
 * The warm path of the front door: `createTokenManager` computes the cache key from the profile with the
 * provider's pure identity function and leaves the secret keys' references for the first token request.
 * A `cmd:` secret is a script that appends a line to a file per run, so its runs are counted exactly.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../src/errors.js';
import { closeAll, createTokenManager, getToken } from '../src/front-door.js';
import { closeAgents } from '../src/http/agent.js';
import type { Profile } from '../src/profile.js';
import { startTokenServer, type TokenServer } from './helpers/token-server.js';

let ts: TokenServer;
let dir: string;
let runs: string;
let key: Buffer;

/** How often the `cmd:` secret ran. */
async function commandRuns(): Promise<number> {
  const text = await readFile(runs, 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l !== '').length;
}

before(async () => {
  ts = await startTokenServer({ latencyMs: 0, lifetime: 3600 });
  dir = await mkdtemp(join(tmpdir(), 'tw-warm-'));
  runs = join(dir, 'runs.log');
  key = Buffer.alloc(32, 7);
  const script = join(dir, 'secret.sh');
  await writeFile(script, `#!/bin/sh\necho run >> '${runs}'\necho warm-secret\n`, { mode: 0o700 });
});
after(async () => {
  await closeAll();
  await ts.close();
  await closeAgents();
  await rm(dir, { recursive: true, force: true });
});

function profile(name: string, extra: Partial<Profile> = {}): Profile {
  return {
    name,
    token_url: ts.tokenUrl,
    client_id: `warm-${name}`,
    client_secret: `cmd:sh '${join(dir, 'secret.sh')}'`,
    store: 'file',
    cache_dir: join(dir, 'cache'),
    ...extra,
  };
}

describe('createTokenManager resolves secret references on first use', () => {
  it('runs a cmd: secret once, for the first grant, and never for a token found in the store', async () => {
    ts.reset();
    const p = profile('lib');
    const first = await createTokenManager(p, { encryptionKey: key });
    assert.equal(await commandRuns(), 0, 'building the manager runs no secret command');
    const token = await first.getToken();
    await first.getToken();
    await first.close();
    assert.equal(await commandRuns(), 1);
    assert.equal(ts.counts.total, 1);

    for (let i = 0; i < 3; i++) {
      const warm = await createTokenManager(p, { encryptionKey: key });
      try {
        assert.equal((await warm.getToken()).accessToken, token.accessToken);
      } finally {
        await warm.close();
      }
    }
    assert.equal(await commandRuns(), 1, 'warm managers ran no secret command');
    assert.equal(ts.counts.total, 1);

    // getToken with a profile object: a manager per call, served from the file store.
    assert.equal((await getToken(p, { encryptionKey: key })).accessToken, token.accessToken);
    assert.equal(await commandRuns(), 1);

    // A forced renewal builds the client of that manager: one more run.
    const forced = await createTokenManager(p, { encryptionKey: key });
    try {
      await forced.getToken({ force: true });
      await forced.getToken({ force: true });
    } finally {
      await forced.close();
    }
    assert.equal(await commandRuns(), 2);
    assert.equal(ts.counts.total, 3);
  });

  it('a bad secret reference is a ConfigError naming the key on the first request, not before', async () => {
    ts.reset();
    const p = profile('bad', { client_secret: 'env:TW_WARM_NOT_SET' });
    const m = await createTokenManager(p, { encryptionKey: key, env: {} });
    try {
      for (let i = 0; i < 2; i++) {
        await assert.rejects(
          m.getToken(),
          (e) =>
            e instanceof ConfigError &&
            e.key === 'profiles.bad.client_secret' &&
            /TW_WARM_NOT_SET is not set/.test(e.message),
        );
      }
    } finally {
      await m.close();
    }
    assert.equal(ts.counts.total, 0);
  });

  it('a non-secret reference (token_url) is still resolved when the manager is built', async () => {
    const p = profile('url', { token_url: 'env:TW_WARM_URL_NOT_SET' });
    await assert.rejects(
      createTokenManager(p, { encryptionKey: key, env: {} }),
      (e) => e instanceof ConfigError && e.key === 'profiles.url.token_url',
    );
  });

  it('the identity computed without the client is the built client’s (the cache key does not move)', async () => {
    ts.reset();
    const p = profile('same', { scope: ['a', 'b'], params: { audience_hint: 'x', api_key: 'k-1' } });
    const m = await createTokenManager(p, { encryptionKey: key });
    try {
      const before = m.identity;
      await m.getToken(); // builds the client; a different identity would be a ClientSetupError
      assert.deepEqual(m.identity, before);
      assert.equal(ts.counts.total, 1);
    } finally {
      await m.close();
    }
  });
});
