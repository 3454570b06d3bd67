/**
 * `tokenward login` as a person runs it, against panva's oidc-provider, in headless Chromium: the device
 * flow (the user code read from the CLI's output and typed on the provider's verification page) and the
 * code flow (the browser started through `$BROWSER`); then `token` serves, refreshes, and — once the
 * refresh token is revoked — fails with LoginRequiredError (exit 8) without opening a browser.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  browserHandoff,
  type InteractiveProvider,
  launchChromium,
  PERSON,
  STEP_MS,
  signInOnProviderPages,
  startInteractiveProvider,
} from '../helpers/oidc-interactive.js';
import { type TempHome, tempHome, tw, twSpawn } from './helpers.js';

describe('tokenward login (CLI) against oidc-provider in Chromium', () => {
  let op: InteractiveProvider;
  let home: TempHome;
  let handoff: Awaited<ReturnType<typeof browserHandoff>>;
  before(async () => {
    op = await startInteractiveProvider();
    home = tempHome();
    handoff = await browserHandoff();
    home.env['BROWSER'] = handoff.browser;
    mkdirSync(dirname(home.config), { recursive: true });
    const common = [
      'provider = "oidc"',
      `issuer = "${op.issuer}"`,
      `client_id = "${op.clientId}"`,
      'scope = "openid offline_access email profile"',
      'prompt = "consent"',
    ];
    writeFileSync(
      home.config,
      [
        '[profiles.dev]',
        'grant = "device_code"',
        ...common,
        '',
        '[profiles.short]',
        'grant = "authorization_code"',
        'login_timeout = 1',
        ...common,
        '',
        '[profiles.web]',
        'grant = "authorization_code"',
        'interactive = "auto"',
        ...common,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
  });
  after(async () => {
    await handoff.close();
    await op.close();
    home.cleanup();
  });

  it('device flow: the code printed by the CLI is entered on the verification page; token then serves it', async (t) => {
    const browser = await launchChromium(t);
    if (browser === undefined) return;
    try {
      const child = twSpawn(['login', 'dev', '--config', home.config], { env: home.env });
      let stderr = '';
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      const codeShown = new Promise<{ uri: string; code: string }>((resolve) => {
        child.stderr?.on('data', (c: Buffer) => {
          stderr += c.toString();
          const m = /open (\S+)\s+and enter the code: (\S+)/.exec(stderr);
          if (m?.[1] !== undefined && m[2] !== undefined) resolve({ uri: m[1], code: m[2] });
        });
      });
      const shown = await Promise.race([codeShown, exited.then(() => ({ uri: '', code: '' }))]);
      assert.ok(shown.code !== '', `no user code in the CLI's output: ${stderr}`);
      assert.ok(shown.uri.startsWith(op.issuer));
      const { page } = browser;
      await page.goto(shown.uri, { timeout: STEP_MS });
      await page.fill('input[name=user_code]', shown.code, { timeout: STEP_MS });
      await page.click('button[type=submit]', { timeout: STEP_MS });
      await page.waitForSelector('text=Confirm device', { timeout: STEP_MS });
      await page.click('button[autofocus]', { timeout: STEP_MS });
      await page.fill('input[name=login]', PERSON.login, { timeout: STEP_MS });
      await page.fill('input[name=password]', PERSON.password, { timeout: STEP_MS });
      await page.click('button[type=submit]', { timeout: STEP_MS });
      await page.waitForSelector('input[name=prompt][value=consent]', {
        timeout: STEP_MS,
        state: 'attached',
      });
      await page.click('button[type=submit]', { timeout: STEP_MS });
      assert.equal(await exited, 0, stderr);
      assert.match(stderr, /signed in to dev as Alice Liddell <alice@example\.test>/);
      assert.equal(op.counts.deviceAuthorization, 1);
      assert.equal(op.counts.token['authorization_code'], undefined);

      const token = await tw(['token', 'dev', '--config', home.config], { env: home.env });
      assert.equal(token.code, 0, token.stderr);
      assert.match(token.stdout, /^\S+\n$/);
      const before = { ...op.counts.token };
      const again = await tw(['token', 'dev', '--config', home.config], { env: home.env });
      assert.equal(again.stdout, token.stdout, 'served from the store');
      assert.deepEqual(op.counts.token, before, 'no request for a cached token');

      const status = await tw(['status', '--json', '--config', home.config], { env: home.env });
      const row = (JSON.parse(status.stdout) as { profile: string; user: unknown }[]).find(
        (r) => r.profile === 'dev',
      );
      assert.deepEqual(row?.user, { sub: PERSON.login, email: PERSON.email, name: PERSON.name });
    } finally {
      await browser.close();
    }
  });

  it('code flow: login → token → refresh → refresh token revoked → LoginRequiredError, exit 8, no browser', async (t) => {
    const browser = await launchChromium(t);
    if (browser === undefined) return;
    try {
      const child = twSpawn(['login', 'web', '--config', home.config], { env: home.env });
      let stderr = '';
      child.stderr?.on('data', (c: Buffer) => {
        stderr += c.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      const url = await handoff.next();
      await signInOnProviderPages(browser.page, url);
      assert.equal(await exited, 0, stderr);
      assert.ok(stderr.includes(url), 'the URL is printed too');
      assert.equal(op.counts.token['authorization_code'], 1);

      const first = await tw(['token', 'web', '--json', '--show-refresh', '--config', home.config], {
        env: home.env,
      });
      assert.equal(first.code, 0, first.stderr);
      const { access_token: at1, refresh_token: rt1 } = JSON.parse(first.stdout) as Record<string, string>;
      const refreshed = await tw(
        ['token', 'web', '--force', '--json', '--show-refresh', '--config', home.config],
        {
          env: home.env,
        },
      );
      assert.equal(refreshed.code, 0, refreshed.stderr);
      const { access_token: at2, refresh_token: rt2 } = JSON.parse(refreshed.stdout) as Record<
        string,
        string
      >;
      assert.notEqual(at2, at1);
      assert.notEqual(rt2, rt1, 'rotated');
      assert.equal(op.counts.token['refresh_token'], 1);

      // The person's session ends at the server: the refresh token is revoked.
      const revoke = await fetch(`${op.issuer}/token/revocation`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: rt2 ?? '', client_id: op.clientId }),
      });
      assert.equal(revoke.status, 200);
      const after = await tw(['token', 'web', '--force', '--config', home.config], { env: home.env });
      assert.equal(after.code, 8, after.stderr);
      assert.match(after.stderr, /tokenward login web/);
      assert.equal(after.stdout, '');
      assert.equal(op.counts.token['authorization_code'], 1, 'no second sign-in');
      assert.equal(op.counts.token['refresh_token'], 2);
      // interactive = "auto", but stdin/stderr are not terminals: no sign-in started (its first step
      // would have been to print the URL), so no browser was opened.
      assert.doesNotMatch(after.stderr, /needs a sign-in|Open this URL/);

      // logout revokes what is left (the access token) and deletes the entry.
      const out = await tw(['logout', 'web', '--config', home.config], { env: home.env });
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stderr, /revoked at the server; deleted from the store/);
      const gone = await tw(['token', 'web', '--config', home.config], { env: home.env });
      assert.equal(gone.code, 8);
    } finally {
      await browser.close();
    }
  });

  it('--no-browser only prints the URL; a redirect that never comes ends with a timeout, nothing stored', async () => {
    // $BROWSER names a program that does not exist: an attempt to open it would say so on stderr.
    const env = { ...home.env, BROWSER: '/nonexistent/tokenward-test-browser' };
    const child = await tw(['login', 'short', '--no-browser', '--config', home.config], { env });
    assert.equal(child.code, 1, child.stderr);
    assert.match(child.stderr, new RegExp(`Open this URL in a browser to sign in:\\s+${op.issuer}/auth\\?`));
    assert.match(child.stderr, /no answer from the browser within 1 s/);
    assert.doesNotMatch(child.stderr, /could not start a browser/, 'no browser was tried');
    // Without --no-browser the same run tries it, and says so (the URL is printed all the same).
    const tried = await tw(['login', 'short', '--config', home.config], { env });
    assert.equal(tried.code, 1, tried.stderr);
    assert.match(tried.stderr, /could not start a browser; open the URL above yourself/);
    const token = await tw(['token', 'short', '--config', home.config], { env: home.env });
    assert.equal(token.code, 8);
    const status = await tw(['status', '--json', '--config', home.config], { env: home.env });
    const row = (JSON.parse(status.stdout) as { profile: string; cached: boolean }[]).find(
      (r) => r.profile === 'short',
    );
    assert.equal(row?.cached, false, 'nothing stored');
  });

  it('login --help documents the command', async () => {
    const help = await tw(['login', '--help'], { env: home.env });
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: tokenward login <profile> \[--device\] \[--no-browser\]/);
  });
});
