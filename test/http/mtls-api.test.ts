/**
 * Certificate-bound access tokens (RFC 8705 §3) sent to an API over the same client certificate:
 * `createAuthFetch` with the profile's certificate, against a loopback HTTPS API that accepts a token
 * only when the provider's introspection binds it (`cnf.x5t#S256`) to the certificate presented.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { createAuthFetch } from '../../src/fetch/auth-fetch.js';
import { createTokenManager } from '../../src/front-door.js';
import { closeAgents } from '../../src/http/agent.js';
import { loadClientCertificate } from '../../src/http/client-cert.js';
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

let pki: Pki | undefined;
let op: MtlsProvider | undefined;
let api: Awaited<ReturnType<typeof startBoundApi>> | undefined;

before(async () => {
  pki = makePki();
  if (pki === undefined) return;
  op = await startMtlsProvider(pki);
  api = await startBoundApi(pki, `${op.issuer}/token/introspection`, op.clients.rs);
});
after(async () => {
  await api?.close();
  await op?.close();
  await closeAgents();
  pki?.cleanup();
});

function ready(t: TestContext) {
  if (pki === undefined || op === undefined || api === undefined) {
    missing(t, 'openssl', PKI_INSTALL);
    return undefined;
  }
  return { pki, op, api };
}

describe('a certificate-bound token at an API that checks the binding', () => {
  it('authFetch presents the client certificate to the allowed origin: the API accepts the token', async (t) => {
    const r = ready(t);
    if (r === undefined) return;
    const m = await createTokenManager(mtlsProfile(r.op), {
      env: { CERT: r.pki.client.cert, KEY: r.pki.client.key },
      http: { ca: r.pki.ca },
    });
    try {
      // No clientCert: the manager hands on its profile's certificate.
      const auto = createAuthFetch(m, { origins: [r.api.url], ca: r.pki.ca });
      const res = await auto(`${r.api.url}/v1/items`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { ok: true, client_id: r.op.clients.pki });
      const again = await auto(`${r.api.url}/v1/items`);
      assert.equal(again.status, 200);
      await again.body?.cancel();
      // The same certificate given explicitly.
      const clientCert = loadClientCertificate({ cert: r.pki.client.cert, key: r.pki.client.key });
      const bound = createAuthFetch(m, { origins: [r.api.url], clientCert, ca: r.pki.ca });
      const res1 = await bound(`${r.api.url}/v1/items`);
      assert.equal(res1.status, 200);
      await res1.body?.cancel();
      // The same token without the certificate (a source without the hook) is refused: the binding is
      // what the API checks.
      const unbound = createAuthFetch(withoutCertificate(m), {
        origins: [r.api.url],
        ca: r.pki.ca,
        retryOn401: false,
      });
      const res2 = await unbound(`${r.api.url}/v1/items`);
      assert.equal(res2.status, 401);
      assert.deepEqual(await res2.json(), { error: 'certificate does not match the token' });
      const thumb = r.pki.thumbprint(r.pki.client.cert);
      assert.deepEqual(r.api.seen.splice(0), [
        { presented: thumb, status: 200 },
        { presented: thumb, status: 200 },
        { presented: thumb, status: 200 },
        { presented: undefined, status: 401 },
      ]);
      assert.equal(r.op.counts.mtlsToken, 1, 'one token, at the mTLS alias');
    } finally {
      await m.close();
    }
  });

  it('a manager that found its token in the store builds its client once, for the certificate', async (t) => {
    const r = ready(t);
    if (r === undefined) return;
    r.op.resetCounts();
    const env = { CERT: r.pki.client.cert, KEY: r.pki.client.key };
    let reads = 0;
    const counting = new Proxy(env, {
      get(target, name) {
        if (name === 'KEY') reads++;
        return Reflect.get(target, name);
      },
    });
    const first = await createTokenManager(mtlsProfile(r.op), { env, http: { ca: r.pki.ca } });
    t.after(() => first.close());
    await first.getToken();
    const second = await createTokenManager(mtlsProfile(r.op), {
      env: counting,
      http: { ca: r.pki.ca },
      store: first.store,
    });
    t.after(() => second.close());
    const f = createAuthFetch(second, { origins: [r.api.url], ca: r.pki.ca });
    for (let i = 0; i < 2; i++) {
      const res = await f(`${r.api.url}/v1/items`);
      assert.equal(res.status, 200);
      await res.body?.cancel();
    }
    assert.equal(r.op.counts.mtlsToken, 1, 'the second manager used the stored token');
    assert.deepEqual(second.counts, { grants: 0, refreshes: 0, storeHits: 1 });
    assert.equal(reads, 1, 'tls_key resolved once, by the token client it built');
    const thumb = r.pki.thumbprint(r.pki.client.cert);
    assert.deepEqual(r.api.seen.splice(0), [
      { presented: thumb, status: 200 },
      { presented: thumb, status: 200 },
    ]);
  });

  it('another client certificate than the bound one is refused by the API', async (t) => {
    const r = ready(t);
    if (r === undefined) return;
    r.op.resetCounts();
    const m = await createTokenManager(
      {
        issuer: r.op.issuer,
        client_id: r.op.clients.pki,
        tls_cert: r.pki.client.cert,
        tls_key: r.pki.client.key,
        store: 'memory',
        retries: 0,
      },
      { env: {}, http: { ca: r.pki.ca } },
    );
    try {
      const other = loadClientCertificate({ cert: r.pki.other.cert, key: r.pki.other.key });
      const f = createAuthFetch(m, {
        origins: [r.api.url],
        clientCert: other,
        ca: r.pki.ca,
        retryOn401: false,
      });
      const res = await f(`${r.api.url}/v1/items`);
      assert.equal(res.status, 401);
      assert.deepEqual(r.api.seen.splice(0), [
        { presented: r.pki.thumbprint(r.pki.other.cert), status: 401 },
      ]);
    } finally {
      await m.close();
    }
  });
});
