/**
 * `tokenward secret` and `secret:` / `keyring:` references with a real OS keyring: Debian's
 * `gnome-keyring-daemon` (Secret Service) unlocked headless with a password on stdin, inside its own
 * D-Bus session (`dbus-run-session`), and libsecret's `secret-tool` — the same programs a Linux desktop
 * uses. The CLI and `secret-tool` itself (as the other side) are pointed at that session through
 * `DBUS_SESSION_BUS_ADDRESS`; the session and the daemon end with the test.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { runProcess } from '../helpers/process.js';
import { missing } from '../helpers/services.js';
import { startTokenServer, type TokenServer } from '../helpers/token-server.js';
import { type RunResult, type TempHome, tempHome, tw } from './helpers.js';
import { assertNoValue, secretCli, writeSecretProfiles } from './secret-helpers.js';

const VALUE = `kr-Sec ${randomBytes(6).toString('hex')} "q'`;
const CLIENT = 'keyring-client';
const INSTALL = 'apt-get install gnome-keyring libsecret-tools dbus';

let home: TempHome;
let ts: TokenServer;
let env: NodeJS.ProcessEnv;
let session: ChildProcess | undefined;
/** Why the keyring cannot run here (then every test is skipped with it, or fails under CI). */
let unavailable: string | undefined;

function has(program: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' }).status === 0;
}

/** Starts a D-Bus session with an unlocked gnome-keyring in it; resolves to its bus address. */
async function startKeyring(baseEnv: NodeJS.ProcessEnv): Promise<string> {
  // The daemon creates the login keyring with this password on first start and unlocks it; the shell
  // then prints the bus address and waits, keeping the session alive until it is killed.
  const script =
    'printf %s tokenward-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 3; ' +
    'echo "BUS=$DBUS_SESSION_BUS_ADDRESS"; exec sleep 600';
  const child = spawn('dbus-run-session', ['--', 'sh', '-c', script], {
    env: baseEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  session = child;
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no D-Bus session within 60 s: ${err}`)), 60_000);
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const m = /^BUS=(.+)$/m.exec(out);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the D-Bus session ended (status ${code}): ${err.trim().slice(0, 300)}`));
    });
  });
}

/** Runs the real `secret-tool` in the test's session. */
function secretTool(args: string[], input?: string): Promise<RunResult> {
  return runProcess('secret-tool', args, { env, ...(input === undefined ? {} : { input }) });
}

function secret(args: string[], input?: string, extra: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return secretCli(env, args, input, extra);
}

function needKeyring(t: TestContext): boolean {
  if (unavailable === undefined) return true;
  missing(t, `a headless gnome-keyring (${unavailable})`, INSTALL);
  return false;
}

function noValue(r: RunResult, value = VALUE): void {
  assertNoValue(r, value);
}

before(async () => {
  home = tempHome();
  ts = await startTokenServer({ latencyMs: 0, clients: { [CLIENT]: VALUE } });
  const runtime = join(home.dir, 'run');
  mkdirSync(runtime, { recursive: true, mode: 0o700 });
  env = {
    ...home.env,
    XDG_RUNTIME_DIR: runtime,
    TOKENWARD_CONFIG_DIR: join(home.dir, 'config', 'tokenward'),
  };
  writeSecretProfiles(home, ts, CLIENT, { kr: 'secret:kr-app', direct: 'keyring:kr-direct' });
  if (process.platform !== 'linux') {
    unavailable = `the Secret Service test runs on Linux only, not ${process.platform}`;
    return;
  }
  const absent = ['dbus-run-session', 'gnome-keyring-daemon', 'secret-tool'].filter((p) => !has(p));
  if (absent.length > 0) {
    unavailable = `${absent.join(', ')} not found`;
    return;
  }
  try {
    env['DBUS_SESSION_BUS_ADDRESS'] = await startKeyring(env);
  } catch (err) {
    unavailable = (err as Error).message;
  }
});

after(async () => {
  if (session?.pid !== undefined && session.exitCode === null) {
    const gone = new Promise((r) => session?.once('exit', r));
    try {
      process.kill(-session.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    await gone;
  }
  await ts.close();
  home.cleanup();
});

describe('tokenward secret with a real gnome-keyring (Secret Service) under dbus-run-session', () => {
  it('set (auto) goes to the keyring, which secret-tool reads back; get, list; nothing on disk', async (t) => {
    if (!needKeyring(t)) return;
    const set = await secret(['set', 'kr-app'], `${VALUE}\n`);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stderr, /stored secret "kr-app" in the OS keyring/);
    assert.doesNotMatch(set.stderr, /did not answer/);
    noValue(set);
    const lookup = await secretTool(['lookup', 'service', 'tokenward', 'account', 'kr-app']);
    assert.equal(lookup.code, 0, lookup.stderr);
    assert.equal(lookup.stdout, VALUE);

    const get = await secret(['get', 'kr-app']);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(get.stdout, VALUE);
    const list = await secret(['list', '--backend', 'keyring']);
    assert.equal(list.code, 0, list.stderr);
    assert.equal(list.stdout, 'kr-app\n');
    noValue(list);
    const secretsDir = join(home.dir, 'config', 'tokenward', 'secrets');
    assert.ok(!existsSync(secretsDir) || readdirSync(secretsDir).length === 0, 'nothing in the local store');
  });

  it('a profile with secret:NAME gets a token with the keyring value', async (t) => {
    if (!needKeyring(t)) return;
    const before = ts.counts.total;
    const r = await tw(['token', 'kr', '-v'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(ts.counts.total - before, 1);
    assert.equal(ts.rejectedClients, 0);
    assert.equal(ts.requests.at(-1)?.clientId, CLIENT);
    noValue(r);
  });

  it('keyring:NAME still reads what secret-tool stored', async (t) => {
    if (!needKeyring(t)) return;
    const store = await secretTool(
      ['store', '--label=direct', 'service', 'tokenward', 'account', 'kr-direct'],
      VALUE,
    );
    assert.equal(store.code, 0, store.stderr);
    const r = await tw(['token', 'direct'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(ts.requests.at(-1)?.clientId, CLIENT);
    noValue(r);
  });

  it('--backend local with a keyring answering writes the local store; auto get falls back to it', async (t) => {
    if (!needKeyring(t)) return;
    const set = await secret(['set', 'only-local', '--backend', 'local'], 'local-only-value-1');
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stderr, /in the local secret store/);
    const inKeyring = await secretTool(['lookup', 'service', 'tokenward', 'account', 'only-local']);
    assert.equal(inKeyring.code, 1);
    const get = await secret(['get', 'only-local']);
    assert.equal(get.stdout, 'local-only-value-1');
    const list = await secret(['list']);
    assert.deepEqual(list.stdout.split('\n').filter(Boolean), ['kr-app', 'kr-direct', 'only-local']);
    assert.equal((await secret(['rm', 'only-local'])).code, 0);
  });

  it('rm deletes from the keyring: secret-tool no longer finds it, get exits 1', async (t) => {
    if (!needKeyring(t)) return;
    const rm = await secret(['rm', 'kr-app', '--backend', 'keyring']);
    assert.equal(rm.code, 0, rm.stderr);
    assert.match(rm.stderr, /deleted secret "kr-app" from the OS keyring/);
    const lookup = await secretTool(['lookup', 'service', 'tokenward', 'account', 'kr-app']);
    assert.equal(lookup.code, 1);
    assert.equal(lookup.stdout, '');
    const get = await secret(['get', 'kr-app', '--backend', 'keyring']);
    assert.equal(get.code, 1);
    assert.match(get.stderr, /no secret "kr-app" in the OS keyring/);
  });
});
