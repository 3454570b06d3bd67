/**
 * `login()` and the manager's sign-in rules: `getToken()` never signs in (LoginRequiredError naming
 * `tokenward login <profile>`, no request made); a sign-in writes through the store's lock, so a
 * concurrent `getToken()` of another manager on the same file store waits and gets the new token
 * instead of failing or signing in again; a non-interactive profile cannot sign in.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { clearDiscoveryCache } from '../src/discovery.js';
import {
  createTokenManager,
  LoginRequiredError,
  login,
  openProfile,
  type Profile,
  UnsupportedError,
} from '../src/index.js';
import { type Loopback, startLoopback } from './helpers/loopback.js';

describe('login() and the manager', () => {
  let as: Loopback;
  let dir: string;
  let issued = 0;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tw-login-'));
    as = await startLoopback((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/.well-known/openid-configuration') {
        res.end(
          JSON.stringify({
            issuer: as.url,
            authorization_endpoint: `${as.url}/authorize`,
            token_endpoint: `${as.url}/token`,
          }),
        );
      } else {
        issued++;
        res.end(
          JSON.stringify({
            access_token: `at-${issued}`,
            token_type: 'Bearer',
            expires_in: 600,
            refresh_token: `rt-${issued}`,
          }),
        );
      }
    });
  });
  after(async () => {
    await as.close();
    clearDiscoveryCache();
    rmSync(dir, { recursive: true, force: true });
  });
  const profile = (): Profile => ({
    name: 'me',
    provider: 'oidc',
    issuer: as.url,
    client_id: 'app',
    grant: 'authorization_code',
    scope: 'api',
    store: 'file',
    cache_dir: dir,
  });
  const env = { TOKENWARD_CACHE_KEY: Buffer.alloc(32, 7).toString('base64') };

  it('getToken() on an interactive profile with nothing stored: LoginRequiredError, no request', async () => {
    const m = await createTokenManager(profile(), { env });
    try {
      await assert.rejects(
        m.getToken(),
        (e: unknown) =>
          e instanceof LoginRequiredError &&
          e.code === 'ERR_LOGIN_REQUIRED' &&
          e.profile === 'me' &&
          /sign in with `tokenward login me`/.test(e.message),
      );
      assert.equal(as.requests.length, 0);
    } finally {
      await m.close();
    }
  });

  it('a sign-in holds the store lock: a concurrent getToken() waits for it and gets the new token', async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    let opened: (url: string) => void = () => {};
    const browserOpened = new Promise<string>((r) => {
      opened = r;
    });
    const signingIn = login(profile(), {
      env,
      onAuthorizationUrl: () => {},
      openBrowser: (url) => opened(url),
    });
    const url = new URL(await browserOpened);
    // The person is still on the sign-in page; another caller wants a token meanwhile.
    const other = await createTokenManager(profile(), { env });
    const waiting = other.getToken();
    const back = new URL(url.searchParams.get('redirect_uri') ?? '');
    back.searchParams.set('code', 'c1');
    back.searchParams.set('state', url.searchParams.get('state') ?? '');
    const page = held.then(() => fetch(back));
    release();
    assert.equal((await page).status, 200);
    const token = await signingIn;
    assert.equal((await waiting).accessToken, token.accessToken);
    assert.equal(issued, 1, 'one code exchange, no second sign-in');
    await other.close();
  });

  /** A "browser" that sends the redirect with a code at once. */
  const answer = (url: string) => {
    const q = new URL(url).searchParams;
    const back = new URL(q.get('redirect_uri') ?? '');
    back.searchParams.set('code', 'c');
    back.searchParams.set('state', q.get('state') ?? '');
    void fetch(back).then((r) => r.arrayBuffer());
  };

  it('login() takes a TokenManager or a profile name of the config file, and stores through it', async () => {
    const m = await createTokenManager({ ...profile(), store: 'memory' }, { env });
    const before = issued;
    const t = await login(m, { openBrowser: answer, onAuthorizationUrl: () => {} });
    assert.equal((await m.getToken()).accessToken, t.accessToken, 'the manager holds it');
    assert.equal(issued - before, 1);
    await m.close();

    const config = join(dir, 'config.toml');
    writeFileSync(
      config,
      [
        '[profiles.named]',
        'provider = "oidc"',
        `issuer = "${as.url}"`,
        'client_id = "app"',
        'grant = "authorization_code"',
        'store = "memory"',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const named = await login('named', { config, env, openBrowser: answer, onAuthorizationUrl: () => {} });
    const same = await openProfile('named', { config, env });
    assert.equal(
      (await same.getToken()).accessToken,
      named.accessToken,
      "the profile's process-wide manager",
    );
    assert.equal(issued - before, 2);
    await same.close();
  });

  it('a non-interactive profile cannot sign in', async () => {
    const p: Profile = {
      name: 'svc',
      token_url: `${as.url}/token`,
      client_id: 'x',
      client_secret: 'y',
      store: 'memory',
    };
    await assert.rejects(
      login(p),
      (e: unknown) => e instanceof UnsupportedError && /no interactive grant/.test(e.message),
    );
  });
});
