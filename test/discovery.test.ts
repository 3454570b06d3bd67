import assert from 'node:assert/strict';
import { after, beforeEach, describe, it } from 'node:test';
import { clearDiscoveryCache, discover, discoveryUrls } from '../src/discovery.js';
import { ConfigError, InvalidTokenResponseError, NetworkError, TokenEndpointError } from '../src/errors.js';
import { closeAgents } from '../src/http/agent.js';
import { json, raw, startLoopback } from './helpers/loopback.js';

const http = { retries: 0, timeoutMs: 2000 };
after(() => closeAgents());
beforeEach(() => clearDiscoveryCache());

describe('discovery', () => {
  it('builds OIDC and path-aware RFC 8414 URLs', () => {
    assert.deepEqual(discoveryUrls('https://idp.example.com'), [
      'https://idp.example.com/.well-known/openid-configuration',
      'https://idp.example.com/.well-known/oauth-authorization-server',
    ]);
    assert.deepEqual(discoveryUrls('https://idp.example.com/tenant/1/'), [
      'https://idp.example.com/tenant/1/.well-known/openid-configuration',
      'https://idp.example.com/.well-known/oauth-authorization-server/tenant/1',
    ]);
  });

  it('falls back to RFC 8414 (path inserted after the host) when the OIDC document is missing', async () => {
    const s = await startLoopback((r, res) => {
      if (r.url === '/.well-known/oauth-authorization-server/tenant') {
        json(res, 200, { issuer: `${s.url}/tenant`, token_endpoint: `${s.url}/tenant/token` });
      } else raw(res, 404, 'not found', 'text/plain');
    });
    try {
      const doc = await discover(`${s.url}/tenant`, http);
      assert.equal(doc.token_endpoint, `${s.url}/tenant/token`);
      assert.deepEqual(
        s.requests.map((r) => r.url),
        ['/tenant/.well-known/openid-configuration', '/.well-known/oauth-authorization-server/tenant'],
      );
    } finally {
      await s.close();
    }
  });

  it('refuses a document whose issuer differs', async () => {
    const s = await startLoopback((_r, res) =>
      json(res, 200, { issuer: 'https://evil.example.com', token_endpoint: 'https://evil.example.com/t' }),
    );
    try {
      await assert.rejects(
        discover(s.url, http),
        (e) => e instanceof ConfigError && e.key === 'issuer' && /names "https:\/\/evil/.test(e.message),
      );
    } finally {
      await s.close();
    }
  });

  it('refuses a document without token_endpoint, or with an http:// one to a remote host', async () => {
    const s = await startLoopback((_r, res, n) =>
      json(
        res,
        200,
        n <= 2 ? { issuer: s.url } : { issuer: s.url, token_endpoint: 'http://idp.example.com/token' },
      ),
    );
    try {
      await assert.rejects(discover(s.url, http), InvalidTokenResponseError);
      await assert.rejects(
        discover(s.url, http),
        (e) => (e as { code?: string }).code === 'ERR_INSECURE_ENDPOINT',
      );
    } finally {
      await s.close();
    }
  });

  it('shares one in-flight fetch, caches, does not cache failures, and refetches after max age', async () => {
    let fail = true;
    const s = await startLoopback((_r, res) =>
      fail ? raw(res, 500, 'down') : json(res, 200, { issuer: s.url, token_endpoint: `${s.url}/token` }),
    );
    try {
      await assert.rejects(discover(s.url, http), TokenEndpointError);
      assert.equal(s.requests.length, 1, 'a 5xx does not fall back to RFC 8414');
      fail = false;
      let now = 1_000;
      const opts = { now: () => now, maxAgeMs: 60_000 };
      const all = await Promise.all([1, 2, 3].map(() => discover(s.url, http, opts)));
      assert.equal(new Set(all).size, 1);
      assert.equal(s.requests.length, 2);
      now += 59_000;
      await discover(s.url, http, opts);
      assert.equal(s.requests.length, 2);
      now += 2_000;
      await discover(s.url, http, opts);
      assert.equal(s.requests.length, 3);
    } finally {
      await s.close();
    }
  });

  it('a network failure is a NetworkError', async () => {
    const s = await startLoopback(() => undefined);
    const url = s.url;
    await s.close();
    await assert.rejects(discover(url, http), NetworkError);
  });
});
