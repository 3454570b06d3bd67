/**
 * Certificate-bound access tokens (RFC 8705 §3) through authFetch, the undici interceptor and axios:
 * the requests that carry the token present the client certificate — the manager's own (its profile's
 * `tls_cert`, through `TokenSource.clientCertificate`), or an explicit `clientCert`, which wins — so a
 * loopback HTTPS API that checks `cnf.x5t#S256` accepts them; a request (or a redirect hop) to an
 * origin outside the allow-list presents no certificate (a second loopback HTTPS server records what
 * it was shown).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createHttpsServer, Agent as HttpsAgent } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { TLSSocket } from 'node:tls';
import axios, { type AxiosResponse } from 'axios';
import { Agent, type Dispatcher, interceptors, request } from 'undici';
import { createAuthFetch } from '../../src/fetch/auth-fetch.js';
import { type AttachAxiosOptions, attachAxios } from '../../src/fetch/axios.js';
import type { TokenSource } from '../../src/fetch/shared.js';
import { type TokenwardInterceptorOptions, tokenwardInterceptor } from '../../src/fetch/undici.js';
import { createTokenManager } from '../../src/front-door.js';
import { closeAgents } from '../../src/http/agent.js';
import { type ClientCertificate, loadClientCertificate } from '../../src/http/client-cert.js';
import type { TokenManager } from '../../src/manager/token-manager.js';
import {
  type MtlsProvider,
  makePki,
  mtlsProfile,
  PKI_INSTALL,
  type Pki,
  startBoundApi,
  startMtlsProvider,
  withoutCertificate,
} from '../helpers/mtls.js';
import { missing } from '../helpers/services.js';

type Api = Awaited<ReturnType<typeof startBoundApi>>;

/**
 * A loopback HTTPS server that answers every request with a 302 to `location`, noting the client
 * certificate it was shown and whether the request carried an Authorization header.
 */
async function startRedirector(
  p: Pki,
  location: string,
): Promise<{
  url: string;
  seen: { presented: string | undefined; authorized: boolean }[];
  close(): Promise<void>;
}> {
  const seen: { presented: string | undefined; authorized: boolean }[] = [];
  const server = createHttpsServer({
    key: p.server.key,
    cert: p.server.cert,
    ca: p.ca,
    requestCert: true,
    rejectUnauthorized: false,
  });
  server.on('request', (req, res) => {
    const raw = (req.socket as TLSSocket).getPeerCertificate().raw as Buffer | undefined;
    const presented = raw === undefined ? undefined : createHash('sha256').update(raw).digest('base64url');
    seen.push({ presented, authorized: req.headers.authorization !== undefined });
    res.writeHead(302, { location });
    res.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    seen,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

let pki: Pki | undefined;
let op: MtlsProvider | undefined;
/** The API the token may go to. */
let api: Api | undefined;
/** Another origin: not in the allow-list. */
let foreign: Api | undefined;

before(async () => {
  pki = makePki();
  if (pki === undefined) return;
  op = await startMtlsProvider(pki);
  api = await startBoundApi(pki, `${op.issuer}/token/introspection`, op.clients.rs);
  foreign = await startBoundApi(pki, `${op.issuer}/token/introspection`, op.clients.rs);
});
after(async () => {
  await api?.close();
  await foreign?.close();
  await op?.close();
  await closeAgents();
  pki?.cleanup();
});

interface Ready {
  pki: Pki;
  op: MtlsProvider;
  api: Api;
  foreign: Api;
  clientCert: ClientCertificate;
  /** A certificate of the same CA that the provider's client does not name. */
  otherCert: ClientCertificate;
  manager: TokenManager;
}

async function ready(t: TestContext): Promise<Ready | undefined> {
  if (pki === undefined || op === undefined || api === undefined || foreign === undefined) {
    missing(t, 'openssl', PKI_INSTALL);
    return undefined;
  }
  op.resetCounts();
  api.seen.splice(0);
  foreign.seen.splice(0);
  const manager = await createTokenManager(mtlsProfile(op), {
    env: { CERT: pki.client.cert, KEY: pki.client.key },
    http: { ca: pki.ca },
  });
  t.after(() => manager.close());
  const clientCert = loadClientCertificate({ cert: pki.client.cert, key: pki.client.key });
  const otherCert = loadClientCertificate({ cert: pki.other.cert, key: pki.other.key });
  return { pki, op, api, foreign, clientCert, otherCert, manager };
}

/** The redirector saw the token and the certificate; the origin it sent to, neither. */
function assertHopOnly(
  r: Ready,
  hop: { seen: { presented: string | undefined; authorized: boolean }[] },
): void {
  assert.deepEqual(hop.seen, [{ presented: r.pki.thumbprint(r.pki.client.cert), authorized: true }]);
  assert.deepEqual(r.foreign.seen, [{ presented: undefined, status: 401 }]);
}

/**
 * Requests the bound API refuses: an explicit clientCert other than the bound one (it wins over the
 * manager's), and a source without the hook (no certificate at all).
 */
const REFUSALS: {
  title: string;
  setup(r: Ready): { source: TokenSource; options: { clientCert?: ClientCertificate }; presented?: string };
}[] = [
  {
    title: "an explicit clientCert wins over the manager's (the API refuses the other certificate)",
    setup: (r) => ({
      source: r.manager,
      options: { clientCert: r.otherCert },
      presented: r.pki.thumbprint(r.pki.other.cert),
    }),
  },
  {
    title: 'a source without the hook presents no certificate: the bound token is refused',
    setup: (r) => ({ source: withoutCertificate(r.manager), options: {} }),
  },
];

describe('the undici interceptor and the client certificate', () => {
  /** A dispatcher on an Agent that trusts the test CA, with tokenward composed on it. */
  function composed(
    t: TestContext,
    r: Ready,
    source: TokenSource,
    options: Partial<TokenwardInterceptorOptions>,
  ) {
    const base = new Agent({ connect: { ca: r.pki.ca } });
    t.after(() => base.close());
    return base.compose(tokenwardInterceptor(source, { origins: [r.api.url], ca: r.pki.ca, ...options }));
  }

  for (const explicit of [true, false]) {
    const how = explicit ? 'with clientCert' : "without clientCert (the manager's)";
    it(`${how}: the certificate to the allowed origin (200), none to another`, async (t) => {
      const r = await ready(t);
      if (r === undefined) return;
      const dispatcher = composed(t, r, r.manager, explicit ? { clientCert: r.clientCert } : {});
      for (let i = 0; i < 2; i++) {
        // The second time the pool with the certificate is ready (no promise on the way).
        const res: Dispatcher.ResponseData = await request(`${r.api.url}/v1/items`, { dispatcher });
        assert.equal(res.statusCode, 200);
        assert.deepEqual(await res.body.json(), { ok: true, client_id: r.op.clients.pki });
      }
      const away = await request(`${r.foreign.url}/v1/items`, { dispatcher });
      assert.equal(away.statusCode, 401);
      assert.deepEqual(await away.body.json(), { error: 'no token' });
      const thumb = r.pki.thumbprint(r.pki.client.cert);
      assert.deepEqual(r.api.seen, [
        { presented: thumb, status: 200 },
        { presented: thumb, status: 200 },
      ]);
      assert.deepEqual(r.foreign.seen, [{ presented: undefined, status: 401 }]);
      assert.equal(r.op.counts.mtlsToken, 1, 'one token, at the mTLS alias');
    });
  }

  for (const c of REFUSALS) {
    it(c.title, async (t) => {
      const r = await ready(t);
      if (r === undefined) return;
      const { source, options, presented } = c.setup(r);
      const dispatcher = composed(t, r, source, { ...options, retryOn401: false });
      const res = await request(`${r.api.url}/v1/items`, { dispatcher });
      assert.equal(res.statusCode, 401);
      assert.deepEqual(await res.body.json(), { error: 'certificate does not match the token' });
      assert.deepEqual(r.api.seen, [{ presented, status: 401 }]);
    });
  }

  it('with the redirect interceptor outside it: a hop to another origin gets neither token nor certificate', async (t) => {
    const r = await ready(t);
    if (r === undefined) return;
    const hop = await startRedirector(r.pki, `${r.foreign.url}/v1/items`);
    t.after(() => hop.close());
    const dispatcher = composed(t, r, r.manager, { origins: [r.api.url, hop.url] }).compose(
      interceptors.redirect({ maxRedirections: 2 }),
    );
    const res = await request(`${hop.url}/start`, { dispatcher });
    assert.equal(res.statusCode, 401);
    assert.deepEqual(await res.body.json(), { error: 'no token' });
    assertHopOnly(r, hop);
  });
});

describe('attachAxios and the client certificate', () => {
  /** An axios instance whose own agent trusts the test CA, with tokenward attached. */
  function attached(t: TestContext, r: Ready, source: TokenSource, options: Partial<AttachAxiosOptions>) {
    const own = new HttpsAgent({ ca: r.pki.ca });
    t.after(() => own.destroy());
    const instance = axios.create({ httpsAgent: own, validateStatus: () => true });
    const { detach } = attachAxios(instance, source, { origins: [r.api.url], ca: r.pki.ca, ...options });
    t.after(detach);
    return { instance, own };
  }

  for (const explicit of [true, false]) {
    const how = explicit ? 'with clientCert' : "without clientCert (the manager's)";
    it(`${how}: the certificate to the allowed origin (200), none to another`, async (t) => {
      const r = await ready(t);
      if (r === undefined) return;
      const { instance, own } = attached(t, r, r.manager, explicit ? { clientCert: r.clientCert } : {});
      for (let i = 0; i < 2; i++) {
        const res: AxiosResponse = await instance.get(`${r.api.url}/v1/items`);
        assert.equal(res.status, 200);
        assert.deepEqual(res.data, { ok: true, client_id: r.op.clients.pki });
      }
      const away = await instance.get(`${r.foreign.url}/v1/items`);
      assert.equal(away.status, 401);
      assert.deepEqual(away.data, { error: 'no token' });
      assert.equal(away.config.httpsAgent, own, "the foreign request kept the instance's agent");
      const thumb = r.pki.thumbprint(r.pki.client.cert);
      assert.deepEqual(r.api.seen, [
        { presented: thumb, status: 200 },
        { presented: thumb, status: 200 },
      ]);
      assert.deepEqual(r.foreign.seen, [{ presented: undefined, status: 401 }]);
      assert.equal(r.op.counts.mtlsToken, 1, 'one token, at the mTLS alias');
    });
  }

  it('a redirect hop to another origin gets neither token nor certificate', async (t) => {
    const r = await ready(t);
    if (r === undefined) return;
    const hop = await startRedirector(r.pki, `${r.foreign.url}/v1/items`);
    t.after(() => hop.close());
    const { instance } = attached(t, r, r.manager, { origins: [r.api.url, hop.url] });
    const res = await instance.get(`${hop.url}/start`);
    assert.equal(res.status, 401);
    assert.deepEqual(res.data, { error: 'no token' });
    assertHopOnly(r, hop);
  });

  for (const c of REFUSALS) {
    it(c.title, async (t) => {
      const r = await ready(t);
      if (r === undefined) return;
      const { source, options, presented } = c.setup(r);
      const { instance } = attached(t, r, source, { ...options, retryOn401: false });
      const res = await instance.get(`${r.api.url}/v1/items`);
      assert.equal(res.status, 401);
      assert.deepEqual(res.data, { error: 'certificate does not match the token' });
      assert.deepEqual(r.api.seen, [{ presented, status: 401 }]);
    });
  }
});

describe('a rejected token with clientCert', () => {
  /** A source whose first token is not one the provider issued: the API answers 401, then the real one. */
  function staleFirst(m: TokenManager): { source: TokenSource; invalidated: string[] } {
    const invalidated: string[] = [];
    let stale = true;
    const source: TokenSource = {
      getToken: async () => (stale ? { accessToken: 'stale-token', tokenType: 'Bearer' } : m.getToken()),
      invalidate: (accessToken) => {
        invalidated.push(accessToken);
        stale = false;
      },
    };
    return { source, invalidated };
  }

  it('undici: the retry with the new token presents the certificate too', async (t) => {
    const r = await ready(t);
    if (r === undefined) return;
    const { source, invalidated } = staleFirst(r.manager);
    const base = new Agent({ connect: { ca: r.pki.ca } });
    t.after(() => base.close());
    const dispatcher = base.compose(
      tokenwardInterceptor(source, { origins: [r.api.url], clientCert: r.clientCert, ca: r.pki.ca }),
    );
    const res = await request(`${r.api.url}/v1/items`, { dispatcher });
    assert.equal(res.statusCode, 200);
    await res.body.dump();
    const thumb = r.pki.thumbprint(r.pki.client.cert);
    assert.deepEqual(r.api.seen, [
      { presented: thumb, status: 401 },
      { presented: thumb, status: 200 },
    ]);
    assert.deepEqual(invalidated, ['stale-token']);
  });

  it('axios: the retry with the new token presents the certificate too', async (t) => {
    const r = await ready(t);
    if (r === undefined) return;
    const { source, invalidated } = staleFirst(r.manager);
    const own = new HttpsAgent({ ca: r.pki.ca });
    t.after(() => own.destroy());
    const instance = axios.create({ httpsAgent: own });
    const { detach } = attachAxios(instance, source, {
      origins: [r.api.url],
      clientCert: r.clientCert,
      ca: r.pki.ca,
    });
    t.after(detach);
    const res = await instance.get(`${r.api.url}/v1/items`);
    assert.equal(res.status, 200);
    const thumb = r.pki.thumbprint(r.pki.client.cert);
    assert.deepEqual(r.api.seen, [
      { presented: thumb, status: 401 },
      { presented: thumb, status: 200 },
    ]);
    assert.deepEqual(invalidated, ['stale-token']);
    // The config remembers the instance's own agent, for a reuse toward another origin.
    const sent = res.config as typeof res.config & { _tokenward?: { httpsAgent?: unknown } };
    assert.equal(sent._tokenward?.httpsAgent, own);
  });
});

describe('createAuthFetch with a manager and no clientCert', () => {
  it("presents the manager's certificate to the allowed origin, none to another; explicit wins", async (t) => {
    const r = await ready(t);
    if (r === undefined) return;
    const f = createAuthFetch(r.manager, { origins: [r.api.url], ca: r.pki.ca });
    const ok = await f(`${r.api.url}/v1/items`);
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { ok: true, client_id: r.op.clients.pki });
    const away = await f(`${r.foreign.url}/v1/items`);
    assert.equal(away.status, 401);
    assert.deepEqual(await away.json(), { error: 'no token' });
    const other = createAuthFetch(r.manager, {
      origins: [r.api.url],
      clientCert: r.otherCert,
      ca: r.pki.ca,
      retryOn401: false,
    });
    const refused = await other(`${r.api.url}/v1/items`);
    assert.equal(refused.status, 401);
    assert.deepEqual(await refused.json(), { error: 'certificate does not match the token' });
    assert.deepEqual(r.api.seen, [
      { presented: r.pki.thumbprint(r.pki.client.cert), status: 200 },
      { presented: r.pki.thumbprint(r.pki.other.cert), status: 401 },
    ]);
    assert.deepEqual(r.foreign.seen, [{ presented: undefined, status: 401 }]);
    assert.equal(r.op.counts.mtlsToken, 1, 'one token, at the mTLS alias');
  });

  it('a redirect hop to another origin gets neither token nor certificate', async (t) => {
    const r = await ready(t);
    if (r === undefined) return;
    const hop = await startRedirector(r.pki, `${r.foreign.url}/v1/items`);
    t.after(() => hop.close());
    const f = createAuthFetch(r.manager, { origins: [r.api.url, hop.url], ca: r.pki.ca });
    const res = await f(`${hop.url}/start`);
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), { error: 'no token' });
    assert.equal(res.redirected, true);
    assertHopOnly(r, hop);
  });
});
