/**
 * `tokenward demo`: the README's main job on a fresh machine. Starts the sandbox in-process and runs
 * every seed flow through the real code paths — the providers, the token manager, a file store in a
 * temporary directory, and `createAuthFetch` — then prints a short report. Exits 0 when all worked.
 *
 * Nothing is simulated in the report: each line states what was checked, from the manager's counters,
 * the tokens themselves and the sandbox's answers. Expiry is reached by moving one clock, shared by the
 * sandbox and the managers, past the token's lifetime (it only moves forward), so the demo takes seconds
 * and absolute expiry times (Acronis's `expires_on`) stay consistent on both sides.
 * @module
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TokenManager } from '../../manager/token-manager.js';
import type { Profile } from '../../profile.js';
import type { Token } from '../../token.js';
import { parseCommand, withGlobals } from '../args.js';
import { formatDuration } from '../duration.js';
import { EXIT, UsageError } from '../exit.js';
import type { AuthFetch, TokenwardModule } from '../lazy.js';
import { COMMAND_OPTIONS } from '../options.js';
import { type Io, paint, printExchange, say } from '../output.js';

interface StepResult {
  ok: boolean;
  title: string;
  detail: string;
}

class Check extends Error {}

function check(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Check(message);
}

/** Runs `tokenward demo`. */
export async function run(argv: string[], baseIo: Io): Promise<number> {
  const { values, positionals } = parseCommand(argv, COMMAND_OPTIONS.demo);
  const io = withGlobals(baseIo, values);
  if (positionals.length > 0) throw new UsageError('demo takes no arguments');
  const lazy = await import('../lazy.js');
  const [
    {
      startSandbox,
      sandboxProfiles,
      sandboxLoginProfiles,
      completeSandboxSignIn,
      approveSandboxDevice,
      VENDORS,
    },
    tokenward,
    { createAuthFetch, originsFromProfile },
  ] = await Promise.all([lazy.loadSandbox(), lazy.loadTokenward(), lazy.loadFetch()]);

  const results: StepResult[] = [];
  const c = io.colorOut;
  const line = (r: StepResult) => {
    const mark = r.ok ? paint(c, 'green', '✓') : paint(c, 'red', '✗');
    io.stdout.write(`${mark} ${r.title}${r.detail !== '' ? ` — ${r.detail}` : ''}\n`);
  };
  const step = async (title: string, fn: () => Promise<string>): Promise<boolean> => {
    let r: StepResult;
    try {
      r = { ok: true, title, detail: await fn() };
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      const msg = err instanceof Error ? err.message : String(err);
      r = { ok: false, title, detail: typeof code === 'string' ? `${code}: ${msg}` : msg };
    }
    results.push(r);
    line(r);
    return r.ok;
  };

  const cacheDir = await mkdtemp(join(tmpdir(), 'tokenward-demo-'));
  let offset = 0;
  const clock = () => Date.now() + offset;
  /** Moves the shared clock to just after `at` (never backwards). */
  const moveClockPast = (at: number) => {
    offset = Math.max(offset, at - Date.now() + 1000);
  };
  const sandbox = await startSandbox({ port: 0, clock });
  const managers: TokenManager[] = [];
  const started = Date.now();
  try {
    io.stdout.write(`tokenward demo — sandbox on ${sandbox.url}, file store in ${cacheDir}\n\n`);
    const profiles: Record<string, Profile> = {};
    for (const [name, p] of Object.entries(sandboxProfiles(sandbox))) {
      profiles[name] = { ...p, store: 'file', cache_dir: cacheDir };
    }
    // A person's sign-in (the sandbox's OpenID Connect server): the pages are filled in over HTTP here,
    // where a person would use the browser.
    for (const [name, p] of Object.entries(sandboxLoginProfiles(sandbox))) {
      profiles[name] = { ...p, store: 'file', cache_dir: cacheDir };
    }
    sandbox.configure('oidc', { deviceIntervalSeconds: 1 });
    const open = async (name: string): Promise<TokenManager> => {
      const profile = profiles[name];
      if (profile === undefined) throw new Check(`the sandbox has no "${name}" profile`);
      const opts: Parameters<TokenwardModule['createTokenManager']>[1] = {
        env: io.env,
        onWarning: (w) => {
          if (io.verbose) say(io, `warning: ${w.message}`);
        },
        http: io.verbose ? { onExchange: (x) => printExchange(io, x) } : {},
      };
      opts.clock = clock;
      const m = await tokenward.createTokenManager(profile, opts);
      managers.push(m);
      return m;
    };
    const first: Record<string, Token> = {};

    for (const name of VENDORS) {
      await step(`${name}: token from the ${name} token endpoint`, async () => {
        const m = await open(name);
        const t = await m.getToken();
        check(m.counts.grants === 1, `expected one grant, saw ${m.counts.grants}`);
        first[name] = t;
        const again = await m.getToken();
        check(
          again.accessToken === t.accessToken && m.counts.grants === 1,
          'a second call went to the server',
        );
        return `${t.tokenType}, expires in ${formatDuration(t.expiresAt - Date.now())} (from ${t.expirySource})${t.refreshToken !== undefined ? ', with a refresh token' : ''}; second call served from memory`;
      });
    }

    await step('cached reuse: a new manager, as a new process would, reads the file store', async () => {
      const parts: string[] = [];
      for (const name of VENDORS) {
        const t0 = first[name];
        if (t0 === undefined) continue;
        const m = await open(name);
        const t = await m.getToken();
        check(t.accessToken === t0.accessToken, `${name}: got a different token`);
        check(m.counts.grants === 0 && m.counts.refreshes === 0, `${name}: went to the server`);
        parts.push(name);
      }
      check(parts.length > 0, 'no token to reuse');
      return `${parts.join(', ')}: same token, no request to the server`;
    });

    const apiFetch = async (name: string): Promise<{ m: TokenManager; f: AuthFetch; base: string }> => {
      const m = await open(name);
      // Where the profile's provider says its API lives (the registry's answer, as for authFetch users).
      const origins = originsFromProfile(profiles[name] ?? {});
      return { m, f: createAuthFetch(m, { origins }), base: origins[0] ?? sandbox.url };
    };

    await step('msx: tenant round trip (create, list, delete) with the access token', async () => {
      const { f, base } = await apiFetch('msx');
      const name = `tokenward-demo-${process.pid}`;
      const created = await f(`${base}/idm/api/v8/tenants`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          name,
          parentId: null,
          externalId: name,
          description: 'tokenward demo',
          url: '',
          image: '',
          email: 'demo@example.test',
        }),
      });
      check(created.status === 201 || created.status === 200, `create answered HTTP ${created.status}`);
      const tenant = (await created.json()) as { id?: string; tenantId?: string };
      const id = tenant.id ?? tenant.tenantId;
      check(typeof id === 'string' || typeof id === 'number', 'the created tenant has no id');
      const list = await f(`${base}/idm/api/v8/tenants?page=0&pageSize=100`);
      check(list.status === 200, `list answered HTTP ${list.status}`);
      const page = (await list.json()) as { contents?: Array<{ name?: string }> };
      check(page.contents?.some((t) => t.name === name) === true, 'the new tenant is not in the list');
      const del = await f(`${base}/idm/api/v8/tenants/${encodeURIComponent(String(id))}`, {
        method: 'DELETE',
      });
      check(del.status === 204 || del.status === 200, `delete answered HTTP ${del.status}`);
      return `created "${name}" (201), found it in the list, deleted it (${del.status})`;
    });

    await step('acronis: GET /api/2/clients/{client_id} with the access token', async () => {
      const { f, base } = await apiFetch('acronis');
      const clientId = profiles['acronis']?.client_id ?? '';
      const res = await f(`${base}/api/2/clients/${encodeURIComponent(clientId)}`);
      check(res.status === 200, `answered HTTP ${res.status}`);
      const body = (await res.json()) as Record<string, unknown>;
      return `200, client ${String(body['client_id'] ?? body['id'] ?? clientId)}`;
    });

    await step('cylance: GET /devices/v2 with the access token', async () => {
      const { f, base } = await apiFetch('cylance');
      const res = await f(`${base}/devices/v2?page=1&page_size=10`);
      check(res.status === 200, `answered HTTP ${res.status}`);
      const body = (await res.json()) as { page_items?: unknown[]; total_number_of_items?: number };
      check(Array.isArray(body.page_items), 'no page_items in the answer');
      return `200, ${body.page_items.length} of ${String(body.total_number_of_items)} devices`;
    });

    await step('rdp: GET historical pricing events with the access token', async () => {
      const { f, base } = await apiFetch('rdp');
      const res = await f(`${base}/data/historical-pricing/v1/views/events/VOD.L?count=5`);
      check(res.status === 200, `answered HTTP ${res.status}`);
      const body = (await res.json()) as Array<{ data?: unknown[] }>;
      return `200, ${body[0]?.data?.length ?? 0} events for VOD.L`;
    });

    await step('rdp: expiry and refresh (refresh grant, rotated refresh token)', async () => {
      const t0 = first['rdp'];
      check(t0 !== undefined, 'no rdp token');
      const m = await open('rdp');
      await m.getToken();
      moveClockPast(t0.expiresAt);
      const t = await m.getToken();
      check(
        m.counts.refreshes === 1 && m.counts.grants === 0,
        `expected one refresh grant, saw ${m.counts.refreshes} refreshes, ${m.counts.grants} grants`,
      );
      check(t.accessToken !== t0.accessToken, 'the token did not change');
      check(
        t.refreshToken !== undefined && t.refreshToken !== t0.refreshToken,
        'the refresh token was not rotated',
      );
      return `clock moved past its expiry (${formatDuration(t0.expiresAt - t0.obtainedAt)} lifetime); new token and new refresh token via one refresh grant`;
    });

    await step('acronis: expiry (expires_on) and a new client_credentials grant', async () => {
      const t0 = first['acronis'];
      check(t0 !== undefined, 'no acronis token');
      const m = await open('acronis');
      await m.getToken();
      moveClockPast(t0.expiresAt);
      const t = await m.getToken();
      check(t.accessToken !== t0.accessToken, 'the token did not change');
      check(m.counts.grants + m.counts.refreshes === 1, 'expected exactly one request to the token endpoint');
      return `expired token replaced by one ${m.counts.refreshes === 1 ? 'refresh' : 'client_credentials'} grant`;
    });

    await step(
      'rdp: the API rejects the token (401); authFetch gets a new one and retries once',
      async () => {
        const { m, f, base } = await apiFetch('rdp');
        const t0 = await m.getToken();
        sandbox.reset(); // the sandbox forgets every token it issued, as after a server-side revocation
        const res = await f(`${base}/data/historical-pricing/v1/views/events/VOD.L?count=1`);
        check(res.status === 200, `answered HTTP ${res.status}`);
        const t = m.peek();
        check(t !== undefined && t.accessToken !== t0.accessToken, 'the token was not replaced');
        const st = sandbox.stats();
        // `rejected` counts the API's 401 and the refresh grant the sandbox refused (it forgot that too).
        check(st.api.rdp === 1, `expected one 200 from the API after the retry, saw ${st.api.rdp}`);
        check(st.token.rdp['password'] === 1, 'expected one new password grant');
        return `401, then a new token (refresh token refused: ${st.rejected.rdp - 1}, password grants: ${st.token.rdp['password']}), then 200`;
      },
    );

    await step(
      'oidc: a person signs in (authorization code + PKCE; the sign-in page filled over HTTP)',
      async () => {
        const m = await open('oidc');
        const t = await m.signIn({
          openBrowser: async (url) => void (await completeSandboxSignIn(url)),
          onAuthorizationUrl: () => {},
        });
        check(t.idToken !== undefined, 'no ID token came back');
        check(t.refreshToken !== undefined, 'no refresh token came back');
        const again = await m.getToken({ force: true });
        check(again.accessToken !== t.accessToken, 'the refresh did not give a new token');
        return 'signed in, ID token checked against the JWKS, then refreshed with the rotated refresh token';
      },
    );

    await step(
      'oidc-device: a person signs in with a device code (approved on the verification page over HTTP)',
      async () => {
        const m = await open('oidc-device');
        let approval: Promise<void> | undefined;
        const t = await m.signIn({
          onDeviceCode: (d) => {
            approval = approveSandboxDevice(d.verificationUri, d.userCode);
          },
        });
        await approval;
        check(t.idToken !== undefined, 'no ID token came back');
        return `signed in after ${m.counts.grants} device-code grant${m.counts.grants === 1 ? '' : 's'}`;
      },
    );
  } finally {
    await Promise.allSettled(managers.map((m) => m.close()));
    await sandbox.close();
    await rm(cacheDir, { recursive: true, force: true });
  }

  const failed = results.filter((r) => !r.ok).length;
  io.stdout.write(
    `\n${failed === 0 ? paint(c, 'green', 'all flows worked') : paint(c, 'red', `${failed} of ${results.length} steps failed`)} (${results.length} steps, ${formatDuration(Date.now() - started)})\n`,
  );
  return failed === 0 ? EXIT.OK : EXIT.FAILURE;
}
