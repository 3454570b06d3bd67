/**
 * The delegated grants' requests: RFC 8693 token exchange and RFC 7523 JWT bearer send exactly the form
 * the RFCs give (defaults, optional fields left out), authenticate the client, and never show the
 * subject, actor or assertion in a trace or an error.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, TokenEndpointError } from '../../src/errors.js';
import { JWT_BEARER_GRANT, jwtBearer } from '../../src/grants/jwt-bearer.js';
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPES, tokenExchange } from '../../src/grants/token-exchange.js';
import type { HttpExchange } from '../../src/http/types.js';
import { basicCredentials, CLIENT, grantContext, onlyFormRequest, useTokenEndpoint } from './helpers.js';

const ep = useTokenEndpoint();
const SUBJECT = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ3b3JrbG9hZCJ9.c3ViamVjdC1zaWduYXR1cmUtdGVzdA';
const ACTOR = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhY3RvciJ9.YWN0b3Itc2lnbmF0dXJlLXRlc3Qtdg';

describe('tokenExchange', () => {
  it('sends the RFC 8693 form: grant_type, subject_token and its type (default jwt), client Basic', async () => {
    const t = await tokenExchange(grantContext(ep.tokenUrl), { subjectToken: SUBJECT });
    const { req, form } = onlyFormRequest(ep);
    assert.deepEqual(form, {
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: SUBJECT,
      subject_token_type: TOKEN_TYPES.jwt,
    });
    assert.deepEqual(basicCredentials(req), { id: CLIENT.id, secret: CLIENT.secret });
    assert.equal(t.accessToken, 'at-default');
  });

  it('sends actor, requested type, audience, resource and scope; params lose to the own fields', async () => {
    await tokenExchange(grantContext(ep.tokenUrl), {
      subjectToken: SUBJECT,
      subjectTokenType: TOKEN_TYPES.accessToken,
      actorToken: ACTOR,
      requestedTokenType: TOKEN_TYPES.idToken,
      audience: 'api://downstream',
      resource: 'https://api.example/',
      scope: ['a', 'b'],
      params: { audience: 'overridden', extra: 'kept' },
    });
    const { form } = onlyFormRequest(ep);
    assert.deepEqual(form, {
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: SUBJECT,
      subject_token_type: TOKEN_TYPES.accessToken,
      actor_token: ACTOR,
      actor_token_type: TOKEN_TYPES.jwt,
      requested_token_type: TOKEN_TYPES.idToken,
      audience: 'api://downstream',
      resource: 'https://api.example/',
      scope: 'a b',
      extra: 'kept',
    });
  });

  it('an empty subject is a ConfigError naming subject_token, and nothing is sent', () => {
    assert.throws(
      () => tokenExchange(grantContext(ep.tokenUrl), { subjectToken: '' }),
      (e: unknown) => e instanceof ConfigError && e.key === 'subject_token',
    );
    assert.equal(ep.requests.length, 0);
  });

  it('a refusal is a TokenEndpointError with the server error; subject and actor are in no trace or error', async () => {
    ep.answer(400, { error: 'invalid_grant', error_description: 'subject token expired' });
    const traces: HttpExchange[] = [];
    const ctx = grantContext(ep.tokenUrl, undefined, {
      http: { retries: 0, onExchange: (x) => traces.push(x) },
    });
    await assert.rejects(tokenExchange(ctx, { subjectToken: SUBJECT, actorToken: ACTOR }), (e: unknown) => {
      assert.ok(e instanceof TokenEndpointError);
      assert.equal(e.status, 400);
      assert.equal(e.error, 'invalid_grant');
      const text = `${e.message} ${JSON.stringify(e)} ${e.stack}`;
      assert.ok(!text.includes(SUBJECT) && !text.includes(ACTOR));
      return true;
    });
    assert.equal(traces.length, 1);
    const shown = JSON.stringify(traces);
    assert.ok(shown.includes('subject_token'), 'the field name is shown');
    assert.ok(!shown.includes(SUBJECT) && !shown.includes(ACTOR), 'never the values');
  });
});

describe('jwtBearer', () => {
  it('sends the RFC 7523 form: grant_type and assertion, scope and audience when given', async () => {
    await jwtBearer(grantContext(ep.tokenUrl), { assertion: SUBJECT, scope: 'api:read', audience: 'aud-1' });
    const { form } = onlyFormRequest(ep);
    assert.deepEqual(form, {
      grant_type: JWT_BEARER_GRANT,
      assertion: SUBJECT,
      scope: 'api:read',
      audience: 'aud-1',
    });
  });

  it('an empty assertion is a ConfigError, and nothing is sent', () => {
    assert.throws(
      () => jwtBearer(grantContext(ep.tokenUrl), { assertion: '' }),
      (e: unknown) => e instanceof ConfigError && e.key === 'subject_token',
    );
    assert.equal(ep.requests.length, 0);
  });

  it('the assertion is in no trace', async () => {
    const traces: HttpExchange[] = [];
    const ctx = grantContext(ep.tokenUrl, undefined, {
      http: { retries: 0, onExchange: (x) => traces.push(x) },
    });
    await jwtBearer(ctx, { assertion: SUBJECT });
    assert.equal(traces.length, 1);
    assert.ok(!JSON.stringify(traces).includes(SUBJECT));
  });
});
