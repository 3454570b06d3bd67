import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { parse } from 'smol-toml';
import { ConfigError } from '../../src/errors.js';
import {
  DEMO_CREDENTIALS,
  type Sandbox,
  sandboxConfigToml,
  sandboxLoginProfiles,
  sandboxProfiles,
  startSandbox,
} from '../../src/sandbox/index.js';
import { basic, body, getBearer, postForm } from './helpers.js';

let sb: Sandbox;
before(async () => {
  sb = await startSandbox();
});
after(() => sb.close());
beforeEach(() => {
  sb.reset();
  for (const v of ['cylance', 'msx', 'acronis', 'rdp'] as const)
    sb.configure(v, { latencyMs: undefined, tokenLifetimeSeconds: undefined });
});

/** An Acronis token request as the seed sends it. */
function acronis(s: Sandbox = sb, signal?: AbortSignal): Promise<Response> {
  const c = s.credentials.acronis;
  return fetch(`${s.url}/api/2/idp/token`, {
    method: 'POST',
    headers: {
      authorization: basic(c.clientId, c.clientSecret),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
    ...(signal ? { signal } : {}),
  });
}

/** An RDP password grant as the seed sends it. */
function rdpLogin(): Promise<Response> {
  const c = sb.credentials.rdp;
  return postForm(
    `${sb.url}/auth/oauth2/v1/token`,
    {
      username: c.username,
      password: c.password,
      grant_type: 'password',
      scope: 'trapi',
      takeExclusiveSignOnControl: 'true',
    },
    { authorization: basic(c.clientId, '') },
  );
}

describe('sandbox: faults', () => {
  it('5xx for `times` token requests, then the real answer; counted as faults', async () => {
    sb.configure('rdp', { fault: { kind: '5xx', times: 2 } });
    for (let i = 0; i < 2; i++) {
      const res = await rdpLogin();
      assert.equal(res.status, 503);
      assert.equal((await body(res))['error'], 'temporarily_unavailable');
    }
    assert.equal((await rdpLogin()).status, 200);
    const s = sb.stats();
    assert.equal(s.faults.rdp, 2);
    assert.deepEqual(s.token.rdp, { password: 1 });
    assert.equal(s.rejected.rdp, 0);
  });

  it('5xx with a chosen status, until cleared; other vendors and API calls are unaffected', async () => {
    const ok = await acronis();
    const { access_token } = await body(ok);
    sb.configure('acronis', { fault: { kind: '5xx', status: 502 } });
    for (let i = 0; i < 3; i++) {
      const res = await acronis();
      assert.equal(res.status, 502);
      await res.arrayBuffer();
    }
    const api = await getBearer(
      `${sb.url}/api/2/clients/${sb.credentials.acronis.clientId}`,
      access_token as string,
    );
    assert.equal(api.status, 200, 'faults apply to token requests only');
    await api.arrayBuffer();
    assert.equal((await rdpLogin()).status, 200, 'another vendor');
    sb.configure('acronis', { fault: undefined });
    assert.equal((await acronis()).status, 200);
    assert.equal(sb.stats().faults.acronis, 3);
  });

  it('429 with Retry-After (default 1 s, or retryAfterSeconds)', async () => {
    sb.configure('acronis', { fault: { kind: '429', times: 1 } });
    let res = await acronis();
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '1');
    await res.arrayBuffer();
    sb.configure('acronis', { fault: { kind: '429', times: 1, retryAfterSeconds: 7 } });
    res = await acronis();
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '7');
    await res.arrayBuffer();
    assert.equal((await acronis()).status, 200);
  });

  it('malformed JSON: 200, labelled JSON, not parseable', async () => {
    sb.configure('acronis', { fault: { kind: 'malformed-json', times: 1 } });
    const res = await acronis();
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    const text = await res.text();
    assert.throws(() => JSON.parse(text), SyntaxError);
    assert.equal(sb.stats().token.acronis['client_credentials'], undefined);
  });

  it('HTML: a login page instead of JSON', async () => {
    sb.configure('acronis', { fault: { kind: 'html', times: 1 } });
    const res = await acronis();
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await res.text(), /^<!DOCTYPE html>/);
  });

  it('slow body: a real token whose body arrives in pieces', async () => {
    sb.configure('acronis', { fault: { kind: 'slow-body', times: 1, delayMs: 200 } });
    const res = await acronis();
    assert.equal(res.status, 200);
    const chunks: Uint8Array[] = [];
    for await (const chunk of res.body!) chunks.push(chunk);
    assert.ok(chunks.length >= 2, `the body came in ${chunks.length} piece(s)`);
    const b = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    assert.equal(typeof b['access_token'], 'string');
    assert.equal(sb.stats().faults.acronis, 1);
    assert.equal(sb.stats().token.acronis['client_credentials'], 1);
  });

  it('slow body: a client timeout fires mid-body, and close() does not wait for the rest', async () => {
    const own = await startSandbox();
    own.configure('acronis', { fault: { kind: 'slow-body' } });
    const res = await acronis(own, AbortSignal.timeout(300));
    assert.equal(res.status, 200, 'headers come at once');
    await assert.rejects(
      res.text(),
      (err: Error) => err.name === 'TimeoutError' || err.name === 'AbortError',
    );
    const pending = acronis(own)
      .then((r) => r.text())
      .catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    await own.close();
    const outcome = await pending;
    assert.ok(outcome instanceof Error, 'the slow answer was cut off by close()');
  });

  it('reset() clears faults', async () => {
    sb.configure('msx', { fault: { kind: '5xx' } });
    sb.reset();
    const c = sb.credentials.msx;
    const res = await postForm(
      `${sb.url}/idm/v2/token`,
      { grant_type: 'password', username: c.username, password: c.password },
      { authorization: basic(c.clientId, c.clientSecret) },
    );
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  });
});

describe('sandbox: latency', () => {
  it('delays token answers (a short client timeout fires) but not API calls', async () => {
    const { access_token } = await body(await acronis());
    sb.configure('acronis', { latencyMs: 5000 });
    await assert.rejects(acronis(sb, AbortSignal.timeout(150)), (err: Error) => err.name === 'TimeoutError');
    const api = await fetch(`${sb.url}/api/2/clients/${sb.credentials.acronis.clientId}`, {
      headers: { authorization: `Bearer ${access_token}` },
      signal: AbortSignal.timeout(2000),
    });
    assert.equal(api.status, 200);
    await api.arrayBuffer();
    sb.configure('acronis', { latencyMs: 20 });
    assert.equal((await acronis()).status, 200);
  });
});

describe('sandbox: stats, reset and control routes', () => {
  it('GET /_sandbox/stats matches stats(), with every vendor present', async () => {
    await (await rdpLogin()).arrayBuffer();
    await (await acronis()).arrayBuffer();
    const bad = await postForm(`${sb.url}/api/2/idp/token`, { grant_type: 'client_credentials' });
    await bad.arrayBuffer();
    const res = await fetch(`${sb.url}/_sandbox/stats`);
    assert.equal(res.status, 200);
    const remote = await res.json();
    assert.deepEqual(remote, sb.stats());
    assert.deepEqual(sb.stats(), {
      token: { cylance: {}, msx: {}, acronis: { client_credentials: 1 }, rdp: { password: 1 }, oidc: {} },
      api: { cylance: 0, msx: 0, acronis: 0, rdp: 0, oidc: 0 },
      rejected: { cylance: 0, msx: 0, acronis: 1, rdp: 0, oidc: 0 },
      faults: { cylance: 0, msx: 0, acronis: 0, rdp: 0, oidc: 0 },
    });
  });

  it('POST /_sandbox/reset clears counts and sessions (issued tokens stop working)', async () => {
    const r = await body(await rdpLogin());
    const res = await fetch(`${sb.url}/_sandbox/reset`, { method: 'POST' });
    assert.equal(res.status, 204);
    assert.deepEqual(sb.stats().token.rdp, {});
    const again = await postForm(
      `${sb.url}/auth/oauth2/v1/token`,
      { grant_type: 'refresh_token', refresh_token: r['refresh_token'] as string },
      { authorization: basic(sb.credentials.rdp.clientId, '') },
    );
    assert.equal(again.status, 400);
    await again.arrayBuffer();
    const api = await getBearer(
      `${sb.url}/data/historical-pricing/v1/views/events/VOD.L`,
      r['access_token'] as string,
    );
    assert.equal(api.status, 401);
    await api.arrayBuffer();
    assert.equal(sb.stats().rejected.rdp, 2);
  });

  it('POST /_sandbox/config tunes a vendor; bad input is 400', async () => {
    let res = await fetch(`${sb.url}/_sandbox/config`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ vendor: 'rdp', tokenLifetimeSeconds: 5, fault: { kind: '429', times: 1 } }),
    });
    assert.equal(res.status, 200);
    assert.equal(((await body(res))['settings'] as Record<string, unknown>)['tokenLifetimeSeconds'], 5);
    const limited = await rdpLogin();
    assert.equal(limited.status, 429);
    await limited.arrayBuffer();
    assert.equal((await body(await rdpLogin()))['expires_in'], '5');

    res = await fetch(`${sb.url}/_sandbox/config`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ vendor: 'rdp', fault: { kind: '5xx' } }),
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    res = await fetch(`${sb.url}/_sandbox/config`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ vendor: 'rdp', fault: null }),
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    const afterClear = await rdpLogin();
    assert.equal(afterClear.status, 200);
    await afterClear.arrayBuffer();

    for (const bad of [
      { vendor: 'okta', latencyMs: 1 },
      { vendor: 'rdp', latencyMs: -1 },
      { vendor: 'rdp', tokenLifetimeSeconds: 0 },
      { vendor: 'rdp', fault: { kind: 'teapot' } },
      { vendor: 'rdp', fault: { kind: '5xx', times: 0 } },
      { vendor: 'rdp', colour: 'blue' },
    ]) {
      res = await fetch(`${sb.url}/_sandbox/config`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(bad),
      });
      assert.equal(res.status, 400, JSON.stringify(bad));
      assert.equal((await body(res))['error'], 'invalid_request');
    }
  });

  it('configure() and startSandbox() refuse bad settings with ConfigError', async () => {
    assert.throws(() => sb.configure('rdp', { latencyMs: Number.NaN }), ConfigError);
    assert.throws(() => sb.configure('nope' as 'rdp', {}), ConfigError);
    await assert.rejects(startSandbox({ port: 70000 }), ConfigError);
    await assert.rejects(startSandbox({ vendors: { rdp: { tokenLifetimeSeconds: -5 } } }), ConfigError);
    await assert.rejects(startSandbox({ credentials: { rdp: { password: '' } } }), ConfigError);
    await assert.rejects(startSandbox({ port: sb.port }), (err: ConfigError) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /is in use \(EADDRINUSE\)/);
      return true;
    });
  });
});

describe('sandbox: routing', () => {
  it('answers 404 for unknown paths, 405 with Allow for a wrong method, 413 for a huge body', async () => {
    let res = await fetch(`${sb.url}/nope`);
    assert.equal(res.status, 404);
    assert.equal((await body(res))['error'], 'not_found');
    res = await fetch(`${sb.url}/auth/oauth2/v1/token`);
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
    await res.arrayBuffer();
    res = await fetch(`${sb.url}/auth/oauth2/v1/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=password&x=${'a'.repeat(70 * 1024)}`,
    });
    assert.equal(res.status, 413);
    await res.arrayBuffer();
  });
});

describe('sandbox: profiles, TOML and credentials', () => {
  it('sandboxProfiles points every vendor at the sandbox with the demo credentials', () => {
    const p = sandboxProfiles(sb);
    assert.deepEqual(Object.keys(p).sort(), ['acronis', 'cylance', 'msx', 'rdp']);
    for (const [name, profile] of Object.entries(p)) {
      assert.equal(profile.name, name);
      assert.equal(profile.provider, name);
    }
    assert.deepEqual(p.cylance, {
      name: 'cylance',
      provider: 'cylance',
      token_url: `${sb.url}/auth/v2/token`,
      api_base_url: sb.url,
      app_id: DEMO_CREDENTIALS.cylance.appId,
      app_secret: DEMO_CREDENTIALS.cylance.appSecret,
      tenant_id: DEMO_CREDENTIALS.cylance.tenantId,
    });
    assert.equal(p.msx.base_url, sb.url);
    assert.equal(p.msx.client_id, 'my-test-private-client');
    assert.equal(p.msx.password, DEMO_CREDENTIALS.msx.password);
    assert.equal(p.acronis.datacenter_url, sb.url);
    assert.equal(p.acronis.client_secret, DEMO_CREDENTIALS.acronis.clientSecret);
    assert.equal(p.rdp.base_url, sb.url);
    assert.equal(p.rdp.client_id, DEMO_CREDENTIALS.rdp.clientId);
    assert.equal(p.rdp.scope, 'trapi');
  });

  it('sandboxConfigToml parses back to the same profiles (without name)', () => {
    const toml = sandboxConfigToml(sb);
    assert.match(toml, /^# tokenward sandbox at http:\/\/127\.0\.0\.1:\d+/);
    const parsed = parse(toml) as { profiles: Record<string, Record<string, unknown>> };
    const p = sandboxProfiles(sb);
    for (const name of ['cylance', 'msx', 'acronis', 'rdp'] as const) {
      const { name: _n, ...rest } = p[name];
      assert.deepEqual({ ...parsed.profiles[name] }, rest);
    }
    assert.deepEqual(
      Object.keys(parsed.profiles),
      ['cylance', 'msx', 'acronis', 'rdp'],
      'no sign-in profiles by default',
    );
  });

  it('sandboxConfigToml with login adds the sign-in profiles under a comment naming the test user', () => {
    const toml = sandboxConfigToml(sb, { login: true });
    const parsed = parse(toml) as { profiles: Record<string, Record<string, unknown>> };
    assert.deepEqual(Object.keys(parsed.profiles), [
      'cylance',
      'msx',
      'acronis',
      'rdp',
      'oidc',
      'oidc-device',
    ]);
    const common = {
      provider: 'oidc',
      issuer: `${sb.url}/oidc`,
      client_id: DEMO_CREDENTIALS.oidc.clientId,
      scope: 'openid profile email offline_access',
    };
    assert.deepEqual({ ...parsed.profiles['oidc'] }, { ...common, grant: 'authorization_code' });
    assert.deepEqual({ ...parsed.profiles['oidc-device'] }, { ...common, grant: 'device_code' });
    const comment = toml.split('\n').filter((l) => l.startsWith('#') && l.includes('Test user'));
    assert.equal(comment.length, 1);
    assert.ok(comment[0]?.includes(`Test user: ${DEMO_CREDENTIALS.oidc.username}`), comment[0]);
    assert.ok(comment[0]?.includes(`password: ${DEMO_CREDENTIALS.oidc.password}`), comment[0]);
    assert.deepEqual(sandboxLoginProfiles(sb)['oidc-device'], {
      name: 'oidc-device',
      ...common,
      grant: 'device_code',
    });
  });

  it('credential overrides replace the demo values', async () => {
    const own = await startSandbox({ credentials: { acronis: { clientSecret: 'another-secret' } } });
    try {
      assert.equal(own.credentials.acronis.clientSecret, 'another-secret');
      assert.equal(sandboxProfiles(own).acronis.client_secret, 'another-secret');
      assert.equal((await acronis(own)).status, 200);
      const old = await fetch(`${own.url}/api/2/idp/token`, {
        method: 'POST',
        headers: {
          authorization: basic(DEMO_CREDENTIALS.acronis.clientId, DEMO_CREDENTIALS.acronis.clientSecret),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials',
      });
      assert.equal(old.status, 401);
      await old.arrayBuffer();
    } finally {
      await own.close();
    }
  });

  it('the credentials object is a copy: changing it changes nothing', async () => {
    const c = sb.credentials;
    c.rdp.password = 'tampered';
    assert.notEqual(sb.credentials.rdp.password, 'tampered');
  });
});
