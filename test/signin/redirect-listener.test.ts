/**
 * The loopback redirect listener on its own (src/signin/redirect-listener.ts): which loopback addresses
 * it listens on for each form of `redirect_uri`, and that a `localhost` redirect is received whichever
 * address the browser resolved `localhost` to (RFC 8252 §7.3 recommends the IP literals; `localhost`
 * stays allowed, and browsers resolve it to `::1` or `127.0.0.1`).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { ConfigError } from '../../src/errors.js';
import { listenForRedirect } from '../../src/signin/redirect-listener.js';

/** GET `http://[host]:port/path` on the literal address; resolves with the status or the error code. */
function get(host: string, port: number, path: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request({ host, port, path, method: 'GET', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
}

/** A port free on both loopback addresses at the time of the call. */
async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((r) => probe.close(r));
  return port;
}

/** Whether this machine can listen on `::1`; skips the test (with the reason) when it cannot. */
async function needsIpv6(t: TestContext): Promise<boolean> {
  const probe = createServer();
  const ok = await new Promise<boolean>((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen(0, '::1', () => resolve(true));
  });
  if (ok) await new Promise((r) => probe.close(r));
  else t.skip('this machine has no IPv6 loopback (::1)');
  return ok;
}

describe('redirect listener: loopback addresses', () => {
  for (const via of ['::1', '127.0.0.1']) {
    it(`a localhost redirect_uri is received on ${via}, then both addresses are closed`, async (t) => {
      if (!(await needsIpv6(t))) return;
      const port = await freePort();
      const listener = await listenForRedirect({
        redirectUri: `http://localhost:${port}/cb`,
        timeoutMs: 120_000,
      });
      assert.equal(listener.redirectUri, `http://localhost:${port}/cb`);
      const answered = get(via, port, '/cb?code=abc&state=xyz');
      const got = await listener.received;
      assert.equal(got.params.get('code'), 'abc');
      assert.equal(got.params.get('state'), 'xyz');
      got.finish(true, 'done');
      assert.equal(await answered, 200);
      // One answer only, and nothing listens any more on either address.
      assert.equal(await get('127.0.0.1', port, '/cb'), 'ECONNREFUSED');
      assert.equal(await get('::1', port, '/cb'), 'ECONNREFUSED');
    });
  }

  it('a 127.0.0.1 redirect_uri listens on 127.0.0.1 only', async (t) => {
    if (!(await needsIpv6(t))) return;
    const listener = await listenForRedirect({ timeoutMs: 120_000 });
    try {
      const port = Number(new URL(listener.redirectUri).port);
      assert.match(listener.redirectUri, /^http:\/\/127\.0\.0\.1:\d+\/callback$/);
      assert.equal(await get('::1', port, '/callback'), 'ECONNREFUSED');
      assert.equal(await get('127.0.0.1', port, '/elsewhere'), 404);
    } finally {
      listener.close();
    }
  });

  it('a localhost redirect_uri whose port another program holds on ::1: ConfigError, nothing left listening', async (t) => {
    if (!(await needsIpv6(t))) return;
    const port = await freePort();
    const busy: Server = createServer((_req, res) => res.end('another program'));
    busy.listen(port, '::1');
    await once(busy, 'listening');
    try {
      await assert.rejects(
        listenForRedirect({ redirectUri: `http://localhost:${port}/cb`, timeoutMs: 120_000 }),
        (e: unknown) =>
          e instanceof ConfigError &&
          e.key === 'redirect_uri' &&
          e.message.includes(`port ${port} is in use on ::1`),
      );
      // The 127.0.0.1 half that had been opened was closed again.
      assert.equal(await get('127.0.0.1', port, '/cb'), 'ECONNREFUSED');
    } finally {
      busy.close();
    }
  });
});
