/**
 * `tokenward git-credential` as git's credential helper: the real `git ls-remote` and `git clone` over
 * HTTP against a loopback server — `git http-backend` behind a small CGI bridge — that demands Basic
 * credentials and records them. The helper is configured as the docs say
 * (`credential.<url>.helper = !tokenward git-credential <profile>`). Covers `get` (username, token,
 * `password_expiry_utc`), the cache serving later runs, `erase` renewing a refused token once, a host
 * outside the profile's origins getting nothing, and the failure paths.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runProcess } from '../helpers/process.js';
import { missing } from '../helpers/services.js';
import type { TokenServer } from '../helpers/token-server.js';
import { cliArgv, hasProgram, listenLoopback, shellWords, tokenServers } from './helper-clients.js';
import { type TempHome, tempHome, tw } from './helpers.js';

const GIT_INSTALL = 'apt-get install git';

/** A git smart-HTTP server: `git http-backend` as CGI, behind Basic authentication. */
interface GitServer {
  url: string;
  /** The Basic credentials of every request ('' when none). */
  credentials: string[];
  /** Passwords answered 401 as a revoked token would be. */
  revoked: Set<string>;
  close(): Promise<void>;
}

function startGitServer(root: string): Promise<GitServer> {
  const credentials: string[] = [];
  const revoked = new Set<string>();
  const server: Server = createServer((req, res) => {
    const m = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    const cred = m === null ? '' : Buffer.from(m[1] ?? '', 'base64').toString('utf8');
    credentials.push(cred);
    const password = cred.slice(cred.indexOf(':') + 1);
    if (!cred.startsWith('x-access-token:') || !/^at-\d+-\w+$/.test(password) || revoked.has(password)) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="git"', 'content-type': 'text/plain' });
      res.end('unauthorized\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://x');
    const cgi = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        GIT_CONFIG_NOSYSTEM: '1',
        HOME: root,
        REQUEST_METHOD: req.method ?? 'GET',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        REMOTE_USER: 'x-access-token',
        REMOTE_ADDR: '127.0.0.1',
        GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
        HTTP_CONTENT_ENCODING: String(req.headers['content-encoding'] ?? ''),
      },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    req.pipe(cgi.stdin);
    const chunks: Buffer[] = [];
    cgi.stdout.on('data', (c: Buffer) => chunks.push(c));
    cgi.on('close', () => {
      const out = Buffer.concat(chunks);
      const end = out.indexOf('\r\n\r\n');
      const sep = end === -1 ? out.indexOf('\n\n') : end;
      const head = out.subarray(0, sep === -1 ? 0 : sep).toString('latin1');
      const body = out.subarray(sep === -1 ? 0 : sep + (end === -1 ? 2 : 4));
      let status = 200;
      const headers: Record<string, string> = {};
      for (const l of head.split(/\r?\n/)) {
        const i = l.indexOf(':');
        if (i <= 0) continue;
        const k = l.slice(0, i).trim();
        const v = l.slice(i + 1).trim();
        if (k.toLowerCase() === 'status') status = Number.parseInt(v, 10);
        else headers[k] = v;
      }
      res.writeHead(status, headers);
      res.end(body);
    });
  });
  return listenLoopback(server).then(({ port, close }) => ({
    url: `http://127.0.0.1:${port}`,
    credentials,
    revoked,
    close,
  }));
}

let home: TempHome;
let env: NodeJS.ProcessEnv;
let ts: TokenServer;
let rejecting: TokenServer;
let git: GitServer | undefined;
let config = '';
let head = '';
const hasGit = hasProgram('git');

/** Runs git with the helper for the server's URL configured as docs/integrations.md says. */
function runGit(profile: string, args: string[], cwd = home.dir) {
  const url = git?.url ?? '';
  const helper = `!${shellWords([...cliArgv(), 'git-credential', profile, '--config', config])}`;
  return runProcess(
    'git',
    ['-c', 'credential.helper=', '-c', `credential.${url}.helper=${helper}`, ...args],
    { env, cwd, timeoutMs: 120_000 },
  );
}

before(async () => {
  home = tempHome();
  ({ ts, rejecting } = await tokenServers());
  env = {
    ...home.env,
    GIT_SECRET: 'git-client-secret-5e1b',
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: 'tokenward',
    GIT_AUTHOR_EMAIL: 'dev@tokenward.local',
    GIT_COMMITTER_NAME: 'tokenward',
    GIT_COMMITTER_EMAIL: 'dev@tokenward.local',
  };
  const root = join(home.dir, 'repos');
  mkdirSync(root);
  if (hasGit) {
    const work = join(home.dir, 'work');
    for (const [args, cwd] of [
      [['init', '--bare', '-q', '-b', 'main', join(root, 'repo.git')], home.dir],
      [['init', '-q', '-b', 'main', work], home.dir],
      [['commit', '-q', '--allow-empty', '-m', 'first'], work],
      [['push', '-q', join(root, 'repo.git'), 'main'], work],
      [['rev-parse', 'HEAD'], work],
    ] as const) {
      const r = await runProcess('git', args, { env, cwd });
      assert.equal(r.code, 0, r.stderr);
      head = r.stdout.trim();
    }
    git = await startGitServer(root);
  }
  const gitUrl = git?.url ?? 'http://127.0.0.1:9';
  config = join(home.dir, 'config.toml');
  writeFileSync(
    config,
    `[profiles.gitlab]
token_url = "${ts.tokenUrl}"
client_id = "git"
client_secret = "env:GIT_SECRET"
api_base_url = "${gitUrl}"

[profiles.oauth2user]
token_url = "${ts.tokenUrl}"
client_id = "git"
client_secret = "env:GIT_SECRET"
api_base_url = "${gitUrl}"
git_username = "oauth2"

[profiles.fresh]
token_url = "${ts.tokenUrl}"
client_id = "git-fresh"
client_secret = "env:GIT_SECRET"
api_base_url = "${gitUrl}"

[profiles.elsewhere]
token_url = "${ts.tokenUrl}"
client_id = "git-elsewhere"
client_secret = "env:GIT_SECRET"
api_base_url = "http://127.0.0.1:1"

[profiles.nowhere]
token_url = "${ts.tokenUrl}"
client_id = "git-nowhere"
client_secret = "env:GIT_SECRET"

[profiles.rejected]
token_url = "${rejecting.tokenUrl}"
client_id = "git"
client_secret = "env:GIT_SECRET"
api_base_url = "${gitUrl}"
retries = 0
`,
    { mode: 0o600 },
  );
});

after(async () => {
  await Promise.all([ts?.close(), rejecting?.close(), git?.close()]);
  home?.cleanup();
});

/** The profile's current token, as `tokenward token` prints it. */
async function currentToken(profile: string): Promise<string> {
  const r = await tw(['token', profile, '--config', config], { env });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

describe('git-credential with the real git', () => {
  it('git ls-remote and git clone authenticate with the token; later runs reuse the cached token', async (t) => {
    if (!hasGit || git === undefined) return missing(t, 'git', GIT_INSTALL);
    const ls = await runGit('gitlab', ['ls-remote', `${git.url}/repo.git`]);
    assert.equal(ls.code, 0, ls.stderr);
    assert.equal(ls.stdout, `${head}\tHEAD\n${head}\trefs/heads/main\n`);
    const clone = await runGit('gitlab', ['clone', '-q', `${git.url}/repo.git`, join(home.dir, 'clone')]);
    assert.equal(clone.code, 0, clone.stderr);
    const cloned = await runProcess('git', ['rev-parse', 'HEAD'], { env, cwd: join(home.dir, 'clone') });
    assert.equal(cloned.stdout.trim(), head);
    const token = await currentToken('gitlab');
    const sent = new Set(git.credentials.filter((c) => c !== ''));
    assert.deepEqual(sent, new Set([`x-access-token:${token}`]));
    assert.deepEqual(ts.counts.byGrant, { client_credentials: 1 });
  });

  it('erase (the server refused the token) renews it once; the next git run uses the new token', async (t) => {
    if (!hasGit || git === undefined) return missing(t, 'git', GIT_INSTALL);
    const old = await currentToken('gitlab');
    git.revoked.add(old);
    const refused = await runGit('gitlab', ['ls-remote', `${git.url}/repo.git`]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /Authentication failed/);
    assert.deepEqual(ts.counts.byGrant, { client_credentials: 1, refresh_token: 1 });
    const renewed = await currentToken('gitlab');
    assert.notEqual(renewed, old);
    const before = git.credentials.length;
    const ok = await runGit('gitlab', ['ls-remote', `${git.url}/repo.git`]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(
      new Set(git.credentials.slice(before).filter((c) => c !== '')),
      new Set([`x-access-token:${renewed}`]),
    );
    // erase naming a token that was already replaced does nothing.
    const stale = await tw(['git-credential', 'gitlab', 'erase', '--config', config], {
      env,
      input: `protocol=http\nhost=${new URL(git.url).host}\nusername=x-access-token\npassword=${old}\n\n`,
    });
    assert.equal(stale.code, 0, stale.stderr);
    assert.equal(stale.stdout, '');
    assert.deepEqual(ts.counts.byGrant, { client_credentials: 1, refresh_token: 1 });
  });

  it('a host outside the profile origins gets nothing: git fails without sending a credential', async (t) => {
    if (!hasGit || git === undefined) return missing(t, 'git', GIT_INSTALL);
    const before = git.credentials.length;
    const grants = ts.counts.total;
    const r = await runGit('elsewhere', ['ls-remote', `${git.url}/repo.git`]);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /is not among the origins of profile "elsewhere" \(http:\/\/127\.0\.0\.1:1\); no credential given/,
    );
    assert.deepEqual(
      git.credentials.slice(before).filter((c) => c !== ''),
      [],
    );
    assert.equal(ts.counts.total, grants);
  });

  it('a failed renewal: git fails, the helper says why on stderr, no credential is sent', async (t) => {
    if (!hasGit || git === undefined) return missing(t, 'git', GIT_INSTALL);
    const before = git.credentials.length;
    const r = await runGit('rejected', ['ls-remote', `${git.url}/repo.git`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /tokenward: error: .*invalid_client/);
    assert.deepEqual(
      git.credentials.slice(before).filter((c) => c !== ''),
      [],
    );
  });
});

describe('git-credential protocol', () => {
  const host = () => new URL(git?.url ?? 'http://127.0.0.1:9').host;

  it('get answers username (git_username), password and password_expiry_utc; store prints nothing', async () => {
    const json = await tw(['token', 'oauth2user', '--json', '--config', config], { env });
    assert.equal(json.code, 0, json.stderr);
    const { access_token, expires_at } = JSON.parse(json.stdout) as {
      access_token: string;
      expires_at: string;
    };
    const grants = ts.counts.total;
    const r = await tw(['git-credential', 'oauth2user', 'get', '--config', config], {
      env,
      input: `capability[]=authtype\nprotocol=http\nhost=${host()}\nwwwauth[]=Basic realm="git"\n\n`,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const expiry = Math.floor((Date.parse(expires_at) - 10_000) / 1000);
    assert.equal(r.stdout, `username=oauth2\npassword=${access_token}\npassword_expiry_utc=${expiry}\n`);
    for (const op of ['store', 'some-future-operation']) {
      const s = await tw(['git-credential', 'oauth2user', op, '--config', config], {
        env,
        input: `protocol=http\nhost=${host()}\nusername=oauth2\npassword=${access_token}\n\n`,
      });
      assert.equal(s.code, 0, s.stderr);
      assert.equal(s.stdout, '');
      assert.equal(s.stderr, '');
    }
    assert.equal(ts.counts.total, grants);
  });

  it('fails with a message on stderr and nothing on stdout: unknown profile, no API origin, failed renewal, bad usage', async () => {
    const input = `protocol=http\nhost=${host()}\n\n`;
    const cases: Array<[string[], number, RegExp]> = [
      [['git-credential', 'nope', 'get', '--config', config], 2, /nope/],
      [['git-credential', 'nowhere', 'get', '--config', config], 2, /names no API origin/],
      [['git-credential', 'rejected', 'get', '--config', config], 3, /invalid_client/],
      [['git-credential', 'gitlab', '--config', config], 2, /takes a profile and an operation/],
    ];
    const grants = ts.counts.total;
    for (const [args, code, message] of cases) {
      const r = await tw(args, { env, input });
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '', args.join(' '));
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /git-client-secret/);
    }
    assert.equal(ts.counts.total, grants);
  });

  it('erase with nothing cached makes no request and prints nothing', async () => {
    const grants = ts.counts.total;
    const r = await tw(['git-credential', 'fresh', 'erase', '--config', config], {
      env,
      input: `protocol=http\nhost=${host()}\nusername=x-access-token\npassword=at-1-old\n\n`,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, '');
    assert.equal(ts.counts.total, grants);
  });

  it('a protocol or host other than the origin gets nothing (https for http, another port, another host)', async () => {
    const grants = ts.counts.total;
    for (const req of [
      `protocol=https\nhost=${host()}\n`,
      'protocol=http\nhost=127.0.0.1:2\n',
      'protocol=http\nhost=evil.example\n',
      'host=evil.example\n',
    ]) {
      const r = await tw(['git-credential', 'gitlab', 'get', '--config', config], { env, input: `${req}\n` });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /no credential given/);
    }
    assert.equal(ts.counts.total, grants);
  });
});
