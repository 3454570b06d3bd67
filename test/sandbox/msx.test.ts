import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { MSX_OPERATOR, MSX_SWITCH_TENANT, MSX_SWITCH_USER } from '../../src/sandbox/index.js';
import { basic, body, type ClockedSandbox, getBearer, postForm, startClocked } from './helpers.js';

let t: ClockedSandbox;
before(async () => {
  t = await startClocked();
});
after(() => t.sandbox.close());
beforeEach(() => t.sandbox.reset());

const tokenUrl = () => `${t.sandbox.url}/idm/v2/token`;
const tenantsUrl = () => `${t.sandbox.url}/idm/api/v8/tenants`;
const clientAuth = () => {
  const c = t.sandbox.credentials.msx;
  return { authorization: basic(c.clientId, c.clientSecret) };
};

/** The seed's call: Basic client auth, form grant_type=password, username, password. */
async function login(username?: string, password?: string, extra: Record<string, string> = {}) {
  const c = t.sandbox.credentials.msx;
  return postForm(
    tokenUrl(),
    { grant_type: 'password', username: username ?? c.username, password: password ?? c.password, ...extra },
    clientAuth(),
  );
}

async function accessToken(username?: string, password?: string): Promise<string> {
  const res = await login(username, password);
  assert.equal(res.status, 200);
  return (await body(res))['access_token'] as string;
}

function createTenant(token: string, tenant: Record<string, unknown>): Promise<Response> {
  return fetch(tenantsUrl(), {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json',
    },
    body: JSON.stringify(tenant),
  });
}

async function tenantIdByName(token: string, name: string): Promise<string> {
  const page = await body(await getBearer(`${tenantsUrl()}?page=0&pageSize=100`, token));
  const found = (page['contents'] as Array<{ id: string; name: string }>).find((x) => x.name === name);
  assert.ok(found, `tenant ${name}`);
  return found.id;
}

describe('msx: POST /idm/v2/token', () => {
  it('answers the seed password grant with the documented fields and types', async () => {
    const res = await login();
    assert.equal(res.status, 200);
    const b = await body(res);
    for (const k of [
      'access_token',
      'token_type',
      'expires_in',
      'scope',
      'id_token',
      'firstName',
      'lastName',
    ]) {
      assert.ok(k in b, k);
    }
    assert.equal(b['token_type'], 'bearer');
    assert.equal(b['expires_in'], 9000);
    assert.equal(typeof b['scope'], 'string');
    assert.ok((b['scope'] as string).split(' ').includes('tenant_hierarchy'));
    assert.equal(b['username'], 'superuser');
    assert.deepEqual(b['roles'], ['ROLE_SUPER_USER']);
    assert.equal(typeof b['tenantId'], 'string');
    assert.equal(typeof b['email'], 'string');
    assert.equal(b['refresh_token'], undefined, 'the seed client is not registered for refresh_token');
    assert.equal(decodeProtectedHeader(b['access_token'] as string).alg, 'RS256');
    const claims = decodeJwt(b['access_token'] as string);
    assert.equal(claims.exp! - claims.iat!, 9000);
    assert.equal(decodeJwt(b['id_token'] as string).sub, 'superuser');
    assert.deepEqual(t.sandbox.stats().token.msx, { password: 1 });
  });

  it('requires HTTP Basic client auth: none is 401 unauthorized, a wrong secret 401 invalid_client', async () => {
    const c = t.sandbox.credentials.msx;
    const params = { grant_type: 'password', username: c.username, password: c.password };
    let res = await postForm(tokenUrl(), params);
    assert.equal(res.status, 401);
    assert.equal((await body(res))['error'], 'unauthorized');
    res = await postForm(tokenUrl(), { ...params, client_id: c.clientId, client_secret: c.clientSecret });
    assert.equal(res.status, 401, 'client credentials in the body are not accepted');
    await res.arrayBuffer();
    res = await postForm(tokenUrl(), params, { authorization: basic(c.clientId, 'wrong') });
    assert.equal(res.status, 401);
    assert.equal((await body(res))['error'], 'invalid_client');
    res = await postForm(tokenUrl(), params, { authorization: 'Basic not-base64!' });
    assert.equal(res.status, 401);
    await res.arrayBuffer();
    assert.equal(t.sandbox.stats().rejected.msx, 4);
  });

  it('refuses a bad password (400 invalid_grant) and a JSON body (400 invalid_request)', async () => {
    let res = await login(undefined, 'wrong-password');
    assert.equal(res.status, 400);
    assert.deepEqual(await body(res), { error: 'invalid_grant', error_description: 'Bad credentials' });
    res = await fetch(tokenUrl(), {
      method: 'POST',
      headers: { ...clientAuth(), 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'password', username: 'superuser', password: 'x' }),
    });
    assert.equal(res.status, 400);
    assert.equal((await body(res))['error'], 'invalid_request');
  });

  it('refuses unknown grants and grants the seed client is not registered for', async () => {
    let res = await postForm(tokenUrl(), { grant_type: 'urn:example:nope' }, clientAuth());
    assert.equal(res.status, 400);
    assert.equal((await body(res))['error'], 'unsupported_grant_type');
    for (const grant of ['refresh_token', 'client_credentials']) {
      res = await postForm(tokenUrl(), { grant_type: grant, refresh_token: 'x' }, clientAuth());
      assert.equal(res.status, 400);
      assert.deepEqual(await body(res), {
        error: 'invalid_client',
        error_description: `Unauthorized grant type: ${grant}`,
      });
    }
    res = await postForm(tokenUrl(), { username: 'superuser' }, clientAuth());
    assert.equal(res.status, 400);
    assert.equal((await body(res))['error'], 'invalid_request');
  });

  it('refuses a scope outside the client’s (400 invalid_scope) and narrows to a requested one', async () => {
    let res = await login(undefined, undefined, { scope: 'read admin' });
    assert.equal(res.status, 400);
    assert.equal((await body(res))['error'], 'invalid_scope');
    res = await login(undefined, undefined, { scope: 'openid read' });
    assert.equal((await body(res))['scope'], 'openid read');
  });

  it('switch-tenant: access_token + tenant_id gives a token for that tenant', async () => {
    const at = await accessToken();
    const coke = await tenantIdByName(at, 'Coke');
    let res = await postForm(
      tokenUrl(),
      { grant_type: MSX_SWITCH_TENANT, access_token: at, tenant_id: coke },
      clientAuth(),
    );
    assert.equal(res.status, 200);
    const b = await body(res);
    assert.equal(b['tenantId'], coke);
    assert.equal(b['username'], 'superuser');
    assert.notEqual(b['access_token'], at);
    assert.equal(decodeJwt(b['access_token'] as string)['tenant_id'], coke);

    res = await postForm(
      tokenUrl(),
      { grant_type: MSX_SWITCH_TENANT, access_token: at, tenant_id: '00000000-0000-4000-8000-000000000000' },
      clientAuth(),
    );
    assert.equal(res.status, 400);
    assert.equal((await body(res))['error'], 'invalid_grant');
    res = await postForm(tokenUrl(), { grant_type: MSX_SWITCH_TENANT, access_token: at }, clientAuth());
    assert.equal(res.status, 400);
    assert.equal((await body(res))['error'], 'invalid_request');
    res = await postForm(
      tokenUrl(),
      { grant_type: MSX_SWITCH_TENANT, access_token: 'bogus', tenant_id: coke },
      clientAuth(),
    );
    assert.equal(res.status, 401);
    assert.equal((await body(res))['error'], 'invalid_token');
    assert.equal(t.sandbox.stats().token.msx[MSX_SWITCH_TENANT], 1);
  });

  it('switch-user: a super user switches by name or id; a tenant user may not', async () => {
    const at = await accessToken();
    const ways: Array<Record<string, string>> = [
      { switch_username: MSX_OPERATOR.username },
      { switch_user_id: MSX_OPERATOR.id },
    ];
    for (const by of ways) {
      const res = await postForm(
        tokenUrl(),
        { grant_type: MSX_SWITCH_USER, access_token: at, ...by },
        clientAuth(),
      );
      assert.equal(res.status, 200);
      const b = await body(res);
      assert.equal(b['username'], MSX_OPERATOR.username);
      assert.deepEqual(b['roles'], ['ROLE_TENANT_ADMIN']);
    }
    let res = await postForm(
      tokenUrl(),
      { grant_type: MSX_SWITCH_USER, access_token: at, switch_username: 'nobody' },
      clientAuth(),
    );
    assert.equal(res.status, 400);
    await res.arrayBuffer();
    res = await postForm(tokenUrl(), { grant_type: MSX_SWITCH_USER, access_token: at }, clientAuth());
    assert.equal(res.status, 400);
    await res.arrayBuffer();
    const op = await accessToken(MSX_OPERATOR.username, MSX_OPERATOR.password);
    res = await postForm(
      tokenUrl(),
      { grant_type: MSX_SWITCH_USER, access_token: op, switch_username: 'superuser' },
      clientAuth(),
    );
    assert.equal(res.status, 403);
    assert.equal((await body(res))['error'], 'access_denied');
  });
});

describe('msx: tenants API', () => {
  it('creates (201), lists, reads and deletes (204) a tenant like the seed; 404 afterwards', async () => {
    const at = await accessToken();
    const name = `my_unique_tenant_name_${crypto.randomUUID()}`;
    const res = await createTenant(at, {
      name,
      description: 'Nobody reaches anywhere by believing. --Osho',
      email: 'test@example.com',
      url: 'https://cisco.com',
    });
    assert.equal(res.status, 201);
    const created = await body(res);
    assert.equal(typeof created['id'], 'string');
    assert.equal(created['name'], name);
    assert.equal(created['email'], 'test@example.com');
    assert.equal(typeof created['parentId'], 'string');
    assert.equal(created['suspended'], false);

    const page = await body(await getBearer(`${tenantsUrl()}?page=0&pageSize=100`, at));
    assert.deepEqual(Object.keys(page).sort(), [
      'contents',
      'hasNext',
      'hasPrevious',
      'page',
      'pageSize',
      'sortBy',
      'sortOrder',
      'totalItems',
    ]);
    assert.equal(page['page'], 0);
    assert.equal(page['pageSize'], 100);
    assert.equal(page['hasPrevious'], false);
    const contents = page['contents'] as Array<{ id: string; name: string }>;
    assert.equal(page['totalItems'], contents.length);
    assert.ok(contents.some((x) => x.id === created['id'] && x.name === name));
    assert.ok(contents.some((x) => x.name === 'Pepsi'));

    const id = created['id'] as string;
    assert.equal((await getBearer(`${tenantsUrl()}/${id}`, at)).status, 200);
    const del = await fetch(`${tenantsUrl()}/${id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${at}` },
    });
    assert.equal(del.status, 204);
    assert.equal(await del.text(), '');
    const again = await fetch(`${tenantsUrl()}/${id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${at}` },
    });
    assert.equal(again.status, 404);
    assert.deepEqual(Object.keys(await body(again)).sort(), ['code', 'message']);
    assert.equal((await getBearer(`${tenantsUrl()}/${id}`, at)).status, 404);
    assert.equal(t.sandbox.stats().api.msx, 4);
  });

  it('requires a valid Bearer token: none, unknown and expired are 401', async () => {
    let res = await fetch(`${tenantsUrl()}?page=0&pageSize=100`);
    assert.equal(res.status, 401);
    assert.equal((await body(res))['error'], 'unauthorized');
    res = await getBearer(`${tenantsUrl()}?page=0&pageSize=100`, 'bogus');
    assert.equal(res.status, 401);
    assert.equal((await body(res))['error'], 'invalid_token');
    const at = await accessToken();
    res = await fetch(tenantsUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x' }),
    });
    assert.equal(res.status, 401);
    await res.arrayBuffer();
    t.advance(9000);
    res = await getBearer(`${tenantsUrl()}?page=0&pageSize=100`, at);
    assert.equal(res.status, 401);
    assert.match((await body(res))['error_description'] as string, /expired/);
  });

  it('validates paging, names, conflicts and permissions', async () => {
    const at = await accessToken();
    for (const q of ['', '?page=0', '?page=-1&pageSize=10', '?page=0&pageSize=0', '?page=0&pageSize=1001']) {
      const res = await getBearer(`${tenantsUrl()}${q}`, at);
      assert.equal(res.status, 400, q);
      await res.arrayBuffer();
    }
    const p0 = await body(await getBearer(`${tenantsUrl()}?page=0&pageSize=2`, at));
    assert.equal((p0['contents'] as unknown[]).length, 2);
    assert.equal(p0['hasNext'], true);
    const p1 = await body(await getBearer(`${tenantsUrl()}?page=1&pageSize=2`, at));
    assert.equal(p1['hasPrevious'], true);

    let res = await createTenant(at, { name: 'Coke' });
    assert.equal(res.status, 409);
    await res.arrayBuffer();
    res = await createTenant(at, { description: 'no name' });
    assert.equal(res.status, 400);
    await res.arrayBuffer();
    res = await createTenant(at, { name: 'typed', email: 42 });
    assert.equal(res.status, 400);
    await res.arrayBuffer();
    res = await fetch(tenantsUrl(), {
      method: 'POST',
      headers: { authorization: `Bearer ${at}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'name=x',
    });
    assert.equal(res.status, 415);
    await res.arrayBuffer();
    const root = (
      (await body(await getBearer(`${tenantsUrl()}?page=0&pageSize=1`, at)))['contents'] as Array<{
        id: string;
      }>
    )[0]!;
    res = await fetch(`${tenantsUrl()}/${root.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${at}` },
    });
    assert.equal(res.status, 409, 'a tenant with children');
    await res.arrayBuffer();

    const op = await accessToken(MSX_OPERATOR.username, MSX_OPERATOR.password);
    res = await createTenant(op, { name: 'by-operator' });
    assert.equal(res.status, 403);
    await res.arrayBuffer();
    const seen = await body(await getBearer(`${tenantsUrl()}?page=0&pageSize=100`, op));
    assert.deepEqual(
      (seen['contents'] as Array<{ name: string }>).map((x) => x.name),
      ['Coke'],
    );
  });
});

describe('msx: security clients', () => {
  it('registers a client (seed payload + refresh_token) that gets non-rotating refresh tokens', async () => {
    const at = await accessToken();
    const res = await fetch(`${t.sandbox.url}/idm/api/v2/clientsecurity`, {
      method: 'POST',
      headers: { authorization: `Bearer ${at}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        clientId: 'refreshing-client',
        clientSecret: 'refreshing-client-secret',
        grantTypes: ['password', 'refresh_token'],
        maxTokensPerUser: -1,
        useSessionTimeout: false,
        resourceIds: [],
        scopes: ['read', 'openid'],
        autoApproveScopes: ['read', 'openid'],
        authorities: ['ROLE_USER'],
        accessTokenValiditySeconds: 600,
        refreshTokenValiditySeconds: 1200,
        additionalInformation: {},
      }),
    });
    assert.equal(res.status, 201);
    assert.equal((await body(res))['clientSecret'], undefined);
    const auth = { authorization: basic('refreshing-client', 'refreshing-client-secret') };
    const c = t.sandbox.credentials.msx;
    const first = await body(
      await postForm(
        tokenUrl(),
        { grant_type: 'password', username: c.username, password: c.password },
        auth,
      ),
    );
    assert.equal(first['expires_in'], 600);
    assert.equal(typeof first['refresh_token'], 'string');
    const second = await postForm(
      tokenUrl(),
      { grant_type: 'refresh_token', refresh_token: first['refresh_token'] as string },
      auth,
    );
    assert.equal(second.status, 200);
    const s = await body(second);
    assert.equal(s['refresh_token'], first['refresh_token']);
    assert.notEqual(s['access_token'], first['access_token']);
    const wrong = await postForm(tokenUrl(), { grant_type: 'refresh_token', refresh_token: 'nope' }, auth);
    assert.equal(wrong.status, 400);
    assert.equal((await body(wrong))['error'], 'invalid_grant');
    t.advance(1201);
    const late = await postForm(
      tokenUrl(),
      { grant_type: 'refresh_token', refresh_token: first['refresh_token'] as string },
      auth,
    );
    assert.equal(late.status, 400);
    await late.arrayBuffer();
  });
});
