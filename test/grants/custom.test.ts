/**
 * `customGrant`: any other form grant (vendor extension grants such as Cisco MSX's switch-tenant, or a
 * standard one without a module of its own) — the exact form it sends, its check before sending, and
 * that secret-named fields are registered for redaction — against a recording loopback token endpoint.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, TokenEndpointError } from '../../src/errors.js';
import { customGrant } from '../../src/grants/custom.js';
import { secretsInError } from '../e2e/helpers.js';
import { basicCredentials, CLIENT, grantContext, NOW, onlyFormRequest, useTokenEndpoint } from './helpers.js';

const ep = useTokenEndpoint();
const SWITCH_TENANT = 'urn:cisco:nfv:oauth:grant-type:switch-tenant';

describe('customGrant', () => {
  it('sends grant_type and the params (undefined ones left out), the client in HTTP Basic', async () => {
    const t = await customGrant(grantContext(ep.tokenUrl), SWITCH_TENANT, {
      tenantId: 'tenant-2',
      note: undefined,
    });
    const { req, form } = onlyFormRequest(ep);
    assert.deepEqual(form, { tenantId: 'tenant-2', grant_type: SWITCH_TENANT });
    assert.deepEqual(basicCredentials(req), { id: CLIENT.id, secret: CLIENT.secret });
    assert.equal(t.accessToken, 'at-default');
    assert.equal(t.obtainedAt, NOW);
  });

  it('the grant type given wins over a grant_type in params', async () => {
    await customGrant(grantContext(ep.tokenUrl), 'urn:ietf:params:oauth:grant-type:token-exchange', {
      grant_type: 'client_credentials',
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    });
    assert.deepEqual(onlyFormRequest(ep).form, {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    });
  });

  it('an empty grant type is a ConfigError on grant_type, and nothing is sent', () => {
    assert.throws(
      () => customGrant(grantContext(ep.tokenUrl), ''),
      (e: unknown) => e instanceof ConfigError && e.key === 'grant_type',
    );
    assert.equal(ep.requests.length, 0);
  });

  it('a field the catalogue calls secret (subject_token) is redacted from an error that echoes it', async () => {
    const subject = 'subject-token-5e6f7a8b9c0d';
    ep.answer(400, { error: 'invalid_grant', error_description: `cannot exchange ${subject}` });
    await assert.rejects(
      customGrant(grantContext(ep.tokenUrl), 'urn:ietf:params:oauth:grant-type:token-exchange', {
        subject_token: subject,
      }),
      (e: unknown) => {
        assert.ok(e instanceof TokenEndpointError);
        assert.equal(e.status, 400);
        assert.equal(e.error, 'invalid_grant');
        assert.deepEqual(secretsInError(e, [subject, CLIENT.secret]), []);
        return true;
      },
    );
    assert.equal(onlyFormRequest(ep).form['subject_token'], subject);
  });
});
