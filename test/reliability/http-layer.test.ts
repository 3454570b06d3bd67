/**
 * The HTTP layer's fault rules, one by one: upstream unavailability (429/502/503/504) is its own typed
 * error and exit code; a `Retry-After` beyond the retry budget stops at once; deterministic failures are
 * sent once; redirects are refused, naming where they pointed (without the query); the budget helper.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXIT, exitCodeFor } from '../../src/cli/exit.js';
import {
  InvalidTokenResponseError,
  NetworkError,
  TokenEndpointError,
  UpstreamUnavailableError,
} from '../../src/errors.js';
import {
  classifyNetworkError,
  getJson,
  requestBudgetMs,
  requestToken,
} from '../../src/http/token-endpoint.js';
import { authorizationValue } from '../../src/token.js';
import { startLoopback } from '../helpers/loopback.js';

const fast = { retryBaseMs: 1, retryMaxMs: 2_000, timeoutMs: 20_000 };

function json(res: import('node:http').ServerResponse, status: number, body: unknown, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

describe('upstream unavailable', () => {
  for (const status of [429, 502, 503, 504]) {
    it(`${status} on every attempt → UpstreamUnavailableError (a TokenEndpointError), exit 7`, async () => {
      const s = await startLoopback((_r, res) => json(res, status, { error: 'temporarily_unavailable' }));
      try {
        const err = await requestToken({ url: s.url, form: {} }, { ...fast, retries: 2 }).catch((e) => e);
        assert.ok(err instanceof UpstreamUnavailableError);
        assert.ok(err instanceof TokenEndpointError, 'callers that check TokenEndpointError still match');
        assert.equal(err.code, 'ERR_UPSTREAM_UNAVAILABLE');
        assert.equal(err.status, status);
        assert.equal(err.error, 'temporarily_unavailable');
        assert.equal(exitCodeFor(err), EXIT.UNAVAILABLE);
        assert.equal(EXIT.UNAVAILABLE, 7);
        assert.equal(s.requests.length, 3);
      } finally {
        await s.close();
      }
    });
  }

  it('500 and 501 stay TokenEndpointError (exit 3)', async () => {
    const s = await startLoopback((_r, res, n) => json(res, n === 1 ? 500 : 501, { error: 'server_error' }));
    try {
      const err = await requestToken({ url: s.url, form: {} }, { ...fast, retries: 1 }).catch((e) => e);
      assert.ok(err instanceof TokenEndpointError && !(err instanceof UpstreamUnavailableError));
      assert.equal(err.code, 'ERR_TOKEN_ENDPOINT');
      assert.equal(exitCodeFor(err), EXIT.REJECTED);
    } finally {
      await s.close();
    }
  });

  it('a Retry-After longer than the retry budget stops at once: one request, no sleep, retryAfter set', async () => {
    const s = await startLoopback((_r, res) => json(res, 503, {}, { 'retry-after': '3600' }));
    try {
      const err = await requestToken({ url: s.url, form: {} }, { ...fast, retries: 5 }).catch((e) => e);
      assert.ok(err instanceof UpstreamUnavailableError);
      assert.equal(err.retryAfter, 3600);
      assert.match(err.message, /retry after 3600 s, longer than the retry budget \(2 s\); not retried now/);
      assert.equal(s.requests.length, 1);
    } finally {
      await s.close();
    }
  });

  it('a Retry-After within the budget is honoured, then the retry succeeds', async () => {
    const s = await startLoopback((_r, res, n) =>
      n === 1
        ? json(res, 429, {}, { 'retry-after': '0' })
        : json(res, 200, { access_token: 'at', token_type: 'Bearer', expires_in: 60 }),
    );
    try {
      const r = await requestToken({ url: s.url, form: {} }, { ...fast, retries: 1 });
      assert.equal((r.body as { access_token: string }).access_token, 'at');
      assert.equal(s.requests.length, 2);
    } finally {
      await s.close();
    }
  });

  it('getJson (discovery) follows the same rules', async () => {
    const s = await startLoopback((_r, res) => json(res, 429, {}, { 'retry-after': '600' }));
    try {
      const err = await getJson(`${s.url}/.well-known/openid-configuration`, { ...fast, retries: 3 }).catch(
        (e) => e,
      );
      assert.ok(err instanceof UpstreamUnavailableError);
      assert.equal(err.retryAfter, 600);
      assert.equal(s.requests.length, 1);
    } finally {
      await s.close();
    }
  });
});

describe('deterministic failures are sent once', () => {
  it('a redirect is refused, naming its target without query or credentials; the target gets nothing', async () => {
    const s = await startLoopback((r, res) => {
      if (r.url.startsWith('/moved')) return json(res, 200, { access_token: 'stolen' });
      res.writeHead(301, { location: '/moved/token?code=secret-code#frag' });
      res.end();
    });
    try {
      const err = await requestToken({ url: `${s.url}/token`, form: {} }, { ...fast, retries: 3 }).catch(
        (e) => e,
      );
      assert.ok(err instanceof TokenEndpointError);
      assert.equal(err.code, 'ERR_TOKEN_ENDPOINT');
      assert.equal(err.status, 301);
      assert.match(
        err.message,
        /a redirect to http:\/\/127\.0\.0\.1:\d+\/moved\/token; tokenward does not follow/,
      );
      assert.ok(!err.message.includes('secret-code'));
      assert.equal(s.requests.length, 1);
    } finally {
      await s.close();
    }
  });

  it('response header overflow: NetworkError, one request', async () => {
    const s = await startLoopback((_r, res) => json(res, 200, {}, { 'x-big': 'b'.repeat(40_000) }));
    try {
      const err = await requestToken({ url: s.url, form: {} }, { ...fast, retries: 3 }).catch((e) => e);
      assert.ok(err instanceof NetworkError);
      assert.match(err.message, /UND_ERR_HEADERS_OVERFLOW/);
      assert.equal(s.requests.length, 1);
    } finally {
      await s.close();
    }
  });

  it('an oversized 2xx body: InvalidTokenResponseError, one request', async () => {
    const s = await startLoopback((_r, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`"${'z'.repeat(4096)}"`);
    });
    try {
      const err = await requestToken(
        { url: s.url, form: {} },
        { ...fast, retries: 3, maxResponseBytes: 1024 },
      ).catch((e) => e);
      assert.ok(err instanceof InvalidTokenResponseError);
      assert.equal(s.requests.length, 1);
    } finally {
      await s.close();
    }
  });

  it('classifyNetworkError retries only transient failures', () => {
    const withCode = (code: string) => Object.assign(new Error('x'), { code });
    for (const code of ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'UND_ERR_SOCKET', 'ETIMEDOUT', 'EAI_AGAIN'])
      assert.equal(classifyNetworkError(withCode(code)).retryable, true, code);
    for (const code of [
      'UND_ERR_HEADERS_OVERFLOW',
      'ENOTFOUND',
      'CERT_HAS_EXPIRED',
      'ERR_TLS_CERT_ALTNAME_INVALID',
      'HPE_INVALID_CONSTANT',
      'UND_ERR_INVALID_ARG',
      'ERR_INVALID_URL',
    ])
      assert.equal(classifyNetworkError(withCode(code)).retryable, false, code);
    assert.equal(classifyNetworkError(new Error('no code')).retryable, false);
  });
});

describe('budget and header safety', () => {
  it('requestBudgetMs: every attempt at its full timeout plus the longest wait before each retry', () => {
    assert.equal(requestBudgetMs({}), 10_000 * 3 + 10_000 * 2);
    assert.equal(requestBudgetMs({ timeoutMs: 500, retries: 1, retryMaxMs: 100 }), 1_100);
    assert.equal(requestBudgetMs({ retries: 0, timeoutMs: 2_000 }), 2_000);
  });

  it('authorizationValue refuses a cached token that would inject a header', () => {
    assert.equal(
      authorizationValue({ accessToken: 'abc.DEF-1~+/=', tokenType: 'Bearer' }),
      'Bearer abc.DEF-1~+/=',
    );
    for (const bad of [
      { accessToken: 'abc\r\nX-Injected: 1', tokenType: 'Bearer' },
      { accessToken: 'abc def', tokenType: 'Bearer' },
      { accessToken: 'abc', tokenType: 'Bearer\nX: 1' },
    ]) {
      assert.throws(
        () => authorizationValue(bad),
        (e: unknown) => e instanceof InvalidTokenResponseError && !e.message.includes('abc'),
      );
    }
  });
});
