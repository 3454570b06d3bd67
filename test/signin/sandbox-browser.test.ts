/**
 * `login()` against the sandbox's own sign-in pages in headless Chromium: the code flow with the browser
 * started by tokenward's opener through `$BROWSER` (a script that hands the URL to the test, which
 * drives Chromium there), the person's form filled in, the loopback listener receiving the code, the
 * token stored — and Deny ending in `access_denied` with nothing stored. The device flow: the code given
 * to `onDeviceCode` typed on the sandbox's verification page. Skipped off CI without Chromium.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { clearDiscoveryCache } from '../../src/discovery.js';
import { AuthorizationError, login } from '../../src/index.js';
import {
  DEMO_CREDENTIALS,
  type Sandbox,
  sandboxLoginProfiles,
  startSandbox,
} from '../../src/sandbox/index.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { browserHandoffForSuite, type Page, STEP_MS, withChromium } from '../helpers/oidc-interactive.js';

describe("login() in Chromium against the sandbox's sign-in pages", () => {
  let sb: Sandbox;
  const handoff = browserHandoffForSuite();
  before(async () => {
    sb = await startSandbox();
    sb.configure('oidc', { deviceIntervalSeconds: 1 });
  });
  after(async () => {
    await sb.close();
    clearDiscoveryCache();
  });

  /**
   * The person's part on the sandbox's pages: (type the user code, on the device page,) sign in, then
   * Allow or Deny.
   */
  async function signInOnSandbox(
    page: Page,
    url: string,
    decision: 'allow' | 'deny',
    userCode?: string,
  ): Promise<void> {
    await page.goto(url, { timeout: STEP_MS });
    if (userCode !== undefined) await page.fill('#user_code', userCode, { timeout: STEP_MS });
    await page.fill('#username', DEMO_CREDENTIALS.oidc.username, { timeout: STEP_MS });
    await page.fill('#password', DEMO_CREDENTIALS.oidc.password, { timeout: STEP_MS });
    await page.click('button[type=submit]', { timeout: STEP_MS });
    await page.click(`button[value=${decision}]`, { timeout: STEP_MS });
  }

  it('code flow: $BROWSER opens the sign-in page, the person signs in and allows, the token is stored', (t) =>
    withChromium(t, async (page) => {
      const store = new MemoryStore();
      const signingIn = login(sandboxLoginProfiles(sb).oidc, { store, onAuthorizationUrl: () => {} });
      await signInOnSandbox(page, await handoff.next(), 'allow');
      const token = await signingIn;
      assert.ok(token.idToken !== undefined && token.refreshToken !== undefined);
      assert.equal(await page.textContent('h1', { timeout: STEP_MS }), 'Signed in');
      const [entry] = await store.list();
      assert.equal(entry?.token?.accessToken, token.accessToken);
      assert.deepEqual(sb.stats().token['oidc'], { authorization_code: 1 });
    }));

  it('code flow: Deny on the consent page is access_denied, the browser is told, nothing stored', (t) =>
    withChromium(t, async (page) => {
      const store = new MemoryStore();
      const signingIn = login(sandboxLoginProfiles(sb).oidc, { store, onAuthorizationUrl: () => {} });
      signingIn.catch(() => {});
      await signInOnSandbox(page, await handoff.next(), 'deny');
      await assert.rejects(
        signingIn,
        (e: unknown) => e instanceof AuthorizationError && e.error === 'access_denied',
      );
      assert.equal(await page.textContent('h1', { timeout: STEP_MS }), 'Sign-in failed');
      assert.match((await page.textContent('#message', { timeout: STEP_MS })) ?? '', /access_denied/);
      assert.equal((await store.list()).length, 0);
      assert.deepEqual(sb.stats().token['oidc'], { authorization_code: 1 }, 'only the first test');
    }));

  it('device flow: the code from onDeviceCode is typed on the verification page; the token is stored', (t) =>
    withChromium(t, async (page) => {
      const store = new MemoryStore();
      const token = await login(sandboxLoginProfiles(sb)['oidc-device'], {
        store,
        openBrowser: () => assert.fail('the device flow opens no browser'),
        async onDeviceCode(info) {
          // Awaited before polling starts: the person types the code (lower case, no dash) and allows.
          const typed = info.userCode.replace('-', '').toLowerCase();
          await signInOnSandbox(page, info.verificationUri, 'allow', typed);
          await page.waitForSelector('text=Device connected', { timeout: STEP_MS });
        },
      });
      assert.ok(token.idToken !== undefined);
      assert.equal((await store.list()).length, 1);
      assert.equal(sb.stats().token['oidc']?.['device_code'], 1);
    }));
});
