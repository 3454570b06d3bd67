/**
 * A representative subset of the fault matrix through the built CLI (`dist/cli/tokenward.cjs` after
 * `npm run build`, else the source through tsx): a generic grant and a vendor preset × the faults that
 * map to each exit code. Per flow, one good `tokenward token` run seeds the encrypted file store (and
 * `--header` is checked to print exactly one line); then per fault, `tokenward token --force` must exit
 * with the fault's code, print nothing on stdout and no canary on stderr, and leave the good token in
 * the store (read back through the library); a final plain `tokenward token` prints it without a
 * request.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, describe, it } from 'node:test';
import { stringify } from 'smol-toml';
import { createTokenManager } from '../../src/front-door.js';
import type { Profile } from '../../src/profile.js';
import { tempHome, tw } from '../cli/helpers.js';
import { type Loopback, startLoopback } from '../helpers/loopback.js';
import { FAULTS, type Fault, goodAnswer, RETRIES } from './faults.js';
import { type Flow, leaked, makeFlows } from './flows.js';

const FLOW_NAMES = ['client_credentials', 'rdp'];
const FAULT_NAMES = [
  '503',
  '429 Retry-After: 99999',
  'timeout (never answers)',
  'CR/LF in access_token',
  '302 redirect',
];
const SECRET_KEYS = ['client_secret', 'password', 'app_secret'] as const;

const flows = makeFlows().filter((f) => FLOW_NAMES.includes(f.name));
const faults = FAULT_NAMES.map((n) => {
  const f = FAULTS.find((x) => x.name === n);
  assert.ok(f, n);
  return f;
});
let passed = 0;

after(() => {
  console.log(
    `fault matrix (CLI): ${passed}/${flows.length * faults.length} cases passed — ${flows.length} flows × ${faults.length} faults through the built CLI`,
  );
});

/** Writes the flow's profile as `[profiles.p]`, secrets as `env:` references. */
function writeConfig(path: string, flow: Flow, base: string, timeout: number, env: NodeJS.ProcessEnv): void {
  const profile: Record<string, unknown> = { ...flow.profile(base), timeout, retries: RETRIES };
  delete profile['name'];
  for (const k of SECRET_KEYS) {
    const v = profile[k];
    if (typeof v === 'string') {
      env[`TW_TEST_${k.toUpperCase()}`] = v;
      profile[k] = `env:TW_TEST_${k.toUpperCase()}`;
    }
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, stringify({ profiles: { p: profile as Omit<Profile, 'name'> } }), { mode: 0o600 });
}

// The two flows run side by side (each in its own HOME, against its own server).
describe('fault matrix (CLI)', { concurrency: 2 }, () => {
  for (const flow of flows) {
    describe(flow.name, { concurrency: 1 }, () => {
      const home = tempHome();
      const env: NodeJS.ProcessEnv = {
        ...home.env,
        NODE_NO_WARNINGS: '1',
        TOKENWARD_CACHE_KEY: randomBytes(32).toString('hex'),
      };
      /** The CLI's stored token for profile `p`, read through the library (same cache dir and key). */
      const stored = async (): Promise<string | undefined> => {
        const m = await createTokenManager(
          { ...flow.profile(server.url), name: 'p' },
          { env, onWarning: () => {} },
        );
        try {
          return (await m.store.get(m.key))?.token?.accessToken;
        } finally {
          await m.close();
        }
      };
      /**
       * Forgets the failure the previous case recorded (each case is on its own): a remembered
       * `Retry-After` would otherwise answer the next forced renewal without a request, as designed
       * (test/manager/outage.test.ts).
       */
      const forgetFailure = async (): Promise<void> => {
        const m = await createTokenManager(
          { ...flow.profile(server.url), name: 'p' },
          { env, onWarning: () => {} },
        );
        try {
          const entry = await m.store.get(m.key);
          if (entry?.lastError !== undefined) {
            const { lastError: _, ...rest } = entry;
            await m.store.set(rest);
          }
        } finally {
          await m.close();
        }
      };
      let server: Loopback;
      let good: Record<string, unknown>;

      after(async () => {
        await server?.close();
        home.cleanup();
      });

      it('seeds the file store with a good token; --header prints exactly one line', async () => {
        good = goodAnswer(1, flow.refresh);
        server = await startLoopback((_req, res) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(good));
        });
        writeConfig(home.config, flow, server.url, 20, env);
        const r = await tw(['token', 'p'], { env });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, `${String(good['access_token'])}\n`);
        const h = await tw(['token', 'p', '--header'], { env });
        assert.equal(h.code, 0, h.stderr);
        assert.equal(h.stdout, `Authorization: Bearer ${String(good['access_token'])}\n`);
        assert.equal(h.stdout.split(/\r|\n/).length, 2, 'one line');
        assert.equal(server.requests.length, 1, 'the second call is served from the store');
        assert.equal(await stored(), good['access_token'], "the library reads the CLI's entry");
      });

      for (const fault of faults) {
        it(`${fault.name} → exit ${fault.expect.exit}; the good token is still served`, async (t) => {
          if (good === undefined) return t.skip('no seed');
          server.handler = fault.handler as Fault['handler'];
          writeConfig(home.config, flow, server.url, fault.timeoutSeconds, env);
          await forgetFailure();
          const before = server.requests.length;
          const r = await tw(['token', 'p', '--force'], { env });
          assert.equal(r.code, fault.expect.exit, r.stderr);
          assert.equal(r.stdout, '', 'nothing on stdout');
          assert.match(r.stderr, /^tokenward: error: /m);
          const made = server.requests.length - before;
          assert.ok(made >= fault.expect.minRequests && made <= fault.expect.maxRequests, `${made} requests`);
          const canaries = [
            ...flow.secrets,
            String(good['access_token']),
            'fresh-at',
            'X-Injected',
            'code=leak',
          ];
          assert.deepEqual(leaked(r.stderr, canaries), [], 'a canary leaked on stderr');

          assert.equal(await stored(), good['access_token'], 'the good token was replaced or deleted');
          passed++;
        });
      }

      it('after every fault, a plain `tokenward token` still prints the good token, without a request', async (t) => {
        if (good === undefined) return t.skip('no seed');
        const before = server.requests.length;
        const again = await tw(['token', 'p'], { env });
        assert.equal(again.code, 0, again.stderr);
        assert.equal(again.stdout, `${String(good['access_token'])}\n`, 'the good token was lost');
        assert.equal(server.requests.length, before, 'serving the good token made a request');
      });
    });
  }
});
