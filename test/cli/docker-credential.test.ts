/**
 * `docker-credential-tokenward` (the package's second `bin`) as docker runs it: found on PATH by name,
 * the operation as its one argument, the registry on stdin, JSON on stdout, the exit code. The protocol
 * itself (get, list, "not found", store/erase refused, failures: stderr only), then the real docker CLI
 * (`docker manifest inspect`, which talks to the registry itself, no daemon) against a loopback HTTPS
 * registry made here that demands Basic credentials and records them.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runProcess } from '../helpers/process.js';
import { missing } from '../helpers/services.js';
import { selfSignedCert, TLS_CERT_INSTALL } from '../helpers/tls-cert.js';
import type { TokenServer } from '../helpers/token-server.js';
import { hasProgram, installBin, listenLoopback, tokenServers } from './helper-clients.js';
import { type TempHome, tempHome, tw } from './helpers.js';

const DOCKER_INSTALL = 'apt-get install docker.io (only the docker CLI runs, no daemon)';
const NOT_FOUND = 'credentials not found in native keychain\n';

const IMAGE_CONFIG = JSON.stringify({
  architecture: 'amd64',
  os: 'linux',
  config: {},
  rootfs: { type: 'layers', diff_ids: [] },
});
const CONFIG_DIGEST = `sha256:${createHash('sha256').update(IMAGE_CONFIG).digest('hex')}`;
const MANIFEST = JSON.stringify({
  schemaVersion: 2,
  mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
  config: {
    mediaType: 'application/vnd.docker.container.image.v1+json',
    size: Buffer.byteLength(IMAGE_CONFIG),
    digest: CONFIG_DIGEST,
  },
  layers: [],
});

/** A registry (Docker Registry HTTP API v2) serving one manifest, behind Basic authentication. */
interface Registry {
  host: string;
  /** The Basic credentials of every request ('' when none). */
  credentials: string[];
  close(): Promise<void>;
}

function startRegistry(tls: { key: string; cert: string }): Promise<Registry> {
  const credentials: string[] = [];
  const server: Server = createServer(tls, (req, res) => {
    const m = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    const cred = m === null ? '' : Buffer.from(m[1] ?? '', 'base64').toString('utf8');
    credentials.push(cred);
    if (!/^oauth2accesstoken:at-\d+-\w+$/.test(cred)) {
      res.writeHead(401, {
        'www-authenticate': 'Basic realm="registry"',
        'content-type': 'application/json',
        'docker-distribution-api-version': 'registry/2.0',
      });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return;
    }
    const path = new URL(req.url ?? '/', 'https://x').pathname;
    if (path === '/v2/') {
      res.writeHead(200, {
        'content-type': 'application/json',
        'docker-distribution-api-version': 'registry/2.0',
      });
      res.end('{}');
    } else if (path === '/v2/team/app/manifests/1.0') {
      res.writeHead(200, {
        'content-type': 'application/vnd.docker.distribution.manifest.v2+json',
        'docker-content-digest': `sha256:${createHash('sha256').update(MANIFEST).digest('hex')}`,
        'content-length': String(Buffer.byteLength(MANIFEST)),
      });
      res.end(req.method === 'HEAD' ? undefined : MANIFEST);
    } else if (path === `/v2/team/app/blobs/${CONFIG_DIGEST}`) {
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'docker-content-digest': CONFIG_DIGEST,
        'content-length': String(Buffer.byteLength(IMAGE_CONFIG)),
      });
      res.end(req.method === 'HEAD' ? undefined : IMAGE_CONFIG);
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'not found' }] }));
    }
  });
  return listenLoopback(server).then(({ port, close }) => ({
    host: `127.0.0.1:${port}`,
    credentials,
    close,
  }));
}

let home: TempHome;
let env: NodeJS.ProcessEnv;
let ts: TokenServer;
let rejecting: TokenServer;
let registry: Registry | undefined;
let helper = '';
let dockerConfig = '';
const tls = selfSignedCert();
const docker = hasProgram('docker');
/** The same loopback registry under another name, mapped to a profile whose renewal fails. */
let registryOfRejected = 'localhost:9';

/** Runs the helper as docker does: by path, one operation, stdin, its own environment. */
function helperRun(operation: string, input: string, extraEnv: NodeJS.ProcessEnv = {}) {
  return runProcess(helper, [operation], {
    env: { ...env, ...extraEnv },
    cwd: home.dir,
    input,
    timeoutMs: 60_000,
  });
}

before(async () => {
  home = tempHome();
  ({ ts, rejecting } = await tokenServers());
  if (tls !== undefined) registry = await startRegistry(tls);
  if (registry !== undefined) registryOfRejected = registry.host.replace('127.0.0.1', 'localhost');
  const bin = join(home.dir, 'bin');
  helper = installBin(bin, 'docker-credential-tokenward');
  const config = join(home.dir, 'config.toml');
  writeFileSync(
    config,
    `[profiles.registry]
token_url = "${ts.tokenUrl}"
client_id = "docker"
client_secret = "env:DOCKER_SECRET"
docker_registries = ["${registry?.host ?? '127.0.0.1:9'}", "https://Registry.Example.TEST/v2/"]

[profiles.ghcr]
token_url = "${ts.tokenUrl}"
client_id = "docker-ghcr"
client_secret = "env:DOCKER_SECRET"
docker_registries = ["ghcr.example.test"]
docker_username = "robot"

[profiles.rejected]
token_url = "${rejecting.tokenUrl}"
client_id = "docker"
client_secret = "env:DOCKER_SECRET"
docker_registries = ["${registryOfRejected}"]
retries = 0

[profiles.twice-a]
token_url = "${ts.tokenUrl}"
client_id = "a"
client_secret = "env:DOCKER_SECRET"
docker_registries = ["twice.example.test"]

[profiles.twice-b]
token_url = "${ts.tokenUrl}"
client_id = "b"
client_secret = "env:DOCKER_SECRET"
docker_registries = ["https://twice.example.test/"]

[profiles.no-docker]
token_url = "${ts.tokenUrl}"
client_id = "c"
client_secret = "env:DOCKER_SECRET"
`,
    { mode: 0o600 },
  );
  dockerConfig = join(home.dir, 'docker');
  mkdirSync(dockerConfig);
  writeFileSync(
    join(dockerConfig, 'config.json'),
    JSON.stringify({
      credHelpers: { [registry?.host ?? '127.0.0.1:9']: 'tokenward', [registryOfRejected]: 'tokenward' },
    }),
  );
  env = {
    ...home.env,
    PATH: `${bin}${delimiter}${home.env['PATH'] ?? ''}`,
    TOKENWARD_CONFIG: config,
    DOCKER_CONFIG: dockerConfig,
    DOCKER_SECRET: 'docker-client-secret-93ab',
  };
});

after(async () => {
  await Promise.all([ts?.close(), rejecting?.close(), registry?.close()]);
  home?.cleanup();
});

async function currentToken(profile: string): Promise<string> {
  const r = await tw(['token', profile], { env });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

describe('docker-credential-tokenward protocol', () => {
  it('get: the registry on stdin (host, or URL) → {ServerURL, Username, Secret}; the cache serves later calls', async () => {
    const host = registry?.host ?? '127.0.0.1:9';
    const first = await helperRun('get', `${host}\n`);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stderr, '');
    const token = await currentToken('registry');
    assert.equal(
      first.stdout,
      `${JSON.stringify({ ServerURL: host, Username: 'oauth2accesstoken', Secret: token })}\n`,
    );
    for (const input of ['registry.example.test', 'https://registry.example.test/v2/', `https://${host}`]) {
      const r = await helperRun('get', input);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), {
        ServerURL: input,
        Username: 'oauth2accesstoken',
        Secret: token,
      });
    }
    const robot = await helperRun('get', 'ghcr.example.test');
    assert.equal(robot.code, 0, robot.stderr);
    assert.deepEqual(JSON.parse(robot.stdout), {
      ServerURL: 'ghcr.example.test',
      Username: 'robot',
      Secret: await currentToken('ghcr'),
    });
    assert.deepEqual(ts.counts.byGrant, { client_credentials: 2 });
  });

  it('list: every mapped registry and its username, without fetching anything', async () => {
    const grants = ts.counts.total;
    const r = await helperRun('list', '');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      [registry?.host ?? '127.0.0.1:9']: 'oauth2accesstoken',
      'registry.example.test': 'oauth2accesstoken',
      'ghcr.example.test': 'robot',
      [registryOfRejected]: 'oauth2accesstoken',
      'twice.example.test': 'oauth2accesstoken',
    });
    assert.equal(ts.counts.total, grants);
    assert.equal(rejecting.counts.total, 0);
  });

  it('a registry no profile lists: docker\'s "not found" on stdout, exit 1, so docker goes on without credentials', async () => {
    const r = await helperRun('get', 'docker.io');
    assert.equal(r.code, 1);
    assert.equal(r.stdout, NOT_FOUND);
    assert.equal(r.stderr, '');
    const noConfig = await helperRun('get', 'registry.example.test', {
      TOKENWARD_CONFIG: join(home.dir, 'missing.toml'),
    });
    assert.equal(noConfig.code, 1);
    assert.equal(noConfig.stdout, NOT_FOUND);
    assert.match(noConfig.stderr, /missing\.toml does not exist: no registry is mapped to a profile/);
  });

  it('store and erase are refused: message on stderr, nothing on stdout, exit 2', async () => {
    for (const op of ['store', 'erase']) {
      const input =
        op === 'store'
          ? JSON.stringify({ ServerURL: 'registry.example.test', Username: 'u', Secret: 'typed-secret-1234' })
          : 'registry.example.test';
      const r = await helperRun(op, input);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(
        r.stderr,
        new RegExp(`does not ${op} credentials: the token comes from the tokenward profile`),
      );
    }
  });

  it('failures: message on stderr, nothing on stdout, non-zero exit', async () => {
    const cases: Array<[string, string, NodeJS.ProcessEnv, number, RegExp]> = [
      ['get', registryOfRejected, {}, 3, /invalid_client/],
      ['get', 'twice.example.test', {}, 2, /in docker_registries of several profiles \(twice-a, twice-b\)/],
      ['get', '', {}, 2, /no registry on standard input/],
      ['version-9', '', {}, 2, /unknown operation "version-9"/],
    ];
    for (const [op, input, extra, code, message] of cases) {
      const r = await helperRun(op, input, extra);
      assert.equal(r.code, code, `${op} ${input}: ${r.stderr}`);
      assert.equal(r.stdout, '', `${op} ${input}`);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /docker-client-secret/);
    }
    assert.equal(rejecting.counts.total, 1);
    // A cached token is served without its secret: secret references are resolved on the first request.
    const cached = await helperRun('get', 'registry.example.test', { DOCKER_SECRET: '' });
    assert.equal(cached.code, 0, cached.stderr);
  });
});

describe('docker-credential-tokenward with the real docker CLI', () => {
  it('docker manifest inspect authenticates to the registry with the profile token', async (t) => {
    if (tls === undefined || registry === undefined) return missing(t, 'openssl', TLS_CERT_INSTALL);
    if (!docker) return missing(t, 'docker', DOCKER_INSTALL);
    const before = registry.credentials.length;
    const r = await runProcess(
      'docker',
      ['manifest', 'inspect', '--insecure', `${registry.host}/team/app:1.0`],
      {
        env,
        cwd: home.dir,
        timeoutMs: 120_000,
      },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), JSON.parse(MANIFEST));
    const token = await currentToken('registry');
    const sent = new Set(registry.credentials.slice(before).filter((c) => c !== ''));
    assert.deepEqual(sent, new Set([`oauth2accesstoken:${token}`]));
  });

  it('a failed renewal: docker fails with the helper message, and the registry sees no credential', async (t) => {
    if (tls === undefined || registry === undefined) return missing(t, 'openssl', TLS_CERT_INSTALL);
    if (!docker) return missing(t, 'docker', DOCKER_INSTALL);
    const before = registry.credentials.length;
    const r = await runProcess(
      'docker',
      ['manifest', 'inspect', '--insecure', `${registryOfRejected}/team/app:1.0`],
      {
        env,
        cwd: home.dir,
        timeoutMs: 120_000,
      },
    );
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, '');
    // docker goes on without credentials (and the registry refuses it); the helper said why.
    assert.match(r.stderr, /tokenward: error: .*invalid_client/);
    assert.deepEqual(
      registry.credentials.slice(before).filter((c) => c !== ''),
      [],
    );
  });
});
