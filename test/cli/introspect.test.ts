/**
 * `tokenward introspect` against oidc-provider (RFC 7662): the profile's cached token by default
 * (human lines and `--json`), a token from stdin (`-`), an inactive token; and `tokenward request`
 * sending the certificate-bound token over the profile's client certificate to an API that checks it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import {
  type MtlsProvider,
  makePki,
  PKI_INSTALL,
  type Pki,
  startBoundApi,
  startMtlsProvider,
} from '../helpers/mtls.js';
import { missing } from '../helpers/services.js';
import { type TempHome, tempHome, tw } from './helpers.js';

let pki: Pki | undefined;
let op: MtlsProvider | undefined;
let api: Awaited<ReturnType<typeof startBoundApi>> | undefined;
let home: TempHome;

before(async () => {
  pki = makePki();
  if (pki === undefined) return;
  op = await startMtlsProvider(pki);
  api = await startBoundApi(pki, `${op.issuer}/token/introspection`, op.clients.rs);
  home = tempHome();
  const file = (name: string, text: string) => {
    const p = join(home.dir, name);
    writeFileSync(p, text, { mode: 0o600 });
    return p;
  };
  const ca = file('ca.pem', pki.ca);
  const cert = file('client.pem', pki.client.cert);
  const key = file('client-enc.key', pki.clientKeyEncrypted);
  mkdirSync(dirname(home.config), { recursive: true });
  writeFileSync(
    home.config,
    [
      '[profiles.m]',
      `issuer = "${op.issuer}"`,
      `client_id = "${op.clients.pki}"`,
      'auth_method = "tls_client_auth"',
      `tls_cert = "file:${cert}"`,
      `tls_key = "file:${key}"`,
      'tls_key_passphrase = "env:TW_KEY_PASS"',
      `ca_file = "${ca}"`,
      'scope = "api:read"',
      `api_base_url = "${api.url}"`,
      '',
      '[profiles.rs]',
      `issuer = "${op.issuer}"`,
      `client_id = "${op.clients.rs.clientId}"`,
      'client_secret = "env:TW_RS_SECRET"',
      `ca_file = "${ca}"`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
});
after(async () => {
  await api?.close();
  await op?.close();
  pki?.cleanup();
  home?.cleanup();
});

function ready(t: TestContext): { pki: Pki; op: MtlsProvider } | undefined {
  if (pki === undefined || op === undefined) {
    missing(t, 'openssl', PKI_INSTALL);
    return undefined;
  }
  return { pki, op };
}

const run = (args: string[], input?: string) =>
  tw([...args, '--config', home.config], {
    env: { ...home.env, TW_KEY_PASS: pki?.passphrase ?? '', TW_RS_SECRET: op?.clients.rs.clientSecret ?? '' },
    ...(input === undefined ? {} : { input }),
  });

describe('tokenward introspect', () => {
  it('introspects the profile’s own token over mTLS: human lines, then --json, one token request', async (t) => {
    const r = ready(t);
    if (r === undefined) return;
    r.op.resetCounts();
    const human = await run(['introspect', 'm']);
    assert.equal(human.code, 0, human.stderr);
    const thumb = r.pki.thumbprint(r.pki.client.cert);
    assert.match(human.stdout, /^active: +true$/m);
    assert.match(human.stdout, /^scope: +api:read$/m);
    assert.match(human.stdout, /^exp: +\S+/m);
    assert.match(human.stdout, new RegExp(`^client_id: +${r.op.clients.pki}$`, 'm'));
    assert.match(human.stdout, new RegExp(`^cnf: +x5t#S256=${thumb}$`, 'm'));
    const json = await run(['introspect', 'm', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const info = JSON.parse(json.stdout) as Record<string, unknown>;
    assert.equal(info['active'], true);
    assert.deepEqual(info['cnf'], { 'x5t#S256': thumb });
    assert.equal(r.op.counts.mtlsToken, 1, 'the second run used the cached token');
    assert.equal(r.op.counts.introspection, 2);
    assert.equal(r.op.counts.plainToken, 0);
  });

  it('a token from stdin, introspected by another profile (a resource server client)', async (t) => {
    const r = ready(t);
    if (r === undefined) return;
    const token = await run(['token', 'm']);
    assert.equal(token.code, 0, token.stderr);
    const res = await run(['introspect', 'rs', '-', '--json'], token.stdout);
    assert.equal(res.code, 0, res.stderr);
    const info = JSON.parse(res.stdout) as Record<string, unknown>;
    assert.equal(info['active'], true);
    assert.equal(info['client_id'], r.op.clients.pki);
  });

  it('an unknown token is inactive', async (t) => {
    if (ready(t) === undefined) return;
    const res = await run(['introspect', 'rs', 'no-such-token-0123456789']);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout.trim(), 'active:     false');
  });

  it('tokenward request sends the bound token over the client certificate; the API accepts it', async (t) => {
    const r = ready(t);
    if (r === undefined || api === undefined) return;
    api.seen.length = 0;
    const res = await run(['request', 'm', `${api.url}/v1/items`]);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(JSON.parse(res.stdout), { ok: true, client_id: r.op.clients.pki });
    assert.deepEqual(api.seen, [{ presented: r.pki.thumbprint(r.pki.client.cert), status: 200 }]);
  });
});
