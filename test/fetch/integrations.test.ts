/**
 * The same behaviour, asserted the same way, for the three integrations: authFetch, the undici
 * interceptor and the axios interceptors. Real loopback servers; counts from the token server and the
 * API servers, never timings.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { TokenEndpointError, TokenwardError } from '../../src/errors.js';
import type { TokenSource } from '../../src/fetch/index.js';
import { type Client, INTEGRATIONS, type IntegrationOptions, useFetchServers } from './helpers.js';

const fx = useFetchServers({ latencyMs: 10 });

for (const integration of INTEGRATIONS) {
  describe(`${integration.name}`, () => {
    let client: Client | undefined;
    const open = (extra: Partial<IntegrationOptions> = {}): Client => {
      client = integration.make(fx.manager, { origins: [fx.api.url], ...extra });
      return client;
    };

    afterEach(async () => {
      await client?.close();
      client = undefined;
    });

    it('attaches the Bearer token and reuses the cached token', async () => {
      const c = open();
      for (let i = 0; i < 3; i++) assert.equal((await c.send(`${fx.api.url}/data`)).status, 200);
      assert.equal(fx.tokens.counts.total, 1);
      const seen = fx.api.hitsTo('/data').map((h) => h.authorization);
      assert.equal(seen.length, 3);
      assert.match(seen[0] ?? '', /^Bearer at-/);
      assert.equal(new Set(seen).size, 1);
      assert.equal(seen[0], `Bearer ${fx.manager.peek()?.accessToken}`);
    });

    it('keeps an Authorization header the caller set, and does not retry its 401', async () => {
      const c = open();
      const res = await c.send(`${fx.api.url}/data`, { headers: { Authorization: 'Basic dXNlcjpwYXNz' } });
      assert.equal(res.status, 401);
      assert.deepEqual(
        fx.api.hits.map((h) => h.authorization),
        ['Basic dXNlcjpwYXNz'],
      );
      assert.equal(fx.tokens.counts.total, 0, 'no token was even requested');
    });

    it('a rejected token causes exactly one renewal and one retry', async () => {
      const c = open();
      assert.equal((await c.send(`${fx.api.url}/data`)).status, 200);
      const first = fx.manager.peek();
      const stale = first?.accessToken ?? '';
      fx.api.revoked.add(stale);
      fx.api.hits.length = 0;
      const res = await c.send(`${fx.api.url}/data`);
      assert.equal(res.status, 200);
      assert.equal(JSON.parse(res.text).token, fx.manager.peek()?.accessToken);
      assert.deepEqual(fx.tokens.counts.byGrant, { client_credentials: 1, refresh_token: 1 });
      // The renewal is the real refresh grant with the first answer's (rotating) refresh token.
      assert.equal(fx.tokens.requests[1]?.refreshToken, first?.refreshToken);
      assert.equal(fx.tokens.requests[1]?.status, 200);
      const seen = fx.api.hitsTo('/data').map((h) => h.authorization);
      assert.equal(seen.length, 2, 'the API was called twice: the 401 and the retry');
      assert.equal(seen[0], `Bearer ${stale}`);
      assert.notEqual(seen[1], seen[0]);
    });

    it('a server that does not rotate: each 401 renews with the one refresh token it issued', async () => {
      fx.tokens.rotate = false; // refresh answers carry no refresh_token: the one in use must be kept
      const c = open();
      assert.equal((await c.send(`${fx.api.url}/data`)).status, 200);
      const rt = fx.manager.peek()?.refreshToken;
      for (let i = 0; i < 2; i++) {
        fx.api.revoked.add(fx.manager.peek()?.accessToken ?? '');
        assert.equal((await c.send(`${fx.api.url}/data`)).status, 200);
      }
      assert.deepEqual(fx.tokens.counts.byGrant, { client_credentials: 1, refresh_token: 2 });
      assert.deepEqual(
        fx.tokens.requests.map((r) => r.refreshToken),
        [undefined, rt, rt],
      );
      assert.equal(fx.manager.peek()?.refreshToken, rt);
      assert.equal(fx.tokens.rejectedRefreshes, 0);
    });

    it('a 401 that persists after the retry is returned, not looped (API hit exactly twice)', async () => {
      const c = open();
      fx.api.rejectAll = true;
      const res = await c.send(`${fx.api.url}/data`);
      assert.equal(res.status, 401);
      assert.match(res.text, /token expired/);
      assert.equal(fx.api.hitsTo('/data').length, 2);
      assert.equal(fx.tokens.counts.total, 2, 'one grant, one renewal');
    });

    it('retries on 403 with WWW-Authenticate error="invalid_token"', async () => {
      const c = open();
      await c.send(`${fx.api.url}/scoped`);
      fx.api.revoked.add(fx.manager.peek()?.accessToken ?? '');
      fx.api.hits.length = 0;
      assert.equal((await c.send(`${fx.api.url}/scoped`)).status, 200);
      assert.equal(fx.api.hits.length, 2);
      assert.equal(fx.tokens.counts.total, 2);
    });

    it('replays a string body on the retry', async () => {
      const c = open();
      await c.send(`${fx.api.url}/data`);
      fx.api.revoked.add(fx.manager.peek()?.accessToken ?? '');
      fx.api.hits.length = 0;
      const res = await c.send(`${fx.api.url}/data`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"n":1}',
      });
      assert.equal(res.status, 200);
      assert.deepEqual(
        fx.api.hits.map((h) => [h.method, h.body]),
        [
          ['POST', '{"n":1}'],
          ['POST', '{"n":1}'],
        ],
      );
    });

    it('a stream body is not retried: the 401 is returned, and the next call uses a new token', async () => {
      const c = open();
      await c.send(`${fx.api.url}/data`);
      const stale = fx.manager.peek()?.accessToken ?? '';
      fx.api.revoked.add(stale);
      fx.api.hits.length = 0;
      const res = await c.send(`${fx.api.url}/data`, { method: 'POST', body: 'hello', stream: true });
      assert.equal(res.status, 401);
      assert.equal(fx.api.hits.length, 1);
      assert.equal(fx.api.hits[0]?.body, 'hello');
      assert.equal(fx.tokens.counts.total, 1, 'no renewal during the call');
      const next = await c.send(`${fx.api.url}/data`);
      assert.equal(next.status, 200, 'the token was invalidated, so the next call renewed it');
      assert.equal(fx.tokens.counts.total, 2);
      assert.notEqual(fx.manager.peek()?.accessToken, stale);
    });

    it('retryOn401: false returns the 401 and does not renew', async () => {
      const c = open({ retryOn401: false });
      await c.send(`${fx.api.url}/data`);
      fx.api.revoked.add(fx.manager.peek()?.accessToken ?? '');
      fx.api.hits.length = 0;
      assert.equal((await c.send(`${fx.api.url}/data`)).status, 401);
      assert.equal(fx.api.hits.length, 1);
      assert.equal(fx.tokens.counts.total, 1);
    });

    it('50 concurrent calls that all get 401 for the same stale token cause ONE renewal', async () => {
      const c = open();
      await c.send(`${fx.api.url}/data`);
      const stale = fx.manager.peek()?.accessToken ?? '';
      fx.api.revoked.add(stale);
      fx.api.hits.length = 0;
      const results = await Promise.all(Array.from({ length: 50 }, () => c.send(`${fx.api.url}/data`)));
      assert.deepEqual(new Set(results.map((r) => r.status)), new Set([200]));
      assert.equal(fx.tokens.counts.total, 2, 'one grant before, one renewal for all 50');
      assert.deepEqual(fx.tokens.counts.byGrant, { client_credentials: 1, refresh_token: 1 });
      assert.equal(fx.tokens.rejectedRefreshes, 0, 'the refresh token was presented once, not 50 times');
      assert.equal(fx.api.hits.length, 100);
      assert.equal(fx.api.hits.filter((h) => h.authorization === `Bearer ${stale}`).length, 50);
      const fresh = `Bearer ${fx.manager.peek()?.accessToken}`;
      assert.equal(fx.api.hits.filter((h) => h.authorization === fresh).length, 50);
    });

    it('a token that cannot be sent in a header fails the request before anything is sent', async () => {
      const source: TokenSource = {
        getToken: async () => ({ accessToken: 'at-evil\r\nx-injected: 1', tokenType: 'Bearer' }),
        invalidate: () => {},
      };
      client = integration.make(source, { origins: [fx.api.url] });
      await assert.rejects(client.send(`${fx.api.url}/data`), (err: unknown) => {
        assert.ok(err instanceof TokenwardError);
        assert.equal(err.code, 'ERR_INVALID_TOKEN_RESPONSE');
        assert.doesNotMatch(err.message, /at-evil/);
        return true;
      });
      assert.equal(fx.api.hits.length, 0);
    });

    it('a failure to get a token is the request’s error; the API is not called', async () => {
      const c = open();
      fx.tokens.fault = { status: 400, body: JSON.stringify({ error: 'invalid_client' }) };
      await assert.rejects(
        c.send(`${fx.api.url}/data`),
        (err: unknown) => err instanceof TokenEndpointError && err.error === 'invalid_client',
      );
      assert.equal(fx.api.hits.length, 0);
      assert.equal(fx.tokens.counts.total, 1);
    });

    it('a URL on another origin goes out without the token', async () => {
      const c = open();
      assert.equal((await c.send(`${fx.other.url}/landing`)).status, 200);
      assert.equal(fx.other.hits.length, 1);
      assert.equal(fx.other.hits[0]?.authorization, undefined);
      assert.equal(fx.tokens.counts.total, 0);
    });

    it("onForeignOrigin: 'throw' refuses a URL on another origin", async () => {
      const c = open({ onForeignOrigin: 'throw' });
      await assert.rejects(
        c.send(`${fx.other.url}/landing?secret=s3cr3t`),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, 'ERR_INSECURE_ENDPOINT');
          assert.doesNotMatch(err.message, /s3cr3t/);
          return true;
        },
      );
      assert.equal(fx.other.hits.length, 0);
    });

    it('a same-origin redirect keeps the token', async () => {
      const c = open();
      const res = await c.send(`${fx.api.url}/to-self`);
      assert.equal(res.status, 200);
      const auths = fx.api.hits.map((h) => [h.path, h.authorization?.startsWith('Bearer at-')]);
      assert.deepEqual(auths, [
        ['/to-self', true],
        ['/data', true],
      ]);
    });

    for (const status of [302, 307]) {
      it(`a same-origin -> cross-origin redirect (${status}) does not carry the token`, async () => {
        const c = open();
        const res = await c.send(`${fx.api.url}/to-other?status=${status}`);
        assert.equal(res.status, 200);
        assert.match(res.text, /landed/);
        assert.match(fx.api.hits[0]?.authorization ?? '', /^Bearer at-/);
        assert.equal(fx.other.hits.length, 1);
        assert.equal(fx.other.hits[0]?.authorization, undefined);
      });
    }

    it("a cross-origin redirect drops the caller's Cookie and Proxy-Authorization, keeps them same-origin", async () => {
      const c = open();
      const headers = { cookie: 'sid=SECRET-COOKIE', 'proxy-authorization': 'Basic cHJveHk6cHc=' };
      assert.equal((await c.send(`${fx.api.url}/to-other`, { headers })).status, 200);
      assert.equal((await c.send(`${fx.api.url}/to-self`, { headers })).status, 200);
      // Same origin: the caller's Cookie follows (axios re-derives Proxy-Authorization from its proxy
      // settings on every hop, so that header is not compared here).
      assert.deepEqual(
        fx.api.hits.map((h) => [h.path, h.cookie, h.authorization?.split(' ')[0]]),
        [
          ['/to-other', headers.cookie, 'Bearer'],
          ['/to-self', headers.cookie, 'Bearer'],
          ['/data', headers.cookie, 'Bearer'],
        ],
      );
      assert.deepEqual(
        fx.other.hits.map((h) => [h.path, h.cookie, h.proxyAuthorization, h.authorization]),
        [['/landing', undefined, undefined, undefined]],
      );
      assert.equal(fx.tokens.counts.total, 1);
    });

    it('a redirect to another allowed origin carries the token there', async () => {
      const c = open({ origins: [fx.api.url, fx.other.url] });
      fx.other.other = fx.api.url; // other's /to-other -> api's /landing
      try {
        assert.equal((await c.send(`${fx.other.url}/to-other`)).status, 200);
        const bearer = `Bearer ${fx.manager.peek()?.accessToken}`;
        assert.deepEqual(
          fx.other.hits.map((h) => [h.path, h.authorization]),
          [['/to-other', bearer]],
        );
        assert.deepEqual(
          fx.api.hits.map((h) => [h.path, h.authorization]),
          [['/landing', bearer]],
        );
        assert.equal(fx.tokens.counts.total, 1);
      } finally {
        fx.other.other = '';
      }
    });

    it('a 401 from a foreign origin after a redirect is not blamed on the token', async () => {
      const c = open();
      fx.api.other = `${fx.other.url}/data?from=`; // /to-other now lands on the other server's /data: 401 without a token
      try {
        const res = await c.send(`${fx.api.url}/to-other`);
        assert.equal(res.status, 401);
        assert.equal(fx.tokens.counts.total, 1, 'no renewal: our token was not sent there');
        assert.equal(fx.api.hits.length, 1, 'and no retry');
        assert.equal(fx.other.hits.length, 1);
        assert.equal(fx.other.hits[0]?.authorization, undefined);
      } finally {
        fx.api.other = fx.other.url;
      }
    });
  });
}
