/**
 * `tokenward secret` with the local encrypted secret store, end to end through the CLI: set from stdin,
 * get, list, rm; a profile whose client_secret is `secret:NAME` getting a token from a loopback token
 * endpoint that checks it; file and directory modes; a tampered file, a file renamed to another name,
 * a file open to others and a store encrypted with another key, each refused with a clear error; a value
 * never taken from the command line; and no value in any error.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTokenServer, type TokenServer } from '../helpers/token-server.js';
import { type RunResult, type TempHome, tempHome, tw } from './helpers.js';
import { assertNoValue, secretCli, writeSecretProfiles } from './secret-helpers.js';

const VALUE = `loc-Sec "7q'!x ${randomBytes(4).toString('hex')}`;
const CLIENT = 'secret-store-client';

let home: TempHome;
let ts: TokenServer;
let env: NodeJS.ProcessEnv;
let secretsDir: string;

before(async () => {
  home = tempHome();
  ts = await startTokenServer({ latencyMs: 0, clients: { [CLIENT]: VALUE } });
  // No D-Bus session in this environment: `auto` falls back to the local store.
  env = { ...home.env, TOKENWARD_CONFIG_DIR: join(home.dir, 'config', 'tokenward') };
  secretsDir = join(home.dir, 'config', 'tokenward', 'secrets');
  writeSecretProfiles(home, ts, CLIENT, { app: 'secret:app-secret', gone: 'secret:not-stored' });
});
after(async () => {
  await ts.close();
  home.cleanup();
});

function secret(args: string[], input?: string, extra: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return secretCli(env, args, input, extra);
}

function noValue(r: RunResult, value = VALUE): void {
  assertNoValue(r, value);
}

describe('tokenward secret, local store', () => {
  it('set from stdin, get, list: the value round-trips exactly; the file is 0600 in a 0700 dir, encrypted', async () => {
    const set = await secret(['set', 'app-secret', '--backend', 'local'], `${VALUE}\n`);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout, '');
    assert.match(set.stderr, /stored secret "app-secret" in the local secret store/);
    noValue(set);

    const get = await secret(['get', 'app-secret', '--backend', 'local']);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(get.stdout, VALUE); // one trailing newline trimmed on set, none added on get
    assert.equal(get.stderr, '');

    const list = await secret(['list', '--backend', 'local']);
    assert.equal(list.code, 0, list.stderr);
    assert.equal(list.stdout, 'app-secret\n');

    assert.deepEqual(readdirSync(secretsDir), ['app-secret.secret']);
    assert.equal(statSync(secretsDir).mode & 0o777, 0o700);
    const file = join(secretsDir, 'app-secret.secret');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const bytes = readFileSync(file);
    assert.equal(bytes.subarray(0, 4).toString('latin1'), 'tw2:');
    assert.ok(!bytes.includes(Buffer.from(VALUE.slice(0, 10))), 'the value is not in the file in clear');
  });

  it('auto (no keyring answering here) uses the local store and says so', async () => {
    const set = await secret(['set', 'auto-one'], 'auto-value-123\n');
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stderr, /the OS keyring did not answer \(.+\); using the local secret store/);
    assert.match(set.stderr, /stored secret "auto-one" in the local secret store/);
    const get = await secret(['get', 'auto-one']);
    assert.equal(get.stdout, 'auto-value-123');
    const rm = await secret(['rm', 'auto-one']);
    assert.equal(rm.code, 0, rm.stderr);
    assert.match(rm.stderr, /deleted secret "auto-one" from the local secret store/);
    const again = await secret(['get', 'auto-one']);
    assert.equal(again.code, 1);
    assert.equal(again.stdout, '');
    assert.match(again.stderr, /no secret "auto-one"/);
    const rmAgain = await secret(['rm', 'auto-one', '--backend', 'local']);
    assert.equal(rmAgain.code, 1);
    assert.deepEqual(readdirSync(secretsDir).sort(), ['app-secret.secret']);
  });

  it('a value on the command line is refused, not echoed, and nothing is stored', async () => {
    const r = await secret(['set', 'argv-one', 'argv-VALUE-55aa', '--backend', 'local']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /never from the command line/);
    noValue(r, 'argv-VALUE-55aa');
    const unknown = await secret(['set', 'argv-one', '--value=argv-VALUE-55aa', '--backend', 'local']);
    assert.equal(unknown.code, 2);
    assert.equal((await secret(['list', '--backend', 'local'])).stdout, 'app-secret\n');
  });

  it('bad names, an empty value, a bad backend: usage errors, nothing stored', async () => {
    for (const [args, input, pattern] of [
      [['set', '../x', '--backend', 'local'], 'v', /is not a secret name/],
      [['set', 'empty', '--backend', 'local'], '\n', /is empty; nothing was stored/],
      [
        ['set', 'big', '--backend', 'local'],
        'x'.repeat(64 * 1024 + 3),
        /standard input is larger than 64 KiB/,
      ],
      [['set', 'x', '--backend', 'vault'], 'v', /--backend "vault" is not a secret backend/],
      [['get'], undefined, /secret get takes a NAME/],
      [['list', 'x'], undefined, /secret list takes no name/],
      [['frob', 'x'], undefined, /secret takes one of: set, get, rm, list/],
    ] as const) {
      const r = await secret([...args], input);
      assert.notEqual(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
    }
    const envChoice = await secret(['list'], undefined, { TOKENWARD_SECRET_BACKEND: 'nope' });
    assert.equal(envChoice.code, 2);
    assert.match(envChoice.stderr, /TOKENWARD_SECRET_BACKEND "nope" is not a secret backend/);
    assert.equal((await secret(['list', '--backend', 'local'])).stdout, 'app-secret\n');
  });

  it('a profile with client_secret = "secret:NAME" gets a token with it; the value is not shown with -v', async () => {
    const before = ts.counts.total;
    const r = await tw(['token', 'app', '-v'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\S+\n$/);
    assert.equal(ts.counts.total - before, 1);
    assert.equal(ts.rejectedClients, 0);
    assert.equal(ts.requests.at(-1)?.clientId, CLIENT);
    noValue(r);
  });

  it('a missing secret: exit 2, the error names the profile key and the secret, never a value', async () => {
    const r = await tw(['token', 'gone'], { env });
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /profiles\.gone\.client_secret: no secret "not-stored" in the local secret store/);
    assert.match(r.stderr, /tokenward secret set not-stored/);
  });

  it('TOKENWARD_SECRET_BACKEND=keyring with no keyring answering: a store error (exit 5) naming why', async () => {
    const r = await secret(['get', 'app-secret'], undefined, { TOKENWARD_SECRET_BACKEND: 'keyring' });
    assert.equal(r.code, 5);
    assert.match(r.stderr, /the OS keyring did not answer: /);
    noValue(r);
  });
});

describe('tokenward secret, local store: refused files', () => {
  const file = () => join(secretsDir, 'app-secret.secret');

  it('a tampered file fails authentication: get exits 5, token exits 2 naming the key; no value shown', async () => {
    const good = readFileSync(file());
    try {
      const bad = Buffer.from(good);
      bad[bad.length - 3] = (bad[bad.length - 3] ?? 0) ^ 0x40;
      writeFileSync(file(), bad, { mode: 0o600 });
      const get = await secret(['get', 'app-secret', '--backend', 'local']);
      assert.equal(get.code, 5);
      assert.equal(get.stdout, '');
      assert.match(
        get.stderr,
        /the secret "app-secret" \(.+\) cannot be used: the entry failed authentication/,
      );
      noValue(get);
      const token = await tw(['token', 'app', '--force'], { env });
      assert.equal(token.code, 2);
      assert.match(
        token.stderr,
        /profiles\.app\.client_secret: the secret "app-secret": .*failed authentication/,
      );
      noValue(token);
    } finally {
      writeFileSync(file(), good, { mode: 0o600 });
    }
  });

  it('a file renamed to another name does not decrypt (the name is bound into the envelope)', async () => {
    const other = join(secretsDir, 'other-name.secret');
    writeFileSync(other, readFileSync(file()), { mode: 0o600 });
    try {
      const r = await secret(['get', 'other-name', '--backend', 'local']);
      assert.equal(r.code, 5);
      assert.match(r.stderr, /failed authentication/);
      noValue(r);
    } finally {
      renameSync(other, join(dirname(other), '.removed'));
    }
  });

  it('a store encrypted with another key is refused with a clear error', async () => {
    const keyA = randomBytes(32).toString('hex');
    const keyB = randomBytes(32).toString('hex');
    const set = await secret(['set', 'keyed', '--backend', 'local'], 'keyed-value-77', {
      TOKENWARD_CACHE_KEY: keyA,
    });
    assert.equal(set.code, 0, set.stderr);
    const ok = await secret(['get', 'keyed', '--backend', 'local'], undefined, { TOKENWARD_CACHE_KEY: keyA });
    assert.equal(ok.stdout, 'keyed-value-77');
    const wrong = await secret(['get', 'keyed', '--backend', 'local'], undefined, {
      TOKENWARD_CACHE_KEY: keyB,
    });
    assert.equal(wrong.code, 5);
    assert.match(
      wrong.stderr,
      /cannot be used: the entry was encrypted with another key \(key id [0-9a-f]{8}, ours [0-9a-f]{8}\)/,
    );
    assert.match(wrong.stderr, /TOKENWARD_CACHE_KEY/);
    noValue(wrong, 'keyed-value-77');
    // And with the key file (no TOKENWARD_CACHE_KEY): another key again.
    const fileKey = await secret(['get', 'keyed', '--backend', 'local']);
    assert.equal(fileKey.code, 5);
    assert.match(fileKey.stderr, /encrypted with another key/);
    assert.equal((await secret(['rm', 'keyed', '--backend', 'local'])).code, 0);
  });

  it('a secret file open to other users is refused', async () => {
    chmodSync(file(), 0o644);
    try {
      const r = await secret(['get', 'app-secret', '--backend', 'local']);
      assert.equal(r.code, 5);
      assert.match(r.stderr, /the secret file .*app-secret\.secret is open to other users \(mode 644\)/);
      noValue(r);
    } finally {
      chmodSync(file(), 0o600);
    }
    assert.equal((await secret(['get', 'app-secret', '--backend', 'local'])).stdout, VALUE);
  });
});
