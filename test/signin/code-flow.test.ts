/**
 * The authorization code flow with PKCE end to end: panva's oidc-provider (its own login and consent
 * pages) in headless Chromium, the browser started by tokenward's opener through `$BROWSER` (a small
 * script that hands the URL to the test), the loopback listener receiving the code, the token stored.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { clearDiscoveryCache } from '../../src/discovery.js';
import { AuthorizationError, createTokenManager, login, type Profile } from '../../src/index.js';
import { MemoryStore } from '../../src/stores/memory.js';
import {
  browserHandoffForSuite,
  type InteractiveProvider,
  launchChromium,
  PERSON,
  signInOnProviderPages,
  startInteractiveProvider,
} from '../helpers/oidc-interactive.js';

describe('authorization code + PKCE in Chromium against oidc-provider', () => {
  let op: InteractiveProvider;
  let par: InteractiveProvider;
  const handoff = browserHandoffForSuite();
  before(async () => {
    op = await startInteractiveProvider();
    par = await startInteractiveProvider({ requirePar: true });
  });
  after(async () => {
    await op.close();
    await par.close();
    clearDiscoveryCache();
  });
  const profileOf = (p: InteractiveProvider): Profile => ({
    name: 'me',
    provider: 'oidc',
    issuer: p.issuer,
    client_id: p.clientId,
    grant: 'authorization_code',
    scope: 'openid offline_access email profile',
    prompt: 'consent',
  });

  it('signs in through the system-browser opener, validates the ID token, stores the token; later calls refresh', async (t) => {
    const browser = await launchChromium(t);
    if (browser === undefined) return;
    try {
      const store = new MemoryStore();
      const shown: string[] = [];
      const signingIn = login(profileOf(op), { store, onAuthorizationUrl: (u) => shown.push(u) });
      const url = await handoff.next();
      assert.equal(shown.length, 1, 'the URL is printed as well as opened');
      assert.equal(shown[0], url);
      const q = new URL(url).searchParams;
      assert.equal(q.get('code_challenge_method'), 'S256');
      assert.match(q.get('redirect_uri') ?? '', /^http:\/\/127\.0\.0\.1:\d+\/callback$/);
      assert.ok((q.get('state') ?? '').length >= 32 && (q.get('nonce') ?? '').length >= 32);
      await signInOnProviderPages(browser.page, url);
      const token = await signingIn;
      assert.ok(token.refreshToken, 'offline_access gives a refresh token');
      assert.ok(token.idToken);
      assert.equal(await browser.page.textContent('h1', { timeout: 120_000 }), 'Signed in');
      assert.deepEqual(op.counts.token, { authorization_code: 1 });

      // The stored token is what getToken() serves, and a refresh needs no person.
      const m = await createTokenManager(profileOf(op), { store });
      assert.equal((await m.getToken()).accessToken, token.accessToken);
      const refreshed = await m.getToken({ force: true });
      assert.notEqual(refreshed.accessToken, token.accessToken);
      assert.deepEqual(op.counts.token, { authorization_code: 1, refresh_token: 1 });
      const claims = JSON.parse(
        Buffer.from((refreshed.idToken ?? '').split('.')[1] ?? '', 'base64url').toString(),
      );
      assert.equal(claims.sub, PERSON.login);
      assert.equal(claims.email, PERSON.email);
      await m.close();
    } finally {
      await browser.close();
    }
  });

  it('uses PAR when the server requires pushed authorization requests', async (t) => {
    const browser = await launchChromium(t);
    if (browser === undefined) return;
    try {
      const store = new MemoryStore();
      const signingIn = login(profileOf(par), { store, onAuthorizationUrl: () => {} });
      const url = await handoff.next();
      const q = new URL(url).searchParams;
      assert.match(q.get('request_uri') ?? '', /^urn:ietf:params:oauth:request_uri:/);
      assert.equal(q.get('code_challenge'), null, 'the parameters went to the PAR endpoint, not the URL');
      await signInOnProviderPages(browser.page, url);
      const token = await signingIn;
      assert.ok(token.accessToken);
      assert.equal(par.counts.par, 1);
      assert.equal((await store.list()).length, 1);
    } finally {
      await browser.close();
    }
  });

  it('consent denied: AuthorizationError access_denied, the browser is told, nothing stored', async (t) => {
    const browser = await launchChromium(t);
    if (browser === undefined) return;
    try {
      const store = new MemoryStore();
      const signingIn = login(profileOf(op), { store, onAuthorizationUrl: () => {} });
      signingIn.catch(() => {});
      const url = await handoff.next();
      await signInOnProviderPages(browser.page, url, { deny: true });
      await assert.rejects(
        signingIn,
        (e: unknown) =>
          e instanceof AuthorizationError &&
          e.code === 'ERR_AUTHORIZATION' &&
          e.error === 'access_denied' &&
          /refused the sign-in: access_denied/.test(e.message),
      );
      assert.equal(await browser.page.textContent('h1', { timeout: 120_000 }), 'Sign-in failed');
      assert.equal((await store.list()).length, 0);
      assert.equal(op.counts.token['authorization_code'] ?? 0, 1, 'only the first test exchanged a code');
    } finally {
      await browser.close();
    }
  });
});
