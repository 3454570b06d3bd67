/**
 * Drives every failure path with known secret values and checks that none of them appears in the error
 * (message, stack, JSON, util.inspect with causes) or in the onExchange debug output.
 *
 * Every secret here contains "LEAKCHECK" and nothing else does, so one substring check covers them; encoded
 * forms (Basic header, URL-encoding) are checked explicitly. The test never calls registerSecret itself:
 * the library must register what it handles.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { createClientAuth, encodeBasicCredentials } from '../../src/auth/index.js';
import { discover } from '../../src/discovery.js';
import { TokenEndpointError, TokenwardError } from '../../src/errors.js';
import { clientCredentials } from '../../src/grants/client-credentials.js';
import { passwordGrant } from '../../src/grants/password.js';
import { refreshTokenGrant } from '../../src/grants/refresh-token.js';
import type { GrantContext } from '../../src/grants/types.js';
import { closeAgents } from '../../src/http/agent.js';
import type { HttpExchange, HttpOptions } from '../../src/http/types.js';
import { revoke } from '../../src/revocation.js';
import { json, type Loopback, raw, startLoopback } from '../helpers/loopback.js';
import { type OidcTestProvider, startOidcProvider, USER } from '../helpers/oidc-provider.js';
import { missing } from '../helpers/services.js';
import { selfSignedCert, TLS_CERT_INSTALL } from '../helpers/tls-cert.js';

const CLIENT_ID = 'leak-client';
const CLIENT_SECRET = 'cs-LEAKCHECK-9f8e7d6c5b4a:%+ x';
const PASSWORD = 'pw-LEAKCHECK-correct horse&battery=staple';
const REFRESH = 'rt-LEAKCHECK-0a1b2c3d4e5f';
const ACCESS = 'at-LEAKCHECK-1122334455';
const extraSecrets = new Set<string>();

const exchanges: HttpExchange[] = [];
const http = (o: HttpOptions = {}): HttpOptions => ({
  retries: 1,
  retryBaseMs: 1,
  retryMaxMs: 5,
  // Only a safety net: every request here is answered (or refused) at once, except the one the timeout
  // test sends to a server that never answers, which sets its own 80 ms. A short limit here made a slow,
  // loaded machine time out the oidc-provider requests, which then "failed" for the wrong reason.
  timeoutMs: 60_000,
  onExchange: (x) => exchanges.push(x),
  onWarning: () => undefined,
  ...o,
});

function forms(s: string): string[] {
  return [
    s,
    encodeURIComponent(s),
    new URLSearchParams({ x: s }).toString().slice(2),
    Buffer.from(s).toString('base64'),
  ];
}

function assertClean(text: string, what: string): void {
  assert.ok(!text.includes('LEAKCHECK'), `${what} leaks a secret: ${text.slice(0, 400)}`);
  for (const s of [CLIENT_SECRET, PASSWORD, REFRESH, ACCESS, ...extraSecrets]) {
    for (const f of forms(s)) assert.ok(!text.includes(f), `${what} leaks an encoded secret`);
  }
  assert.ok(
    !text.includes(encodeBasicCredentials(CLIENT_ID, CLIENT_SECRET)),
    `${what} leaks the Basic header`,
  );
}

function assertErrorClean(e: unknown, what: string): void {
  assert.ok(e instanceof TokenwardError, `${what}: expected a TokenwardError, got ${String(e)}`);
  assertClean(JSON.stringify(e), `${what} JSON`);
  assertClean(e.message, `${what} message`);
  assertClean(e.stack ?? '', `${what} stack`);
  assertClean(inspect(e, { depth: 10, showHidden: true }), `${what} inspect`);
  let cause: unknown = (e as { cause?: unknown }).cause;
  for (let i = 0; cause !== undefined && i < 5; i++) {
    assertClean(inspect(cause, { depth: 10, showHidden: true }), `${what} cause`);
    assertClean(String(cause), `${what} cause`);
    cause = (cause as { cause?: unknown }).cause;
  }
}

async function expectFailure(what: string, run: () => Promise<unknown>): Promise<TokenwardError> {
  try {
    await run();
  } catch (e) {
    assertErrorClean(e, what);
    return e as TokenwardError;
  }
  assert.fail(`${what}: expected a failure`);
}

let lb: Loopback;
let op: OidcTestProvider;

before(async () => {
  op = await startOidcProvider();
  lb = await startLoopback((r, res) => {
    const path = r.url.split('?')[0];
    const form = new URLSearchParams(r.body);
    const assertion = form.get('client_assertion');
    if (assertion) extraSecrets.add(assertion);
    switch (path) {
      case '/echo-text-400':
        return raw(res, 400, `bad request: ${r.body} auth=${r.headers['authorization'] ?? ''}`, 'text/plain');
      case '/echo-json-400':
        return json(res, 400, {
          error: 'invalid_grant',
          error_description: `refresh token ${form.get('refresh_token')} / password ${form.get('password')} not valid`,
        });
      case '/echo-html-200':
        return raw(res, 200, `<html><body>${r.body}</body></html>`, 'text/html');
      case '/echo-html-500':
        return raw(res, 500, `<html><body>${r.body}</body></html>`, 'text/html');
      case '/echo-5xx-json':
        return json(res, 503, { error: 'temporarily_unavailable', error_description: r.body });
      case '/truncated-200':
        return raw(
          res,
          200,
          `{"access_token":"${ACCESS}","refresh_token":"${REFRESH}","expires_in":`,
          'application/json',
        );
      case '/bad-lifetime-200':
        return json(res, 200, { access_token: ACCESS, refresh_token: REFRESH, expires_in: 'soon' });
      case '/wrong-type-200':
        return json(res, 200, { access_token: ACCESS, token_type: 'mac' });
      case '/big-200':
        return raw(res, 200, JSON.stringify({ access_token: ACCESS.repeat(200) }), 'application/json');
      case '/invalid-client-401':
        return json(res, 401, {
          error: 'invalid_client',
          error_description: `client ${form.get('client_id')} failed`,
        });
      case '/hang':
        return; // never answers
      default:
        return json(res, 404, { error: 'not_found' });
    }
  });
});
after(async () => {
  await lb.close();
  await op.close();
  await closeAgents();
});

describe('no secret in errors or debug output', () => {
  const ctx = (
    path: string,
    method: 'client_secret_basic' | 'client_secret_post' | 'client_secret_jwt' = 'client_secret_post',
    o?: HttpOptions,
  ): GrantContext => ({
    tokenUrl: `${lb.url}${path}`,
    clientAuth: createClientAuth({ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, auth_method: method }),
    http: http(o),
  });
  const pw = { username: 'bob', password: PASSWORD };

  it('loopback failure paths', async () => {
    for (const method of ['client_secret_basic', 'client_secret_post', 'client_secret_jwt'] as const) {
      await expectFailure(`text 400 echo (${method})`, () =>
        passwordGrant(ctx('/echo-text-400', method), pw),
      );
      await expectFailure(`json 400 echo (${method})`, () =>
        refreshTokenGrant(ctx('/echo-json-400', method), { refreshToken: REFRESH }),
      );
      await expectFailure(`html 200 echo (${method})`, () =>
        passwordGrant(ctx('/echo-html-200', method), pw),
      );
      await expectFailure(`html 500 echo (${method})`, () =>
        passwordGrant(ctx('/echo-html-500', method), pw),
      );
      await expectFailure(`json 503 echo (${method})`, () =>
        passwordGrant(ctx('/echo-5xx-json', method), pw),
      );
      await expectFailure(`invalid_client (${method})`, () =>
        clientCredentials(ctx('/invalid-client-401', method)),
      );
    }
    assert.ok(extraSecrets.size >= 6, 'client assertions were captured');
    await expectFailure('truncated 200', () =>
      refreshTokenGrant(ctx('/truncated-200'), { refreshToken: REFRESH }),
    );
    await expectFailure('bad lifetime 200', () => passwordGrant(ctx('/bad-lifetime-200'), pw));
    await expectFailure('wrong token type 200', () => passwordGrant(ctx('/wrong-type-200'), pw));
    await expectFailure('oversized 200', () =>
      passwordGrant(ctx('/big-200', 'client_secret_post', { maxResponseBytes: 512 }), pw),
    );
    const t = await expectFailure('timeout', () =>
      passwordGrant(ctx('/hang', 'client_secret_basic', { timeoutMs: 80 }), pw),
    );
    assert.equal(t.code, 'ERR_TIMEOUT');
    await expectFailure('revocation 400 echo', () =>
      revoke(
        {
          revocationUrl: `${lb.url}/echo-json-400`,
          tokenUrl: `${lb.url}/t`,
          clientAuth: ctx('/x').clientAuth,
          http: http(),
        },
        REFRESH,
        'refresh_token',
      ),
    );
    await expectFailure('discovery 404', () => discover(`${lb.url}/nope`, http()));
  });

  it('connection refused', async () => {
    const dead = await startLoopback(() => undefined);
    const url = dead.url;
    await dead.close();
    const ctxDead: GrantContext = {
      ...ctx('/'),
      tokenUrl: `${url}/token?client_secret=${encodeURIComponent(CLIENT_SECRET)}`,
    };
    const e = await expectFailure('refused', () => passwordGrant(ctxDead, pw));
    assert.equal(e.code, 'ERR_NETWORK');
  });

  it('TLS failure (an untrusted certificate)', async (t) => {
    const cert = selfSignedCert();
    if (cert === undefined) return missing(t, 'openssl', TLS_CERT_INSTALL);
    const tls = await startLoopback((_r, res) => json(res, 200, {}), cert);
    try {
      const e = await expectFailure('tls', () =>
        passwordGrant({ ...ctx('/'), tokenUrl: `${tls.url}/token` }, pw),
      );
      assert.equal(e.code, 'ERR_NETWORK');
    } finally {
      await tls.close();
    }
  });

  it('oidc-provider: bad client secret, bad password, reused refresh token, bad assertion', async () => {
    const good = createClientAuth({
      client_id: op.clients.basic.clientId,
      client_secret: op.clients.basic.clientSecret,
    });
    const wrongSecret = createClientAuth({
      client_id: op.clients.basic.clientId,
      client_secret: CLIENT_SECRET,
    });
    /** The OAuth error the server refused with (a timeout or any other failure has none). */
    const refused = (e: TokenwardError) => (e instanceof TokenEndpointError ? e.error : undefined);
    const badSecret = await expectFailure('oidc invalid_client', () =>
      clientCredentials({ tokenUrl: op.tokenUrl, clientAuth: wrongSecret, http: http() }),
    );
    assert.equal(refused(badSecret), 'invalid_client');
    const jwtWrong = createClientAuth({
      client_id: op.clients.jwt.clientId,
      client_secret: CLIENT_SECRET,
      auth_method: 'client_secret_jwt',
    });
    const badAssertion = await expectFailure('oidc bad assertion', () =>
      clientCredentials({ tokenUrl: op.tokenUrl, clientAuth: jwtWrong, http: http() }),
    );
    assert.equal(refused(badAssertion), 'invalid_client');
    const g: GrantContext = { tokenUrl: op.tokenUrl, clientAuth: good, http: http() };
    const badPassword = await expectFailure('oidc invalid_grant (password)', () =>
      passwordGrant(g, { username: USER.username, password: PASSWORD }),
    );
    assert.equal(refused(badPassword), 'invalid_grant');
    const t1 = await passwordGrant(g, { ...USER });
    await refreshTokenGrant(g, { refreshToken: t1.refreshToken! });
    extraSecrets
      .add(t1.accessToken)
      .add(t1.refreshToken!)
      .add(op.clients.basic.clientSecret)
      .add(USER.password);
    const reused = await expectFailure('oidc reused refresh token', () =>
      refreshTokenGrant(g, { refreshToken: t1.refreshToken! }),
    );
    assert.equal(refused(reused), 'invalid_grant');
  });

  it('onExchange output never carries a secret', () => {
    assert.ok(exchanges.length > 20);
    for (const x of exchanges) assertClean(JSON.stringify(x), `exchange ${x.url}`);
  });
});
