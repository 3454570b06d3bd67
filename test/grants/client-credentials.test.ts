/**
 * The client credentials grant (RFC 6749 §4.4): the exact form it sends (scope, audience, resource,
 * extra params, which of them win) with the client in HTTP Basic, and how its answers map — against a
 * recording loopback token endpoint. Interop with a standard server: `test/core/oidc-provider.test.ts`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenEndpointError } from '../../src/errors.js';
import { createTokenManager } from '../../src/front-door.js';
import { clientCredentials } from '../../src/grants/client-credentials.js';
import { secretsInError } from '../e2e/helpers.js';
import { basicCredentials, CLIENT, grantContext, NOW, onlyFormRequest, useTokenEndpoint } from './helpers.js';

const ep = useTokenEndpoint();

describe('clientCredentials', () => {
  it('with no parameters sends grant_type alone; the client is in HTTP Basic', async () => {
    const t = await clientCredentials(grantContext(ep.tokenUrl));
    const { req, form } = onlyFormRequest(ep);
    assert.deepEqual(form, { grant_type: 'client_credentials' });
    assert.deepEqual(basicCredentials(req), { id: CLIENT.id, secret: CLIENT.secret });
    assert.equal(t.accessToken, 'at-default');
    assert.equal(t.expiresAt, NOW + 3_600_000);
  });

  it('sends scope (a list joined by spaces), audience, resource and extra params', async () => {
    await clientCredentials(grantContext(ep.tokenUrl), {
      scope: ['api:read', 'api:write'],
      audience: 'https://api.example.com/',
      resource: 'https://rs.example.com/',
      params: { tenant: 't-1' },
    });
    assert.deepEqual(onlyFormRequest(ep).form, {
      tenant: 't-1',
      grant_type: 'client_credentials',
      scope: 'api:read api:write',
      audience: 'https://api.example.com/',
      resource: 'https://rs.example.com/',
    });
  });

  it('an empty scope (string or list) is left out', async () => {
    for (const scope of ['  ', [] as string[]]) {
      ep.requests.length = 0;
      await clientCredentials(grantContext(ep.tokenUrl), { scope });
      assert.deepEqual(onlyFormRequest(ep).form, { grant_type: 'client_credentials' });
    }
  });

  it("its own fields win over params; params fill the fields it was not given (a profile's params.resource)", async () => {
    await clientCredentials(grantContext(ep.tokenUrl), {
      scope: 'mine',
      params: {
        grant_type: 'password',
        scope: 'theirs',
        resource: 'https://rs.example.com/',
        audience: 'aud-p',
      },
    });
    assert.deepEqual(onlyFormRequest(ep).form, {
      grant_type: 'client_credentials',
      scope: 'mine',
      resource: 'https://rs.example.com/',
      audience: 'aud-p',
    });
  });

  it("through the front door, a profile's params.resource is sent (docs/config.md's example profile)", async () => {
    const m = await createTokenManager(
      {
        token_url: ep.tokenUrl,
        client_id: CLIENT.id,
        client_secret: CLIENT.secret,
        scope: ['read', 'write'],
        params: { resource: 'https://api.example.com' },
        store: 'memory',
      },
      { env: {}, clock: () => NOW },
    );
    try {
      await m.getToken();
    } finally {
      await m.close();
    }
    assert.deepEqual(onlyFormRequest(ep).form, {
      resource: 'https://api.example.com',
      grant_type: 'client_credentials',
      scope: 'read write',
    });
  });

  it('invalid_scope is a TokenEndpointError with the server error, no secret in it', async () => {
    ep.answer(400, { error: 'invalid_scope', error_description: 'scope api:admin is not allowed' });
    await assert.rejects(
      clientCredentials(grantContext(ep.tokenUrl), { scope: 'api:admin' }),
      (e: unknown) => {
        assert.ok(e instanceof TokenEndpointError);
        assert.equal(e.status, 400);
        assert.equal(e.error, 'invalid_scope');
        assert.equal(e.errorDescription, 'scope api:admin is not allowed');
        assert.match(e.message, /check the scope/);
        assert.deepEqual(secretsInError(e, [CLIENT.secret]), []);
        return true;
      },
    );
    assert.equal(ep.requests.length, 1);
  });
});
