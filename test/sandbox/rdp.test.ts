import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { rdpPasswordProblem } from '../../src/sandbox/index.js';
import { basic, body, type ClockedSandbox, getBearer, postForm, startClocked } from './helpers.js';

let t: ClockedSandbox;
before(async () => {
  t = await startClocked();
});
after(() => t.sandbox.close());
beforeEach(() => {
  t.sandbox.reset();
  t.sandbox.configure('rdp', { sessionLifetimeSeconds: undefined });
});

const tokenUrl = () => `${t.sandbox.url}/auth/oauth2/v1/token`;
const creds = () => t.sandbox.credentials.rdp;
/** The seed sends the app key as `auth=(CLIENT_ID, CLIENT_SECRET)` with an empty secret. */
const seedAuth = () => ({ authorization: basic(creds().clientId, '') });

/** The seed's password grant: Basic app key, no client_id in the body. */
function seedLogin(extra: Record<string, string> = {}): Promise<Response> {
  const c = creds();
  return postForm(
    tokenUrl(),
    {
      username: c.username,
      password: c.password,
      grant_type: 'password',
      scope: 'trapi',
      takeExclusiveSignOnControl: 'true',
      ...extra,
    },
    seedAuth(),
  );
}

/** DESIGN's shape: client_id in the body, no Basic. */
function bodyLogin(extra: Record<string, string> = {}): Promise<Response> {
  const c = creds();
  return postForm(tokenUrl(), {
    grant_type: 'password',
    username: c.username,
    password: c.password,
    client_id: c.clientId,
    scope: 'trapi',
    takeExclusiveSignOnControl: 'true',
    ...extra,
  });
}

function refresh(refreshToken: string, extra: Record<string, string> = {}): Promise<Response> {
  return postForm(
    tokenUrl(),
    { refresh_token: refreshToken, grant_type: 'refresh_token', ...extra },
    seedAuth(),
  );
}

async function ok(res: Promise<Response>): Promise<Record<string, unknown>> {
  const r = await res;
  assert.equal(r.status, 200);
  return body(r);
}

const INVALID_CLIENT = { error: 'invalid_client', error_description: 'Invalid Application Credential.' };

describe('rdp: password grant', () => {
  it('answers the seed request: expires_in is a string, token_type Bearer, a refresh token, scope', async () => {
    const b = await ok(seedLogin());
    assert.deepEqual(Object.keys(b).sort(), [
      'access_token',
      'expires_in',
      'refresh_token',
      'scope',
      'token_type',
    ]);
    assert.equal(b['expires_in'], '300');
    assert.equal(b['token_type'], 'Bearer');
    assert.equal(typeof b['refresh_token'], 'string');
    assert.ok((b['scope'] as string).split(' ').includes('trapi.data.historical-pricing.read'));
    const b2 = await ok(bodyLogin());
    assert.equal(b2['expires_in'], '300');
    assert.deepEqual(t.sandbox.stats().token.rdp, { password: 2 });
  });

  it('defaults scope to trapi and refuses an unknown scope', async () => {
    const c = creds();
    const noScope = await ok(
      postForm(tokenUrl(), {
        grant_type: 'password',
        username: c.username,
        password: c.password,
        client_id: c.clientId,
        takeExclusiveSignOnControl: 'true',
      }),
    );
    assert.ok((noScope['scope'] as string).includes('trapi.data.news.read'));
    const res = await bodyLogin({ scope: 'trapi admin' });
    assert.equal(res.status, 400);
    assert.equal((await body(res))['error'], 'invalid_scope');
  });

  it('answers a bad or missing app key with 401 invalid_client "Invalid Application Credential."', async () => {
    const c = creds();
    const base = {
      grant_type: 'password',
      username: c.username,
      password: c.password,
      takeExclusiveSignOnControl: 'true',
    };
    for (const [params, headers] of [
      [{ ...base, client_id: 'not-the-app-key' }, {}],
      [base, {}],
      [base, { authorization: basic('not-the-app-key', '') }],
      [base, { authorization: basic(c.clientId, 'a-secret') }],
      [{ ...base, client_id: 'other' }, { authorization: basic(c.clientId, '') }],
    ] as const) {
      const res = await postForm(tokenUrl(), params, headers);
      assert.equal(res.status, 401);
      assert.deepEqual(await body(res), INVALID_CLIENT);
    }
  });

  it('refuses a wrong password (400 invalid_grant), another grant and a non-form body', async () => {
    let res = await seedLogin({ password: 'wrong' });
    assert.equal(res.status, 400);
    assert.equal((await body(res))['error'], 'invalid_grant');
    res = await postForm(tokenUrl(), { grant_type: 'client_credentials' }, seedAuth());
    assert.equal(res.status, 400);
    assert.equal((await body(res))['error'], 'unsupported_grant_type');
    res = await fetch(tokenUrl(), {
      method: 'POST',
      headers: { ...seedAuth(), 'content-type': 'application/json' },
      body: JSON.stringify({
        grant_type: 'password',
        username: creds().username,
        password: creds().password,
      }),
    });
    assert.equal(res.status, 400);
    assert.equal((await body(res))['error'], 'invalid_request');
  });
});

describe('rdp: refresh grant', () => {
  it('rotates the refresh token; the one used is rejected afterwards', async () => {
    const first = await ok(seedLogin());
    const second = await ok(refresh(first['refresh_token'] as string));
    assert.notEqual(second['refresh_token'], first['refresh_token']);
    assert.notEqual(second['access_token'], first['access_token']);
    assert.equal(second['expires_in'], '300');
    const reused = await refresh(first['refresh_token'] as string);
    assert.equal(reused.status, 400);
    assert.equal((await body(reused))['error'], 'invalid_grant');
    // DESIGN's shape (username + client_id in the body) works with the new one.
    const third = await ok(
      postForm(tokenUrl(), {
        grant_type: 'refresh_token',
        refresh_token: second['refresh_token'] as string,
        username: creds().username,
        client_id: creds().clientId,
      }),
    );
    assert.equal(typeof third['refresh_token'], 'string');
    assert.deepEqual(t.sandbox.stats().token.rdp, { password: 1, refresh_token: 2 });
  });

  it('refuses an unknown refresh token, another user name, and another app key', async () => {
    const first = await ok(seedLogin());
    let res = await refresh('not-a-refresh-token');
    assert.equal(res.status, 400);
    assert.equal((await body(res))['error'], 'invalid_grant');
    res = await refresh(first['refresh_token'] as string, { username: 'someone.else@example.com' });
    assert.equal(res.status, 400);
    await res.arrayBuffer();
    res = await postForm(tokenUrl(), {
      grant_type: 'refresh_token',
      refresh_token: first['refresh_token'] as string,
      client_id: 'other',
    });
    assert.equal(res.status, 401);
    assert.deepEqual(await body(res), INVALID_CLIENT);
    await ok(refresh(first['refresh_token'] as string));
  });

  it('cuts expires_in at the end of the sign-on session, then refuses the refresh', async () => {
    t.sandbox.configure('rdp', { sessionLifetimeSeconds: 400 });
    const first = await ok(seedLogin());
    t.advance(250);
    const second = await ok(refresh(first['refresh_token'] as string));
    // 150 s are left (149 once the milliseconds between the two requests are floored away).
    assert.ok(['149', '150'].includes(second['expires_in'] as string), String(second['expires_in']));
    t.advance(150);
    const res = await refresh(second['refresh_token'] as string);
    assert.equal(res.status, 400);
    assert.equal((await body(res))['error'], 'invalid_grant');
  });
});

describe('rdp: exclusive sign-on', () => {
  it('a new password grant with takeExclusiveSignOnControl=true revokes the previous session’s refresh token', async () => {
    const a = await ok(seedLogin());
    const b = await ok(bodyLogin());
    const res = await refresh(a['refresh_token'] as string);
    assert.equal(res.status, 400);
    assert.equal((await body(res))['error'], 'invalid_grant');
    await ok(refresh(b['refresh_token'] as string));
  });

  it('without exclusive control an existing session is "Session quota is reached."', async () => {
    await ok(seedLogin());
    const variants: Array<Record<string, string>> = [{ takeExclusiveSignOnControl: 'false' }, {}];
    for (const extra of variants) {
      const c = creds();
      const params: Record<string, string> = {
        grant_type: 'password',
        username: c.username,
        password: c.password,
        scope: 'trapi',
        ...extra,
      };
      const res = await postForm(tokenUrl(), params, seedAuth());
      assert.equal(res.status, 400);
      assert.deepEqual(await body(res), {
        error: 'access_denied',
        error_description: 'Session quota is reached.',
      });
    }
  });
});

describe('rdp: password change', () => {
  const good = 'Correct-Horse-Battery-Staple-2024-xyz';

  it('checks the vendor sample’s rule: >= 30 characters from >= 3 of 4 classes', () => {
    assert.equal(rdpPasswordProblem(good), undefined);
    assert.match(rdpPasswordProblem('Short-1a') ?? '', /30/);
    assert.match(rdpPasswordProblem('abcdefghijklmnopqrstuvwxyz0123456789') ?? '', /3 of/);
    assert.equal(rdpPasswordProblem('abcdefghijklmnopqrstuvwxyz012345678!'), undefined);
  });

  it('refuses a weak or unchanged new password and a wrong current one, without changing anything', async () => {
    const before = creds().password;
    for (const newPassword of ['Short-1a', 'abcdefghijklmnopqrstuvwxyz0123456789', before]) {
      const res = await seedLogin({ newPassword });
      assert.equal(res.status, 400);
      assert.equal((await body(res))['error'], 'invalid_request');
    }
    const res = await seedLogin({ password: 'wrong', newPassword: good });
    assert.equal(res.status, 400);
    assert.equal((await body(res))['error'], 'invalid_grant');
    assert.equal(creds().password, before);
  });

  it('changes the password with newPassword and answers tokens; reset restores it', async () => {
    const old = creds().password;
    const b = await ok(seedLogin({ newPassword: good }));
    assert.equal(typeof b['access_token'], 'string');
    assert.equal(creds().password, good);
    const stale = await seedLogin({ password: old });
    assert.equal(stale.status, 400);
    await stale.arrayBuffer();
    await ok(seedLogin());
    t.sandbox.reset();
    assert.equal(creds().password, old);
  });
});

describe('rdp: historical pricing', () => {
  const url = () => `${t.sandbox.url}/data/historical-pricing/v1/views/events/VOD.L?count=5`;

  it('answers events with a valid token', async () => {
    const { access_token } = await ok(seedLogin());
    const res = await getBearer(url(), access_token as string);
    assert.equal(res.status, 200);
    const data = (await res.json()) as Array<{ universe: { ric: string }; data: unknown[] }>;
    assert.equal(data[0]?.universe.ric, 'VOD.L');
    assert.equal(data[0]?.data.length, 5);
    assert.equal(t.sandbox.stats().api.rdp, 1);
  });

  it('answers 401 {"error":{id, code "401", message "token expired", status}} after expiry', async () => {
    const { access_token } = await ok(seedLogin());
    t.advance(300);
    const res = await getBearer(url(), access_token as string);
    assert.equal(res.status, 401);
    const err = (await body(res))['error'] as Record<string, unknown>;
    assert.deepEqual(Object.keys(err).sort(), ['code', 'id', 'message', 'status']);
    assert.equal(err['code'], '401');
    assert.equal(err['message'], 'token expired');
    assert.equal(err['status'], 'Unauthorized');
    const none = await fetch(url());
    assert.equal(none.status, 401);
    await none.arrayBuffer();
  });

  it('answers 403 to a token without the historical-pricing scope', async () => {
    const { access_token } = await ok(seedLogin({ scope: 'trapi.data.news.read' }));
    const res = await getBearer(url(), access_token as string);
    assert.equal(res.status, 403);
    assert.equal(((await body(res))['error'] as { code: string }).code, '403');
  });
});
