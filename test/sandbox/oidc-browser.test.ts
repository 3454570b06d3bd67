/**
 * The sandbox's sign-in page and device verification page driven in headless Chromium (playwright-core,
 * Debian's /usr/bin/chromium): the test fills in the forms like a person, and a loopback listener
 * standing in for the client receives the code and state. Skipped (outside CI) when Chromium is absent.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, beforeEach, describe, it, type TestContext } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { DEMO_CREDENTIALS, sandboxIssuer } from '../../src/sandbox/index.js';
import type { Loopback } from '../helpers/loopback.js';
import { missing } from '../helpers/services.js';
import { body, type ClockedSandbox, postForm, startClocked } from './helpers.js';
import {
  authorizeRequest,
  DEVICE_GRANT,
  oauthErrorOf,
  redirectListener,
  tokenRequest,
} from './oidc-helpers.js';

const CHROMIUM = '/usr/bin/chromium';
/** Safety nets for a loaded machine, never assertions. */
const STEP_MS = 120_000;

let t: ClockedSandbox;
let listener: Loopback & { redirectUri: string };
let browser: Browser | undefined;
let issuer = '';

before(async () => {
  t = await startClocked();
  listener = await redirectListener();
  issuer = sandboxIssuer(t.sandbox);
  if (existsSync(CHROMIUM)) {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], timeout: STEP_MS });
  }
});
after(async () => {
  await browser?.close();
  await listener.close();
  await t.sandbox.close();
});
beforeEach(() => {
  t.sandbox.reset();
  listener.requests.length = 0;
});

/** What reached the redirect URI (Chromium also asks the listener for /favicon.ico). */
function redirects() {
  return listener.requests.filter((r) => r.url.startsWith('/callback?'));
}

function needBrowser(t: TestContext): Browser | undefined {
  if (browser === undefined) missing(t, 'chromium (/usr/bin/chromium)', 'apt-get install -y chromium');
  return browser;
}

async function signInPage(b: Browser, url: string) {
  const context = await b.newContext();
  context.setDefaultTimeout(STEP_MS);
  context.setDefaultNavigationTimeout(STEP_MS);
  const page = await context.newPage();
  await page.goto(url);
  return { context, page };
}

describe('oidc sign-in pages in Chromium', () => {
  it('code flow: sign in, Allow, the browser lands on the loopback listener with code and state', async (tc) => {
    const b = needBrowser(tc);
    if (b === undefined) return;
    const req = authorizeRequest(t.sandbox, listener.redirectUri);
    const { context, page } = await signInPage(b, req.url);
    try {
      assert.equal(await page.title(), 'Sign in');
      await page.fill('#username', DEMO_CREDENTIALS.oidc.username);
      await page.fill('#password', DEMO_CREDENTIALS.oidc.password);
      await page.click('button[type=submit]');
      await page.waitForSelector('button[value=allow]');
      assert.equal(await page.title(), 'Allow access?');
      await Promise.all([page.waitForURL(`${listener.url}/callback?**`), page.click('button[value=allow]')]);
      assert.match((await page.textContent('body')) ?? '', /signed in/);
    } finally {
      await context.close();
    }
    const callbacks = redirects();
    assert.equal(callbacks.length, 1);
    const got = new URL(callbacks[0]?.url ?? '', listener.url);
    assert.equal(got.searchParams.get('state'), req.state);
    assert.equal(got.searchParams.get('iss'), issuer);
    const code = got.searchParams.get('code') ?? '';
    const res = await tokenRequest(t.sandbox, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: req.redirectUri,
      code_verifier: req.verifier,
    });
    assert.equal(res.status, 200);
    assert.equal(typeof (await body(res))['id_token'], 'string');
    assert.deepEqual(t.sandbox.stats().token.oidc, { authorization_code: 1 });
  });

  it('code flow: a wrong password shows the message; Deny lands on the listener with access_denied', async (tc) => {
    const b = needBrowser(tc);
    if (b === undefined) return;
    const req = authorizeRequest(t.sandbox, listener.redirectUri, {
      login_hint: DEMO_CREDENTIALS.oidc.username,
    });
    const { context, page } = await signInPage(b, req.url);
    try {
      assert.equal(
        await page.inputValue('#username'),
        DEMO_CREDENTIALS.oidc.username,
        'login_hint pre-fills',
      );
      await page.fill('#password', 'not-the-password');
      await page.click('button[type=submit]');
      await page.waitForSelector('.error');
      assert.match((await page.textContent('.error')) ?? '', /Wrong username or password/);
      await page.fill('#password', DEMO_CREDENTIALS.oidc.password);
      await page.click('button[type=submit]');
      await page.waitForSelector('button[value=deny]');
      await Promise.all([page.waitForURL(`${listener.url}/callback?**`), page.click('button[value=deny]')]);
    } finally {
      await context.close();
    }
    const callbacks = redirects();
    assert.equal(callbacks.length, 1);
    const got = new URL(callbacks[0]?.url ?? '', listener.url);
    assert.equal(got.searchParams.get('error'), 'access_denied');
    assert.equal(got.searchParams.get('state'), req.state);
    assert.equal(got.searchParams.get('code'), null);
  });

  it('device flow: enter the user code on the verification page, sign in, Allow; the poll gets tokens', async (tc) => {
    const b = needBrowser(tc);
    if (b === undefined) return;
    const auth = await postForm(`${issuer}/device/auth`, {
      client_id: DEMO_CREDENTIALS.oidc.clientId,
      scope: 'openid profile email offline_access',
    });
    const d = (await auth.json()) as { device_code: string; user_code: string; verification_uri: string };
    const poll = () => tokenRequest(t.sandbox, { grant_type: DEVICE_GRANT, device_code: d.device_code });
    assert.deepEqual(await oauthErrorOf(await poll()), [400, 'authorization_pending']);
    const { context, page } = await signInPage(b, d.verification_uri);
    try {
      assert.equal(await page.title(), 'Connect a device');
      // Typed as a person might: lower case, no dash.
      await page.fill('#user_code', d.user_code.replace('-', '').toLowerCase());
      await page.fill('#username', DEMO_CREDENTIALS.oidc.username);
      await page.fill('#password', DEMO_CREDENTIALS.oidc.password);
      await page.click('button[type=submit]');
      await page.waitForSelector('button[value=allow]');
      assert.match((await page.textContent('body')) ?? '', new RegExp(d.user_code));
      await page.click('button[value=allow]');
      await page.waitForSelector('text=Device connected');
    } finally {
      await context.close();
    }
    t.advance(5);
    const res = await poll();
    assert.equal(res.status, 200);
    const tokens = await body(res);
    assert.equal(typeof tokens['refresh_token'], 'string');
    assert.deepEqual(t.sandbox.stats().token.oidc, { device_code: 1 });
  });

  it('device flow: Deny on the page makes the poll access_denied', async (tc) => {
    const b = needBrowser(tc);
    if (b === undefined) return;
    const auth = await postForm(`${issuer}/device/auth`, {
      client_id: DEMO_CREDENTIALS.oidc.clientId,
      scope: 'openid',
    });
    const d = (await auth.json()) as {
      device_code: string;
      user_code: string;
      verification_uri_complete: string;
    };
    const { context, page } = await signInPage(b, d.verification_uri_complete);
    try {
      assert.equal(
        await page.inputValue('#user_code'),
        d.user_code,
        'pre-filled from verification_uri_complete',
      );
      await page.fill('#username', DEMO_CREDENTIALS.oidc.username);
      await page.fill('#password', DEMO_CREDENTIALS.oidc.password);
      await page.click('button[type=submit]');
      await page.click('button[value=deny]');
      await page.waitForSelector('text=Access denied');
    } finally {
      await context.close();
    }
    const res = await tokenRequest(t.sandbox, { grant_type: DEVICE_GRANT, device_code: d.device_code });
    assert.deepEqual(await oauthErrorOf(res), [400, 'access_denied']);
  });
});
