/**
 * The CLI against real loopback servers, as a user runs it: `tokenward` child processes with a temporary
 * config and cache dir, a token endpoint (test/helpers/token-server.ts) and a small API with a
 * revocation endpoint. Exit codes per class, stdout/stderr separation, the file store serving a second
 * call, `exec`, `request` (401 → one retry), `status --json`, `inspect`, `logout`, `--verbose` redaction.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTokenServer, type TokenServer } from '../helpers/token-server.js';
import { type TempHome, tempHome, tw } from './helpers.js';
import { readTrace, traceNodeArgs } from './trace.js';

/** A small API: `/data` (401 while `rejectNext` > 0), `/fail` (500), `/echo`, and RFC 7009 `/revoke`. */
interface Api {
  url: string;
  /** Requests to `/data`, and the Authorization header of each. */
  data: { count: number; auth: string[] };
  /** How many `/data` requests still get a 401. */
  rejectNext: number;
  /** Revocation requests and their `token` values. */
  revoked: string[];
  echoed: { method: string; contentType: string; body: string; header: string }[];
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function startApi(): Promise<Api> {
  const state = {
    data: { count: 0, auth: [] as string[] },
    rejectNext: 0,
    revoked: [] as string[],
    echoed: [] as Api['echoed'],
  };
  const server: Server = createServer(async (req, res) => {
    const body = await readBody(req);
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    if (path === '/data') {
      state.data.count++;
      state.data.auth.push(req.headers.authorization ?? '');
      if (state.rejectNext > 0) {
        state.rejectNext--;
        json(401, { error: { code: '401', message: 'token expired', status: 'Unauthorized' } });
        return;
      }
      json(200, { ok: true, n: state.data.count });
    } else if (path === '/fail') {
      json(500, { error: 'boom' });
    } else if (path === '/echo') {
      state.echoed.push({
        method: req.method ?? '',
        contentType: req.headers['content-type'] ?? '',
        body,
        header: String(req.headers['x-extra'] ?? ''),
      });
      json(201, { received: body.length });
    } else if (path === '/revoke') {
      state.revoked.push(new URLSearchParams(body).get('token') ?? '');
      res.writeHead(200).end();
    } else {
      json(404, { error: 'not found' });
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(state, {
    url,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  });
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as AddressInfo;
  s.close();
  await once(s, 'close');
  return port;
}

const SECRET = 'x-client-secret-4f1d9a7c';

let home: TempHome;
let env: NodeJS.ProcessEnv;
let ts: TokenServer;
let rejecting: TokenServer;
let eager: TokenServer;
let api: Api;
/** The current token of profile x, as the tests learn it (they run in order). */
let current = '';
/** A loopback port nothing listens on. */
let downPort = 0;

before(async () => {
  home = tempHome();
  [ts, rejecting, eager, api] = await Promise.all([
    startTokenServer({ latencyMs: 0 }),
    startTokenServer({ latencyMs: 0 }),
    startTokenServer({ latencyMs: 0 }),
    startApi(),
  ]);
  rejecting.fault = {
    status: 401,
    body: JSON.stringify({ error: 'invalid_client', error_description: 'Invalid Application Credential.' }),
  };
  const [down, redis] = await Promise.all([closedPort(), closedPort()]);
  downPort = down;
  env = { ...home.env, X_SECRET: SECRET };
  // The default config path (XDG_CONFIG_HOME/tokenward/config.toml): no --config needed.
  mkdirSync(dirname(home.config), { recursive: true });
  writeFileSync(
    home.config,
    `[profiles.x]
token_url = "${ts.tokenUrl}"
client_id = "cli-client"
client_secret = "env:X_SECRET"
revocation_url = "${api.url}/revoke"
api_base_url = "${api.url}"
allowed_origins = ["http://127.0.0.1:${down}"]

[profiles.eager]
token_url = "${eager.tokenUrl}"
client_id = "cli-client"
client_secret = "env:X_SECRET"
eager_refresh = 0.0001

[profiles.rejected]
token_url = "${rejecting.tokenUrl}"
client_id = "cli-client"
client_secret = "env:X_SECRET"
retries = 0

[profiles.down]
token_url = "http://127.0.0.1:${down}/token"
client_id = "cli-client"
client_secret = "env:X_SECRET"
retries = 0

[profiles.redis]
token_url = "${ts.tokenUrl}"
client_id = "cli-client"
client_secret = "env:X_SECRET"
store = "redis"
store_url = "redis://127.0.0.1:${redis}/0"

[profiles.unset]
token_url = "${ts.tokenUrl}"
client_id = "cli-client"
client_secret = "env:TOKENWARD_TEST_UNSET_VARIABLE"
`,
    { mode: 0o600 },
  );
});

after(async () => {
  await Promise.all([ts?.close(), rejecting?.close(), eager?.close(), api?.close()]);
  home?.cleanup();
});

describe('token', () => {
  it('prints exactly the token and a newline on stdout, nothing on stderr', async () => {
    const r = await tw(['token', 'x'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^at-\d+-\w+\n$/);
    assert.equal(r.stderr, '');
    assert.equal(ts.counts.total, 1);
    current = r.stdout.trim();
  });

  it('a second call is served from the file store: no request, and none of the modules it does not need', async () => {
    const trace = join(home.dir, 'loads.txt');
    const r = await tw(['token', 'x'], {
      env: { ...env, TOKENWARD_TRACE_LOADS: trace },
      nodeArgs: traceNodeArgs(),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${current}\n`);
    assert.equal(ts.counts.total, 1);
    const loaded = readTrace(trace);
    assert.ok(
      loaded.some((u) => /\/cli\/commands\/token\.[jt]s$/.test(u)),
      'the trace saw the token command',
    );
    const unwanted = [
      /\/cli\/commands\/(?!token\.)/, // other commands
      /\/cli\/help\./,
      /\/src\/(sandbox|fetch)\/|\/dist\/(sandbox|fetch)\//,
      /\/stores\/(postgres|redis)\./,
      /\/node_modules\/(undici|pg|pg-[a-z]+|ioredis|axios)\//,
      /\/node_modules\/jose\/dist\/webapi\/(jwt\/sign\.js|jws\/|jwe\/|jwk\/|jwks\/|key\/)/, // signing code
      /\/node_modules\/jose\/dist\/webapi\/index\.js$/,
    ];
    for (const re of unwanted) {
      const hit = loaded.find((u) => re.test(u));
      assert.equal(hit, undefined, `the warm path loaded ${hit}`);
    }
  });

  it('--json: access_token, token_type, expires_at, scope; the refresh token only with --show-refresh', async () => {
    const [plain, withRefresh] = await Promise.all([
      tw(['token', 'x', '--json'], { env }),
      tw(['token', 'x', '--json', '--show-refresh'], { env }),
    ]);
    assert.equal(plain.code, 0, plain.stderr);
    const j = JSON.parse(plain.stdout) as Record<string, unknown>;
    assert.equal(j['access_token'], current);
    assert.equal(j['token_type'], 'Bearer');
    assert.ok(Date.parse(String(j['expires_at'])) > Date.now() + 3_000_000);
    assert.ok(!('refresh_token' in j));
    const k = JSON.parse(withRefresh.stdout) as Record<string, unknown>;
    assert.match(String(k['refresh_token']), /^rt-1-/);
    assert.equal(ts.counts.total, 1);
  });

  it('--header prints an Authorization header line', async () => {
    const r = await tw(['token', 'x', '--header'], { env });
    assert.equal(r.stdout, `Authorization: Bearer ${current}\n`);
  });

  it('--min-ttl longer than the remaining life gets a new token (a refresh grant)', async () => {
    // 3589 s: longer than the life left once the token is over 1 s old (3600 s lifetime, 10 s margin),
    // shorter than a new token's 3590 s: a minimum TTL no token could meet is not renewed for (see
    // test/manager/min-ttl). The CLI has no clock to move, so wait until the cached token is 1.5 s old —
    // a slow machine only makes it older, never too young.
    const cached = await tw(['token', 'x', '--json'], { env });
    const expiresAt = Date.parse(
      String((JSON.parse(cached.stdout) as Record<string, unknown>)['expires_at']),
    );
    const ageMs = 3_600_000 - (expiresAt - Date.now());
    if (ageMs < 1_500) await new Promise((r) => setTimeout(r, 1_500 - ageMs));
    const r = await tw(['token', 'x', '--min-ttl', '59m49s'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.notEqual(r.stdout.trim(), current);
    assert.equal(ts.counts.total, 2);
    assert.equal(ts.counts.byGrant['refresh_token'], 1);
    current = r.stdout.trim();
  });

  it('--force -v: a new token; each exchange on stderr with the secret and tokens redacted', async () => {
    const r = await tw(['token', 'x', '--force', '-v'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^at-\d+-\w+\n$/);
    const token = r.stdout.trim();
    assert.notEqual(token, current);
    assert.equal(ts.counts.total, 3);
    assert.match(r.stderr, new RegExp(`> POST ${ts.tokenUrl}`));
    assert.match(r.stderr, /< 200 /);
    assert.match(r.stderr, /\[REDACTED\]/);
    for (const secret of [SECRET, token, current, ...ts.liveRefreshTokens]) {
      assert.ok(!r.stderr.includes(secret), 'a secret or token appeared on stderr');
    }
    assert.ok(!r.stderr.includes(Buffer.from(`cli-client:${SECRET}`).toString('base64')));
    current = token;
  });
});

describe('renewal past the eager-refresh point', () => {
  it('happens in the foreground, so the rotated refresh token is always stored (no background flight dies with the process)', async () => {
    const first = await tw(['token', 'eager'], { env });
    assert.equal(first.code, 0, first.stderr);
    const seen = [first.stdout];
    // eager_refresh = 0.0001 of a one-hour lifetime: every later call is past the point (0.36 s).
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 400));
      const r = await tw(['token', 'eager'], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '', 'no warning: the refresh token in the store was the live one');
      assert.ok(!seen.includes(r.stdout), 'a renewed token');
      seen.push(r.stdout);
    }
    // Exactly one renewal per later call, however long a call takes on a loaded machine: a token that a
    // call obtained itself is not renewed again in that call (the first call's, when it outlasts the
    // 0.36 s window). No rotation is lost: none rejected, no warning, a new token each call.
    assert.equal(eager.counts.byGrant['client_credentials'], 1);
    assert.equal(eager.counts.byGrant['refresh_token'], 3, JSON.stringify(eager.counts.byGrant));
    assert.equal(eager.rejectedRefreshes, 0);
  });
});

describe('exit codes', () => {
  it('2: usage (unknown option, too many arguments) and config (unset env: reference)', async () => {
    const [usage, extra, config] = await Promise.all([
      tw(['token', 'x', '--nope'], { env }),
      tw(['token', 'x', 'y'], { env }),
      tw(['token', 'unset'], { env }),
    ]);
    for (const r of [usage, extra, config]) {
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '');
    }
    assert.match(config.stderr, /TOKENWARD_TEST_UNSET_VARIABLE/);
    assert.ok(config.stderr.includes(home.config), 'the config error names the file');
  });

  it('3: the token endpoint rejects the client; 4: nothing listens at the token URL', async () => {
    const [rejected, down] = await Promise.all([
      tw(['token', 'rejected'], { env }),
      tw(['token', 'down'], { env }),
    ]);
    assert.equal(rejected.code, 3, rejected.stderr);
    assert.equal(rejected.stdout, '');
    assert.match(rejected.stderr, /tokenward: error: .*HTTP 401.*invalid_client/);
    assert.ok(!rejected.stderr.includes(SECRET));
    assert.equal(rejecting.counts.total, 1);
    assert.equal(down.code, 4, down.stderr);
    assert.equal(down.stdout, '');
    assert.match(down.stderr, /tokenward: error: /);
  });

  it('5: the Redis store is unreachable', async () => {
    const r = await tw(['token', 'redis'], { env });
    assert.equal(r.code, 5, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /tokenward: error: .*redis/i);
  });
});

describe('status, inspect, exec', () => {
  it('status --json: store, expiry, refresh token, last error per profile', async () => {
    const r = await tw(['status', '--json'], { env });
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    const by = Object.fromEntries(rows.map((row) => [row['profile'], row]));
    assert.deepEqual(Object.keys(by), ['x', 'eager', 'rejected', 'down', 'redis', 'unset']);
    const x = by['x'] ?? {};
    assert.equal(x['store'], 'file');
    assert.equal(x['cached'], true);
    assert.equal(x['valid'], true);
    assert.equal(x['has_refresh_token'], true);
    assert.ok(Number(x['expires_in']) > 3000);
    assert.equal(x['last_error'], null);
    assert.equal((by['rejected']?.['last_error'] as { code?: string } | null)?.code, 'ERR_TOKEN_ENDPOINT');
    assert.equal((by['down']?.['last_error'] as { code?: string } | null)?.code, 'ERR_NETWORK');
    assert.equal(by['redis']?.['store'], 'redis');
    assert.match(String(by['redis']?.['error']), /redis/i);
    assert.ok(!r.stdout.includes(current), 'status printed a token');
  });

  it('status prints a table; inspect of a profile shows its cached token without printing it', async () => {
    const [table, inspect] = await Promise.all([tw(['status'], { env }), tw(['inspect', 'x'], { env })]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^PROFILE +PROVIDER +STORE +TOKEN +EXPIRES +REFRESH +RENEWED +LAST ERROR\n/);
    assert.match(table.stdout, /\nx +oauth2 +file +valid +expires in \d+m\d+s +yes +\S+ ago \(\d+×\) +-\n/);
    assert.match(table.stdout, /\nrejected .*ERR_TOKEN_ENDPOINT/);
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.match(inspect.stdout, /not a JWT \(opaque/);
    assert.match(inspect.stdout, /refresh +yes/);
    assert.ok(!inspect.stdout.includes(current) && !inspect.stderr.includes(current));
    assert.equal(ts.counts.total, 3, 'inspect fetched nothing');
  });

  it('exec: the token in the named variable, the exit code passed through; 127 when it cannot start', async () => {
    const script = 'process.stdout.write(process.env.MY_TOKEN ?? "unset"); process.exit(7)';
    const [r, missing] = await Promise.all([
      tw(['exec', 'x', '--env', 'MY_TOKEN', '--', process.execPath, '-e', script], { env }),
      tw(['exec', 'x', '--', 'tokenward-test-no-such-command'], { env }),
    ]);
    assert.equal(r.code, 7, r.stderr);
    assert.equal(r.stdout, current);
    assert.equal(missing.code, 127);
    assert.match(missing.stderr, /command not found/);
    assert.equal(ts.counts.total, 3);
  });
});

describe('request', () => {
  it('on a 401 invalidates the token and retries once with a new one', async () => {
    api.rejectNext = 1;
    const before = ts.counts.total;
    const r = await tw(['request', 'x', `${api.url}/data`, '-v'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { ok: true, n: 2 });
    assert.equal(api.data.count, 2);
    assert.equal(api.data.auth[0], `Bearer ${current}`);
    assert.notEqual(api.data.auth[1], api.data.auth[0]);
    assert.equal(ts.counts.total, before + 1, 'one new token for the retry');
    // -v: each attempt, the Authorization header redacted
    assert.match(r.stderr, /> GET http:\/\/127\.0\.0\.1:\d+\/data\n/);
    assert.match(r.stderr, /> authorization: Bearer \[REDACTED\]/);
    assert.match(r.stderr, /< 401 Unauthorized/);
    assert.match(r.stderr, /\(attempt 2\)/);
    assert.match(r.stderr, /< 200 OK/);
    for (const a of api.data.auth) assert.ok(!r.stderr.includes(a.slice('Bearer '.length)));
    current = String(api.data.auth[1]).slice('Bearer '.length);
  });

  it('PUT --data with -H; non-2xx prints the body and exits 6; other origins exit 2; a closed port exits 4', async () => {
    const [post, fail, elsewhere, down] = await Promise.all([
      tw(['request', 'x', 'PUT', `${api.url}/echo`, '--data', '{"a":1}', '-H', 'X-Extra: yes'], { env }),
      tw(['request', 'x', `${api.url}/fail`], { env }),
      tw(['request', 'x', 'http://127.0.0.2:9/data'], { env }),
      tw(['request', 'x', `http://127.0.0.1:${downPort}/data`], { env }),
    ]);
    assert.equal(post.code, 0, post.stderr);
    assert.deepEqual(JSON.parse(post.stdout), { received: 7 });
    assert.deepEqual(api.echoed[0], {
      method: 'PUT',
      contentType: 'application/json',
      body: '{"a":1}',
      header: 'yes',
    });
    assert.equal(fail.code, 6);
    assert.equal(fail.stdout, '{"error":"boom"}');
    assert.match(fail.stderr, /HTTP 500/);
    assert.equal(elsewhere.code, 2);
    assert.match(elsewhere.stderr, /sends its token only to/);
    assert.equal(down.code, 4, down.stderr);
    assert.equal(down.stdout, '');
    assert.match(down.stderr, /ECONNREFUSED/);
  });
});

describe('logout', () => {
  it('revokes at the server, deletes from the store; the next token call gets a new one', async () => {
    const token = current;
    const r = await tw(['logout', 'x'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /revoked at the server; deleted from the store/);
    // RFC 7009: the refresh token first (it ends the grant), then the access token
    assert.equal(api.revoked.length, 2);
    assert.match(String(api.revoked[0]), /^rt-/);
    assert.equal(api.revoked[1], token);
    assert.ok(!r.stderr.includes(token));
    const before = ts.counts.total;
    const status = await tw(['status', '--json'], { env });
    const x = (JSON.parse(status.stdout) as Array<Record<string, unknown>>).find(
      (row) => row['profile'] === 'x',
    );
    assert.equal(x?.['cached'], false);
    const next = await tw(['token', 'x'], { env });
    assert.equal(next.code, 0, next.stderr);
    assert.notEqual(next.stdout.trim(), token);
    assert.equal(ts.counts.total, before + 1);
  });
});
