import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ConfigError, TokenEndpointError } from '../../src/errors.js';
import { createTokenManager } from '../../src/front-door.js';
import type { Profile } from '../../src/profile.js';
import {
  apiBaseUrl,
  applyRefreshChainRule,
  changePassword,
  checkNewPassword,
  createClient,
  rdpTokenUrlOf,
} from '../../src/providers/rdp.js';
import type { Token } from '../../src/token.js';
import { json, type Loopback, type SeenRequest, startLoopback } from '../helpers/loopback.js';

const PASSWORD = 'rdp-Passw0rd-current-7c2b';
const NEW_PASSWORD = 'Correct-Horse-Battery-Staple-2024!';
const ctx = { now: () => Date.now() };
const form = (r: SeenRequest) => Object.fromEntries(new URLSearchParams(r.body));

/** An RDP-like token endpoint: rotating refresh tokens, expires_in as a string, scripted lifetimes. */
interface RdpServer {
  lb: Loopback;
  grants: Record<string, number>;
  /** expires_in of the next refresh answers, in order; then `lifetime`. */
  refreshLifetimes: number[];
  lifetime: number;
  live: Set<string>;
}
let srv: RdpServer;
let n = 0;

function handler(s: RdpServer): Parameters<typeof startLoopback>[0] {
  return (req, res) => {
    const f = form(req);
    const g = f['grant_type'] ?? 'none';
    s.grants[g] = (s.grants[g] ?? 0) + 1;
    let life = s.lifetime;
    if (g === 'refresh_token') {
      if (!s.live.has(f['refresh_token'] ?? '')) {
        json(res, 400, { error: 'invalid_grant', error_description: 'Invalid refresh token' });
        return;
      }
      s.live.delete(f['refresh_token'] ?? '');
      life = s.refreshLifetimes.shift() ?? s.lifetime;
    }
    n++;
    const rt = `rdp-rt-${n}-${Math.random().toString(36).slice(2)}`;
    s.live.add(rt);
    json(res, 200, {
      access_token: `rdp-at-${n}`,
      refresh_token: rt,
      expires_in: String(life),
      scope: 'trapi.data.pricing trapi.streaming',
      token_type: 'Bearer',
    });
  };
}

const profile = (): Profile => ({
  provider: 'rdp',
  base_url: srv.lb.url,
  client_id: 'app-key-5e6f',
  username: 'GE-A-0123',
  password: PASSWORD,
});

before(async () => {
  srv = {
    lb: undefined as unknown as Loopback,
    grants: {},
    refreshLifetimes: [],
    lifetime: 300,
    live: new Set(),
  };
  srv.lb = await startLoopback(handler(srv));
});
after(() => srv.lb.close());
beforeEach(() => {
  srv.lb.requests.length = 0;
  srv.lb.handler = handler(srv);
  srv.grants = {};
  srv.refreshLifetimes = [];
  srv.lifetime = 300;
});

describe('rdp: URLs', () => {
  it('token URL is {base_url}/auth/oauth2/v1/token; token_url overrides', () => {
    assert.equal(
      rdpTokenUrlOf({ base_url: 'https://api.refinitiv.com' }),
      'https://api.refinitiv.com/auth/oauth2/v1/token',
    );
    assert.equal(
      rdpTokenUrlOf({ base_url: 'https://api.refinitiv.com/' }),
      'https://api.refinitiv.com/auth/oauth2/v1/token',
    );
    assert.equal(
      rdpTokenUrlOf({ base_url: 'https://a.example', token_url: 'https://b.example/t' }),
      'https://b.example/t',
    );
    assert.throws(
      () => rdpTokenUrlOf({}),
      (e: unknown) => e instanceof ConfigError && e.key === 'base_url',
    );
    assert.equal(apiBaseUrl({ base_url: 'https://api.refinitiv.com' }), 'https://api.refinitiv.com');
  });
});

describe('rdp: password grant', () => {
  it('sends the seed fields in the body, client_id in the body, scope trapi, exclusive sign-on', async () => {
    const client = await createClient(profile());
    const t = await client.fetchToken(ctx);
    const req = srv.lb.requests[0]!;
    assert.equal(req.url, '/auth/oauth2/v1/token');
    assert.equal(req.headers.accept, 'application/json');
    assert.equal(req.headers.authorization, undefined);
    assert.deepEqual(form(req), {
      takeExclusiveSignOnControl: 'true',
      grant_type: 'password',
      username: 'GE-A-0123',
      password: PASSWORD,
      scope: 'trapi',
      client_id: 'app-key-5e6f',
    });
    assert.equal(t.expirySource, 'expires_in');
    assert.equal(t.expiresAt - t.obtainedAt, 300_000, 'expires_in "300" (a string) is 300 s');
    assert.equal(t.scope, 'trapi.data.pricing trapi.streaming');
    assert.ok(t.refreshToken?.startsWith('rdp-rt-'));
  });
  it('client_id_in_basic sends Basic base64(app_key:) and no client_id in the body', async () => {
    const client = await createClient({
      ...profile(),
      client_id_in_basic: true,
      take_exclusive_sign_on: false,
    });
    await client.fetchToken(ctx);
    const req = srv.lb.requests[0]!;
    assert.equal(req.headers.authorization, `Basic ${Buffer.from('app-key-5e6f:').toString('base64')}`);
    const f = form(req);
    assert.equal(f['client_id'], undefined);
    assert.equal(f['takeExclusiveSignOnControl'], 'false');
  });
  it('a bad app key is a TokenEndpointError(invalid_client) without the password', async () => {
    srv.lb.handler = (_req, res) =>
      json(res, 401, { error: 'invalid_client', error_description: 'Invalid Application Credential.' });
    const client = await createClient(profile());
    await assert.rejects(client.fetchToken(ctx), (e: unknown) => {
      assert.ok(e instanceof TokenEndpointError);
      assert.equal(e.status, 401);
      assert.equal(e.error, 'invalid_client');
      assert.equal(e.errorDescription, 'Invalid Application Credential.');
      assert.ok(!JSON.stringify({ m: e.message, s: e.stack }).includes(PASSWORD));
      return true;
    });
  });
  it('"Session quota is reached." gets a hint about take_exclusive_sign_on', async () => {
    srv.lb.handler = (_req, res) =>
      json(res, 400, { error: 'access_denied', error_description: 'Session quota is reached.' });
    const client = await createClient({ ...profile(), take_exclusive_sign_on: false });
    await assert.rejects(client.fetchToken(ctx), (e: unknown) => {
      assert.ok(e instanceof TokenEndpointError);
      assert.equal(e.errorDescription, 'Session quota is reached.');
      assert.match(e.message, /take_exclusive_sign_on = true/);
      return true;
    });
  });
  it('checks the profile: required keys, client_secret only with client_id_in_basic', async () => {
    for (const key of ['client_id', 'username', 'password'] as const) {
      const p = profile();
      delete p[key];
      await assert.rejects(createClient(p), (e: unknown) => e instanceof ConfigError && e.key === key);
    }
    await assert.rejects(
      createClient({ ...profile(), client_secret: 'some-secret-value' }),
      (e: unknown) => e instanceof ConfigError && e.key === 'client_secret',
    );
  });
  it('identity covers endpoint, app key, user and scope; no secret', async () => {
    const c = await createClient({ ...profile(), scope: 'trapi.data' });
    assert.deepEqual(
      { ...c.identity },
      {
        provider: 'rdp',
        token_url: `${srv.lb.url}/auth/oauth2/v1/token`,
        client_id: 'app-key-5e6f',
        grant: 'password',
        username: 'GE-A-0123',
        scope: 'trapi.data',
      },
    );
    assert.ok(!JSON.stringify(c.identity).includes(PASSWORD));
  });
});

describe('rdp: refresh grant', () => {
  it('sends refresh_token, username and client_id; the new refresh token replaces the old', async () => {
    const client = await createClient(profile());
    const t1 = await client.fetchToken(ctx);
    const t2 = await client.refresh!(t1, ctx);
    assert.deepEqual(form(srv.lb.requests[1]!), {
      username: 'GE-A-0123',
      grant_type: 'refresh_token',
      refresh_token: t1.refreshToken,
      client_id: 'app-key-5e6f',
    });
    assert.notEqual(t2.refreshToken, t1.refreshToken);
    assert.equal(t2.refreshExpiresAt, undefined, 'same lifetime: the chain goes on');
    // the old refresh token is spent
    await assert.rejects(
      client.refresh!(t1, ctx),
      (e: unknown) => (e as TokenEndpointError).error === 'invalid_grant',
    );
  });

  it('a shorter expires_in on a refresh marks the chain as ending (pure rule)', () => {
    const tok = (life: number, at = 1_000_000): Token => ({
      accessToken: 'a',
      tokenType: 'Bearer',
      obtainedAt: at,
      expiresAt: at + life * 1000,
      expirySource: 'expires_in',
      refreshToken: 'r',
      raw: { expires_in: String(life) },
    });
    assert.equal(applyRefreshChainRule(tok(300), tok(300)).refreshExpiresAt, undefined);
    assert.equal(applyRefreshChainRule(tok(300), tok(420)).refreshExpiresAt, undefined);
    const short = applyRefreshChainRule(tok(300), tok(120, 5_000_000));
    assert.equal(short.refreshExpiresAt, 5_000_000);
    assert.equal(short.accessToken, 'a', 'the new access token is still used');
  });

  it('through the manager: one password grant, then refreshes; after a shorter answer, a password grant', async () => {
    let clock = Date.now();
    const m = await createTokenManager(
      { ...profile(), store: 'memory', eager_refresh: 1 },
      { clock: () => clock },
    );
    try {
      for (let i = 0; i < 50; i++) await m.getToken();
      assert.deepEqual(srv.grants, { password: 1 });
      srv.refreshLifetimes = [300, 120];
      const t1 = m.peek()!;
      clock = t1.expiresAt; // expired
      await m.getToken();
      assert.deepEqual(srv.grants, { password: 1, refresh_token: 1 });
      clock = m.peek()!.expiresAt;
      const short = await m.getToken();
      assert.deepEqual(srv.grants, { password: 1, refresh_token: 2 });
      assert.equal(short.expiresAt - short.obtainedAt, 120_000);
      assert.equal(short.refreshExpiresAt, short.obtainedAt);
      for (let i = 0; i < 10; i++) assert.equal((await m.getToken()).accessToken, short.accessToken);
      clock = short.expiresAt;
      const fresh = await m.getToken();
      assert.deepEqual(srv.grants, { password: 2, refresh_token: 2 }, 'the chain ended: a new session');
      assert.equal(fresh.expiresAt - fresh.obtainedAt, 300_000);
      assert.deepEqual(m.counts, { grants: 2, refreshes: 2, storeHits: 0 });
    } finally {
      await m.close();
    }
  });
});

describe('rdp: password change', () => {
  it('checkNewPassword applies the vendor rule without quoting the password', () => {
    assert.deepEqual(checkNewPassword(NEW_PASSWORD), []);
    assert.deepEqual(checkNewPassword('abcdefghijklmnopqrstuvwxyz0123456789'), [
      'it uses 2 of the 4 character classes (lower case, upper case, digits, other); at least 3 are needed',
    ]);
    const short = checkNewPassword('Sh0rt!');
    assert.equal(short.length, 1);
    assert.match(short[0]!, /6 characters; at least 30/);
    assert.equal(checkNewPassword('aB3!').length, 1);
    assert.equal(checkNewPassword('').length, 1);
    for (const p of checkNewPassword('Sh0rt!')) assert.ok(!p.includes('Sh0rt!'));
  });
  it('changePassword sends newPassword with the password grant and returns the new session token', async () => {
    const t = await changePassword(profile(), NEW_PASSWORD);
    const f = form(srv.lb.requests[0]!);
    assert.equal(f['grant_type'], 'password');
    assert.equal(f['password'], PASSWORD);
    assert.equal(f['newPassword'], NEW_PASSWORD);
    assert.equal(f['client_id'], 'app-key-5e6f');
    assert.ok(t.accessToken.startsWith('rdp-at-'));
  });
  it('a weak new password is refused before anything is sent, and not quoted', async () => {
    const weak = 'weakpassword';
    await assert.rejects(changePassword(profile(), weak), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /new password is not acceptable to RDP \(it has 12 characters; at least 30/);
      assert.ok(!e.message.includes(weak));
      return true;
    });
    const client = await createClient(profile());
    await assert.rejects(client.changePassword('x'.repeat(40)), ConfigError);
    const same = await createClient({ ...profile(), password: NEW_PASSWORD });
    await assert.rejects(same.changePassword(NEW_PASSWORD), /must differ/);
    assert.equal(srv.lb.requests.length, 0);
  });
  it('a refused change is a TokenEndpointError without either password', async () => {
    srv.lb.handler = (_req, res) =>
      json(res, 400, { error: 'invalid_request', error_description: 'Password policy violation' });
    await assert.rejects(changePassword(profile(), NEW_PASSWORD), (e: unknown) => {
      assert.ok(e instanceof TokenEndpointError);
      const all = JSON.stringify({ m: e.message, s: e.stack });
      assert.ok(!all.includes(NEW_PASSWORD) && !all.includes(PASSWORD));
      return true;
    });
  });
});
