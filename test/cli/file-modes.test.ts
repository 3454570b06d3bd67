/**
 * What a user's `tokenward token` leaves on disk, with the umask a shell really has (022, and the
 * group-friendly 002): the cache directory 0700, the token file and the generated cache key 0600.
 * (test/stores/file-store.test.ts pins the same with `umask(0)` inside one process; this is the CLI,
 * end to end, as a child process started under `sh -c 'umask …'`.)
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Ran, runProcess } from '../helpers/process.js';
import { startTokenServer, type TokenServer } from '../helpers/token-server.js';
import { CLI, ROOT, type TempHome, tempHome } from './helpers.js';

let ts: TokenServer;
before(async () => {
  ts = await startTokenServer({ latencyMs: 0 });
});
after(() => ts.close());

/** Runs `tokenward ...args` under `sh -c 'umask <mask>; exec …'`. */
function withUmask(mask: string, args: string[], env: NodeJS.ProcessEnv): Promise<Ran> {
  return runProcess('sh', ['-c', `umask ${mask} && exec "$@"`, 'sh', process.execPath, ...CLI, ...args], {
    cwd: ROOT,
    env,
  });
}

const mode = (p: string): string => (statSync(p).mode & 0o777).toString(8);

describe('file modes under a real umask', {
  skip: process.platform === 'win32' && 'POSIX modes only',
}, () => {
  for (const mask of ['022', '002']) {
    it(`umask ${mask}: cache dir 0700, token file 0600, generated cache key 0600`, async () => {
      const home: TempHome = tempHome();
      try {
        // A cache directory that does not exist yet: the CLI creates it.
        const cacheDir = join(home.dir, 'cache', 'tokenward', 'tokens');
        const env = { ...home.env, TOKENWARD_CACHE_DIR: cacheDir, X_SECRET: 'x-client-secret-umask' };
        mkdirSync(dirname(home.config), { recursive: true });
        writeFileSync(
          home.config,
          `[profiles.x]\ntoken_url = "${ts.tokenUrl}"\nclient_id = "cli"\nclient_secret = "env:X_SECRET"\n`,
          { mode: 0o600 },
        );
        const before = ts.counts.total;
        const r = await withUmask(mask, ['token', 'x'], env);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^at-\d+-/);

        assert.equal(mode(cacheDir), '700', 'the cache directory');
        const files = readdirSync(cacheDir);
        const tokens = files.filter((f) => f.endsWith('.tok'));
        assert.equal(tokens.length, 1, `one token file in ${files.join(', ')}`);
        for (const f of files) assert.equal(mode(join(cacheDir, f)), '600', f);

        const keyDir = join(home.dir, 'config', 'tokenward');
        assert.ok(readdirSync(keyDir).includes('cache.key'), 'the cache key was generated');
        assert.equal(mode(join(keyDir, 'cache.key')), '600', 'the generated cache key');

        // A second run reads the file (the mode did not stop it).
        const again = await withUmask(mask, ['token', 'x'], env);
        assert.equal(again.code, 0, again.stderr);
        assert.equal(again.stdout, r.stdout);
        assert.equal(
          ts.counts.total - before,
          1,
          'one token request: the second run was served from the cache',
        );
      } finally {
        home.cleanup();
      }
    });
  }
});
