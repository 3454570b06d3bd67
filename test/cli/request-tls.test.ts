/**
 * `tokenward request` gives the API call the TLS trust of the profile, as the token request has it: a
 * loopback HTTPS API with a test certificate is reached when the profile's `ca_file` holds it (or, with a
 * warning, with `insecure_skip_tls_verify`), and refused as an unverified certificate without either.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { dirname, join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { missing } from '../helpers/services.js';
import { selfSignedCert, TLS_CERT_INSTALL } from '../helpers/tls-cert.js';
import { startTokenServer, TEST_CLIENT, type TokenServer } from '../helpers/token-server.js';
import { listenLoopback } from './helper-clients.js';
import { type TempHome, tempHome, tw, writeClientConfig } from './helpers.js';

const tls = selfSignedCert();
let home: TempHome;
let ts: TokenServer;
let api: { port: number; close(): Promise<void> };
const seen: Array<string | undefined> = [];

function writeConfig(extra: string[]): void {
  writeClientConfig(home, ts.tokenUrl, `https://127.0.0.1:${api.port}`, extra);
}

function request() {
  return tw(['request', 'p', `https://127.0.0.1:${api.port}/v1/items`, '--config', home.config], {
    env: { ...home.env, TW_SECRET: TEST_CLIENT.secret },
  });
}

describe('tokenward request over HTTPS with a private CA', () => {
  before(async () => {
    if (tls === undefined) return;
    home = tempHome();
    ts = await startTokenServer({ clients: { [TEST_CLIENT.id]: TEST_CLIENT.secret } });
    api = await listenLoopback(
      createServer(tls, (req, res) => {
        seen.push(req.headers.authorization);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      }),
    );
  });
  after(async () => {
    if (tls === undefined) return;
    await Promise.all([ts.close(), api.close()]);
    home.cleanup();
  });
  beforeEach(() => {
    seen.length = 0;
  });

  it('trusts the profile ca_file for the API call', async (t) => {
    if (tls === undefined) return missing(t, 'openssl', TLS_CERT_INSTALL);
    mkdirSync(dirname(home.config), { recursive: true });
    const caFile = join(dirname(home.config), 'api-ca.pem');
    writeFileSync(caFile, tls.cert);
    writeConfig([`ca_file = "${caFile}"`]);
    const r = await request();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), '{"ok":true}');
    assert.equal(seen.length, 1);
    assert.match(seen[0] ?? '', /^Bearer \S+$/);
    assert.doesNotMatch(r.stderr, /TLS certificate verification is OFF/);
  });

  it('without ca_file the test certificate is refused: the API never sees the token', async (t) => {
    if (tls === undefined) return missing(t, 'openssl', TLS_CERT_INSTALL);
    writeConfig([]);
    const r = await request();
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /SELF_SIGNED_CERT|certificate/i);
    assert.equal(seen.length, 0);
  });

  it('insecure_skip_tls_verify reaches it too, with a warning', async (t) => {
    if (tls === undefined) return missing(t, 'openssl', TLS_CERT_INSTALL);
    writeConfig(['insecure_skip_tls_verify = true']);
    const r = await request();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(seen.length, 1);
    assert.match(
      r.stderr,
      new RegExp(`TLS certificate verification is OFF for https://127\\.0\\.0\\.1:${api.port}`),
    );
  });
});
