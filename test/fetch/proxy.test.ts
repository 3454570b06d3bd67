/**
 * Requests through a real forward proxy on loopback (test/helpers/forward-proxy.ts), counting what
 * passes through: token requests over a CONNECT tunnel with TLS verified end to end against the test's
 * own certificate, plain-http proxying, NO_PROXY, the profile's `proxy` over the environment, a 407
 * without the password anywhere, and API calls through authFetch, undici and axios. The environment is
 * always passed explicitly: nothing here sets HTTPS_PROXY in the test process.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import axios from 'axios';
import { request } from 'undici';
import { NetworkError, ProxyError } from '../../src/errors.js';
import { attachAxios, createAuthFetch, proxiedFetch, tokenwardInterceptor } from '../../src/fetch/index.js';
import { createTokenManager } from '../../src/front-door.js';
import { closeAgents, proxyDispatcher } from '../../src/http/agent.js';
import { getJson, requestNoContent, requestToken } from '../../src/http/token-endpoint.js';
import { redactText } from '../../src/redact.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { type ForwardProxy, startForwardProxy } from '../helpers/forward-proxy.js';
import { missing } from '../helpers/services.js';
import { selfSignedCert, TLS_CERT_INSTALL } from '../helpers/tls-cert.js';

const NAME = 'api.proxy.test'; // resolvable only by the proxy (its `hosts` map)
const PASSWORD = 'pr0xy-pa55word-Zq9';

/** A server that is both token endpoint (`POST /token`) and API (`GET /data`: 200 with a Bearer token). */
interface Endpoint {
  server: Server;
  port: number;
  tokens: number;
  api: Array<string | undefined>;
  /** Discovery and revocation requests. */
  other: string[];
}

function handler(ep: () => Endpoint) {
  return (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      const e = ep();
      if (req.url === '/.well-known/openid-configuration' || req.url === '/revoke') {
        e.other.push(`${req.method} ${req.url}`);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(req.url === '/revoke' ? '' : JSON.stringify({ issuer: 'x', token_endpoint: 'y' }));
        return;
      }
      if (req.method === 'POST' && req.url === '/token') {
        e.tokens++;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ access_token: `at-proxy-${e.tokens}`, token_type: 'Bearer', expires_in: 3600 }),
        );
        return;
      }
      e.api.push(req.headers.authorization);
      const ok = /^Bearer at-proxy-\d+$/.test(req.headers.authorization ?? '');
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok }));
    });
  };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

const tls = selfSignedCert(NAME, `DNS:${NAME},DNS:*.${NAME},IP:127.0.0.1`);
let https: Endpoint;
let http: Endpoint;
let proxy: ForwardProxy;
let other: ForwardProxy;
let authed: ForwardProxy;

describe('requests through a forward proxy', () => {
  before(async () => {
    if (tls === undefined) return;
    https = {
      server: createHttpsServer({ key: tls.key, cert: tls.cert }),
      port: 0,
      tokens: 0,
      api: [],
      other: [],
    };
    https.server.on(
      'request',
      handler(() => https),
    );
    https.port = await listen(https.server);
    http = { server: createHttpServer(), port: 0, tokens: 0, api: [], other: [] };
    http.server.on(
      'request',
      handler(() => http),
    );
    http.port = await listen(http.server);
    const hosts = Object.fromEntries(
      ['', 'fetch.', 'undici.', 'axios.', 'discovery.', 'revocation.'].map((p) => [
        `${p}${NAME}`,
        '127.0.0.1',
      ]),
    );
    proxy = await startForwardProxy({ hosts });
    other = await startForwardProxy({ hosts });
    authed = await startForwardProxy({ hosts, credentials: `alice:${PASSWORD}` });
  });
  after(async () => {
    if (tls === undefined) return;
    await closeAgents();
    await Promise.all([proxy.close(), other.close(), authed.close()]);
    await Promise.all([https, http].map((e) => new Promise((r) => e.server.close(r))));
  });
  const reset = () => {
    for (const p of [proxy, other, authed]) {
      p.tunnels.length = 0;
      p.forwarded.length = 0;
      p.refused = 0;
      p.proxyAuthorizations.length = 0;
    }
    for (const e of [https, http]) {
      e.tokens = 0;
      e.api.length = 0;
      e.other.length = 0;
    }
  };
  const tokenUrl = () => `https://${NAME}:${https.port}/token`;
  const form = { grant_type: 'client_credentials', client_id: 'c' };

  it('a token request goes through HTTPS_PROXY over CONNECT, TLS verified against the test CA', async (t) => {
    if (tls === undefined) return missing(t, 'openssl', TLS_CERT_INSTALL);
    reset();
    const res = await requestToken(
      { url: tokenUrl(), form },
      { ca: tls.cert, retries: 0, proxyEnv: { HTTPS_PROXY: proxy.url } },
    );
    assert.equal((res.body as { access_token: string }).access_token, 'at-proxy-1');
    assert.deepEqual(proxy.tunnels, [`${NAME}:${https.port}`]);
    assert.equal(https.tokens, 1);
    // Without the CA the certificate inside the tunnel is not trusted: the proxy does not weaken TLS.
    await assert.rejects(
      requestToken({ url: tokenUrl(), form }, { retries: 0, proxyEnv: { https_proxy: proxy.url } }),
      (e: unknown) =>
        e instanceof NetworkError &&
        !(e instanceof ProxyError) && // the endpoint's certificate: not the proxy's failure
        /TLS error/.test(e.message) &&
        e.message.includes(proxy.url),
    );
    assert.equal(proxy.tunnels.length, 2);
    assert.equal(https.tokens, 1);
  });

  it('discovery and revocation requests go through the proxy too', async (t) => {
    if (tls === undefined) return missing(t, 'openssl', TLS_CERT_INSTALL);
    reset();
    // One name each: each its own connection, so its own tunnel to count.
    const at = (name: string) => `https://${name}.${NAME}:${https.port}`;
    const opts = { ca: tls.cert, retries: 0, proxyEnv: { HTTPS_PROXY: proxy.url } };
    await getJson(`${at('discovery')}/.well-known/openid-configuration`, {
      ...opts,
      what: 'discovery document',
    });
    await requestNoContent(
      { url: `${at('revocation')}/revoke`, form: { token: 'at-x' }, what: 'revocation endpoint' },
      opts,
    );
    assert.deepEqual(https.other, ['GET /.well-known/openid-configuration', 'POST /revoke']);
    assert.deepEqual(proxy.tunnels, [`discovery.${NAME}:${https.port}`, `revocation.${NAME}:${https.port}`]);
  });

  it('NO_PROXY bypasses the proxy (nothing passes through it); a remote proxy never gets loopback targets', async (t) => {
    if (tls === undefined) return missing(t, 'openssl', TLS_CERT_INSTALL);
    reset();
    const direct = `https://127.0.0.1:${https.port}/token`;
    for (const noProxy of ['127.0.0.1', '127.0.0.0/8', `127.0.0.1:${https.port}`, '*']) {
      await requestToken(
        { url: direct, form },
        { ca: tls.cert, retries: 0, proxyEnv: { HTTPS_PROXY: proxy.url, NO_PROXY: noProxy } },
      );
    }
    // A proxy elsewhere (as CI may set) is not used for loopback: this one does not even resolve.
    await requestToken(
      { url: direct, form },
      { ca: tls.cert, retries: 0, proxyEnv: { HTTPS_PROXY: 'http://proxy.invalid:3128' } },
    );
    assert.equal(proxy.tunnels.length, 0);
    assert.equal(https.tokens, 5);
    // Without NO_PROXY the loopback proxy is used for the loopback target.
    await requestToken(
      { url: direct, form },
      { ca: tls.cert, retries: 0, proxyEnv: { HTTPS_PROXY: proxy.url } },
    );
    assert.deepEqual(proxy.tunnels, [`127.0.0.1:${https.port}`]);
  });

  it('plain http: an http target through http_proxy is sent to the proxy in absolute form', async (t) => {
    if (tls === undefined) return missing(t, 'openssl', TLS_CERT_INSTALL);
    reset();
    const url = `http://127.0.0.1:${http.port}/token`;
    await requestToken({ url, form }, { retries: 0, proxyEnv: { http_proxy: proxy.url } });
    assert.deepEqual(proxy.forwarded, [url]);
    assert.equal(proxy.tunnels.length, 0);
    assert.equal(http.tokens, 1);
  });

  it("the profile's proxy overrides the environment's, for the manager's token requests", async (t) => {
    if (tls === undefined) return missing(t, 'openssl', TLS_CERT_INSTALL);
    reset();
    const dir = mkdtempSync(join(tmpdir(), 'tokenward-proxy-ca-'));
    try {
      const caFile = join(dir, 'ca.pem');
      writeFileSync(caFile, tls.cert, { mode: 0o600 });
      const manager = await createTokenManager(
        {
          token_url: tokenUrl(),
          client_id: 'c',
          client_secret: 's3cret-value',
          ca_file: caFile,
          proxy: other.url,
          retries: 0,
        },
        { store: new MemoryStore(), env: { HTTPS_PROXY: proxy.url } },
      );
      try {
        assert.equal((await manager.getToken()).accessToken, 'at-proxy-1');
      } finally {
        await manager.close();
      }
      assert.equal(other.tunnels.length, 1);
      assert.equal(proxy.tunnels.length, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a 407 is a ProxyError naming the proxy, never its password; the right password passes', async (t) => {
    if (tls === undefined) return missing(t, 'openssl', TLS_CERT_INSTALL);
    reset();
    const wrong = `http://alice:${encodeURIComponent('not-the-pw-4')}@127.0.0.1:${authed.port}`;
    let caught: unknown;
    try {
      await requestToken({ url: tokenUrl(), form }, { ca: tls.cert, retries: 2, proxy: wrong, proxyEnv: {} });
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof ProxyError, String(caught));
    assert.equal(caught.status, 407);
    assert.equal(caught.proxy, `http://127.0.0.1:${authed.port}`);
    assert.equal(caught.proxySource, 'proxy');
    assert.equal(caught.attempts, 1, 'a 407 is not retried');
    assert.match(caught.message, /Proxy Authentication Required/);
    const shown = JSON.stringify({
      m: caught.message,
      j: caught.toJSON(),
      s: caught.stack,
      c: String(caught.cause),
    });
    assert.doesNotMatch(shown, /not-the-pw-4|alice:/);
    assert.equal(authed.refused, 1);
    assert.equal(https.tokens, 0);
    // A proxy that is not there is the proxy's failure too (no status).
    await assert.rejects(
      requestToken(
        { url: tokenUrl(), form },
        { retries: 0, proxy: `http://u:${PASSWORD}@127.0.0.1:1`, proxyEnv: {} },
      ),
      (e: unknown) =>
        e instanceof ProxyError &&
        e.status === undefined &&
        /ECONNREFUSED.*through proxy http:\/\/127\.0\.0\.1:1 \(proxy\)/.test(e.message) &&
        !e.message.includes(PASSWORD),
    );
    const right = `http://alice:${encodeURIComponent(PASSWORD)}@127.0.0.1:${authed.port}`;
    await requestToken({ url: tokenUrl(), form }, { ca: tls.cert, retries: 0, proxy: right, proxyEnv: {} });
    assert.equal(authed.tunnels.length, 1);
    assert.equal(https.tokens, 1);
    // Once used, the password and the Basic value made of it are redacted wherever they appear.
    const basic = Buffer.from(`alice:${PASSWORD}`).toString('base64');
    assert.equal(redactText(`${PASSWORD} ${basic} ${right}`).includes(PASSWORD), false);
    assert.equal(redactText(basic).includes(basic), false);
  });

  it('API calls through the proxy: authFetch, the undici interceptor, axios', async (t) => {
    if (tls === undefined) return missing(t, 'openssl', TLS_CERT_INSTALL);
    reset();
    // One name per client: each has its own connection (and tunnel) to count.
    const api = (client: string) => `https://${client}.${NAME}:${https.port}`;
    const source = {
      getToken: async () => ({ accessToken: 'at-proxy-7', tokenType: 'Bearer' }),
      invalidate: () => {},
    };
    // authFetch with its default fetch (global fetch) and the profile's proxy; CA through proxiedFetch
    const viaProxy = proxiedFetch({ proxy: proxy.url, ca: tls.cert, env: {} });
    const authFetch = createAuthFetch(source, { origins: [api('fetch')], fetch: viaProxy });
    assert.equal((await authFetch(`${api('fetch')}/data`)).status, 200);
    // the default fetch routes by the proxy option too (a loopback http API, absolute form)
    const plain = createAuthFetch(source, {
      origins: [`http://127.0.0.1:${http.port}`],
      proxy: proxy.url,
      proxyEnv: {},
    });
    assert.equal((await plain(`http://127.0.0.1:${http.port}/data`)).status, 200);
    assert.deepEqual(proxy.forwarded, [`http://127.0.0.1:${http.port}/data`]);
    // undici: the interceptor composed on tokenward's proxy dispatcher
    const dispatcher = (await proxyDispatcher({ proxy: proxy.url, ca: tls.cert, env: {} })).compose(
      tokenwardInterceptor(source, { origins: [api('undici')] }),
    );
    const r = await request(`${api('undici')}/data`, { dispatcher });
    assert.equal(r.statusCode, 200);
    await r.body.dump();
    // axios: its own proxy support tunnels https through CONNECT; tokenward attaches the token inside
    const instance = axios.create({
      proxy: { protocol: 'http', host: '127.0.0.1', port: proxy.port },
      httpsAgent: new (await import('node:https')).Agent({ ca: tls.cert }),
    });
    attachAxios(instance, source, { origins: [api('axios')] });
    assert.equal((await instance.get(`${api('axios')}/data`)).status, 200);
    assert.deepEqual(https.api, ['Bearer at-proxy-7', 'Bearer at-proxy-7', 'Bearer at-proxy-7']);
    assert.deepEqual(
      proxy.tunnels,
      ['fetch', 'undici', 'axios'].map((c) => `${c}.${NAME}:${https.port}`),
    );
    assert.deepEqual(http.api, ['Bearer at-proxy-7']);
  });
});
