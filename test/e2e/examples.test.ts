/**
 * Runs every program in examples/ as a child process and checks its output and exit code: each on its
 * own (it starts its own sandbox), then with "real settings" — a profile of a config file and the
 * environment variables — pointed at a sandbox this test starts, whose counters prove what was sent.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DEMO_CREDENTIALS, type Sandbox, sandboxConfigToml, startSandbox } from '../../src/sandbox/index.js';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

const VENDOR_ENV = /^(TOKENWARD_|CYLANCE_|MSX_|ACRONIS_|RDP_)/;
let dir: string;
let sandbox: Sandbox;

/** The environment of a child: ours without tokenward or vendor settings, with temp dirs, plus `extra`. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!VENDOR_ENV.test(k)) env[k] = v;
  return {
    ...env,
    TOKENWARD_CONFIG_DIR: join(dir, 'config'),
    TOKENWARD_CACHE_DIR: join(dir, 'cache'),
    TOKENWARD_CACHE_KEY: randomBytes(32).toString('hex'),
    NODE_NO_WARNINGS: '1',
    ...extra,
  };
}

function runExample(name: string, args: string[] = [], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join('examples', name), ...args],
      { env: childEnv(env), timeout: 300_000 }, // generous: a loaded machine starts tsx slowly
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function ok(r: Result): void {
  assert.equal(r.code, 0, `exit code ${r.code}; stderr: ${r.stderr}`);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tokenward-examples-'));
  sandbox = await startSandbox();
});
after(async () => {
  await sandbox.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  sandbox.reset();
  sandbox.configure('rdp', { tokenLifetimeSeconds: undefined });
});

describe('examples, each against a sandbox it starts itself', () => {
  it('all four run and print what their seed prints', async () => {
    const [cy, msx, acr, rdp] = await Promise.all([
      runExample('cylance-token.ts'),
      runExample('msx-tenants.ts'),
      runExample('acronis-client.ts'),
      runExample('rdp-session.ts'),
    ]);
    ok(cy);
    assert.match(cy.stdout, /^cylance: sandbox at http:\/\/127\.0\.0\.1:\d+$/m);
    assert.match(cy.stdout, /second call served from the cache: true/);
    assert.match(cy.stdout, /access_token:\neyJ[\w-]+\.[\w-]+\.[\w-]+\n$/);

    ok(msx);
    const lines = msx.stdout.trim().split('\n');
    assert.equal(lines[1], 'Got Access Token');
    const created = /^Created Tenant: ([0-9a-f-]{36})$/.exec(lines[2] ?? '')?.[1];
    assert.ok(created !== undefined, msx.stdout);
    assert.equal(lines[3], 'Got Tenants Page');
    assert.ok(lines.some((l) => l.startsWith(`${created}: my_unique_tenant_name_`)));
    assert.ok(lines.includes('133815cb-2335-474d-8c10-3e635aba94fd: Coke'));
    assert.ok(lines.includes(`Deleted Tenant: ${created}`));
    assert.match(msx.stdout, /token requests: 1 /);

    ok(acr);
    assert.match(acr.stdout, /expires_on: \S+ \(from expires_on\)/);
    assert.match(acr.stdout, /id_token: present/);
    assert.match(acr.stdout, new RegExp(`GET /api/2/clients/${DEMO_CREDENTIALS.acronis.clientId}: HTTP 200`));
    assert.ok(!acr.stdout.includes(DEMO_CREDENTIALS.acronis.clientSecret));

    ok(rdp);
    assert.match(
      rdp.stdout,
      /1\. password grant: eyJhbG…\[\d+ chars hidden\], expires in 2 s, refresh token received/,
    );
    assert.match(rdp.stdout, /2\. reused from the cache: same token, token requests 0/);
    assert.match(rdp.stdout, /3\. after expiry: 1 refresh grant, 0 password grant/);
    assert.match(rdp.stdout, /new access token: true, refresh token rotated: true/);
    assert.match(rdp.stdout, /4\. GET historical-pricing events VOD\.L: HTTP 200, 5 events/);
  });
});

describe('examples with real settings (pointed at this test’s sandbox)', () => {
  it('a config profile, environment variables, and a wrong secret (exit code 1, secret not shown)', async () => {
    const config = join(dir, 'sandbox.toml');
    await writeFile(config, sandboxConfigToml(sandbox), { mode: 0o600 });
    sandbox.configure('rdp', { tokenLifetimeSeconds: 12 }); // the default 10-second margin leaves 2 s
    const cy = DEMO_CREDENTIALS.cylance;
    const ms = DEMO_CREDENTIALS.msx;
    const rd = DEMO_CREDENTIALS.rdp;
    const wrong = 'definitely-not-the-acronis-secret';
    const [profile, cylance, msx, rdp, bad] = await Promise.all([
      runExample('acronis-client.ts', ['acronis'], { TOKENWARD_CONFIG: config }),
      runExample('cylance-token.ts', [], {
        CYLANCE_APP_ID: cy.appId,
        CYLANCE_APP_SECRET: cy.appSecret,
        CYLANCE_TENANT_ID: cy.tenantId,
        CYLANCE_TOKEN_URL: `${sandbox.url}/auth/v2/token`,
        CYLANCE_SCOPES: 'device:list,policy:read',
      }),
      runExample('msx-tenants.ts', [], {
        MSX_BASE_URL: sandbox.url,
        MSX_CLIENT_ID: ms.clientId,
        MSX_CLIENT_SECRET: ms.clientSecret,
        MSX_USERNAME: ms.username,
        MSX_PASSWORD: ms.password,
      }),
      runExample('rdp-session.ts', [], {
        RDP_BASE_URL: sandbox.url,
        RDP_APP_KEY: rd.clientId,
        RDP_USERNAME: rd.username,
        RDP_PASSWORD: rd.password,
      }),
      runExample('acronis-client.ts', [], {
        ACRONIS_DATACENTER_URL: sandbox.url,
        ACRONIS_CLIENT_ID: DEMO_CREDENTIALS.acronis.clientId,
        ACRONIS_CLIENT_SECRET: wrong,
      }),
    ]);

    ok(profile);
    assert.match(profile.stdout, /^acronis: profile "acronis"$/m);
    assert.match(profile.stdout, /HTTP 200/);
    ok(cylance);
    assert.match(cylance.stdout, /^cylance: settings from the environment$/m);
    ok(msx);
    assert.match(msx.stdout, /^msx: settings from the environment$/m);
    ok(rdp);
    assert.match(rdp.stdout, /2\. reused from the cache: same token, token requests 0/);
    assert.match(rdp.stdout, /3\. after expiry: 1 refresh grant, 0 password grant/);

    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /^error: ERR_TOKEN_ENDPOINT: .*HTTP 401 \(invalid_client: Client authentication failed\)/m,
    );
    assert.ok(!`${bad.stdout}${bad.stderr}`.includes(wrong));

    // what reached the sandbox
    const s = sandbox.stats();
    assert.deepEqual(s.token, {
      cylance: { jwt: 1 },
      msx: { password: 1 },
      acronis: { client_credentials: 1 },
      rdp: { password: 1, refresh_token: 1 },
      oidc: {},
    });
    assert.equal(s.api.msx, 3);
    assert.equal(s.api.acronis, 1);
    assert.equal(s.rejected.acronis, 1);
  });
});
