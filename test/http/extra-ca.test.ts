/**
 * A `ca` (a profile's `ca_file`, an integration's `ca`) adds to what the process trusts and takes
 * nothing away: Node's `ca` option replaces its default trust — the bundled roots and the
 * `NODE_EXTRA_CA_CERTS` certificates read at startup — so the HTTP layer passes all three
 * (src/http/trust.ts). Each case runs a fresh process (Node reads `NODE_EXTRA_CA_CERTS` when it starts)
 * against a real HTTPS server on loopback whose certificate only the `NODE_EXTRA_CA_CERTS` file trusts.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT } from '../cli/helpers.js';
import { missing } from '../helpers/services.js';
import { selfSignedCert, TLS_CERT_INSTALL } from '../helpers/tls-cert.js';

/** Runs `body` as an ES module (tsx) in a new Node with `env`; resolves with its stdout (trimmed). */
async function inProcess(body: string, env: NodeJS.ProcessEnv): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', body], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const [code] = (await once(child, 'close')) as [number | null];
  assert.equal(code, 0, err);
  return out.trim();
}

describe('a ca keeps NODE_EXTRA_CA_CERTS', () => {
  let server: Server | undefined;
  let dir = '';
  let other = '';
  let url = '';
  before(async () => {
    const served = selfSignedCert();
    const unrelated = selfSignedCert('unrelated-ca', 'DNS:unrelated.test');
    if (served === undefined || unrelated === undefined) return;
    other = unrelated.cert;
    dir = mkdtempSync(join(tmpdir(), 'tokenward-extra-ca-'));
    writeFileSync(join(dir, 'extra.pem'), served.cert);
    server = createServer({ key: served.key, cert: served.cert }, (_req, res) => res.end('ok'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(() => {
    server?.close();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  /** A GET of the server through the HTTP layer's pool for `ca`, in a process with `NODE_EXTRA_CA_CERTS`. */
  const getWith = (ca: string | undefined) =>
    inProcess(
      `import { request } from 'undici';
import { closeAgents, dispatcherFor } from './src/http/agent.ts';
try {
  const r = await request(${JSON.stringify(url)}, { dispatcher: await dispatcherFor(${JSON.stringify(ca === undefined ? {} : { ca })}) });
  console.log(r.statusCode + ' ' + (await r.body.text()));
} catch (e) {
  console.log('refused ' + (e.code ?? e.message));
} finally {
  await closeAgents();
}`,
      { NODE_EXTRA_CA_CERTS: join(dir, 'extra.pem') },
    );

  it("no ca: the NODE_EXTRA_CA_CERTS certificate is trusted (Node's default)", async (t) => {
    if (server === undefined) return missing(t, 'openssl', TLS_CERT_INSTALL);
    assert.equal(await getWith(undefined), '200 ok');
  });

  it('another ca given: still trusted (before, the ca replaced NODE_EXTRA_CA_CERTS and the server was refused)', async (t) => {
    if (server === undefined) return missing(t, 'openssl', TLS_CERT_INSTALL);
    assert.equal(await getWith(other), '200 ok');
  });

  it('an empty ca is no ca: the same trust, the same pool as none', async (t) => {
    if (server === undefined) return missing(t, 'openssl', TLS_CERT_INSTALL);
    assert.equal(await getWith(''), '200 ok');
    const same = await inProcess(
      `import { closeAgents, dispatcherFor } from './src/http/agent.ts';
console.log((await dispatcherFor({ ca: '' })) === (await dispatcherFor({})));
await closeAgents();`,
      {},
    );
    assert.equal(same, 'true');
  });
});
