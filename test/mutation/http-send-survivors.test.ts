/**
 * The `http-send` group's open mutants of the Stryker run at `72148cc` (src/http/agent.ts and
 * token-endpoint.ts outside `send`), settled (docs/testing.md, "`http-send` settled"): the token request
 * hook on requests that answer no token (`requestNoContent`, `withoutTokenCheck`), a renewed token
 * request that still requires JSON, the Basic prefix of a header only at its start, a header named
 * "undefined", the TLS-off warning's text, one pool per `ca` and per proxy value, a proxy password
 * without a user registered, `localhost` never resolved and look-alikes always resolved, and the
 * proxy's own failures — its name not resolving, for good (`ENOTFOUND`) or for now (`EAI_AGAIN`).
 * Name resolution is made exact by wrapping `node:dns`' `lookup` (which `src/` sees through
 * `syncBuiltinESMExports`) for made-up names only: no query leaves the machine.
 * Real loopback servers only.
 */
import assert from 'node:assert/strict';
import type { LookupOptions } from 'node:dns';
import { after, afterEach, describe, it } from 'node:test';
import { InvalidTokenResponseError, NetworkError, ProxyError, TokenEndpointError } from '../../src/errors.js';
import { closeAgents, dispatcherFor, pinnedLookup } from '../../src/http/agent.js';
import {
  insecureTlsWarning,
  requestNoContent,
  requestToken,
  withoutTokenCheck,
} from '../../src/http/token-endpoint.js';
import type {
  HttpExchange,
  HttpOptions,
  TokenEndpointRequest,
  TokenRequestAnswer,
  TokenRequestHook,
} from '../../src/http/types.js';
import { clearRegisteredSecrets, redactText, registrySize } from '../../src/redact.js';
import { fakeResolver, restoreResolver } from '../helpers/fake-resolver.js';
import { startForwardProxy } from '../helpers/forward-proxy.js';
import { json, raw, startLoopback } from '../helpers/loopback.js';
import { missing } from '../helpers/services.js';
import { selfSignedCert, TLS_CERT_INSTALL } from '../helpers/tls-cert.js';

const OK = { access_token: 'at-surv-000001', token_type: 'Bearer', expires_in: 60 };
/** Generous time limits: nothing here waits on them. */
const fast: HttpOptions = { retries: 0, retryBaseMs: 0, retryMaxMs: 0, timeoutMs: 30_000 };

after(() => closeAgents());

/** A certificate for the made-up endpoint name of the proxy tests (undefined without openssl). */
const idpCert = selfSignedCert('idp.resolver-test', 'DNS:idp.resolver-test');

/** Runs `body` against a loopback server answering with `handler`, and closes it. */
async function withServer(
  handler: Parameters<typeof startLoopback>[0],
  body: (s: Awaited<ReturnType<typeof startLoopback>>) => Promise<void>,
): Promise<void> {
  const s = await startLoopback(handler);
  try {
    await body(s);
  } finally {
    await s.close();
  }
}

/** A hook that records each call, gives `DPoP: proof-<n>`, and asks again when `again` says so. */
function recordingHook(again: (a: TokenRequestAnswer) => boolean) {
  const calls: Array<{ method: string; url: string }> = [];
  const answers: TokenRequestAnswer[] = [];
  const hook: TokenRequestHook = {
    headers: async (target) => {
      calls.push(target);
      return { DPoP: `proof-${calls.length}` };
    },
    onAnswer: (a) => {
      answers.push(a);
      return again(a);
    },
  };
  return { hook, calls, answers };
}

describe('requestNoContent with a token request hook', () => {
  it("each attempt gets fresh hook headers (merged with the caller's); a challenge gets one extra attempt; a 2xx needs no JSON", async () => {
    await withServer(
      (_r, res, n) => (n === 1 ? json(res, 400, { error: 'use_dpop_nonce' }) : raw(res, 200, '')),
      async (s) => {
        const h = recordingHook((a) => a.error === 'use_dpop_nonce');
        const url = `${s.url}/revoke`;
        const seen: HttpExchange[] = [];
        const r = await requestNoContent(
          { url, form: { token: 'x' }, headers: { 'X-Caller': 'kept', dpop: 'replaced' } },
          { ...fast, tokenRequestHook: h.hook, onExchange: (x) => seen.push(x) },
        );
        assert.equal(r.status, 200);
        assert.equal(r.body, undefined);
        assert.deepEqual(h.calls, [
          { method: 'POST', url },
          { method: 'POST', url },
        ]);
        assert.deepEqual(
          s.requests.map((q) => [q.headers['dpop'], q.headers['x-caller'], q.body]),
          [
            ['proof-1', 'kept', 'token=x'],
            ['proof-2', 'kept', 'token=x'],
          ],
        );
        assert.deepEqual(
          seen.map((x) => x.attempt),
          [1, 1],
        );
        // The hook reads the error answer, not the 2xx (which is no token).
        assert.deepEqual(
          h.answers.map((a) => [a.url, a.status, a.error]),
          [[url, 400, 'use_dpop_nonce']],
        );
      },
    );
  });

  it('retries (5xx) get fresh hook headers too', async () => {
    await withServer(
      (_r, res, n) => (n === 1 ? json(res, 503, {}) : raw(res, 200, '{"active":false}', 'application/json')),
      async (s) => {
        const h = recordingHook(() => false);
        const r = await requestNoContent(
          { url: s.url, form: {} },
          { ...fast, retries: 1, tokenRequestHook: h.hook },
        );
        assert.deepEqual(r.body, { active: false });
        assert.deepEqual(
          s.requests.map((q) => q.headers['dpop']),
          ['proof-1', 'proof-2'],
        );
        assert.equal(h.answers.length, 1);
      },
    );
  });
});

describe('withoutTokenCheck', () => {
  it('without a hook: a copy of the options, nothing added', () => {
    const signal = new AbortController().signal;
    const opts: HttpOptions = { retries: 3, timeoutMs: 1234, signal, userAgent: 'ua-test' };
    const copy = withoutTokenCheck(opts);
    assert.notEqual(copy, opts);
    assert.deepEqual(copy, opts);
    assert.deepEqual(Object.keys(copy).sort(), ['retries', 'signal', 'timeoutMs', 'userAgent']);
  });

  it("with a hook: the hook's headers; its answers without the success body, and its answer to them", async () => {
    const h = recordingHook((a) => a.status === 401);
    const opts = withoutTokenCheck({ retries: 2, tokenRequestHook: h.hook });
    assert.equal(opts.retries, 2);
    const wrapped = opts.tokenRequestHook;
    assert.ok(wrapped !== undefined && wrapped !== h.hook, 'a hook of its own');
    assert.deepEqual(await wrapped.headers({ method: 'POST', url: 'https://as.test/par' }), {
      DPoP: 'proof-1',
    });
    assert.deepEqual(h.calls, [{ method: 'POST', url: 'https://as.test/par' }]);
    const headers = { 'dpop-nonce': 'n1' };
    assert.equal(
      wrapped.onAnswer({ url: 'u1', status: 200, headers, body: { request_uri: 'urn:x' } }),
      false,
    );
    assert.equal(wrapped.onAnswer({ url: 'u2', status: 401, headers, error: 'use_dpop_nonce' }), true);
    assert.deepEqual(h.answers, [
      { url: 'u1', status: 200, headers },
      { url: 'u2', status: 401, headers, error: 'use_dpop_nonce' },
    ]);
    assert.equal('body' in (h.answers[0] ?? {}), false);
  });

  it('through requestToken (PAR, introspection): a JSON 2xx reaches the hook without its body', async () => {
    await withServer(
      (_r, res) => json(res, 201, { request_uri: 'urn:ietf:params:oauth:request_uri:abc', expires_in: 60 }),
      async (s) => {
        const h = recordingHook(() => false);
        const r = await requestToken(
          { url: s.url, form: {} },
          withoutTokenCheck({ ...fast, tokenRequestHook: h.hook }),
        );
        assert.deepEqual(r.body, { request_uri: 'urn:ietf:params:oauth:request_uri:abc', expires_in: 60 });
        assert.equal(h.answers.length, 1);
        assert.deepEqual(h.answers[0], { url: `${s.url}/`, status: 201, headers: h.answers[0]?.headers });
      },
    );
  });
});

describe('a renewed token request', () => {
  it('still requires a JSON answer (renew without a hook)', async () => {
    await withServer(
      (_r, res, n) => (n === 1 ? json(res, 503, {}) : raw(res, 200, '<html>ok</html>', 'text/html')),
      async (s) => {
        let renewed = 0;
        const req: TokenEndpointRequest = {
          url: s.url,
          form: { grant_type: 'client_credentials' },
          renew: async () => {
            renewed++;
            return { url: s.url, form: { grant_type: 'client_credentials' } };
          },
        };
        await assert.rejects(requestToken(req, { ...fast, retries: 1 }), InvalidTokenResponseError);
        assert.equal(renewed, 1);
        assert.equal(s.requests.length, 2);
      },
    );
  });
});

describe('what a header registers for redaction', () => {
  it('"basic" after another scheme is not a Basic credential: the value is registered as a token', async () => {
    clearRegisteredSecrets();
    await withServer(
      (_r, res) => json(res, 400, { error: 'invalid_client' }),
      async (s) => {
        await assert.rejects(
          requestToken(
            { url: s.url, form: {}, headers: { Authorization: 'Bearer basic tok-basic-0001' } },
            fast,
          ),
          TokenEndpointError,
        );
      },
    );
    assert.deepEqual(registrySize(), { secrets: 0, tokens: 1 });
    assert.equal(redactText('<basic tok-basic-0001>'), '<[REDACTED]>');
  });
});

describe('the TLS-off warning', () => {
  it('says what is off, for which URL, what it risks and what to do instead', () => {
    assert.equal(
      insecureTlsWarning('https://idp.test/token'),
      'TLS certificate verification is OFF for https://idp.test/token (insecure_skip_tls_verify): anyone on the network path can read and forge tokens and secrets. Never use this outside a lab; give the CA with ca_file instead.',
    );
  });
});

/** Made-up names only the wrapped resolver knows; every other name goes to the real `lookup`. */
const PROXY_NAME = 'tw-proxy.resolver-test';
const IDP_NAME = 'idp.resolver-test';
afterEach(restoreResolver);
const resolver = fakeResolver;

describe("a proxy whose name does not resolve is the proxy's failure", () => {
  // The endpoint is not on loopback by name (a target on loopback goes only through a loopback proxy):
  // the proxy maps IDP_NAME to 127.0.0.1 itself, so tokenward never resolves it.
  for (const [code, reason, retried] of [
    ['ENOTFOUND', 'host not found (ENOTFOUND); check the URL', false],
    ['EAI_AGAIN', 'DNS lookup failed (EAI_AGAIN)', true],
  ] as const) {
    it(`${code}: a ProxyError naming the proxy (${retried ? 'retried' : 'not retried'})`, async () => {
      const fp = await startForwardProxy({ hosts: { [IDP_NAME]: '127.0.0.1' } });
      try {
        const given = resolver(PROXY_NAME, () => code);
        const proxy = `http://${PROXY_NAME}:${fp.port}`;
        await assert.rejects(
          requestToken(
            { url: `https://${IDP_NAME}:9/token`, form: {} },
            { ...fast, retries: 1, proxy, proxyEnv: {} },
          ),
          (err: unknown) => {
            assert.ok(err instanceof ProxyError, String(err));
            assert.equal(err.proxy, proxy);
            assert.equal(err.proxySource, 'proxy');
            assert.equal(err.status, undefined);
            assert.equal(err.attempts, retried ? 2 : 1);
            assert.ok(err.message.endsWith(`: ${reason}, through proxy ${proxy} (proxy)`), err.message);
            return true;
          },
        );
        assert.deepEqual(given, retried ? [code, code] : [code]);
        assert.deepEqual(fp.tunnels, []);
      } finally {
        await fp.close();
      }
    });
  }

  it('EAI_AGAIN for a moment: the next attempt resolves the proxy and goes through it', async (t) => {
    const cert = idpCert;
    if (cert === undefined) return missing(t, 'openssl', TLS_CERT_INSTALL);
    const fp = await startForwardProxy({ hosts: { [IDP_NAME]: '127.0.0.1' } });
    const idp = await startLoopback((_r, res) => json(res, 200, OK), cert);
    try {
      const given = resolver(PROXY_NAME, (n) => (n === 1 ? 'EAI_AGAIN' : undefined));
      const seen: HttpExchange[] = [];
      const proxy = `http://${PROXY_NAME}:${fp.port}`;
      const port = new URL(idp.url).port;
      const r = await requestToken(
        { url: `https://${IDP_NAME}:${port}/token`, form: {} },
        { ...fast, retries: 1, ca: cert.cert, proxy, proxyEnv: {}, onExchange: (x) => seen.push(x) },
      );
      assert.deepEqual(r.body, OK);
      assert.deepEqual(given, ['EAI_AGAIN', 'ok']);
      assert.deepEqual(fp.tunnels, [`${IDP_NAME}:${port}`]);
      assert.equal(idp.requests.length, 1);
      assert.deepEqual(
        seen.map((x) => [x.attempt, x.error ?? x.status]),
        [
          [1, `DNS lookup failed (EAI_AGAIN), through proxy ${proxy} (proxy)`],
          [2, 200],
        ],
      );
    } finally {
      await idp.close();
      await fp.close();
    }
  });

  it("without a proxy the same failure is the endpoint's own (a NetworkError, not a ProxyError)", async () => {
    const given = resolver(IDP_NAME, () => 'ENOTFOUND');
    await assert.rejects(
      requestToken({ url: `https://${IDP_NAME}:9/token`, form: {} }, { ...fast, proxyEnv: {} }),
      (err: unknown) => {
        assert.ok(err instanceof NetworkError && !(err instanceof ProxyError), String(err));
        assert.ok(err.message.endsWith(': host not found (ENOTFOUND); check the URL'), err.message);
        return true;
      },
    );
    assert.deepEqual(given, ['ENOTFOUND']);
  });
});

describe('pinnedLookup and the resolver', () => {
  const look = (host: string, options: LookupOptions) =>
    new Promise<unknown>((resolve, reject) =>
      pinnedLookup(host, options, (err, address, family) =>
        err ? reject(err) : resolve({ address, family }),
      ),
    );

  it('localhost, with or without its trailing dot, in any case, never reaches dns.lookup', async () => {
    const asked: string[] = [];
    resolver('never-asked.resolver-test', () => 'ENOTFOUND', asked);
    for (const host of ['localhost', 'localhost.', 'LOCALHOST', 'Localhost.']) {
      assert.deepEqual(await look(host, {}), { address: '127.0.0.1', family: 4 });
      assert.deepEqual(await look(host, { family: 6 }), { address: '::1', family: 6 });
      assert.deepEqual(await look(host, { all: true }), {
        address: [
          { address: '127.0.0.1', family: 4 },
          { address: '::1', family: 6 },
        ],
        family: undefined,
      });
    }
    assert.deepEqual(asked, []);
  });

  it('a family given as the number 4 or 6 narrows the list too (all: true)', async () => {
    assert.deepEqual(await look('localhost', { family: 4, all: true }), {
      address: [{ address: '127.0.0.1', family: 4 }],
      family: undefined,
    });
    assert.deepEqual(await look('localhost', { family: 6, all: true }), {
      address: [{ address: '::1', family: 6 }],
      family: undefined,
    });
  });

  it('another name asked with all: false gets one address and its family', async () => {
    const host = 'one.resolver-test';
    const given = resolver(host, () => undefined);
    assert.deepEqual(await look(host, { all: false }), { address: '127.0.0.1', family: 4 });
    assert.deepEqual(await look(host, {}), { address: '127.0.0.1', family: 4 });
    assert.deepEqual(given, ['ok', 'ok']);
  });

  it('names that only contain localhost go to dns.lookup (answered here, without a query)', async () => {
    for (const host of ['xlocalhost', 'localhost.x', 'localhost..']) {
      const asked: string[] = [];
      const given = resolver(host, () => 'ENOTFOUND', asked);
      await assert.rejects(look(host, {}), (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOTFOUND');
      await assert.rejects(
        look(host, { all: true }),
        (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOTFOUND',
      );
      assert.deepEqual(asked, [host, host]);
      assert.deepEqual(given, ['ENOTFOUND', 'ENOTFOUND']);
    }
  });
});

describe('one pool per setting, by value', () => {
  it('another ca, another proxy: another pool; the same value: the same pool', async () => {
    const a = await dispatcherFor({ ca: 'PEM-A' });
    const b = await dispatcherFor({ ca: 'PEM-B' });
    assert.notEqual(a, b);
    assert.equal(await dispatcherFor({ ca: 'PEM-A' }), a);
    const route = (port: number) => ({
      uri: `http://127.0.0.1:${port}`,
      shown: `http://127.0.0.1:${port}`,
      source: 'proxy',
    });
    const p1 = await dispatcherFor({}, route(9));
    const p2 = await dispatcherFor({}, route(10));
    assert.notEqual(p1, p2);
    assert.equal(await dispatcherFor({}, route(9)), p1);
    assert.notEqual(p1, await dispatcherFor({}));
    await closeAgents();
  });
});

describe('proxy credentials: a password without a user', () => {
  it('is registered for redaction: the Basic value of ":password" too (undici sends none without both)', async () => {
    clearRegisteredSecrets();
    const fp = await startForwardProxy();
    try {
      await withServer(
        (_r, res) => json(res, 200, OK),
        async (s) => {
          await requestToken(
            { url: s.url, form: {} },
            { ...fast, proxy: `http://:only-pass-4321@127.0.0.1:${fp.port}`, proxyEnv: {} },
          );
        },
      );
      const basic = Buffer.from(':only-pass-4321').toString('base64');
      assert.equal(fp.forwarded.length, 1);
      assert.equal(redactText(`<${basic}> <only-pass-4321>`), '<[REDACTED]> <[REDACTED]>');
    } finally {
      await fp.close();
      await closeAgents();
    }
  });
});

describe('headers merged', () => {
  it('a header literally named "undefined" is sent like any other', async () => {
    await withServer(
      (_r, res) => json(res, 200, OK),
      async (s) => {
        await requestToken(
          { url: s.url, form: {}, headers: { undefined: 'u-value', 'X-After': 'a-value' } },
          fast,
        );
        const h = s.requests[0]?.headers ?? {};
        assert.deepEqual([h['undefined'], h['x-after']], ['u-value', 'a-value']);
      },
    );
  });
});

describe('the form and the request line', () => {
  it('a form is POSTed as application/x-www-form-urlencoded; an undefined field is left out', async () => {
    await withServer(
      (_r, res) => json(res, 200, OK),
      async (s) => {
        const seen: HttpExchange[] = [];
        await requestToken(
          { url: s.url, form: { grant_type: 'client_credentials', scope: undefined, audience: 'api' } },
          { ...fast, onExchange: (x) => seen.push(x) },
        );
        await requestNoContent({ url: s.url, form: { token: 't', hint: undefined } }, fast);
        assert.deepEqual(
          s.requests.map((q) => [q.method, q.headers['content-type'], q.body]),
          [
            ['POST', 'application/x-www-form-urlencoded', 'grant_type=client_credentials&audience=api'],
            ['POST', 'application/x-www-form-urlencoded', 'token=t'],
          ],
        );
        assert.equal(seen[0]?.method, 'POST');
      },
    );
  });
});

describe('aborts and timeouts, by attempt', () => {
  it('an abort during the wait after the second attempt counts two attempts', async () => {
    await withServer(
      (_r, res, n) => json(res, 503, {}, { 'retry-after': n === 1 ? '0' : '1000' }),
      async (s) => {
        const ac = new AbortController();
        const events: string[] = [];
        await assert.rejects(
          requestToken(
            { url: s.url, form: {} },
            {
              ...fast,
              retries: 5,
              retryMaxMs: 10_000_000,
              signal: ac.signal,
              onExchange: (x) => {
                events.push(`attempt ${x.attempt}: ${x.status}`);
                // Aborted once the second answer is in: the wait of 1000 s it asks for is cut short.
                if (x.attempt === 2) setImmediate(() => ac.abort());
              },
            },
          ),
          (e: unknown) => {
            assert.ok(e instanceof NetworkError, String(e));
            assert.equal(e.attempts, 2);
            assert.match(e.message, /was aborted$/);
            return true;
          },
        );
        assert.deepEqual(events, ['attempt 1: 503', 'attempt 2: 503']);
        assert.equal(s.requests.length, 2);
      },
    );
  });

  it('a signal aborted before the call does nothing: no pool, no proxy credentials registered, no request', async () => {
    clearRegisteredSecrets();
    const fp = await startForwardProxy();
    try {
      await withServer(
        (_r, res) => json(res, 200, OK),
        async (s) => {
          await assert.rejects(
            requestToken(
              { url: s.url, form: {} },
              {
                ...fast,
                proxy: `http://puser:pre-abort-pass-1@127.0.0.1:${fp.port}`,
                proxyEnv: {},
                signal: AbortSignal.abort(),
              },
            ),
            (e: unknown) => e instanceof NetworkError && e.attempts === 1 && /was aborted$/.test(e.message),
          );
          assert.deepEqual(registrySize(), { secrets: 0, tokens: 0 });
          assert.equal(s.requests.length, 0);
          assert.equal(fp.forwarded.length, 0);
        },
      );
    } finally {
      await fp.close();
    }
  });

  it('a timed-out attempt is retried: two attempts, both timed out, "after 2 attempts"', async () => {
    await withServer(
      () => undefined, // never answers
      async (s) => {
        const seen: HttpExchange[] = [];
        await assert.rejects(
          requestToken(
            { url: s.url, form: {} },
            { ...fast, retries: 1, timeoutMs: 50, onExchange: (x) => seen.push(x) },
          ),
          (e: unknown) => {
            assert.ok(e instanceof NetworkError, String(e));
            assert.equal(e.code, 'ERR_TIMEOUT');
            assert.equal(e.attempts, 2);
            assert.match(e.message, /did not answer within 50 ms after 2 attempts;/);
            return true;
          },
        );
        assert.deepEqual(
          seen.map((x) => [x.attempt, x.error]),
          [
            [1, 'timeout'],
            [2, 'timeout'],
          ],
        );
      },
    );
  });
});
