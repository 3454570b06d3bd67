/**
 * `tokenward login` across processes, against the sandbox's OpenID Connect server (in this process; the
 * person's part done over HTTP with `completeSandboxSignIn` / `approveSandboxDevice`, no browser):
 *
 * - while `login` (one process) waits for the person, a `getToken()` in this process and a `tokenward
 *   token` in a third wait on the file store's lock and get the token the sign-in stored — one code
 *   exchange, no second sign-in, no LoginRequiredError;
 * - `status` shows who is signed in and when the session ends; `request` uses the person's token;
 * - `logout` revokes the session at the server; then `token`, `request` and `exec` exit 8 naming
 *   `tokenward login <profile>`;
 * - `login --device` takes the device flow for a code-flow profile.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openProfile } from '../../src/index.js';
import {
  approveSandboxDevice,
  completeSandboxSignIn,
  type Sandbox,
  sandboxConfigToml,
  sandboxIssuer,
  startSandbox,
} from '../../src/sandbox/index.js';
import type { LockOptions, StoreLock, TokenStore } from '../../src/stores/types.js';
import { type TempHome, tempHome, tw, twSpawn } from './helpers.js';

const noop = () => {};

/** Starts `tokenward …args`; resolves `shown` with the first match of `re` on its stderr. */
function spawnWatching(home: TempHome, args: string[], re: RegExp) {
  const child = twSpawn(args, { env: home.env });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const shown = new Promise<RegExpExecArray | undefined>((resolve) => {
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
      const m = re.exec(stderr);
      if (m !== null) resolve(m);
    });
    void exited.then(() => resolve(undefined));
  });
  return { child, exited, shown, stderr: () => stderr };
}

describe('tokenward login across processes, against the sandbox', () => {
  let sb: Sandbox;
  let home: TempHome;
  let issuer = '';
  const cfg = () => ['--config', home.config];
  before(async () => {
    sb = await startSandbox();
    sb.configure('oidc', { deviceIntervalSeconds: 1 });
    issuer = sandboxIssuer(sb);
    home = tempHome();
    // One cache key for the CLI processes and this one (which opens the same file store).
    home.env['TOKENWARD_CACHE_KEY'] = Buffer.alloc(32, 9).toString('base64');
    mkdirSync(dirname(home.config), { recursive: true });
    // What `tokenward sandbox` prints: its `oidc` profile is the code flow's.
    writeFileSync(home.config, sandboxConfigToml(sb, { login: true }), { mode: 0o600 });
  });
  after(async () => {
    await sb.close();
    home.cleanup();
  });

  it('a login holds the store lock: getToken() here and `token` in another process wait, then serve its token', async () => {
    const login = spawnWatching(
      home,
      ['login', 'oidc', '--no-browser', ...cfg()],
      /Open this URL in a browser to sign in:\s+(\S+)/,
    );
    const url = (await login.shown)?.[1];
    assert.ok(url !== undefined, login.stderr());
    // The URL is shown: the login process holds the lock of the profile's entry now.

    const manager = await openProfile('oidc', { config: home.config, env: home.env });
    // The store's lock, watched: a waiter looks at the store after each wait (`satisfied`), which it
    // does only while another process holds the lock.
    const store = manager.store as TokenStore & { lock: TokenStore['lock'] };
    const realLock = store.lock.bind(store);
    let waited: () => void = () => {};
    const lockBusy = new Promise<void>((r) => {
      waited = r;
    });
    let locked = false;
    store.lock = (async (key: string, options: LockOptions) => {
      const { satisfied } = options;
      const lock = (await realLock(key, {
        ...options,
        satisfied: async () => {
          waited();
          return (await satisfied?.()) === true;
        },
      })) as StoreLock | undefined;
      locked = true;
      return lock;
    }) as TokenStore['lock'];
    let settled = false;
    const waiting = manager.getToken().finally(() => {
      settled = true;
    });
    // Either it waits on the lock, or (wrongly) it settles without the sign-in: whichever comes first.
    await Promise.race([lockBusy, waiting.then(noop, noop)]);
    const other = tw(['token', 'oidc', ...cfg()], { env: home.env });

    assert.equal(settled, false, 'getToken() waits while the person signs in');
    assert.equal(locked, false);
    assert.deepEqual(sb.stats().token['oidc'] ?? {}, {}, 'nothing exchanged yet');
    await completeSandboxSignIn(url);
    assert.equal(await login.exited, 0, login.stderr());
    assert.match(login.stderr(), /signed in to oidc as Sandbox Person <person@example\.com>/);

    const token = await waiting;
    const third = await other;
    assert.equal(third.code, 0, third.stderr);
    assert.equal(third.stdout.trim(), token.accessToken, 'the other process serves the same token');
    assert.deepEqual(sb.stats().token['oidc'], { authorization_code: 1 }, 'one sign-in, one code exchange');
    await manager.close();
  });

  it('status shows who is signed in and when the session ends; request uses the token', async () => {
    const st = await tw(['status', '--json', ...cfg()], { env: home.env });
    assert.equal(st.code, 0, st.stderr);
    const row = (JSON.parse(st.stdout) as Record<string, unknown>[]).find((r) => r['profile'] === 'oidc');
    assert.deepEqual(row?.['user'], {
      sub: '6c1f7a52-3e9b-4d18-a0c4-8b2d5e7f9a13',
      email: 'person@example.com',
      name: 'Sandbox Person',
    });
    const ends = Date.parse(String(row?.['session_ends_at']));
    const renewed = Date.parse(String(row?.['last_renewal']));
    // The sandbox's session lasts sessionLifetimeSeconds (default 8 h) from the sign-in.
    assert.ok(ends > renewed, `${row?.['session_ends_at']} after ${row?.['last_renewal']}`);
    const text = await tw(['status', ...cfg()], { env: home.env });
    assert.match(text.stdout, /USER +SESSION ENDS/);
    assert.match(text.stdout, /Sandbox Person <person@example\.com>/);

    const req = await tw(['request', 'oidc', `${issuer}/userinfo`, ...cfg()], { env: home.env });
    assert.equal(req.code, 0, req.stderr);
    assert.equal((JSON.parse(req.stdout) as { email?: string }).email, 'person@example.com');
  });

  it('logout revokes the session at the server; then token, request and exec exit 8 naming the login command', async () => {
    const shown = await tw(['token', 'oidc', '--json', '--show-refresh', ...cfg()], { env: home.env });
    assert.equal(shown.code, 0, shown.stderr);
    const { refresh_token: rt } = JSON.parse(shown.stdout) as { refresh_token: string };
    assert.ok(rt);

    const out = await tw(['logout', 'oidc', ...cfg()], { env: home.env });
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /revoked at the server; deleted from the store/);
    const refresh = await fetch(`${issuer}/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: rt,
        client_id: sb.credentials.oidc.clientId,
      }),
    });
    assert.equal(refresh.status, 400);
    assert.equal(((await refresh.json()) as { error?: string }).error, 'invalid_grant', 'revoked');

    const runs = await Promise.all([
      tw(['token', 'oidc', ...cfg()], { env: home.env }),
      tw(['request', 'oidc', `${issuer}/userinfo`, ...cfg()], { env: home.env }),
      tw(['exec', 'oidc', ...cfg(), '--', process.execPath, '-e', 'process.exit(0)'], { env: home.env }),
    ]);
    for (const r of runs) {
      assert.equal(r.code, 8, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /sign in with `tokenward login oidc`/);
      assert.doesNotMatch(r.stderr, /Open this URL/, 'no sign-in started');
    }
    assert.deepEqual(sb.stats().token['oidc'], { authorization_code: 1 });
  });

  it('login --device takes the device flow for a code-flow profile', async () => {
    const login = spawnWatching(
      home,
      ['login', 'oidc', '--device', ...cfg()],
      /open (\S+)\s+and enter the code: ([A-Z]{4}-[A-Z]{4})/,
    );
    const m = await login.shown;
    assert.ok(m?.[1] !== undefined && m[2] !== undefined, login.stderr());
    await approveSandboxDevice(m[1], m[2]);
    assert.equal(await login.exited, 0, login.stderr());
    assert.doesNotMatch(login.stderr(), /Open this URL/);
    assert.deepEqual(sb.stats().token['oidc'], { authorization_code: 1, device_code: 1 });
    const token = await tw(['token', 'oidc', ...cfg()], { env: home.env });
    assert.equal(token.code, 0, token.stderr);
  });
});
