/**
 * `tokenward kubectl-credential` as kubectl's exec credential plugin: the real `kubectl` against a
 * loopback HTTPS API server made here (own certificate) that answers the discovery and list calls and
 * records the bearer tokens it receives. Both ExecCredential versions (v1beta1, v1) chosen from
 * KUBERNETES_EXEC_INFO, the cache serving later kubectl runs, a cluster outside the profile's origins
 * refused, and the failure paths: message on stderr, nothing on stdout, non-zero exit.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runProcess } from '../helpers/process.js';
import { missing } from '../helpers/services.js';
import { selfSignedCert, TLS_CERT_INSTALL } from '../helpers/tls-cert.js';
import type { TokenServer } from '../helpers/token-server.js';
import { cliArgv, hasProgram, listenLoopback, tokenServers } from './helper-clients.js';
import { ROOT, type TempHome, tempHome, tw } from './helpers.js';

const KUBECTL_INSTALL = 'apt-get install kubernetes-client';
const V1 = 'client.authentication.k8s.io/v1';
const V1BETA1 = 'client.authentication.k8s.io/v1beta1';

/** A tiny Kubernetes API: discovery, /version and the pods of "default"; 401 without a bearer token. */
interface Api {
  url: string;
  /** The bearer token of every request (empty string: none). */
  bearers: string[];
  close(): Promise<void>;
}

function startApi(tls: { key: string; cert: string }): Promise<Api> {
  const bearers: string[] = [];
  const server: Server = createServer(tls, (req, res) => {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    bearers.push(m?.[1] ?? '');
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (m === null) {
      json(401, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Unauthorized', code: 401 });
      return;
    }
    const path = new URL(req.url ?? '/', 'https://x').pathname;
    if (path === '/version') {
      json(200, { major: '1', minor: '32', gitVersion: 'v1.32.0', platform: 'linux/amd64' });
    } else if (path === '/api') {
      json(200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
    } else if (path === '/apis') {
      json(200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
    } else if (path === '/api/v1') {
      json(200, {
        kind: 'APIResourceList',
        groupVersion: 'v1',
        resources: [
          {
            name: 'pods',
            singularName: 'pod',
            namespaced: true,
            kind: 'Pod',
            verbs: ['get', 'list'],
            shortNames: ['po'],
          },
        ],
      });
    } else if (path === '/api/v1/namespaces/default/pods') {
      json(200, {
        kind: 'PodList',
        apiVersion: 'v1',
        metadata: { resourceVersion: '1' },
        items: [{ metadata: { name: 'web-1', namespace: 'default' } }],
      });
    } else {
      json(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 });
    }
  });
  return listenLoopback(server).then(({ port, close }) => ({
    url: `https://127.0.0.1:${port}`,
    bearers,
    close,
  }));
}

let home: TempHome;
let env: NodeJS.ProcessEnv;
let ts: TokenServer;
let rejecting: TokenServer;
let api: Api | undefined;
let config = '';
let kubeconfig = '';
const tls = selfSignedCert();
const kubectl = hasProgram('kubectl');

/** kubectl's minor version (Debian bookworm's kubernetes-client is 1.20: v1beta1 only, v1 came in 1.22). */
function kubectlMinor(): number {
  const r = spawnSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8' });
  try {
    const v = JSON.parse(r.stdout) as { clientVersion?: { minor?: string } };
    return Number.parseInt(v.clientVersion?.minor ?? '0', 10);
  } catch {
    return 0;
  }
}

/** A kubeconfig user whose credential comes from `tokenward kubectl-credential PROFILE`. */
function execUser(profile: string, apiVersion: string) {
  const [command, ...args] = cliArgv();
  return {
    exec: {
      apiVersion,
      command,
      args: [...args, 'kubectl-credential', profile, '--config', config],
      interactiveMode: 'Never',
      provideClusterInfo: true,
    },
  };
}

before(async () => {
  home = tempHome();
  ({ ts, rejecting } = await tokenServers());
  if (tls !== undefined) api = await startApi(tls);
  const apiUrl = api?.url ?? 'https://127.0.0.1:9';
  config = join(home.dir, 'config.toml');
  writeFileSync(
    config,
    `[profiles.k8s]
token_url = "${ts.tokenUrl}"
client_id = "kube"
client_secret = "env:K8S_SECRET"
api_base_url = "${apiUrl}"

[profiles.elsewhere]
token_url = "${ts.tokenUrl}"
client_id = "kube"
client_secret = "env:K8S_SECRET"
api_base_url = "https://127.0.0.1:1"

[profiles.rejected]
token_url = "${rejecting.tokenUrl}"
client_id = "kube"
client_secret = "env:K8S_SECRET"
api_base_url = "${apiUrl}"
retries = 0
`,
    { mode: 0o600 },
  );
  kubeconfig = join(home.dir, 'kubeconfig.json');
  const cluster = {
    server: apiUrl,
    'certificate-authority-data': Buffer.from(tls?.cert ?? '').toString('base64'),
  };
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'local', cluster }],
      users: [
        { name: 'beta', user: execUser('k8s', V1BETA1) },
        { name: 'v1', user: execUser('k8s', V1) },
        { name: 'elsewhere', user: execUser('elsewhere', V1BETA1) },
        { name: 'rejected', user: execUser('rejected', V1BETA1) },
      ],
      contexts: ['beta', 'v1', 'elsewhere', 'rejected'].map((u) => ({
        name: u,
        context: { cluster: 'local', user: u, namespace: 'default' },
      })),
      'current-context': 'beta',
    }),
    { mode: 0o600 },
  );
  env = { ...home.env, K8S_SECRET: 'k8s-client-secret-7d2c', KUBECONFIG: kubeconfig };
});

after(async () => {
  await Promise.all([ts?.close(), rejecting?.close(), api?.close()]);
  home?.cleanup();
});

function runKubectl(args: string[]) {
  return runProcess('kubectl', ['--request-timeout=60s', ...args], {
    env,
    cwd: home.dir,
    timeoutMs: 120_000,
  });
}

describe('kubectl-credential with the real kubectl', () => {
  it('v1beta1: kubectl get pods sends the profile token on every call; later runs reuse the cached token', async (t) => {
    if (tls === undefined) return missing(t, 'openssl', TLS_CERT_INSTALL);
    if (!kubectl) return missing(t, 'kubectl', KUBECTL_INSTALL);
    const first = await runKubectl(['--context', 'beta', 'get', 'pods', '-o', 'name']);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, 'pod/web-1\n');
    const second = await runKubectl(['--context', 'beta', 'get', '--raw', '/api/v1/namespaces/default/pods']);
    assert.equal(second.code, 0, second.stderr);
    assert.equal((JSON.parse(second.stdout) as { kind: string }).kind, 'PodList');
    const token = await tw(['token', 'k8s', '--config', config], { env });
    assert.equal(token.code, 0, token.stderr);
    const bearers = api?.bearers ?? [];
    assert.ok(bearers.length >= 2, `requests: ${bearers.length}`);
    assert.deepEqual(new Set(bearers), new Set([token.stdout.trim()]));
    assert.deepEqual(ts.counts.byGrant, { client_credentials: 1 });
  });

  it('v1: KUBERNETES_EXEC_INFO asks for v1, the plugin answers v1 (kubectl refuses any other)', async (t) => {
    if (tls === undefined) return missing(t, 'openssl', TLS_CERT_INSTALL);
    if (!kubectl) return missing(t, 'kubectl', KUBECTL_INSTALL);
    const minor = kubectlMinor();
    if (minor < 22) {
      // Not a missing program: this kubectl predates the v1 API (the answer in v1 is checked below).
      return t.skip(`kubectl 1.${minor} speaks only client.authentication.k8s.io/v1beta1 (v1 needs 1.22+)`);
    }
    const before = api?.bearers.length ?? 0;
    const r = await runKubectl(['--context', 'v1', 'version', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      (JSON.parse(r.stdout) as { serverVersion: { gitVersion: string } }).serverVersion.gitVersion,
      'v1.32.0',
    );
    const sent = (api?.bearers ?? []).slice(before);
    assert.equal(sent.length, 1);
    assert.match(sent[0] ?? '', /^at-\d+-/);
    assert.deepEqual(ts.counts.byGrant, { client_credentials: 1 });
  });

  it('a cluster outside the profile API origins gets no token: kubectl fails, the server sees no bearer', async (t) => {
    if (tls === undefined) return missing(t, 'openssl', TLS_CERT_INSTALL);
    if (!kubectl) return missing(t, 'kubectl', KUBECTL_INSTALL);
    const before = api?.bearers.length ?? 0;
    const r = await runKubectl(['--context', 'elsewhere', 'get', 'pods', '-o', 'name']);
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /is not in the allowed origins \(https:\/\/127\.0\.0\.1:1\)/);
    assert.deepEqual(
      (api?.bearers ?? []).slice(before).filter((b) => b !== ''),
      [],
    );
  });

  it('a failed renewal: kubectl fails with the plugin message and sends no token', async (t) => {
    if (tls === undefined) return missing(t, 'openssl', TLS_CERT_INSTALL);
    if (!kubectl) return missing(t, 'kubectl', KUBECTL_INSTALL);
    const before = api?.bearers.length ?? 0;
    const r = await runKubectl(['--context', 'rejected', 'get', 'pods', '-o', 'name']);
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /tokenward: error: .*invalid_client/);
    assert.deepEqual(
      (api?.bearers ?? []).slice(before).filter((b) => b !== ''),
      [],
    );
  });
});

describe('kubectl-credential on its own', () => {
  it('prints an ExecCredential: v1beta1 without KUBERNETES_EXEC_INFO, v1 when asked; expiry 10 s before the token', async () => {
    const json = await tw(['token', 'k8s', '--json', '--config', config], { env });
    assert.equal(json.code, 0, json.stderr);
    const { access_token, expires_at } = JSON.parse(json.stdout) as {
      access_token: string;
      expires_at: string;
    };
    const expected = new Date(Math.floor((Date.parse(expires_at) - 10_000) / 1000) * 1000)
      .toISOString()
      .replace('.000Z', 'Z');
    const grants = ts.counts.total;
    for (const [info, apiVersion] of [
      [undefined, V1BETA1],
      ['', V1BETA1],
      [JSON.stringify({ apiVersion: V1, kind: 'ExecCredential', spec: { interactive: false } }), V1],
      [JSON.stringify({ apiVersion: V1BETA1, kind: 'ExecCredential', spec: {} }), V1BETA1],
    ] as const) {
      const e: NodeJS.ProcessEnv = { ...env };
      if (info !== undefined) e['KUBERNETES_EXEC_INFO'] = info;
      const r = await tw(['kubectl-credential', 'k8s', '--config', config], { env: e });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      assert.deepEqual(JSON.parse(r.stdout), {
        apiVersion,
        kind: 'ExecCredential',
        status: { token: access_token, expirationTimestamp: expected },
      });
      assert.match(expected, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
    assert.equal(ts.counts.total, grants);
  });

  it('fails with a message on stderr and nothing on stdout: unknown profile, other API version, bad JSON, failed renewal, foreign cluster', async () => {
    const cases: Array<[string[], NodeJS.ProcessEnv, number, RegExp]> = [
      [['kubectl-credential', 'nope', '--config', config], env, 2, /profile "nope"|nope/],
      [
        ['kubectl-credential', 'k8s', '--config', config],
        {
          ...env,
          KUBERNETES_EXEC_INFO: JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1alpha1' }),
        },
        2,
        /asks for apiVersion "client\.authentication\.k8s\.io\/v1alpha1"/,
      ],
      [
        ['kubectl-credential', 'k8s', '--config', config],
        { ...env, KUBERNETES_EXEC_INFO: '{not json' },
        2,
        /KUBERNETES_EXEC_INFO is not JSON/,
      ],
      [['kubectl-credential', 'rejected', '--config', config], env, 3, /invalid_client/],
      [
        ['kubectl-credential', 'elsewhere', '--config', config],
        {
          ...env,
          KUBERNETES_EXEC_INFO: JSON.stringify({
            apiVersion: V1,
            kind: 'ExecCredential',
            spec: { cluster: { server: 'https://127.0.0.1:2' }, interactive: false },
          }),
        },
        2,
        /https:\/\/127\.0\.0\.1:2\/ is not in the allowed origins/,
      ],
    ];
    const rejectedBefore = rejecting.counts.total;
    for (const [args, e, code, message] of cases) {
      const r = await tw(args, { env: e, cwd: ROOT });
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '', args.join(' '));
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /k8s-client-secret/);
    }
    assert.equal(rejecting.counts.total, rejectedBefore + 1);
  });
});
