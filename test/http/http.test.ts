import assert from 'node:assert/strict';
import { isIPv4 } from 'node:net';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  ConfigError,
  InsecureEndpointError,
  InvalidTokenResponseError,
  NetworkError,
  TokenEndpointError,
} from '../../src/errors.js';
import { closeAgents } from '../../src/http/agent.js';
import { parseRetryAfter } from '../../src/http/retry.js';
import { getJson, requestNoContent, requestToken } from '../../src/http/token-endpoint.js';
import type { HttpExchange, HttpOptions } from '../../src/http/types.js';
import { assertSecureUrl, isLoopbackHost, safeUrl } from '../../src/http/url.js';
import { json, raw, startLoopback } from '../helpers/loopback.js';
import { missing } from '../helpers/services.js';
import { selfSignedCert, TLS_CERT_INSTALL } from '../helpers/tls-cert.js';

const fast: HttpOptions = { retries: 2, retryBaseMs: 1, retryMaxMs: 20, timeoutMs: 2000 };
const ok = { access_token: 'at-123456', token_type: 'Bearer', expires_in: 60 };

after(() => closeAgents());

describe('assertSecureUrl', () => {
  it('accepts https and loopback http', () => {
    for (const u of [
      'https://idp.example.com/token',
      'http://127.0.0.1:8080/token',
      'http://127.9.9.9/token',
      'http://localhost/token',
      'http://[::1]:9/token',
    ]) {
      assert.equal(assertSecureUrl(u, 'token_url').href, new URL(u).href);
    }
  });
  it('refuses http:// to non-loopback hosts', () => {
    for (const u of [
      'http://idp.example.com/token',
      'http://128.0.0.1/t',
      'http://10.0.0.1/t',
      'http://localhost.evil.com/',
    ]) {
      assert.throws(
        () => assertSecureUrl(u, 'token_url'),
        (e) => e instanceof InsecureEndpointError && e.code === 'ERR_INSECURE_ENDPOINT',
      );
    }
  });
  it('throws ConfigError for bad URLs, other schemes and credentials in the URL', () => {
    assert.throws(
      () => assertSecureUrl('not a url', 'token_url'),
      (e) => e instanceof ConfigError && e.key === 'token_url',
    );
    assert.throws(() => assertSecureUrl('ftp://x/y', 'token_url'), ConfigError);
    assert.throws(
      () => assertSecureUrl('https://user:pa55word@x/y', 'token_url'),
      (e) => e instanceof ConfigError && !e.message.includes('pa55word'),
    );
  });
  it("isLoopbackHost's IPv4 check is node:net's isIPv4 (without loading node:net)", () => {
    const seg = fc.oneof(
      fc.integer({ min: 0, max: 300 }).map(String),
      fc.constantFrom('00', '01', '007', '', 'x'),
    );
    const quad = fc
      .tuple(seg, seg, seg, seg, fc.constantFrom('', '.', '\n', ' '))
      .map(([a, b, c, d, tail]) => `${a}.${b}.${c}.${d}${tail}`);
    fc.assert(
      fc.property(fc.oneof(quad, fc.string()), (h) => {
        const expected = isIPv4(h) ? h.startsWith('127.') : undefined;
        // Names and IPv6 forms are decided elsewhere in isLoopbackHost; for a dotted quad it must agree.
        if (expected !== undefined) assert.equal(isLoopbackHost(h), expected, h);
        else if (/^[0-9.]+$/.test(h)) assert.equal(isLoopbackHost(h), false, h);
      }),
      { numRuns: 2000 },
    );
  });

  it('isLoopbackHost and safeUrl', () => {
    assert.equal(isLoopbackHost('[::1]'), true);
    assert.equal(isLoopbackHost('127.0.0.1'), true);
    assert.equal(isLoopbackHost('192.168.1.1'), false);
    assert.equal(safeUrl('https://u:p@h.example/p/t?client_secret=x#f'), 'https://h.example/p/t');
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    assert.equal(parseRetryAfter('3'), 3);
    assert.equal(parseRetryAfter(new Date(10_000 + 5000).toUTCString(), 10_000), 5);
    assert.equal(parseRetryAfter(new Date(0).toUTCString(), 10_000), 0);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(undefined), undefined);
  });
});

describe('requestToken against loopback servers', () => {
  it('POSTs a form with Accept: application/json and returns the JSON object', async () => {
    const s = await startLoopback((_r, res) => json(res, 200, ok));
    try {
      const r = await requestToken(
        { url: `${s.url}/token`, form: { grant_type: 'client_credentials', scope: 'a b', skip: undefined } },
        fast,
      );
      assert.deepEqual(r.body, ok);
      assert.equal(r.status, 200);
      assert.equal(s.requests.length, 1);
      const seen = s.requests[0]!;
      assert.equal(seen.method, 'POST');
      assert.equal(seen.headers['accept'], 'application/json');
      assert.equal(seen.headers['content-type'], 'application/x-www-form-urlencoded');
      assert.equal(seen.body, 'grant_type=client_credentials&scope=a+b');
    } finally {
      await s.close();
    }
  });

  it('POSTs JSON bodies', async () => {
    const s = await startLoopback((_r, res) => json(res, 200, ok));
    try {
      await requestToken({ url: s.url, json: { auth_token: 'x.y.z' } }, fast);
      assert.equal(s.requests[0]!.headers['content-type'], 'application/json');
      assert.deepEqual(JSON.parse(s.requests[0]!.body), { auth_token: 'x.y.z' });
    } finally {
      await s.close();
    }
  });

  it('2xx HTML page → InvalidTokenResponseError saying so', async () => {
    const s = await startLoopback((_r, res) =>
      raw(res, 200, '<!DOCTYPE html><html><body>Sign in</body></html>', 'text/html; charset=utf-8'),
    );
    try {
      await assert.rejects(requestToken({ url: `${s.url}/token`, form: {} }, fast), (e) => {
        assert.ok(e instanceof InvalidTokenResponseError);
        assert.equal(e.code, 'ERR_INVALID_TOKEN_RESPONSE');
        assert.match(
          e.message,
          /token endpoint http:\/\/127\.0\.0\.1:\d+\/token answered HTTP 200 with an HTML page \(content-type text\/html\), not JSON/,
        );
        return true;
      });
      assert.equal(s.requests.length, 1, 'a bad 2xx is not retried');
    } finally {
      await s.close();
    }
  });

  it('2xx empty body, truncated JSON, non-object → precise InvalidTokenResponseError', async () => {
    const cases: Array<[string, string | undefined, RegExp]> = [
      ['', 'application/json', /with an empty body/],
      [
        '{"access_token":"abc","expires_in":3',
        'application/json',
        /with truncated JSON .*content-type application\/json/,
      ],
      ['[1,2]', 'application/json', /JSON that is an array, not an object/],
      ['"just a string"', 'application/json', /JSON that is a string, not an object/],
      ['access_token=abc&x=1', 'text/plain', /malformed JSON/],
    ];
    for (const [body, ct, re] of cases) {
      const s = await startLoopback((_r, res) => raw(res, 200, body, ct));
      try {
        await assert.rejects(requestToken({ url: s.url, form: {} }, fast), (e) => {
          assert.ok(e instanceof InvalidTokenResponseError, String(e));
          assert.match(e.message, re);
          assert.ok(!e.message.includes('abc'));
          return true;
        });
      } finally {
        await s.close();
      }
    }
  });

  it('retries 5xx, then succeeds (3 requests on the server)', async () => {
    const s = await startLoopback((_r, res, n) =>
      n < 3 ? raw(res, 503, 'busy', 'text/plain') : json(res, 200, ok),
    );
    try {
      const r = await requestToken({ url: s.url, form: {} }, fast);
      assert.deepEqual(r.body, ok);
      assert.equal(s.requests.length, 3);
    } finally {
      await s.close();
    }
  });

  it('5xx on every attempt → TokenEndpointError after retries+1 requests', async () => {
    const s = await startLoopback((_r, res) =>
      raw(res, 502, '<html><body>Bad gateway</body></html>', 'text/html'),
    );
    try {
      await assert.rejects(requestToken({ url: s.url, form: {} }, { ...fast, retries: 3 }), (e) => {
        assert.ok(e instanceof TokenEndpointError);
        assert.equal(e.status, 502);
        assert.match(e.message, /answered HTTP 502 after 4 attempts with an HTML error page/);
        return true;
      });
      assert.equal(s.requests.length, 4);
    } finally {
      await s.close();
    }
  });

  it('429 with a Retry-After within retryMaxMs is waited for; a longer one stops at once with retryAfter', async () => {
    const s = await startLoopback((_r, res, n) =>
      n === 1 ? json(res, 429, { error: 'slow_down' }, { 'retry-after': '1' }) : json(res, 200, ok),
    );
    try {
      const r = await requestToken({ url: s.url, form: {} }, { ...fast, retryMaxMs: 1500 });
      assert.deepEqual(r.body, ok);
      assert.equal(s.requests.length, 2);
    } finally {
      await s.close();
    }
    const s2 = await startLoopback((_r, res) =>
      json(res, 429, { error: 'slow_down' }, { 'retry-after': '7' }),
    );
    try {
      await assert.rejects(
        requestToken({ url: s2.url, form: {} }, { ...fast, retries: 1, retryMaxMs: 5 }),
        (e) => {
          assert.ok(e instanceof TokenEndpointError);
          assert.equal(e.code, 'ERR_UPSTREAM_UNAVAILABLE');
          assert.equal(e.status, 429);
          assert.equal(e.retryAfter, 7);
          assert.equal(e.error, 'slow_down');
          return true;
        },
      );
      assert.equal(s2.requests.length, 1, 'a Retry-After beyond the budget is not slept through');
    } finally {
      await s2.close();
    }
  });

  it('400 is not retried: exactly one request, OAuth error fields parsed', async () => {
    const s = await startLoopback((_r, res) =>
      json(res, 400, { error: 'invalid_grant', error_description: 'bad refresh token' }),
    );
    try {
      await assert.rejects(requestToken({ url: s.url, form: {} }, fast), (e) => {
        assert.ok(e instanceof TokenEndpointError);
        assert.equal(e.status, 400);
        assert.equal(e.error, 'invalid_grant');
        assert.equal(e.errorDescription, 'bad refresh token');
        return true;
      });
      assert.equal(s.requests.length, 1);
    } finally {
      await s.close();
    }
  });

  it('401 with an empty body, and with an HTML page, say so', async () => {
    const s = await startLoopback((_r, res, n) =>
      n === 1 ? raw(res, 401, '') : raw(res, 401, '<html>no</html>', 'text/html'),
    );
    try {
      await assert.rejects(
        requestToken({ url: s.url, form: {} }, fast),
        /answered HTTP 401 with an empty body/,
      );
      await assert.rejects(
        requestToken({ url: s.url, form: {} }, fast),
        /answered HTTP 401 with an HTML error page \(content-type text\/html\)/,
      );
      assert.equal(s.requests.length, 2);
    } finally {
      await s.close();
    }
  });

  it('caps the response size (declared and streamed)', async () => {
    const big = JSON.stringify({ access_token: 'x'.repeat(5000) });
    const s = await startLoopback((_r, res, n) => {
      if (n === 1) raw(res, 200, big, 'application/json');
      else {
        res.writeHead(200, { 'content-type': 'application/json' }); // chunked, no content-length
        res.write(big.slice(0, 3000));
        res.end(big.slice(3000));
      }
    });
    try {
      for (let i = 0; i < 2; i++) {
        await assert.rejects(
          requestToken({ url: s.url, form: {} }, { ...fast, maxResponseBytes: 1024 }),
          (e) => {
            assert.ok(e instanceof InvalidTokenResponseError);
            assert.match(e.message, /with a body larger than 1024 bytes; stopped reading/);
            return true;
          },
        );
      }
    } finally {
      await s.close();
    }
  });

  it('times out a server that never answers: NetworkError ERR_TIMEOUT after retries+1 attempts', async () => {
    const s = await startLoopback(() => {
      /* never answers */
    });
    try {
      await assert.rejects(
        requestToken({ url: `${s.url}/token?x=1`, form: {} }, { ...fast, timeoutMs: 100, retries: 1 }),
        (e) => {
          assert.ok(e instanceof NetworkError);
          assert.equal(e.code, 'ERR_TIMEOUT');
          assert.equal(e.attempts, 2);
          assert.match(e.url, /^http:\/\/127\.0\.0\.1:\d+\/token$/);
          assert.match(e.message, /did not answer within 100 ms after 2 attempts/);
          return true;
        },
      );
      // On a loaded machine an attempt can time out before this (same-process) server has read it.
      assert.ok(s.requests.length <= 2);
    } finally {
      await s.close();
    }
  });

  it('connection refused: NetworkError naming the endpoint and attempts', async () => {
    const s = await startLoopback(() => undefined);
    const url = `${s.url}/token`;
    await s.close();
    await assert.rejects(requestToken({ url, form: {} }, { ...fast, retries: 1 }), (e) => {
      assert.ok(e instanceof NetworkError);
      assert.equal(e.code, 'ERR_NETWORK');
      assert.equal(e.attempts, 2);
      assert.match(
        e.message,
        /could not reach token endpoint http:\/\/127\.0\.0\.1:\d+\/token after 2 attempts: connection refused/,
      );
      return true;
    });
  });

  it('refuses http:// to a non-loopback host before sending anything', async () => {
    await assert.rejects(
      requestToken({ url: 'http://idp.example.com/token', form: {} }, fast),
      InsecureEndpointError,
    );
  });

  it('an aborted signal stops the request', async () => {
    const s = await startLoopback(() => undefined);
    try {
      const ac = new AbortController();
      const p = requestToken({ url: s.url, form: {} }, { ...fast, signal: ac.signal });
      setTimeout(() => ac.abort(), 20);
      await assert.rejects(p, (e) => e instanceof NetworkError && /was aborted/.test(e.message));
    } finally {
      await s.close();
    }
  });

  it('reports each attempt to onExchange, redacted', async () => {
    const s = await startLoopback((_r, res, n) =>
      n === 1
        ? raw(res, 500, 'oops')
        : json(res, 200, { ...ok, access_token: 'at-SECRET-9999', refresh_token: 'rt-SECRET-8888' }),
    );
    const seen: HttpExchange[] = [];
    try {
      await requestToken(
        {
          url: s.url,
          form: { grant_type: 'password', username: 'bob', password: 'pw-SECRET-7777' },
          headers: { Authorization: 'Basic Y2xpZW50OnNlY3JldA==' },
        },
        { ...fast, onExchange: (x) => seen.push(x) },
      );
      assert.equal(seen.length, 2);
      assert.deepEqual(
        seen.map((x) => [x.attempt, x.status]),
        [
          [1, 500],
          [2, 200],
        ],
      );
      const text = JSON.stringify(seen);
      for (const secret of ['pw-SECRET-7777', 'at-SECRET-9999', 'rt-SECRET-8888', 'Y2xpZW50OnNlY3JldA==']) {
        assert.ok(!text.includes(secret), `leaked ${secret}`);
      }
      assert.match(seen[0]!.requestBody!, /username=bob/);
      assert.equal(seen[0]!.requestHeaders['Authorization'], 'Basic [REDACTED]');
    } finally {
      await s.close();
    }
  });

  it('getJson GETs a document; requestNoContent accepts an empty 200', async () => {
    const s = await startLoopback((r, res) =>
      r.method === 'GET' ? json(res, 200, { issuer: 'x' }) : raw(res, 200, ''),
    );
    try {
      const d = await getJson(`${s.url}/.well-known/openid-configuration`, {
        ...fast,
        what: 'discovery document',
      });
      assert.deepEqual(d.body, { issuer: 'x' });
      assert.equal(s.requests[0]!.method, 'GET');
      const r = await requestNoContent(
        { url: s.url, form: { token: 'tok-123456' }, what: 'revocation endpoint' },
        fast,
      );
      assert.equal(r.status, 200);
      assert.equal(r.body, undefined);
    } finally {
      await s.close();
    }
  });
});

const cert = selfSignedCert();
describe('TLS', () => {
  it('untrusted self-signed cert → NetworkError (not retried); ca trusts it; insecure skip warns once per origin', async (t) => {
    if (cert === undefined) return missing(t, 'openssl', TLS_CERT_INSTALL);
    const s = await startLoopback((_r, res) => json(res, 200, ok), cert);
    try {
      await assert.rejects(requestToken({ url: s.url, form: {} }, fast), (e) => {
        assert.ok(e instanceof NetworkError);
        assert.equal(e.attempts, 1);
        assert.match(e.message, /TLS error/);
        return true;
      });
      const r = await requestToken({ url: s.url, form: {} }, { ...fast, ca: cert.cert });
      assert.deepEqual(r.body, ok);
      const warnings: string[] = [];
      const onWarning = (w: { code: string; message: string }) => warnings.push(`${w.code} ${w.message}`);
      for (let i = 0; i < 3; i++) {
        await requestToken({ url: s.url, form: {} }, { ...fast, insecureSkipTlsVerify: true, onWarning });
      }
      assert.equal(warnings.length, 1, 'once per origin and hook');
      assert.match(warnings[0]!, /^TLS_VERIFY_DISABLED TLS certificate verification is OFF/);
    } finally {
      await s.close();
    }
  });
});
