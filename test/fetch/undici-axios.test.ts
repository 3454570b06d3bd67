/** What is particular to the undici interceptor and the axios interceptors. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import axios, { AxiosError, type InternalAxiosRequestConfig } from 'axios';
import { Agent, interceptors, request, fetch as undiciFetch } from 'undici';
import { attachAxios, tokenwardInterceptor } from '../../src/fetch/index.js';
import { useFetchServers } from './helpers.js';

const fx = useFetchServers();

describe('undici interceptor', () => {
  it("undici's fetch through the composed dispatcher: token, one retry, no token across origins", async () => {
    const agent = new Agent();
    const dispatcher = agent.compose(tokenwardInterceptor(fx.manager, { origins: [fx.api.url] }));
    try {
      assert.equal((await undiciFetch(`${fx.api.url}/data`, { dispatcher })).status, 200);
      const stale = fx.manager.peek()?.accessToken ?? '';
      fx.api.revoked.add(stale);
      const res = await undiciFetch(`${fx.api.url}/data`, { dispatcher });
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { token?: string }).token, fx.manager.peek()?.accessToken);
      assert.deepEqual(
        fx.api.hits.map((h) => h.authorization === `Bearer ${stale}`),
        [true, true, false],
      );
      assert.equal(fx.tokens.counts.total, 2);
      // fetch follows redirects above the dispatcher: each hop passes the origin check
      const r = await undiciFetch(`${fx.api.url}/to-other`, { dispatcher });
      assert.equal(r.status, 200);
      await r.body?.cancel();
      assert.equal(fx.other.hits.length, 1);
      assert.equal(fx.other.hits[0]?.authorization, undefined);
    } finally {
      await agent.close();
    }
  });

  it('accepts headers as a flat list, pairs or a record, and keeps an Authorization in any of them', async () => {
    const agent = new Agent();
    const dispatcher = agent.compose(tokenwardInterceptor(fx.manager, { origins: [fx.api.url] }));
    try {
      const forms = [
        ['x-a', '1'],
        [['x-a', '1']],
        new Map([['x-a', '1']]),
        { 'x-a': '1' },
      ] as unknown as Array<Record<string, string>>;
      for (const headers of forms) {
        const res = await request(`${fx.api.url}/data`, { dispatcher, headers });
        assert.equal(res.statusCode, 200);
        await res.body.dump();
      }
      const withAuth = [
        ['AUTHORIZATION', 'Basic eDp5'],
        [['Authorization', 'Basic eDp5']],
        { Authorization: 'Basic eDp5' },
      ] as unknown as Array<Record<string, string>>;
      for (const headers of withAuth) {
        const res = await request(`${fx.api.url}/data`, { dispatcher, headers });
        assert.equal(res.statusCode, 401);
        await res.body.dump();
      }
      assert.deepEqual(
        fx.api.hits.map((h) => h.authorization?.split(' ')[0]),
        ['Bearer', 'Bearer', 'Bearer', 'Bearer', 'Basic', 'Basic', 'Basic'],
      );
      assert.equal(fx.tokens.counts.total, 1);
    } finally {
      await agent.close();
    }
  });

  it('composed the other way round (tokenward outside redirect) it still keeps the token on its origin', async () => {
    const agent = new Agent();
    const dispatcher = agent.compose(
      interceptors.redirect({ maxRedirections: 3 }),
      tokenwardInterceptor(fx.manager, { origins: [fx.api.url] }),
    );
    try {
      const res = await request(`${fx.api.url}/to-other`, { dispatcher });
      assert.equal(res.statusCode, 200);
      await res.body.dump();
      assert.match(fx.api.hits[0]?.authorization ?? '', /^Bearer at-/);
      assert.equal(fx.other.hits[0]?.authorization, undefined);
    } finally {
      await agent.close();
    }
  });

  it('composed the other way round, a 401 from a hop the token did not reach is not retried', async () => {
    const agent = new Agent();
    const dispatcher = agent.compose(
      interceptors.redirect({ maxRedirections: 3 }),
      tokenwardInterceptor(fx.manager, { origins: [fx.api.url] }),
    );
    fx.api.other = `${fx.other.url}/data?from=`; // /to-other lands on the other server's /data: 401
    try {
      const res = await request(`${fx.api.url}/to-other`, { dispatcher });
      assert.equal(res.statusCode, 401);
      await res.body.dump();
      assert.equal(fx.api.hits.length, 1, 'no retry');
      assert.deepEqual(
        fx.other.hits.map((h) => h.authorization),
        [undefined],
      );
      assert.equal(fx.tokens.counts.total, 1, 'no renewal');
      // a same-origin chain that ends in our 401 is still retried (the token went all the way)
      fx.api.revoked.add(fx.manager.peek()?.accessToken ?? '');
      fx.api.hits.length = 0;
      const again = await request(`${fx.api.url}/to-self`, { dispatcher });
      assert.equal(again.statusCode, 200);
      await again.body.dump();
      assert.deepEqual(
        fx.api.hits.map((h) => h.path),
        ['/to-self', '/data', '/to-self', '/data'],
      );
      assert.equal(fx.tokens.counts.total, 2);
    } finally {
      fx.api.other = fx.other.url;
      await agent.close();
    }
  });
});

describe('axios interceptors', () => {
  it('with the default validateStatus: the retry resolves, a persistent 401 rejects after two calls', async () => {
    const api1 = axios.create({ baseURL: fx.api.url });
    attachAxios(api1, fx.manager, { origins: [fx.api.url] });
    assert.equal((await api1.get('/data')).status, 200);
    fx.api.revoked.add(fx.manager.peek()?.accessToken ?? '');
    fx.api.hits.length = 0;
    const res = await api1.post('/data', { n: 1 });
    assert.equal(res.status, 200);
    assert.deepEqual(
      fx.api.hits.map((h) => h.body),
      ['{"n":1}', '{"n":1}'],
    );
    fx.api.rejectAll = true;
    fx.api.hits.length = 0;
    await assert.rejects(api1.get('/data', { params: { q: 'x' } }), (err: unknown) => {
      assert.ok(err instanceof AxiosError);
      assert.equal(err.response?.status, 401);
      return true;
    });
    assert.equal(fx.api.hits.length, 2);
    assert.equal(fx.tokens.counts.total, 3, 'grant, renewal, renewal');
  });

  it('the redirect guard drops the header for a hop outside the allow-list (even where axios would keep it)', async () => {
    const instance = axios.create({ baseURL: fx.api.url });
    attachAxios(instance, fx.manager, { origins: [fx.api.url] });
    const res = await instance.get('/data');
    const guard = (res.config as InternalAxiosRequestConfig).beforeRedirect;
    assert.ok(guard !== undefined);
    const foreign = {
      href: `${fx.other.url}/x`,
      headers: {
        Authorization: 'Bearer t',
        Cookie: 'c=1',
        'Proxy-Authorization': 'Basic eDp5',
        'x-keep': '1',
      },
    };
    guard(
      foreign,
      { headers: {}, statusCode: 302 },
      { headers: {}, url: `${fx.api.url}/data`, method: 'GET' },
    );
    assert.deepEqual(foreign.headers, { 'x-keep': '1' });
    const own = { href: `${fx.api.url}/y`, headers: { Authorization: 'Bearer t', cookie: 'c=1' } };
    guard(own, { headers: {}, statusCode: 302 }, { headers: {}, url: `${fx.api.url}/data`, method: 'GET' });
    // same origin: the caller's cookie stays; the hop carries the token the request was signed with
    assert.deepEqual(own.headers, {
      cookie: 'c=1',
      authorization: `Bearer ${fx.manager.peek()?.accessToken}`,
    });
    const byParts = {
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 1,
      headers: { AUTHORIZATION: 'Bearer t' },
    };
    guard(
      byParts,
      { headers: {}, statusCode: 302 },
      { headers: {}, url: `${fx.api.url}/data`, method: 'GET' },
    );
    assert.deepEqual(byParts.headers, {});
  });

  it("a caller's own beforeRedirect still runs", async () => {
    const instance = axios.create({ validateStatus: () => true });
    attachAxios(instance, fx.manager, { origins: [fx.api.url] });
    const seen: string[] = [];
    const res = await instance.get(`${fx.api.url}/to-other`, {
      beforeRedirect: (opts) => {
        seen.push(String(opts['href']));
      },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(seen, [`${fx.other.url}/landing`]);
    assert.equal(fx.other.hits[0]?.authorization, undefined);
  });

  it('detach() removes both interceptors', async () => {
    const instance = axios.create({ validateStatus: () => true });
    const { detach } = attachAxios(instance, fx.manager, { origins: [fx.api.url] });
    detach();
    const res = await instance.get(`${fx.api.url}/data`);
    assert.equal(res.status, 401);
    assert.equal(fx.api.hits[0]?.authorization, undefined);
    assert.equal(fx.api.hits.length, 1);
    assert.equal(fx.tokens.counts.total, 0);
  });
});
