import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { decodeJwt, SignJWT } from 'jose';
import { type ClockedSandbox, cylanceAuthToken, getBearer, postCylance, startClocked } from './helpers.js';

let t: ClockedSandbox;
before(async () => {
  t = await startClocked();
});
after(() => t.sandbox.close());
beforeEach(() => t.sandbox.reset());

async function reason(res: Response): Promise<string> {
  await res.arrayBuffer();
  return res.headers.get('x-sandbox-reason') ?? '';
}

async function accessToken(overrides = {}): Promise<string> {
  const res = await postCylance(t.sandbox, await cylanceAuthToken(t.sandbox, t.nowS(), overrides));
  assert.equal(res.status, 200);
  return ((await res.json()) as { access_token: string }).access_token;
}

describe('cylance: POST /auth/v2/token', () => {
  it('accepts the seed request and answers {"access_token"} only, a JWT with the configured lifetime', async () => {
    for (const ct of ['application/json; charset=utf-8', 'application/json']) {
      const res = await postCylance(t.sandbox, await cylanceAuthToken(t.sandbox, t.nowS()), ct);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const b = (await res.json()) as Record<string, unknown>;
      assert.deepEqual(Object.keys(b), ['access_token']);
      const claims = decodeJwt(b['access_token'] as string);
      assert.equal(claims.exp! - claims.iat!, 1800);
      assert.equal(claims.sub, t.sandbox.credentials.cylance.appId);
    }
    assert.deepEqual(t.sandbox.stats().token.cylance, { jwt: 2 });
  });

  it('accepts scp as a list and as one comma-separated string', async () => {
    for (const scp of [['device:list', 'policy:read'], 'device:list,policy:read']) {
      const at = await accessToken({ scp });
      assert.deepEqual(decodeJwt(at)['scp'], ['device:list', 'policy:read']);
    }
  });

  it('refuses a malformed scp (400) and a scope the application lacks (403)', async () => {
    let res = await postCylance(t.sandbox, await cylanceAuthToken(t.sandbox, t.nowS(), { scp: 42 }));
    assert.equal(res.status, 400);
    res = await postCylance(t.sandbox, await cylanceAuthToken(t.sandbox, t.nowS(), { scp: 'device:list,' }));
    assert.equal(res.status, 400);
    res = await postCylance(
      t.sandbox,
      await cylanceAuthToken(t.sandbox, t.nowS(), { scp: ['tenant:delete'] }),
    );
    assert.equal(res.status, 403);
    assert.match(await reason(res), /scope not granted/);
  });

  it('refuses a bad signature with 401 and an empty body', async () => {
    const res = await postCylance(
      t.sandbox,
      await cylanceAuthToken(t.sandbox, t.nowS(), {}, { secret: 'not-the-app-secret' }),
    );
    assert.equal(res.status, 401);
    assert.equal(await res.text(), '');
    assert.match(res.headers.get('x-sandbox-reason') ?? '', /signature/);
  });

  it('refuses an auth token not signed HS256', async () => {
    const c = t.sandbox.credentials.cylance;
    const now = t.nowS();
    const jwt = await new SignJWT({
      iss: 'http://cylance.com',
      sub: c.appId,
      tid: c.tenantId,
      jti: randomUUID(),
    })
      .setProtectedHeader({ alg: 'HS384' })
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(new TextEncoder().encode(c.appSecret));
    const res = await postCylance(t.sandbox, jwt);
    assert.equal(res.status, 401);
    assert.match(await reason(res), /HS256/);
  });

  it('refuses a missing exp, a non-integer exp, and exp more than 30 minutes after iat (400)', async () => {
    const now = t.nowS();
    for (const [claims, omit, why] of [
      [{}, ['exp'], /exp is required/],
      [{ exp: now + 60.5 }, [], /exp is required/],
      [{ exp: now + 1801 }, [], /more than 30 minutes/],
      [{}, ['iat'], /iat is required/],
    ] as const) {
      const res = await postCylance(
        t.sandbox,
        await cylanceAuthToken(t.sandbox, now, claims, { omit: [...omit] }),
      );
      assert.equal(res.status, 400, String(why));
      assert.match(await reason(res), why);
    }
  });

  it('refuses iat in the future beyond a small leeway (401), accepts small drift', async () => {
    const now = t.nowS();
    let res = await postCylance(
      t.sandbox,
      await cylanceAuthToken(t.sandbox, now, { iat: now + 300, exp: now + 900 }),
    );
    assert.equal(res.status, 401);
    assert.match(await reason(res), /future/);
    res = await postCylance(
      t.sandbox,
      await cylanceAuthToken(t.sandbox, now, { iat: now + 20, exp: now + 900 }),
    );
    assert.equal(res.status, 200);
  });

  it('refuses an expired auth token', async () => {
    const now = t.nowS();
    const res = await postCylance(
      t.sandbox,
      await cylanceAuthToken(t.sandbox, now, { iat: now - 1000, exp: now - 10 }),
    );
    assert.equal(res.status, 401);
    assert.match(await reason(res), /expired/);
  });

  it('refuses a reused jti (401), and a missing or non-UUID jti (400)', async () => {
    const jwt = await cylanceAuthToken(t.sandbox, t.nowS());
    assert.equal((await postCylance(t.sandbox, jwt)).status, 200);
    const again = await postCylance(t.sandbox, jwt);
    assert.equal(again.status, 401);
    assert.match(await reason(again), /jti was already used/);
    const sameJti = decodeJwt(jwt).jti as string;
    const rebuilt = await postCylance(
      t.sandbox,
      await cylanceAuthToken(t.sandbox, t.nowS(), { jti: sameJti }),
    );
    assert.equal(rebuilt.status, 401);
    for (const [claims, omit] of [
      [{}, ['jti']],
      [{ jti: 'not-a-uuid' }, []],
    ] as const) {
      const res = await postCylance(
        t.sandbox,
        await cylanceAuthToken(t.sandbox, t.nowS(), claims, { omit: [...omit] }),
      );
      assert.equal(res.status, 400);
    }
  });

  it('refuses a wrong iss, sub or tid (401)', async () => {
    for (const [claims, why] of [
      [{ iss: 'https://cylance.com' }, /iss/],
      [{ iss: '' }, /iss/],
      [{ sub: randomUUID() }, /unknown application/],
      [{ tid: randomUUID() }, /tid/],
    ] as const) {
      const res = await postCylance(t.sandbox, await cylanceAuthToken(t.sandbox, t.nowS(), claims));
      assert.equal(res.status, 401, String(why));
      assert.match(await reason(res), why);
    }
    assert.equal(t.sandbox.stats().rejected.cylance, 4);
  });

  it('refuses another body encoding: a form (415), broken JSON or no auth_token (400)', async () => {
    const jwt = await cylanceAuthToken(t.sandbox, t.nowS());
    let res = await fetch(`${t.sandbox.url}/auth/v2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ auth_token: jwt }).toString(),
    });
    assert.equal(res.status, 415);
    res = await postCylance(t.sandbox, jwt, 'text/plain');
    assert.equal(res.status, 415);
    res = await fetch(`${t.sandbox.url}/auth/v2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"auth_token": ',
    });
    assert.equal(res.status, 400);
    res = await fetch(`${t.sandbox.url}/auth/v2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: jwt }),
    });
    assert.equal(res.status, 400);
    res = await postCylance(t.sandbox, 'not.a.jwt');
    assert.equal(res.status, 400);
  });
});

describe('cylance: GET /devices/v2', () => {
  it('answers a device page in Cylance’s shape', async () => {
    const at = await accessToken();
    const res = await getBearer(`${t.sandbox.url}/devices/v2?page=1&page_size=10`, at);
    assert.equal(res.status, 200);
    const page = (await res.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(page).sort(), [
      'page_items',
      'page_number',
      'page_size',
      'total_number_of_items',
      'total_pages',
    ]);
    assert.equal(page['page_number'], 1);
    assert.equal(page['page_size'], 10);
    assert.equal((page['page_items'] as unknown[]).length, 10);
    const total = page['total_number_of_items'] as number;
    assert.equal(page['total_pages'], Math.ceil(total / 10));
    const last = (await (
      await getBearer(`${t.sandbox.url}/devices/v2?page=${page['total_pages']}&page_size=10`, at)
    ).json()) as { page_items: unknown[] };
    assert.equal(last.page_items.length, total - 10 * ((page['total_pages'] as number) - 1));
    const one = (page['page_items'] as Array<{ id: string }>)[0]!;
    assert.equal((await getBearer(`${t.sandbox.url}/devices/v2/${one.id}`, at)).status, 200);
    assert.equal(t.sandbox.stats().api.cylance, 3);
  });

  it('answers 401 (empty body) without a token, with an unknown one, and after expiry', async () => {
    let res = await fetch(`${t.sandbox.url}/devices/v2?page=1&page_size=10`);
    assert.equal(res.status, 401);
    assert.equal(await res.text(), '');
    res = await getBearer(`${t.sandbox.url}/devices/v2`, 'eyJunknown.token.value');
    assert.equal(res.status, 401);
    const at = await accessToken();
    assert.equal((await getBearer(`${t.sandbox.url}/devices/v2`, at)).status, 200);
    t.advance(1801);
    res = await getBearer(`${t.sandbox.url}/devices/v2`, at);
    assert.equal(res.status, 401);
    assert.match(await reason(res), /expired/);
  });

  it('answers 403 to a scope-restricted token without device:list', async () => {
    const limited = await accessToken({ scp: ['policy:list'] });
    assert.equal((await getBearer(`${t.sandbox.url}/devices/v2`, limited)).status, 403);
    const allowed = await accessToken({ scp: 'device:list' });
    assert.equal((await getBearer(`${t.sandbox.url}/devices/v2`, allowed)).status, 200);
  });

  it('honours tokenLifetimeSeconds', async () => {
    t.sandbox.configure('cylance', { tokenLifetimeSeconds: 2 });
    try {
      const at = await accessToken();
      const c = decodeJwt(at);
      assert.equal(c.exp! - c.iat!, 2);
      t.advance(3);
      assert.equal((await getBearer(`${t.sandbox.url}/devices/v2`, at)).status, 401);
    } finally {
      t.sandbox.configure('cylance', { tokenLifetimeSeconds: undefined });
    }
  });
});
