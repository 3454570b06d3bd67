/**
 * The CLI renews a token past its eager-refresh point in the foreground (the manager's
 * `refreshMode: 'foreground'`; the CLI has no freshness logic of its own): `tokenward token` prints the
 * renewed token, and by the time the process has exited the server has answered the refresh and the
 * store holds the new token with the live refresh token. The stored token is made old with the
 * library's injected clock, not by waiting.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { closeAll, openProfile } from '../../src/front-door.js';
import { startTokenServer, type TokenServer } from '../helpers/token-server.js';
import { type TempHome, tempHome, tw } from './helpers.js';

let home: TempHome;
let server: TokenServer;
let env: NodeJS.ProcessEnv;

before(async () => {
  home = tempHome();
  server = await startTokenServer({ latencyMs: 0, lifetime: 3600 });
  env = {
    ...home.env,
    FG_SECRET: 'fg-client-secret-7c2e',
    TOKENWARD_CACHE_KEY: randomBytes(32).toString('hex'),
  };
  mkdirSync(dirname(home.config), { recursive: true });
  writeFileSync(
    home.config,
    `[profiles.fg]\ntoken_url = "${server.tokenUrl}"\nclient_id = "fg"\nclient_secret = "env:FG_SECRET"\nretries = 0\n`,
    { mode: 0o600 },
  );
});

after(async () => {
  await closeAll();
  await server?.close();
  home?.cleanup();
});

describe('tokenward token past the eager-refresh point', () => {
  it('prints the renewed token; the refresh completed and was stored before the process exited', async () => {
    // A token obtained 3,000 s ago (of 3,600 s: past the default 80 % point), through the same store.
    const seeder = await openProfile('fg', { config: home.config, env, clock: () => Date.now() - 3_000_000 });
    const old = await seeder.getToken();
    await closeAll();
    assert.deepEqual(server.counts.byGrant, { client_credentials: 1 });

    const r = await tw(['token', 'fg'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const printed = r.stdout.trim();
    assert.notEqual(printed, old.accessToken, 'the renewed token, not the old one');
    assert.deepEqual(server.counts.byGrant, { client_credentials: 1, refresh_token: 1 });
    assert.equal(server.rejectedRefreshes, 0);

    // The store holds it: the next run serves it with no request, and its refresh token is the live one.
    const again = await tw(['token', 'fg', '--json', '--show-refresh'], { env });
    assert.equal(again.code, 0, again.stderr);
    const json = JSON.parse(again.stdout) as { access_token: string; refresh_token: string };
    assert.equal(json.access_token, printed);
    assert.ok(server.liveRefreshTokens.has(json.refresh_token));
    assert.equal(server.counts.total, 2);
  });
});
