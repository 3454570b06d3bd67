/**
 * `introspect` (RFC 7662) against the recording loopback endpoint: the exact form it sends and the
 * client's authentication, the checks of the answer's shape, and the errors (no endpoint, a refusal):
 * typed, with the server's `error`, nothing secret.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createClientAuth } from '../src/auth/index.js';
import { InvalidTokenResponseError, TokenEndpointError, UnsupportedError } from '../src/errors.js';
import { type IntrospectionContext, introspect } from '../src/introspection.js';
import { secretsInError } from './e2e/helpers.js';
import { basicCredentials, CLIENT, NOW, useTokenEndpoint } from './grants/helpers.js';

const ep = useTokenEndpoint();
const TOKEN = 'at-introspected-5f1e2d3c4b';

function ctx(over: Partial<IntrospectionContext> = {}): IntrospectionContext {
  return {
    introspectionUrl: ep.tokenUrl,
    tokenUrl: ep.tokenUrl,
    clientAuth: createClientAuth({ client_id: CLIENT.id, client_secret: CLIENT.secret }),
    http: { retries: 0 },
    now: () => NOW,
    ...over,
  };
}

describe('introspect', () => {
  it('POSTs token and token_type_hint with the client in HTTP Basic; returns the answer', async () => {
    const answer = { active: true, scope: 'a b', exp: 1_900_000_000, cnf: { 'x5t#S256': 'abc' }, extra: 1 };
    ep.answer(200, answer);
    assert.deepEqual(await introspect(ctx(), TOKEN, 'access_token'), answer);
    assert.equal(ep.requests.length, 1);
    const req = ep.requests[0]!;
    assert.deepEqual(
      [...new URLSearchParams(req.body)],
      [
        ['token', TOKEN],
        ['token_type_hint', 'access_token'],
      ],
    );
    assert.deepEqual(basicCredentials(req), { id: CLIENT.id, secret: CLIENT.secret });
  });

  it('an inactive token is { active: false }', async () => {
    ep.answer(200, { active: false });
    assert.deepEqual(await introspect(ctx(), TOKEN), { active: false });
    assert.equal(ep.requests.length, 1);
  });

  for (const [label, body] of [
    ['no active', { scope: 'a' }],
    ['a string active', { active: 'true' }],
    ['a string exp', { active: true, exp: '1900000000' }],
    ['a numeric scope', { active: true, scope: 7 }],
    ['an aud of numbers', { active: true, aud: [1] }],
    ['a cnf that is a string', { active: true, cnf: 'x' }],
    ['a list', [{ active: true }]],
  ] as const) {
    it(`an answer with ${label} is an InvalidTokenResponseError`, async () => {
      ep.answer(200, body);
      await assert.rejects(introspect(ctx(), TOKEN), (e: unknown) => e instanceof InvalidTokenResponseError);
      assert.equal(ep.requests.length, 1);
    });
  }

  it('without an endpoint: UnsupportedError naming introspection_url, nothing sent', async () => {
    const { introspectionUrl: _, ...rest } = ctx();
    await assert.rejects(
      introspect(rest, TOKEN),
      (e: unknown) => e instanceof UnsupportedError && /introspection_url/.test(e.message),
    );
    assert.equal(ep.requests.length, 0);
  });

  it('a refusal is a TokenEndpointError with the server error; neither token nor secret in it', async () => {
    ep.answer(401, { error: 'invalid_client', error_description: 'client authentication failed' });
    await assert.rejects(introspect(ctx(), TOKEN), (e: unknown) => {
      assert.ok(e instanceof TokenEndpointError);
      assert.equal(e.status, 401);
      assert.equal(e.error, 'invalid_client');
      assert.deepEqual(secretsInError(e, [CLIENT.secret, TOKEN]), []);
      return true;
    });
    assert.equal(ep.requests.length, 1);
  });
});
