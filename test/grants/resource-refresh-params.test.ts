/**
 * Resource indicators (RFC 8707) as lists, on every grant, and `refresh_params` (what a refresh sends
 * again): the exact forms on the wire, against the recording loopback token endpoint, through the front
 * door with an injected clock driving expiry.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { noneAuth } from '../../src/auth/none.js';
import { ConfigError } from '../../src/errors.js';
import { createTokenManager } from '../../src/front-door.js';
import { authorizationCodeGrant } from '../../src/grants/authorization-code.js';
import { clientCredentials } from '../../src/grants/client-credentials.js';
import { passwordGrant } from '../../src/grants/password.js';
import { refreshWithToken } from '../../src/grants/refresh-token.js';
import type { Profile } from '../../src/profile.js';
import type { Token } from '../../src/token.js';
import type { SeenRequest } from '../helpers/loopback.js';
import { CLIENT, grantContext, NOW, useTokenEndpoint } from './helpers.js';

const ep = useTokenEndpoint();
const RS = ['https://rs1.example.com/', 'https://rs2.example.com/api'];

/** Every form field of a request, in order, repeated ones included. */
function fields(req: SeenRequest | undefined): [string, string][] {
  assert.ok(req !== undefined, 'a request was made');
  return [...new URLSearchParams(req.body)];
}

/** The request's fields without the client's own (HTTP Basic carries it). */
function sorted(req: SeenRequest | undefined): [string, string][] {
  return fields(req).sort((a, b) => (a[0] + a[1] < b[0] + b[1] ? -1 : 1));
}

describe('resource lists on the wire', () => {
  it('client_credentials sends each resource as its own field, in order', async () => {
    await clientCredentials(grantContext(ep.tokenUrl), { resource: RS, scope: 'a' });
    assert.equal(ep.requests.length, 1);
    assert.deepEqual(fields(ep.requests[0]), [
      ['grant_type', 'client_credentials'],
      ['scope', 'a'],
      ['resource', RS[0]],
      ['resource', RS[1]],
    ]);
  });

  it('password sends each resource as its own field; an empty list sends none', async () => {
    await passwordGrant(grantContext(ep.tokenUrl), { username: 'u', password: 'p-1', resource: RS });
    await passwordGrant(grantContext(ep.tokenUrl), { username: 'u', password: 'p-1', resource: [] });
    assert.equal(ep.requests.length, 2);
    assert.deepEqual(
      fields(ep.requests[0]).filter(([k]) => k === 'resource'),
      RS.map((r) => ['resource', r]),
    );
    assert.deepEqual(
      fields(ep.requests[1]).filter(([k]) => k === 'resource'),
      [],
    );
  });

  it('authorization_code sends each resource on the authorization request and on the code exchange', async () => {
    let authorize: string[] = [];
    const t = await authorizationCodeGrant(
      {
        tokenUrl: ep.tokenUrl,
        clientAuth: noneAuth({ clientId: 'c' }),
        http: { retries: 0 },
        now: () => NOW,
      },
      {
        authorizationUrl: 'https://idp.example.com/authorize',
        clientId: 'c',
        resource: RS,
        timeoutMs: 60_000,
        async present(url) {
          const q = new URL(url).searchParams;
          authorize = q.getAll('resource');
          const back = new URL(q.get('redirect_uri') ?? '');
          back.searchParams.set('code', 'code-1');
          back.searchParams.set('state', q.get('state') ?? '');
          void fetch(back).then((r) => r.text());
        },
      },
    );
    assert.equal(t.accessToken, 'at-default');
    assert.deepEqual(authorize, RS);
    assert.deepEqual(
      fields(ep.requests[0]).filter(([k]) => k === 'resource'),
      RS.map((r) => ['resource', r]),
    );
  });

  it('refreshWithToken sends the resources it is asked to send again', async () => {
    const token: Token = {
      accessToken: 'at',
      tokenType: 'Bearer',
      obtainedAt: NOW,
      expiresAt: NOW + 60_000,
      expirySource: 'expires_in',
      raw: {},
      refreshToken: 'rt-1',
    };
    await refreshWithToken(grantContext(ep.tokenUrl), token, {}, undefined, { resource: RS });
    assert.deepEqual(sorted(ep.requests[0]), [
      ['grant_type', 'refresh_token'],
      ['refresh_token', 'rt-1'],
      ['resource', RS[0]],
      ['resource', RS[1]],
    ]);
  });

  it('a profile with resource = [..] sends both on its client_credentials grant', async () => {
    const m = await createTokenManager({ ...base(ep.tokenUrl), resource: RS }, { env: {}, clock: () => NOW });
    try {
      await m.getToken();
    } finally {
      await m.close();
    }
    assert.equal(ep.requests.length, 1);
    assert.deepEqual(
      fields(ep.requests[0]).filter(([k]) => k === 'resource'),
      RS.map((r) => ['resource', r]),
    );
  });

  for (const bad of ['api', '/relative/path', 'https://rs.example.com/#frag', '']) {
    it(`resource ${JSON.stringify(bad)} is a ConfigError on resource, and nothing is sent`, async () => {
      await assert.rejects(
        async () => {
          const m = await createTokenManager(
            { ...base(ep.tokenUrl), resource: ['https://ok.example.com/', bad] },
            { env: {}, clock: () => NOW },
          );
          try {
            await m.getToken();
          } finally {
            await m.close();
          }
        },
        (e: unknown) =>
          e instanceof ConfigError && /resource$/.test(e.key ?? '') && /entry 2/.test(e.message),
      );
      assert.equal(ep.requests.length, 0);
    });
  }
});

function base(tokenUrl: string): Profile {
  return { token_url: tokenUrl, client_id: CLIENT.id, client_secret: CLIENT.secret, store: 'memory' };
}

/**
 * A profile with scope, audience, two resources and params; gets a token with a refresh token that
 * lives 100 s, moves the clock past it, and returns the refresh request's fields (sorted).
 */
async function refreshFields(extra: Partial<Profile>): Promise<[string, string][]> {
  let now = NOW;
  ep.answerEach((n, _req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        access_token: `at-${n}`,
        token_type: 'Bearer',
        expires_in: 100,
        refresh_token: `rt-${n}`,
      }),
    );
  });
  const m = await createTokenManager(
    {
      ...base(ep.tokenUrl),
      scope: 'api:read',
      audience: 'https://aud.example.com',
      resource: RS,
      params: { tenant: 't-1' },
      ...extra,
    },
    { env: {}, clock: () => now },
  );
  try {
    assert.equal((await m.getToken()).accessToken, 'at-1');
    now += 200_000;
    assert.equal((await m.getToken()).accessToken, 'at-2');
  } finally {
    await m.close();
  }
  assert.equal(ep.requests.length, 2, 'one grant, one refresh');
  assert.ok(fields(ep.requests[1]).some(([k, v]) => k === 'grant_type' && v === 'refresh_token'));
  return sorted(ep.requests[1]);
}

describe('refresh_params on the wire', () => {
  it('by default a refresh sends only the refresh token (as before)', async () => {
    assert.deepEqual(await refreshFields({}), [
      ['grant_type', 'refresh_token'],
      ['refresh_token', 'rt-1'],
    ]);
  });

  it('refresh_params = false is the default', async () => {
    assert.deepEqual(await refreshFields({ refresh_params: false }), [
      ['grant_type', 'refresh_token'],
      ['refresh_token', 'rt-1'],
    ]);
  });

  it('refresh_params = ["resource", "audience"] sends those again, not scope or params', async () => {
    assert.deepEqual(await refreshFields({ refresh_params: ['resource', 'audience'] }), [
      ['audience', 'https://aud.example.com'],
      ['grant_type', 'refresh_token'],
      ['refresh_token', 'rt-1'],
      ['resource', RS[0]],
      ['resource', RS[1]],
    ]);
  });

  it('refresh_params = true sends resource, audience, scope and params again', async () => {
    assert.deepEqual(await refreshFields({ refresh_params: true }), [
      ['audience', 'https://aud.example.com'],
      ['grant_type', 'refresh_token'],
      ['refresh_token', 'rt-1'],
      ['resource', RS[0]],
      ['resource', RS[1]],
      ['scope', 'api:read'],
      ['tenant', 't-1'],
    ]);
  });

  it('an unknown refresh_params entry is a ConfigError on refresh_params', async () => {
    await assert.rejects(
      createTokenManager(
        { ...base(ep.tokenUrl), refresh_params: ['resource', 'bogus'] as never },
        { env: {}, clock: () => NOW },
      ),
      (e: unknown) => e instanceof ConfigError && /refresh_params/.test(e.key ?? ''),
    );
    assert.equal(ep.requests.length, 0);
  });
});

describe('tokenward profiles add: resource and refresh_params from key=value', () => {
  it('resource=a,b is a list of two (one without a comma stays one); refresh_params takes a list or true/false', async () => {
    const { profileFromPairs } = await import('../../src/cli/commands/profiles.js');
    const p = await profileFromPairs([`resource=${RS[0]}, ${RS[1]}`, 'refresh_params=resource,audience']);
    assert.deepEqual(p.resource, RS);
    assert.deepEqual(p.refresh_params, ['resource', 'audience']);
    const one = await profileFromPairs([`resource=${RS[1]}`, 'refresh_params=true']);
    assert.equal(one.resource, RS[1]);
    assert.equal(one.refresh_params, true);
    assert.equal((await profileFromPairs(['refresh_params=false'])).refresh_params, false);
    // The list goes on the wire as two resource fields.
    const m = await createTokenManager(
      { ...base(ep.tokenUrl), ...(await profileFromPairs([`resource=${RS.join(',')}`])) },
      { env: {}, clock: () => NOW },
    );
    try {
      await m.getToken();
      assert.deepEqual(
        fields(ep.requests.at(-1)).filter(([k]) => k === 'resource'),
        RS.map((r) => ['resource', r]),
      );
    } finally {
      await m.close();
    }
  });
});
