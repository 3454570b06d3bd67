/**
 * The CLI through a real forward proxy on loopback: `tokenward token` and `tokenward request` honour
 * `http_proxy` / `NO_PROXY` of their environment and the profile's `proxy`; a proxy that answers 407 is a
 * network failure (exit 4) naming the proxy, and its password is nowhere in the output, even with -v.
 * Proxy variables are set only in the child processes' environment.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, beforeEach, describe, it } from 'node:test';
import { type ForwardProxy, startForwardProxy } from '../helpers/forward-proxy.js';
import { startTokenServer, TEST_CLIENT, type TokenServer } from '../helpers/token-server.js';
import { listenLoopback } from './helper-clients.js';
import { type TempHome, tempHome, tw, writeClientConfig } from './helpers.js';

const PASSWORD = 'cli-pr0xy-Secret-77';
let home: TempHome;
let ts: TokenServer;
let proxy: ForwardProxy;
let authed: ForwardProxy;
let api: { port: number; close(): Promise<void> };
const seen: Array<string | undefined> = [];

function writeConfig(extra: string[]): void {
  writeClientConfig(home, ts.tokenUrl, `http://127.0.0.1:${api.port}`, extra);
}

function env(vars: Record<string, string>): NodeJS.ProcessEnv {
  return { ...home.env, TW_SECRET: TEST_CLIENT.secret, ...vars };
}

describe('CLI through a forward proxy', () => {
  before(async () => {
    home = tempHome();
    ts = await startTokenServer({ clients: { [TEST_CLIENT.id]: TEST_CLIENT.secret } });
    proxy = await startForwardProxy();
    authed = await startForwardProxy({ credentials: `alice:${PASSWORD}` });
    api = await listenLoopback(
      createServer((req, res) => {
        seen.push(req.headers.authorization);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      }),
    );
  });
  after(async () => {
    await Promise.all([ts.close(), proxy.close(), authed.close(), api.close()]);
    home.cleanup();
  });
  beforeEach(() => {
    ts.reset();
    seen.length = 0;
    for (const p of [proxy, authed]) {
      p.forwarded.length = 0;
      p.tunnels.length = 0;
      p.refused = 0;
    }
  });

  it('token and request go through http_proxy; NO_PROXY sends them direct', async () => {
    writeConfig([]);
    const t = await tw(['token', 'p', '--config', home.config], { env: env({ http_proxy: proxy.url }) });
    assert.equal(t.code, 0, t.stderr);
    assert.deepEqual(proxy.forwarded, [ts.tokenUrl]);
    const r = await tw(['request', 'p', `http://127.0.0.1:${api.port}/v1/items`, '--config', home.config], {
      env: env({ http_proxy: proxy.url }),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '{"ok":true}');
    assert.deepEqual(proxy.forwarded, [ts.tokenUrl, `http://127.0.0.1:${api.port}/v1/items`]);
    assert.equal(seen.length, 1);
    assert.match(seen[0] ?? '', /^Bearer \S+$/);
    // An upper-case HTTP_PROXY is not read (curl's rule), and NO_PROXY sends the request direct.
    const variants: Array<Record<string, string>> = [
      { HTTP_PROXY: proxy.url },
      { http_proxy: proxy.url, NO_PROXY: '127.0.0.1' },
    ];
    for (const vars of variants) {
      const d = await tw(['request', 'p', `http://127.0.0.1:${api.port}/v1/items`, '--config', home.config], {
        env: env(vars),
      });
      assert.equal(d.code, 0, d.stderr);
    }
    assert.equal(proxy.forwarded.length, 2);
    assert.equal(seen.length, 3);
  });

  it("the profile's proxy wins over the environment's; a 407 exits 4 naming the proxy, never its password", async () => {
    writeConfig([`proxy = "http://alice:wrong-${PASSWORD}@127.0.0.1:${authed.port}"`]);
    const out = await tw(['logout', 'p', '--config', home.config], { env: env({}) }); // the cached token goes
    assert.equal(out.code, 0, out.stderr);
    const r = await tw(['token', 'p', '-v', '--config', home.config], {
      env: env({ http_proxy: proxy.url }),
    });
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`http://127\\.0\\.0\\.1:${authed.port}`));
    assert.match(r.stderr, /407/);
    assert.equal(r.stderr.includes(PASSWORD), false, r.stderr);
    assert.equal(r.stderr.includes(Buffer.from(`alice:wrong-${PASSWORD}`).toString('base64')), false);
    assert.equal(authed.refused, 1);
    assert.equal(proxy.forwarded.length, 0);
    assert.equal(ts.counts.total, 0);

    // The right password, given as a reference: the token, then the API call, through the profile's proxy.
    writeConfig(['proxy = "env:TW_PROXY"']);
    const right = `http://alice:${encodeURIComponent(PASSWORD)}@127.0.0.1:${authed.port}`;
    const ok = await tw(['request', 'p', `http://127.0.0.1:${api.port}/x`, '-v', '--config', home.config], {
      env: env({ http_proxy: proxy.url, TW_PROXY: right }),
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(authed.forwarded, [ts.tokenUrl, `http://127.0.0.1:${api.port}/x`]);
    assert.equal(`${ok.stdout}${ok.stderr}`.includes(PASSWORD), false);

    // A 407 to the API call itself (the token comes direct: NO_PROXY names the token server's port).
    writeConfig([`proxy = "http://alice:bad-${PASSWORD}@127.0.0.1:${authed.port}"`]);
    const port = new URL(ts.tokenUrl).port;
    const bad = await tw(['request', 'p', `http://127.0.0.1:${api.port}/y`, '-v', '--config', home.config], {
      env: env({ NO_PROXY: `127.0.0.1:${port}` }),
    });
    assert.equal(bad.code, 4, bad.stderr);
    assert.match(
      bad.stderr,
      new RegExp(`proxy http://127\\.0\\.0\\.1:${authed.port} \\(proxy\\) answered 407`),
    );
    assert.equal(`${bad.stdout}${bad.stderr}`.includes(PASSWORD), false, bad.stderr);
  });
});

describe('CLI: a proxy password is a secret', () => {
  let h: TempHome;
  before(() => {
    h = tempHome();
  });
  after(() => h.cleanup());

  it('profiles add refuses a proxy password on the command line, takes it from stdin, and show redacts it', async () => {
    const pw = 'add-pr0xy-Secret-31';
    const args = ['profiles', 'add', 'corp', 'token_url=https://login.example.com/token', 'client_id=c'];
    const refused = await tw([...args, `proxy=http://u:${pw}@proxy.example:3128`, '--config', h.config], {
      env: h.env,
    });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /proxy holds a password/);
    assert.equal(refused.stderr.includes(pw), false);
    const added = await tw([...args, '--secret-stdin', 'proxy', '--config', h.config], {
      env: h.env,
      input: `http://u:${pw}@proxy.example:3128\n`,
    });
    assert.equal(added.code, 0, added.stderr);
    const shown = await tw(['profiles', 'show', 'corp', '--config', h.config], { env: h.env });
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /proxy = /);
    assert.equal(shown.stdout.includes(pw), false, shown.stdout);
  });
});
