/**
 * Mutual TLS client authentication (RFC 8705) against panva's oidc-provider with its `mTLS` feature:
 * `tls_client_auth` and `self_signed_tls_client_auth`, the certificate and key from profile keys (file
 * references; PKCS#8, encrypted PKCS#8, PKCS#1, SEC1), the discovered `mtls_endpoint_aliases`, the
 * certificate-bound token's `cnf` (through introspection), and the bad inputs: each a typed error that
 * names the profile key and holds nothing secret, the earlier good token kept.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it, type TestContext } from 'node:test';
import { ConfigError, TokenEndpointError, type TokenwardError } from '../../src/errors.js';
import { createTokenManager } from '../../src/front-door.js';
import { closeAgents } from '../../src/http/agent.js';
import type { Profile } from '../../src/profile.js';
import { secretsInError } from '../e2e/helpers.js';
import { type MtlsProvider, makePki, PKI_INSTALL, type Pki, startMtlsProvider } from '../helpers/mtls.js';
import { missing } from '../helpers/services.js';

let pki: Pki | undefined;
let op: MtlsProvider | undefined;
const files: Record<string, string> = {};

before(async () => {
  pki = makePki();
  if (pki === undefined) return;
  const put = (name: string, text: string) => {
    const p = join(pki!.dir, name);
    writeFileSync(p, text, { mode: 0o600 });
    files[name] = p;
  };
  put('ca.pem', pki.ca);
  put('client.pem', pki.client.cert);
  put('client.key', pki.client.key);
  put('client-enc.key', pki.clientKeyEncrypted);
  put('client-pkcs1.key', pki.clientKeyPkcs1);
  put('other.pem', pki.other.cert);
  put('other.key', pki.other.key);
  put('self.pem', pki.selfSigned.cert);
  put('self.key', pki.selfSigned.key);
  op = await startMtlsProvider(pki);
});
after(async () => {
  await op?.close();
  await closeAgents();
  pki?.cleanup();
});
beforeEach(() => op?.resetCounts());

function ready(t: TestContext): { pki: Pki; op: MtlsProvider } | undefined {
  if (pki === undefined || op === undefined) {
    missing(t, 'openssl', PKI_INSTALL);
    return undefined;
  }
  return { pki, op };
}

/** A `tls_client_auth` profile for the CA-issued client certificate, discovered from the issuer. */
function profile(op: MtlsProvider, extra: Partial<Record<keyof Profile, unknown>> = {}): Profile {
  const p: Record<string, unknown> = {
    issuer: op.issuer,
    client_id: op.clients.pki,
    auth_method: 'tls_client_auth',
    tls_cert: `file:${files['client.pem']}`,
    tls_key: `file:${files['client.key']}`,
    ca_file: files['ca.pem'] as string,
    scope: 'api:read',
    store: 'memory',
    retries: 0,
    ...extra,
  };
  for (const k of Object.keys(p)) if (p[k] === undefined) delete p[k];
  return p as Profile;
}

describe('tls_client_auth against oidc-provider', () => {
  it('gets a certificate-bound token through the mtls_endpoint_aliases; introspection shows the binding', async (t) => {
    const r = ready(t);
    if (r === undefined) return;
    const m = await createTokenManager(profile(r.op), { env: {} });
    try {
      const token = await m.getToken();
      assert.equal(r.op.counts.mtlsToken, 1, 'the token request went to the mTLS alias');
      assert.equal(r.op.counts.plainToken, 0);
      const info = await m.introspect();
      assert.equal(r.op.counts.introspection, 1, 'introspected once, at the alias');
      assert.equal(info.active, true);
      assert.equal(info.client_id, r.op.clients.pki);
      assert.equal(info.scope, 'api:read');
      assert.deepEqual(info.cnf, { 'x5t#S256': r.pki.thumbprint(r.pki.client.cert) });
      assert.equal(r.op.counts.mtlsToken, 1, 'introspecting the cached token asked for no new one');
      assert.ok(token.accessToken.length > 0);
      const inactive = await m.introspect('not-a-token-at-all');
      assert.deepEqual(inactive, { active: false });
    } finally {
      await m.close();
    }
  });

  it('by default (only tls_cert and tls_key set) the method is tls_client_auth', async (t) => {
    const r = ready(t);
    if (r === undefined) return;
    const { auth_method: _, ...p } = profile(r.op);
    const m = await createTokenManager(p, { env: {} });
    try {
      await m.getToken();
      assert.equal(r.op.counts.mtlsToken, 1);
    } finally {
      await m.close();
    }
  });

  for (const [label, key, extra] of [
    ['an encrypted PKCS#8 key with its passphrase', 'client-enc.key', { tls_key_passphrase: 'env:KEY_PASS' }],
    ['a PKCS#1 key', 'client-pkcs1.key', {}],
  ] as const) {
    it(`works with ${label}`, async (t) => {
      const r = ready(t);
      if (r === undefined) return;
      const m = await createTokenManager(profile(r.op, { tls_key: `file:${files[key]}`, ...extra }), {
        env: { KEY_PASS: r.pki.passphrase },
      });
      try {
        await m.getToken();
        assert.equal(r.op.counts.mtlsToken, 1);
        assert.deepEqual((await m.introspect()).cnf, { 'x5t#S256': r.pki.thumbprint(r.pki.client.cert) });
      } finally {
        await m.close();
      }
    });
  }

  it('the server refusing the certificate is a TokenEndpointError (invalid_client); the earlier good token is kept', async (t) => {
    const r = ready(t);
    if (r === undefined) return;
    let now = Date.now();
    const m = await createTokenManager(profile(r.op), { env: {}, clock: () => now });
    try {
      const good = await m.getToken();
      r.op.refuse = true;
      now += 3_600_000; // past its expiry: a new token is needed, and refused
      await assert.rejects(m.getToken(), (e: unknown) => {
        assert.ok(e instanceof TokenEndpointError);
        assert.equal(e.error, 'invalid_client');
        assert.deepEqual(secretsInError(e, [r.pki.client.key]), []);
        return true;
      });
      assert.equal(r.op.counts.mtlsToken, 2);
      assert.equal(m.peek()?.accessToken, good.accessToken, 'the good token is not replaced');
    } finally {
      await m.close();
    }
  });

  it('a CA-issued certificate with another subject is refused (invalid_client)', async (t) => {
    const r = ready(t);
    if (r === undefined) return;
    const m = await createTokenManager(
      profile(r.op, { tls_cert: `file:${files['other.pem']}`, tls_key: `file:${files['other.key']}` }),
      { env: {} },
    );
    try {
      await assert.rejects(
        m.getToken(),
        (e: unknown) => e instanceof TokenEndpointError && e.error === 'invalid_client',
      );
      assert.equal(r.op.counts.mtlsToken, 1);
    } finally {
      await m.close();
    }
  });
});

describe('self_signed_tls_client_auth against oidc-provider', () => {
  it('gets a token bound to the self-signed certificate (EC key in SEC1 form)', async (t) => {
    const r = ready(t);
    if (r === undefined) return;
    const m = await createTokenManager(
      profile(r.op, {
        client_id: r.op.clients.selfSigned,
        auth_method: 'self_signed_tls_client_auth',
        tls_cert: `file:${files['self.pem']}`,
        tls_key: `file:${files['self.key']}`,
      }),
      { env: {} },
    );
    try {
      await m.getToken();
      assert.equal(r.op.counts.mtlsToken, 1);
      assert.deepEqual((await m.introspect()).cnf, { 'x5t#S256': r.pki.thumbprint(r.pki.selfSigned.cert) });
    } finally {
      await m.close();
    }
  });
});

describe('bad certificate input: a ConfigError naming the key, nothing secret, nothing sent', () => {
  const cases: [string, (p: Pki) => Partial<Record<keyof Profile, unknown>>, string, RegExp][] = [
    ['tls_client_auth without tls_key', () => ({ tls_key: undefined }), 'tls_key', /required/],
    ['tls_client_auth without tls_cert', () => ({ tls_cert: undefined }), 'tls_cert', /required/],
    [
      'an unreadable certificate file',
      () => ({ tls_cert: `file:${join(pki!.dir, 'nope.pem')}` }),
      'tls_cert',
      /nope\.pem/,
    ],
    [
      'a key file that is not there',
      () => ({ tls_key: `file:${join(pki!.dir, 'gone.key')}` }),
      'tls_key',
      /gone\.key/,
    ],
    [
      'a certificate that is a key',
      () => ({ tls_cert: `file:${files['client.key']}` }),
      'tls_cert',
      /no PEM certificate/,
    ],
    [
      'a key that is a certificate',
      () => ({ tls_key: `file:${files['client.pem']}` }),
      'tls_key',
      /no PEM private key/,
    ],
    [
      'an encrypted key without its passphrase',
      () => ({ tls_key: `file:${files['client-enc.key']}` }),
      'tls_key',
      /tls_key_passphrase/,
    ],
    [
      'an encrypted key with a wrong passphrase',
      () => ({ tls_key: `file:${files['client-enc.key']}`, tls_key_passphrase: 'wrong-passphrase-123' }),
      'tls_key_passphrase',
      /does not decrypt/,
    ],
    [
      'a key that is not the certificate’s',
      () => ({ tls_key: `file:${files['other.key']}` }),
      'tls_key',
      /not the private key of the certificate/,
    ],
  ];
  for (const [label, change, key, message] of cases) {
    it(label, async (t) => {
      const r = ready(t);
      if (r === undefined) return;
      await assert.rejects(
        async () => {
          const m = await createTokenManager(profile(r.op, change(r.pki)), { env: {} });
          try {
            await m.getToken();
          } finally {
            await m.close();
          }
        },
        (e: unknown) => {
          assert.ok(e instanceof ConfigError, String(e));
          assert.match(e.key ?? '', new RegExp(`(^|\\.)${key}$`));
          assert.match(e.message, message);
          const secrets = [
            r.pki.client.key,
            r.pki.other.key,
            r.pki.clientKeyEncrypted,
            'wrong-passphrase-123',
          ];
          assert.deepEqual(secretsInError(e as TokenwardError, secrets), []);
          return true;
        },
      );
      assert.equal(r.op.counts.mtlsToken + r.op.counts.plainToken, 0, 'nothing was sent');
    });
  }
});
