/** authFetch specifics: inputs (Request, URL), redirects it follows itself, errors, token types. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, InsecureEndpointError, NetworkError, TokenEndpointError } from '../../src/errors.js';
import { type AuthFetch, createAuthFetch, type TokenSource } from '../../src/fetch/index.js';
import { useFetchServers } from './helpers.js';

const fx = useFetchServers();

/** Revokes the manager's current token on the API (as if it expired there). */
async function staleToken(f: AuthFetch): Promise<string> {
  assert.equal((await f(`${fx.api.url}/data`)).status, 200);
  const t = fx.manager.peek()?.accessToken ?? '';
  fx.api.revoked.add(t);
  fx.api.hits.length = 0;
  return t;
}

describe('authFetch inputs', () => {
  it('accepts a URL object', async () => {
    const f = createAuthFetch(fx.manager, { origins: [fx.api.url] });
    const res = await f(new URL('/data', fx.api.url));
    assert.equal(res.status, 200);
    assert.match(fx.api.hits[0]?.authorization ?? '', /^Bearer at-/);
  });

  it('a Request with a body is cloned first and replayed on the retry', async () => {
    const f = createAuthFetch(fx.manager, { origins: [fx.api.url] });
    await staleToken(f);
    const req = new Request(`${fx.api.url}/data`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-trace': 'abc' },
      body: '{"hello":"world"}',
    });
    const res = await f(req);
    assert.equal(res.status, 200);
    assert.deepEqual(
      fx.api.hits.map((h) => [h.method, h.body]),
      [
        ['POST', '{"hello":"world"}'],
        ['POST', '{"hello":"world"}'],
      ],
    );
    assert.equal(fx.tokens.counts.total, 2);
  });

  it('a Request built on a ReadableStream body is replayed from its clone', async () => {
    const f = createAuthFetch(fx.manager, { origins: [fx.api.url] });
    await staleToken(f);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('chunk-1;'));
        c.enqueue(new TextEncoder().encode('chunk-2'));
        c.close();
      },
    });
    const req = new Request(`${fx.api.url}/data`, {
      method: 'PUT',
      body: stream,
      duplex: 'half',
    } as RequestInit);
    assert.equal((await f(req)).status, 200);
    assert.deepEqual(
      fx.api.hits.map((h) => h.body),
      ['chunk-1;chunk-2', 'chunk-1;chunk-2'],
    );
  });

  it('init.headers override a Request’s headers, as with fetch; an Authorization there is kept', async () => {
    const f = createAuthFetch(fx.manager, { origins: [fx.api.url] });
    const req = new Request(`${fx.api.url}/data`, { headers: { authorization: 'Basic eDp5' } });
    assert.equal((await f(req)).status, 401);
    assert.equal(fx.api.hits[0]?.authorization, 'Basic eDp5');
    assert.equal(fx.tokens.counts.total, 0);
    const res = await f(req, { headers: { 'x-other': '1' } });
    assert.equal(res.status, 200);
    assert.match(fx.api.hits[1]?.authorization ?? '', /^Bearer at-/);
  });

  it('replays URLSearchParams, Blob, ArrayBuffer, Uint8Array and FormData bodies', async () => {
    const f = createAuthFetch(fx.manager, { origins: [fx.api.url] });
    const form = new FormData();
    form.set('k', 'v');
    const bodies: Array<[NonNullable<RequestInit['body']>, RegExp]> = [
      [new URLSearchParams({ a: '1' }), /^a=1$/],
      [new Blob(['blob-body']), /^blob-body$/],
      [new TextEncoder().encode('bytes-body').buffer as ArrayBuffer, /^bytes-body$/],
      [new TextEncoder().encode('u8-body'), /^u8-body$/],
      [form, /name="k"\r\n\r\nv\r\n/],
    ];
    for (const [body, expected] of bodies) {
      await staleToken(f);
      const res = await f(`${fx.api.url}/data`, { method: 'POST', body });
      assert.equal(res.status, 200);
      assert.equal(fx.api.hits.length, 2);
      for (const h of fx.api.hits) assert.match(h.body, expected);
    }
  });
});

describe('authFetch redirects', () => {
  it('never hands redirects to the underlying fetch, and drops the token on a cross-origin hop', async () => {
    const calls: Array<{ url: string; redirect: RequestInit['redirect']; authorization: string | null }> = [];
    const recording: AuthFetch = (input, init) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      calls.push({
        url,
        redirect: init?.redirect,
        authorization: new Headers(init?.headers).get('authorization'),
      });
      return fetch(input, init);
    };
    const f = createAuthFetch(fx.manager, { origins: [fx.api.url], fetch: recording });
    const res = await f(`${fx.api.url}/to-other`);
    assert.equal(res.status, 200);
    assert.equal(res.redirected, true);
    assert.equal(res.url, `${fx.other.url}/landing`);
    assert.deepEqual(
      calls.map((c) => [c.url, c.redirect, c.authorization?.startsWith('Bearer ') ?? false]),
      [
        [`${fx.api.url}/to-other`, 'manual', true],
        [`${fx.other.url}/landing`, 'manual', false],
      ],
    );
    assert.equal(fx.other.hits[0]?.authorization, undefined);
  });

  it('307 keeps the method and body; 303 turns a POST into a GET without body', async () => {
    const f = createAuthFetch(fx.manager, { origins: [fx.api.url] });
    const r307 = await f(`${fx.api.url}/to-self?status=307`, {
      method: 'POST',
      body: 'payload',
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(r307.status, 200);
    assert.deepEqual(
      fx.api.hits.map((h) => [h.path, h.method, h.body]),
      [
        ['/to-self', 'POST', 'payload'],
        ['/data', 'POST', 'payload'],
      ],
    );
    fx.api.hits.length = 0;
    const r303 = await f(`${fx.api.url}/to-self?status=303`, { method: 'POST', body: 'payload' });
    assert.equal(r303.status, 200);
    assert.deepEqual(
      fx.api.hits.map((h) => [h.path, h.method, h.body]),
      [
        ['/to-self', 'POST', 'payload'],
        ['/data', 'GET', ''],
      ],
    );
  });

  it('a 401 at the end of a same-origin redirect retries the whole chain once', async () => {
    const f = createAuthFetch(fx.manager, { origins: [fx.api.url] });
    await staleToken(f);
    const res = await f(`${fx.api.url}/to-self`);
    assert.equal(res.status, 200);
    assert.deepEqual(
      fx.api.hits.map((h) => h.path),
      ['/to-self', '/data', '/to-self', '/data'],
    );
    assert.equal(fx.tokens.counts.total, 2);
  });

  it("the caller's redirect: 'manual' is honoured: the 3xx comes back, nothing is followed", async () => {
    const f = createAuthFetch(fx.manager, { origins: [fx.api.url] });
    const res = await f(`${fx.api.url}/to-other`, { redirect: 'manual' });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), `${fx.other.url}/landing`);
    assert.equal(fx.other.hits.length, 0);
  });

  it('a 307 with a stream body cannot be followed: NetworkError, as fetch would fail', async () => {
    const f = createAuthFetch(fx.manager, { origins: [fx.api.url] });
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('once'));
        c.close();
      },
    });
    await assert.rejects(
      f(`${fx.api.url}/to-self?status=307`, { method: 'POST', body, duplex: 'half' } as RequestInit),
      (err: unknown) => err instanceof NetworkError && /sent only once/.test(err.message),
    );
  });

  it('more than 20 redirects fail with NetworkError', async () => {
    const f = createAuthFetch(fx.manager, { origins: [fx.api.url] });
    await assert.rejects(
      f(`${fx.api.url}/loop`),
      (err: unknown) => err instanceof NetworkError && /20 redirects/.test(err.message),
    );
    assert.equal(fx.api.hitsTo('/loop').length, 21);
  });
});

describe('authFetch errors and token types', () => {
  it('when the renewal after a 401 fails, its error is thrown', async () => {
    const f = createAuthFetch(fx.manager, { origins: [fx.api.url] });
    const stale = await staleToken(f);
    fx.tokens.fault = { status: 400, body: JSON.stringify({ error: 'invalid_client' }) };
    await assert.rejects(f(`${fx.api.url}/data`), (err: unknown) => {
      assert.ok(err instanceof TokenEndpointError);
      assert.equal(err.error, 'invalid_client');
      assert.doesNotMatch(err.message, new RegExp(stale));
      return true;
    });
    assert.equal(fx.api.hits.length, 1);
  });

  it('normalises the token type: bearer -> Bearer, missing -> Bearer, others as given', async () => {
    const seen: string[] = [];
    for (const tokenType of ['bearer', '', 'BEARER', 'MAC']) {
      const source: TokenSource = {
        getToken: async () => ({ accessToken: 'at-custom', tokenType }),
        invalidate: () => {},
      };
      const f = createAuthFetch(source, { origins: [fx.api.url] });
      await f(`${fx.api.url}/data`);
      seen.push(fx.api.hits.at(-1)?.authorization ?? '');
    }
    assert.deepEqual(seen, ['Bearer at-custom', 'Bearer at-custom', 'Bearer at-custom', 'MAC at-custom']);
  });

  it('a custom TokenSource is invalidated with the rejected token and asked again, once', async () => {
    let n = 0;
    const invalidated: string[] = [];
    const source: TokenSource = {
      getToken: async () => ({ accessToken: `at-src-${++n}`, tokenType: 'Bearer' }),
      invalidate: (t) => invalidated.push(t),
    };
    fx.api.revoked.add('at-src-1');
    const f = createAuthFetch(source, { origins: [fx.api.url] });
    assert.equal((await f(`${fx.api.url}/data`)).status, 200);
    assert.deepEqual(invalidated, ['at-src-1']);
    assert.deepEqual(
      fx.api.hits.map((h) => h.authorization),
      ['Bearer at-src-1', 'Bearer at-src-2'],
    );
  });

  it('an aborted signal stops the call', async () => {
    const f = createAuthFetch(fx.manager, { origins: [fx.api.url] });
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    await assert.rejects(f(`${fx.api.url}/data`, { signal: ac.signal }), /stop/);
    assert.equal(fx.api.hits.length, 0);
    assert.equal(fx.tokens.counts.total, 0, 'no token flight was started');
  });

  it('rejects an empty or insecure allow-list at creation', () => {
    assert.throws(() => createAuthFetch(fx.manager, { origins: [] }), ConfigError);
    assert.throws(() => createAuthFetch(fx.manager, { origins: ['not a url'] }), ConfigError);
    assert.throws(
      () => createAuthFetch(fx.manager, { origins: ['http://api.example.com'] }),
      InsecureEndpointError,
    );
    assert.throws(
      () => createAuthFetch(fx.manager, { origins: ['https://u:p@fx.api.example.com'] }),
      ConfigError,
    );
  });
});
