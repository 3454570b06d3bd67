import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { basic, body, type ClockedSandbox, getBearer, postForm, startClocked } from './helpers.js';

let t: ClockedSandbox;
before(async () => {
  t = await startClocked({ vendors: { acronis: { tokenLifetimeSeconds: 2 } } });
});
after(() => t.sandbox.close());
beforeEach(() => t.sandbox.reset());

const creds = () => t.sandbox.credentials.acronis;
const auth = () => ({ authorization: basic(creds().clientId, creds().clientSecret) });

/** The seed's call: Basic, form grant_type=client_credentials. */
async function token(path = '/bc/idp/token'): Promise<Record<string, unknown>> {
  const res = await postForm(`${t.sandbox.url}${path}`, { grant_type: 'client_credentials' }, auth());
  assert.equal(res.status, 200);
  return body(res);
}

describe('acronis: token endpoints', () => {
  it('answers access_token, token_type bearer, integer expires_on, id_token and no expires_in on both paths', async () => {
    for (const path of ['/bc/idp/token', '/api/2/idp/token']) {
      const before = t.nowS();
      const b = await token(path);
      assert.deepEqual(Object.keys(b).sort(), ['access_token', 'expires_on', 'id_token', 'token_type']);
      assert.equal(b['token_type'], 'bearer');
      assert.ok(Number.isInteger(b['expires_on']));
      const on = b['expires_on'] as number;
      assert.ok(on >= before + 2 && on <= t.nowS() + 2, 'absolute epoch seconds');
      assert.equal(decodeJwt(b['access_token'] as string).exp, on);
      assert.equal(decodeJwt(b['id_token'] as string).aud, creds().clientId);
    }
    assert.deepEqual(t.sandbox.stats().token.acronis, { client_credentials: 2 });
  });

  it('refuses a missing or wrong Basic client auth with 401 invalid_client', async () => {
    const url = `${t.sandbox.url}/api/2/idp/token`;
    for (const headers of [
      {} as Record<string, string>,
      { authorization: basic(creds().clientId, 'wrong-secret') },
      { authorization: basic('someone-else', creds().clientSecret) },
      { authorization: `Bearer ${creds().clientSecret}` },
    ]) {
      const res = await postForm(url, { grant_type: 'client_credentials' }, headers);
      assert.equal(res.status, 401);
      const b = await body(res);
      assert.equal(b['error'], 'invalid_client');
      assert.equal(typeof b['error_description'], 'string');
    }
    const inBody = await postForm(url, {
      grant_type: 'client_credentials',
      client_id: creds().clientId,
      client_secret: creds().clientSecret,
    });
    assert.equal(inBody.status, 401, 'credentials in the body are not client authentication here');
    await inBody.arrayBuffer();
    assert.equal(t.sandbox.stats().rejected.acronis, 5);
  });

  it('refuses another grant, a missing grant and a JSON body', async () => {
    const url = `${t.sandbox.url}/api/2/idp/token`;
    let res = await postForm(url, { grant_type: 'password', username: 'u', password: 'p' }, auth());
    assert.equal(res.status, 400);
    assert.equal((await body(res))['error'], 'unsupported_grant_type');
    res = await postForm(url, {}, auth());
    assert.equal(res.status, 400);
    assert.equal((await body(res))['error'], 'invalid_request');
    res = await fetch(url, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'client_credentials' }),
    });
    assert.equal(res.status, 400);
    assert.equal((await body(res))['error'], 'invalid_request');
  });

  it('takes grant_type in the query string on the older /bc path only', async () => {
    let res = await fetch(`${t.sandbox.url}/bc/idp/token?grant_type=client_credentials`, {
      method: 'POST',
      headers: auth(),
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    res = await fetch(`${t.sandbox.url}/api/2/idp/token?grant_type=client_credentials`, {
      method: 'POST',
      headers: auth(),
    });
    assert.equal(res.status, 400);
    await res.arrayBuffer();
  });
});

describe('acronis: GET /api/2/clients/{client_id}', () => {
  it('answers 200 with the client record for a valid token', async () => {
    const { access_token } = await token();
    const res = await getBearer(`${t.sandbox.url}/api/2/clients/${creds().clientId}`, access_token as string);
    assert.equal(res.status, 200);
    const b = await body(res);
    assert.equal(b['client_id'], creds().clientId);
    assert.equal(b['tenant_id'], creds().tenantId);
    assert.equal(t.sandbox.stats().api.acronis, 1);
  });

  it('answers 401 with {"error":{…}} for a missing, unknown or expired token, 404 for another client', async () => {
    const url = `${t.sandbox.url}/api/2/clients/${creds().clientId}`;
    let res = await fetch(url);
    assert.equal(res.status, 401);
    assert.equal(typeof (await body(res))['error'], 'object');
    res = await getBearer(url, 'eyJ.unknown.token');
    assert.equal(res.status, 401);
    assert.match(((await body(res))['error'] as { message: string }).message, /invalid/);

    const { access_token } = await token();
    assert.equal((await getBearer(url, access_token as string)).status, 200);
    const other = await getBearer(
      `${t.sandbox.url}/api/2/clients/00000000-0000-4000-8000-000000000000`,
      access_token as string,
    );
    assert.equal(other.status, 404);
    assert.equal(((await body(other))['error'] as { code: string }).code, 'NotFound');
    t.advance(2);
    res = await getBearer(url, access_token as string);
    assert.equal(res.status, 401);
    const err = (await body(res))['error'] as Record<string, unknown>;
    assert.equal(err['code'], 'Unauthorized');
    assert.match(err['message'] as string, /expired/);
  });
});
