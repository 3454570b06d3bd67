/**
 * The HTTP layer's connection settings reaching the connection (src/http/agent.ts and their use in
 * token-endpoint.ts), pinned for the Stryker group `http-send` (docs/testing.md): the client certificate
 * presented (and pools kept apart by it), `ca` and `insecureSkipTlsVerify` through `proxyDispatcher`,
 * the TLS-off warning only for https with verification off, proxies (absolute form for http targets,
 * CONNECT for https, an https proxy verified even with verification off, credentials registered for
 * redaction, refusals and unreachable proxies as `ProxyError`s retried only when the proxy may recover),
 * `proxyDispatcher`'s close/destroy that leave the shared pools open, and `closeAgents`.
 * Real loopback servers (openssl makes the certificates; without it the tests are reported skipped).
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { request as undiciRequest } from 'undici';
import { NetworkError, ProxyError, type TokenwardWarning } from '../../src/errors.js';
import { closeAgents, dispatcherFor, proxyDispatcher } from '../../src/http/agent.js';
import type { ClientCertificate } from '../../src/http/client-cert.js';
import { requestToken } from '../../src/http/token-endpoint.js';
import { clearRegisteredSecrets, redactText, registrySize } from '../../src/redact.js';
import { type ForwardProxy, startForwardProxy } from '../helpers/forward-proxy.js';
import { json, startLoopback } from '../helpers/loopback.js';
import { missing } from '../helpers/services.js';
import { selfSignedCert, TLS_CERT_INSTALL } from '../helpers/tls-cert.js';

const OK = { access_token: 'at-tls-000001', token_type: 'Bearer', expires_in: 60 };
const fast = { retries: 0, retryBaseMs: 0, retryMaxMs: 0, timeoutMs: 30_000 };

const serverCert = selfSignedCert();
const clientPem = selfSignedCert('tw-client', 'DNS:tw-client');
const proxyCert = selfSignedCert();

/** An https server on 127.0.0.1 that asks for (and records) a client certificate, answering OK. */
interface Endpoint {
  url: string;
  /** The CN of the client certificate of each request, or '' without one. */
  clients: string[];
  close(): Promise<void>;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

async function startEndpoint(tls: { key: string; cert: string }): Promise<Endpoint> {
  const clients: string[] = [];
  const sockets = new Set<Socket>();
  const server = createHttpsServer({ ...tls, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    clients.push(typeof peer.subject?.CN === 'string' ? peer.subject.CN : '');
    req.resume();
    req.on('end', () => json(res, 200, OK));
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const port = await listen(server);
  return {
    url: `https://127.0.0.1:${port}/token`,
    clients,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A proxy that answers every CONNECT with `status`. */
async function refusingProxy(
  status: number,
): Promise<{ url: string; connects: number; close(): Promise<void> }> {
  const state: { url: string; connects: number; close(): Promise<void> } = {
    url: '',
    connects: 0,
    close: async () => undefined,
  };
  const server = createHttpServer((_req, res) => res.writeHead(status).end());
  server.on('connect', (_req: IncomingMessage, socket: Socket) => {
    state.connects++;
    socket.end(`HTTP/1.1 ${status} Nope\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  });
  const port = await listen(server);
  state.url = `http://127.0.0.1:${port}`;
  state.close = async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
  return state;
}

let endpoint: Endpoint | undefined;
before(async () => {
  if (serverCert !== undefined) endpoint = await startEndpoint(serverCert);
});
after(async () => {
  await closeAgents();
  await endpoint?.close();
});

function ready(t: TestContext): Endpoint | undefined {
  if (
    endpoint === undefined ||
    serverCert === undefined ||
    clientPem === undefined ||
    proxyCert === undefined
  ) {
    missing(t, 'openssl', TLS_CERT_INSTALL);
    return undefined;
  }
  return endpoint;
}

/** The endpoint's certificate, to trust it with `ca` ('' when openssl is missing: the tests skip). */
const SERVER_CA = serverCert?.cert ?? '';

const clientCert = (): ClientCertificate => ({
  cert: clientPem?.cert ?? '',
  key: clientPem?.key ?? '',
  thumbprint: '',
});

describe('TLS settings reach the connection', () => {
  it('the client certificate is presented when given, and only then', async (t) => {
    const e = ready(t);
    if (e === undefined) return;
    e.clients.length = 0;
    const ca = SERVER_CA;
    await requestToken({ url: e.url, form: {} }, { ...fast, ca, clientCert: clientCert() });
    await requestToken({ url: e.url, form: {} }, { ...fast, ca });
    assert.deepEqual(e.clients, ['tw-client', '']);
  });

  it('proxyDispatcher: ca, insecureSkipTlsVerify and the client certificate', async (t) => {
    const e = ready(t);
    if (e === undefined) return;
    e.clients.length = 0;
    const send = async (settings: Parameters<typeof proxyDispatcher>[0]) => {
      const dispatcher = await proxyDispatcher({ ...settings, env: {} });
      const res = await undiciRequest(e.url, { method: 'POST', body: '', dispatcher });
      await res.body.text();
      return res.statusCode;
    };
    await assert.rejects(send({}), (err: unknown) => /self-signed|self signed/i.test(String(err)));
    assert.equal(await send({ ca: SERVER_CA }), 200);
    assert.equal(await send({ insecureSkipTlsVerify: true }), 200);
    assert.equal(await send({ insecureSkipTlsVerify: false, ca: SERVER_CA, clientCert: clientCert() }), 200);
    assert.deepEqual(e.clients, ['', '', 'tw-client']);
  });

  it('the TLS-off warning: only for an https URL with verification off', async (t) => {
    const e = ready(t);
    if (e === undefined) return;
    const warnings: TokenwardWarning[] = [];
    const onWarning = (w: TokenwardWarning) => warnings.push(w);
    await requestToken({ url: e.url, form: {} }, { ...fast, ca: SERVER_CA, onWarning });
    const plain = await startLoopback((_r, res) => json(res, 200, OK));
    try {
      await requestToken({ url: plain.url, form: {} }, { ...fast, insecureSkipTlsVerify: true, onWarning });
    } finally {
      await plain.close();
    }
    assert.equal(warnings.length, 0);
    await requestToken({ url: e.url, form: {} }, { ...fast, insecureSkipTlsVerify: true, onWarning });
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['TLS_VERIFY_DISABLED'],
    );
  });

  it('one pool per client certificate: the same one shares it, another (however split) does not', async () => {
    const a = { cert: 'ab', key: 'c', thumbprint: '' };
    const b = { cert: 'a', key: 'bc', thumbprint: '' };
    const pa = await dispatcherFor({ clientCert: a });
    assert.equal(await dispatcherFor({ clientCert: { ...a } }), pa);
    assert.notEqual(await dispatcherFor({ clientCert: b }), pa);
    assert.notEqual(await dispatcherFor({}), pa);
  });
});

describe('proxies', () => {
  let fp: ForwardProxy;
  let authed: ForwardProxy;
  before(async () => {
    fp = await startForwardProxy();
    authed = await startForwardProxy({ credentials: 'puser:ppass-4321' });
  });
  after(async () => {
    await fp.close();
    await authed.close();
  });

  it('an http target is sent to the proxy in absolute form; an https target through a CONNECT tunnel', async (t) => {
    const e = ready(t);
    if (e === undefined) return;
    fp.forwarded.length = 0;
    fp.tunnels.length = 0;
    const plain = await startLoopback((_r, res) => json(res, 200, OK));
    try {
      await requestToken({ url: `${plain.url}/token`, form: {} }, { ...fast, proxy: fp.url, proxyEnv: {} });
      assert.deepEqual(fp.forwarded, [`${plain.url}/token`]);
      assert.deepEqual(fp.tunnels, []);
      await requestToken(
        { url: e.url, form: {} },
        { ...fast, ca: SERVER_CA, proxyEnv: { HTTPS_PROXY: fp.url } },
      );
      assert.deepEqual(fp.tunnels, [new URL(e.url).host]);
    } finally {
      await plain.close();
    }
  });

  it('credentials in the proxy URL are used and registered for redaction (the Basic value too)', async (t) => {
    const e = ready(t);
    if (e === undefined) return;
    await closeAgents();
    clearRegisteredSecrets();
    const port = new URL(authed.url).port;
    await requestToken(
      { url: e.url, form: {} },
      { ...fast, ca: SERVER_CA, proxy: `http://puser:ppass-4321@127.0.0.1:${port}`, proxyEnv: {} },
    );
    const basic = Buffer.from('puser:ppass-4321').toString('base64');
    assert.deepEqual(authed.proxyAuthorizations, [`Basic ${basic}`]);
    assert.equal(redactText(`<${basic}> <ppass-4321>`), '<[REDACTED]> <[REDACTED]>');

    // A user without a password: the Basic value is still a credential.
    clearRegisteredSecrets();
    const userOnly = await startForwardProxy();
    try {
      const plain = await startLoopback((_r, res) => json(res, 200, OK));
      try {
        await requestToken(
          { url: plain.url, form: {} },
          { ...fast, proxy: `http://lonely-user@127.0.0.1:${userOnly.port}`, proxyEnv: {} },
        );
        const b = Buffer.from('lonely-user:').toString('base64');
        assert.equal(redactText(`<${b}>`), '<[REDACTED]>');
        // No credentials: nothing is registered (not even the Basic value of ":").
        clearRegisteredSecrets();
        await closeAgents();
        await requestToken({ url: plain.url, form: {} }, { ...fast, proxy: userOnly.url, proxyEnv: {} });
        assert.deepEqual(registrySize(), { secrets: 0, tokens: 0 });
      } finally {
        await plain.close();
      }
    } finally {
      await userOnly.close();
    }
  });

  it('an https proxy is verified against ca, and even with endpoint verification off', async (t) => {
    const e = ready(t);
    if (e === undefined || proxyCert === undefined) return;
    const tlsProxy = await startForwardProxy({ tls: proxyCert });
    const plain = await startLoopback((_r, res) => json(res, 200, OK));
    try {
      await requestToken(
        { url: plain.url, form: {} },
        { ...fast, ca: proxyCert.cert, proxy: tlsProxy.url, proxyEnv: {} },
      );
      const through = () => tlsProxy.forwarded.length + tlsProxy.tunnels.length;
      assert.equal(through(), 1);
      await assert.rejects(
        requestToken(
          { url: plain.url, form: {} },
          { ...fast, insecureSkipTlsVerify: true, proxy: tlsProxy.url, proxyEnv: {} },
        ),
        (err: unknown) => err instanceof NetworkError && /TLS error/.test(err.message),
      );
      assert.equal(through(), 1);
    } finally {
      await plain.close();
      await tlsProxy.close();
    }
  });

  it('a 407 is a ProxyError, not retried; a refused tunnel 403 neither; 500 and 502 are retried', async (t) => {
    const e = ready(t);
    if (e === undefined) return;
    await assert.rejects(
      requestToken(
        { url: e.url, form: {} },
        { ...fast, retries: 2, ca: SERVER_CA, proxy: authed.url, proxyEnv: {} },
      ),
      (err: unknown) => {
        assert.ok(err instanceof ProxyError, String(err));
        assert.equal(err.status, 407);
        assert.equal(err.attempts, 1);
        assert.equal(err.proxy, authed.url);
        assert.equal(err.proxySource, 'proxy');
        assert.match(
          err.message,
          /: proxy http:\/\/127\.0\.0\.1:\d+ \(proxy\) answered 407: Proxy Authentication Required: give the proxy user/,
        );
        return true;
      },
    );
    const cases: Array<[number, number, string]> = [
      [403, 1, 'the proxy refused the request'],
      [499, 1, 'the proxy refused the request'],
      [500, 2, 'the proxy could not reach the endpoint'],
      [502, 2, 'the proxy could not reach the endpoint'],
    ];
    for (const [status, attempts, hint] of cases) {
      const p = await refusingProxy(status);
      try {
        await assert.rejects(
          requestToken({ url: e.url, form: {} }, { ...fast, retries: 1, proxyEnv: { https_proxy: p.url } }),
          (err: unknown) => {
            assert.ok(err instanceof ProxyError, String(err));
            assert.equal(err.status, status);
            assert.equal(err.attempts, attempts, `${status}`);
            assert.equal(err.code, 'ERR_NETWORK');
            assert.equal(err.proxySource, 'https_proxy');
            assert.ok(
              err.message.endsWith(`: proxy ${p.url} (https_proxy) answered ${status}: ${hint}`),
              err.message,
            );
            return true;
          },
        );
        assert.equal(p.connects, attempts);
      } finally {
        await p.close();
      }
    }
  });

  it("an unreachable proxy is a ProxyError (retried); a failure inside the tunnel stays the endpoint's", async (t) => {
    const e = ready(t);
    if (e === undefined) return;
    const gone = await refusingProxy(500);
    await gone.close();
    await assert.rejects(
      requestToken({ url: e.url, form: {} }, { ...fast, retries: 1, proxy: gone.url, proxyEnv: {} }),
      (err: unknown) => {
        assert.ok(err instanceof ProxyError, String(err));
        assert.equal(err.status, undefined);
        assert.equal(err.attempts, 2);
        assert.ok(
          err.message.endsWith(
            `: connection refused (ECONNREFUSED); is the server running?, through proxy ${gone.url} (proxy)`,
          ),
          err.message,
        );
        return true;
      },
    );
    await assert.rejects(
      requestToken({ url: e.url, form: {} }, { ...fast, retries: 1, proxy: fp.url, proxyEnv: {} }),
      (err: unknown) => {
        assert.ok(err instanceof NetworkError && !(err instanceof ProxyError), String(err));
        assert.equal(err.attempts, 1);
        assert.match(err.message, /TLS error .*, through proxy http:\/\/127\.0\.0\.1:\d+ \(proxy\)$/);
        return true;
      },
    );
  });
});

describe('pools: proxyDispatcher leaves them open, closeAgents closes them', () => {
  it('close() and destroy() resolve or call back at once, and the shared pool keeps working', async (t) => {
    const e = ready(t);
    if (e === undefined) return;
    const d = await proxyDispatcher({ ca: SERVER_CA, env: {} });
    const calledSoon = async (f: (cb: () => void) => void) => {
      let called = 0;
      f(() => called++);
      await new Promise((r) => setImmediate(r));
      return called;
    };
    const closing = d.close();
    assert.ok(closing instanceof Promise);
    await closing;
    const destroying = d.destroy();
    assert.ok(destroying instanceof Promise);
    await destroying;
    assert.equal(await calledSoon((cb) => d.close(cb)), 1);
    assert.equal(await calledSoon((cb) => d.destroy(cb)), 1);
    assert.equal(await calledSoon((cb) => d.destroy(null, cb)), 1);
    const res = await undiciRequest(e.url, { method: 'POST', body: '', dispatcher: d });
    await res.body.text();
    assert.equal(res.statusCode, 200);
  });

  it('closeAgents closes every pool, and survives one already destroyed', async () => {
    const a = await dispatcherFor({ ca: 'closing-test' });
    const b = await dispatcherFor({ ca: 'destroyed-test' });
    await b.destroy();
    await closeAgents();
    assert.equal((a as unknown as { closed: boolean }).closed, true);
    assert.notEqual(await dispatcherFor({ ca: 'closing-test' }), a);
  });
});
