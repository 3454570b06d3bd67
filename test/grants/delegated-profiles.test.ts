/**
 * Delegated-grant profiles end to end, against oidc-provider with the token-exchange and JWT-bearer
 * grants registered: a rotating subject-token file (rotation driven by rewriting the file; expiry by an
 * injected clock), a chain of profiles, the cache identity of the subject, and bad input (unreadable
 * file, a cycle, a missing subject, a refused exchange) as typed errors naming the profile key, with
 * the earlier good token kept and no subject or actor token in any error or trace.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { getProfile } from '../../src/config/load.js';
import { ConfigError, TokenEndpointError, type TokenwardError } from '../../src/errors.js';
import { closeAll, createTokenManager, openProfile } from '../../src/front-door.js';
import type { HttpExchange } from '../../src/http/types.js';
import type { TokenManager } from '../../src/manager/token-manager.js';
import { FileStore } from '../../src/stores/file.js';
import { fileReads } from '../../src/subject/index.js';
import { tempHome, tw } from '../cli/helpers.js';
import { json, startLoopback } from '../helpers/loopback.js';
import {
  CI_ISSUER,
  type ExchangeProvider,
  JWT_BEARER,
  startExchangeProvider,
  TOKEN_EXCHANGE,
} from './exchange-provider.js';

let op: ExchangeProvider;
let dir: string;
let config: string;
let now: number;
const clock = () => now;
const key = randomBytes(32);
const managers: TokenManager[] = [];
const traces: HttpExchange[] = [];
const env: NodeJS.ProcessEnv = {};

before(async () => {
  op = await startExchangeProvider();
});
after(() => op.close());
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tokenward-exchange-'));
  config = join(dir, 'config.toml');
  now = Date.now();
  op.reset();
  traces.length = 0;
  for (const k of Object.keys(env)) delete env[k];
  env['EX_SECRET'] = op.client.secret;
});
afterEach(async () => {
  await Promise.allSettled(managers.splice(0).map((m) => m.close()));
  await closeAll();
  rmSync(dir, { recursive: true, force: true });
});

/** Writes the config: [defaults] with the provider's client and a file store in the temp dir. */
function writeConfig(profiles: string): void {
  writeFileSync(
    config,
    [
      '[defaults]',
      `token_url = "${op.tokenUrl}"`,
      `client_id = "${op.client.id}"`,
      'client_secret = "env:EX_SECRET"',
      `cache_dir = "${join(dir, 'cache')}"`,
      '',
      profiles,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
}

async function open(name: string): Promise<TokenManager> {
  const profile = await getProfile(name, { path: config, env });
  const m = await createTokenManager(profile, {
    env,
    clock,
    encryptionKey: key,
    config,
    onWarning: () => {},
    http: { retries: 0, onExchange: (x) => traces.push(x) },
  });
  managers.push(m);
  return m;
}

/** Profile `x`: a token exchange of the subject JWT (`sub`) written to the file `token`; its manager. */
async function fileProfile(sub: string): Promise<{ file: string; jwt: string; m: TokenManager }> {
  const file = join(dir, 'token');
  const jwt = await op.subjectJwt(sub);
  writeFileSync(file, jwt);
  writeConfig(['[profiles.x]', 'grant = "token_exchange"', `subject_token_file = "${file}"`].join('\n'));
  return { file, jwt, m: await open('x') };
}

/** No secret in an error (message, JSON, stack) nor in any trace. */
function assertNoSecret(secrets: string[], err?: TokenwardError): void {
  const shown = `${JSON.stringify(traces)} ${err ? `${err.message} ${JSON.stringify(err)} ${err.stack}` : ''}`;
  for (const s of secrets) assert.ok(!shown.includes(s), 'a subject/actor token was shown');
}

describe('token_exchange with a rotating subject_token_file', () => {
  it('one exchange per subject; a rewritten file is a new identity and a new exchange', async () => {
    const file = join(dir, 'token');
    const jwt1 = await op.subjectJwt('workload-1');
    writeFileSync(file, `${jwt1}\n`);
    writeConfig(
      [
        '[profiles.x]',
        'grant = "token_exchange"',
        `subject_token_file = "${file}"`,
        'audience = "api://downstream"',
        'scope = "api:read"',
      ].join('\n'),
    );
    const m1 = await open('x');
    assert.equal(m1.identity['subject'], `file:${file}`);
    assert.equal(m1.identity['subject_iss'], CI_ISSUER);
    assert.equal(m1.identity['subject_sub'], 'workload-1');
    assert.match(m1.identity['subject_hash'] ?? '', /^sha256:[0-9a-f]{16}$/);
    assert.ok(!JSON.stringify(m1.identity).includes(jwt1), 'never the token itself');

    const t1 = await m1.getToken();
    assert.equal((await m1.getToken()).accessToken, t1.accessToken);
    assert.deepEqual(op.counts, { [TOKEN_EXCHANGE]: 1 });
    assert.deepEqual(op.seen, [
      {
        grant: 'token_exchange',
        sub: 'workload-1',
        type: 'jwt',
        actor: undefined,
        audience: 'api://downstream',
        requestedTokenType: undefined,
        scope: 'api:read',
      },
    ]);

    // The same file again: stat only (no read), same key, the stored token.
    const reads = fileReads.count;
    const again = await open('x');
    assert.equal(fileReads.count, reads, 'an unchanged file is not read again');
    assert.equal(again.key, m1.key);
    assert.equal((await again.getToken()).accessToken, t1.accessToken);
    assert.deepEqual(op.counts, { [TOKEN_EXCHANGE]: 1 });

    // Rotation: Kubernetes rewrites the projected token.
    const jwt2 = await op.subjectJwt('workload-2');
    writeFileSync(file, jwt2);
    const m2 = await open('x');
    assert.notEqual(m2.key, m1.key, 'a new subject token is a new cache key');
    assert.equal(m2.identity['subject_sub'], 'workload-2');
    const t2 = await m2.getToken();
    assert.notEqual(t2.accessToken, t1.accessToken);
    assert.deepEqual(op.counts, { [TOKEN_EXCHANGE]: 2 });
    assert.equal(op.seen[1]?.sub, 'workload-2');

    // A long-lived manager renews with the file as it is now, under the new subject's key.
    now = t1.expiresAt + 1_000;
    const t3 = await m1.getToken();
    assert.notEqual(t3.accessToken, t1.accessToken);
    assert.equal(m1.key, m2.key);
    assert.deepEqual(op.counts, { [TOKEN_EXCHANGE]: 3 });
    assert.equal(op.seen[2]?.sub, 'workload-2');
    assertNoSecret([jwt1, jwt2]);
  });

  it('a long-lived manager follows a rotated file before its token expires: new key, one exchange, old entry kept', async () => {
    const { file, jwt: jwt1, m } = await fileProfile('workload-1');
    const key1 = m.key;
    const t1 = await m.getToken();
    const jwt2 = await op.subjectJwt('workload-2');
    writeFileSync(file, jwt2);
    // Within the check interval (one second of the manager's clock) the token in memory is served.
    assert.equal((await m.getToken()).accessToken, t1.accessToken);
    assert.deepEqual(op.counts, { [TOKEN_EXCHANGE]: 1 });
    now += 1_000; // t1 is far from expiry
    const t2 = await m.getToken();
    assert.notEqual(t2.accessToken, t1.accessToken);
    assert.notEqual(m.key, key1, 'the new subject is a new cache key');
    assert.equal(m.identity['subject_sub'], 'workload-2');
    assert.deepEqual(op.counts, { [TOKEN_EXCHANGE]: 2 });
    assert.equal(op.seen[1]?.sub, 'workload-2');
    // Each subject's token under its own key; the earlier one is not overwritten.
    assert.equal((await m.store.get(key1))?.token?.accessToken, t1.accessToken);
    assert.equal((await m.store.get(m.key))?.token?.accessToken, t2.accessToken);
    assert.equal((await m.store.get(m.key))?.identity?.['subject_sub'], 'workload-2');
    // Nothing changed since: served from memory, checked again after the interval with no exchange.
    now += 1_000;
    assert.equal((await m.getToken()).accessToken, t2.accessToken);
    assert.equal((await m.getToken()).accessToken, t2.accessToken);
    assert.deepEqual(op.counts, { [TOKEN_EXCHANGE]: 2 });
    // A manager opened now (another process) has the same key and takes the stored token.
    const other = await open('x');
    assert.equal(other.key, m.key);
    assert.equal((await other.getToken()).accessToken, t2.accessToken);
    assert.deepEqual(op.counts, { [TOKEN_EXCHANGE]: 2 });
    assertNoSecret([jwt1, jwt2]);
  });

  it('an actor_token_file is sent as the actor; both tokens stay out of traces', async () => {
    const subject = await op.subjectJwt('svc');
    const actor = await op.subjectJwt('operator');
    writeFileSync(join(dir, 's'), subject);
    writeFileSync(join(dir, 'a'), actor);
    writeConfig(
      [
        '[profiles.d]',
        'grant = "token_exchange"',
        `subject_token_file = "${join(dir, 's')}"`,
        `actor_token_file = "${join(dir, 'a')}"`,
        'requested_token_type = "urn:ietf:params:oauth:token-type:access_token"',
      ].join('\n'),
    );
    const m = await open('d');
    assert.equal(m.identity['actor_sub'], 'operator');
    await m.getToken();
    assert.equal(op.seen[0]?.actor, 'operator');
    assert.equal(op.seen[0]?.requestedTokenType, 'urn:ietf:params:oauth:token-type:access_token');
    assert.deepEqual(op.counts, { [TOKEN_EXCHANGE]: 1 });
    assertNoSecret([subject, actor]);
  });
});

describe('jwt_bearer', () => {
  it('subject_token = "env:…" is sent as the assertion, once', async () => {
    const jwt = await op.subjectJwt('ci-job-7');
    env['CI_ID_TOKEN'] = jwt;
    writeConfig(['[profiles.b]', 'grant = "jwt_bearer"', 'subject_token = "env:CI_ID_TOKEN"'].join('\n'));
    const m = await open('b');
    assert.equal(m.identity['subject'], 'env:CI_ID_TOKEN');
    assert.equal(m.identity['subject_sub'], 'ci-job-7');
    const t = await m.getToken();
    await m.getToken();
    assert.ok(t.accessToken.length > 0);
    assert.deepEqual(op.counts, { [JWT_BEARER]: 1 });
    assert.equal(op.seen[0]?.grant, 'jwt_bearer');
    assertNoSecret([jwt]);
  });

  it('an actor on a jwt_bearer profile is a ConfigError naming the key', async () => {
    env['CI_ID_TOKEN'] = await op.subjectJwt('x');
    writeConfig(
      [
        '[profiles.b]',
        'grant = "jwt_bearer"',
        'subject_token = "env:CI_ID_TOKEN"',
        'actor_token = "env:CI_ID_TOKEN"',
      ].join('\n'),
    );
    const m = await open('b');
    await assert.rejects(
      m.getToken(),
      (e: unknown) => e instanceof ConfigError && e.key === 'profiles.b.actor_token',
    );
    assert.deepEqual(op.counts, {});
  });
});

describe('a chain of profiles (subject_profile)', () => {
  it("ci → exchanged → narrowed: each link exchanges the previous profile's access token once", async () => {
    writeConfig(
      [
        '[profiles.ci]',
        'scope = "api:read api:write"',
        '',
        '[profiles.exchanged]',
        'grant = "token_exchange"',
        'subject_profile = "ci"',
        'audience = "api://one"',
        '',
        '[profiles.narrowed]',
        'grant = "token_exchange"',
        'subject_profile = "exchanged"',
        'scope = "api:read"',
      ].join('\n'),
    );
    const m = await open('narrowed');
    assert.equal(m.identity['subject'], 'profile:exchanged');
    assert.match(m.identity['subject_hash'] ?? '', /^sha256:/);
    const t = await m.getToken();
    assert.deepEqual(op.counts, { client_credentials: 1, [TOKEN_EXCHANGE]: 2 });
    assert.deepEqual(
      op.seen.map((s) => [s.sub, s.type, s.audience, s.scope]),
      [
        ['client:c-exchange', 'access_token', 'api://one', undefined],
        ['client:c-exchange', 'access_token', undefined, 'api:read'],
      ],
    );
    // Another manager of the same profile: the upstream tokens are cached, so the same key and token.
    const again = await open('narrowed');
    assert.equal(again.key, m.key);
    assert.equal((await again.getToken()).accessToken, t.accessToken);
    assert.deepEqual(op.counts, { client_credentials: 1, [TOKEN_EXCHANGE]: 2 });
  });

  it('when the upstream profile gets a new token, the downstream manager exchanges it (new key) after the check interval', async () => {
    writeConfig(
      [
        '[profiles.ci]',
        'scope = "api:read"',
        '',
        '[profiles.exchanged]',
        'grant = "token_exchange"',
        'subject_profile = "ci"',
        'audience = "api://one"',
      ].join('\n'),
    );
    const m = await open('exchanged');
    const key1 = m.key;
    const t1 = await m.getToken();
    assert.deepEqual(op.counts, { client_credentials: 1, [TOKEN_EXCHANGE]: 1 });
    // The upstream manager is the process-wide one of `ci` (the first opener's options win).
    const ci = await openProfile('ci', { config });
    await ci.getToken({ force: true });
    assert.deepEqual(op.counts, { client_credentials: 2, [TOKEN_EXCHANGE]: 1 });
    now += 1_000;
    const t2 = await m.getToken();
    assert.notEqual(t2.accessToken, t1.accessToken);
    assert.notEqual(m.key, key1);
    assert.deepEqual(op.counts, { client_credentials: 2, [TOKEN_EXCHANGE]: 2 });
  });

  it('a cycle is a ConfigError naming the profiles and the key, before any request', async () => {
    writeConfig(
      [
        '[profiles.a]',
        'grant = "token_exchange"',
        'subject_profile = "b"',
        '',
        '[profiles.b]',
        'grant = "token_exchange"',
        'subject_profile = "a"',
      ].join('\n'),
    );
    await assert.rejects(open('a'), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.key, 'profiles.b.subject_profile');
      assert.equal(e.file, config);
      assert.equal(e.line, 13);
      assert.match(e.message, /a → b → a/);
      return true;
    });
    assert.deepEqual(op.counts, {});
  });

  it('a profile naming itself, and a profile that does not exist, are ConfigErrors', async () => {
    writeConfig(
      [
        '[profiles.self]',
        'grant = "token_exchange"',
        'subject_profile = "self"',
        '',
        '[profiles.lost]',
        'grant = "token_exchange"',
        'subject_profile = "nowhere"',
      ].join('\n'),
    );
    await assert.rejects(
      open('self'),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.key === 'profiles.self.subject_profile' &&
        /self → self/.test(e.message),
    );
    await assert.rejects(
      open('lost'),
      (e: unknown) =>
        e instanceof ConfigError && e.key === 'profiles.lost.subject_profile' && /"nowhere"/.test(e.message),
    );
    assert.deepEqual(op.counts, {});
  });
});

describe('bad input', () => {
  it('no subject at all, or two, is a ConfigError naming the key', async () => {
    writeFileSync(join(dir, 't'), await op.subjectJwt('x'));
    writeConfig(
      [
        '[profiles.none]',
        'grant = "token_exchange"',
        '',
        '[profiles.two]',
        'grant = "token_exchange"',
        `subject_token_file = "${join(dir, 't')}"`,
        'subject_source = "gitlab"',
      ].join('\n'),
    );
    await assert.rejects(
      open('none'),
      (e: unknown) => e instanceof ConfigError && e.key === 'profiles.none.grant',
    );
    await assert.rejects(
      open('two'),
      (e: unknown) => e instanceof ConfigError && e.key === 'profiles.two.subject_source' && e.line === 13,
    );
    assert.deepEqual(op.counts, {});
  });

  it('an unreadable subject file: ConfigError naming subject_token_file; the earlier good token is kept', async () => {
    const { file, jwt, m } = await fileProfile('w');
    const good = await m.getToken();
    rmSync(file);
    now = good.expiresAt + 1_000;
    await assert.rejects(m.getToken(), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.key, 'profiles.x.subject_token_file');
      assert.equal(e.file, config);
      assert.equal(e.line, 9);
      assertNoSecret([jwt], e);
      return true;
    });
    assert.equal((await m.store.get(m.key))?.token?.accessToken, good.accessToken, 'the good token is kept');
    assert.deepEqual(op.counts, { [TOKEN_EXCHANGE]: 1 });

    // Opening the profile with the file missing (or unreadable) names the key as well.
    await assert.rejects(
      open('x'),
      (e: unknown) => e instanceof ConfigError && e.key === 'profiles.x.subject_token_file',
    );
    if (process.getuid?.() !== 0) {
      writeFileSync(file, jwt);
      chmodSync(file, 0o000);
      await assert.rejects(
        open('x'),
        (e: unknown) => e instanceof ConfigError && e.key === 'profiles.x.subject_token_file',
      );
    }
  });

  it('a refused exchange: TokenEndpointError naming the subject key, the earlier good token kept', async () => {
    const { file, jwt: good, m } = await fileProfile('w');
    const t = await m.getToken();
    const goodKey = m.key;
    const bad = await op.untrustedJwt('w');
    writeFileSync(file, bad);
    now = t.expiresAt + 1_000;
    await assert.rejects(m.getToken(), (e: unknown) => {
      assert.ok(e instanceof TokenEndpointError);
      assert.equal(e.status, 400);
      assert.equal(e.error, 'invalid_grant');
      assert.match(e.message, /subject_token_file/);
      assertNoSecret([good, bad], e);
      return true;
    });
    // The new subject is a new key (its entry records the failure); the good token stays under its own.
    assert.notEqual(m.key, goodKey);
    assert.equal((await m.store.get(goodKey))?.token?.accessToken, t.accessToken, 'the good token is kept');
    assert.equal((await m.store.get(m.key))?.lastError?.error, 'invalid_grant');
    assert.deepEqual(op.counts, { [TOKEN_EXCHANGE]: 2 });
  });
});

describe('dpop on a delegated profile', () => {
  it('one key pair for the profile whichever subject: a rotated file changes the cache key, not the DPoP key', async () => {
    let n = 0;
    const lb = await startLoopback((_req, res) => {
      n++;
      json(res, 200, { access_token: `at-${n}`, token_type: 'DPoP', expires_in: 600 });
    });
    try {
      const file = join(dir, 'token');
      writeFileSync(file, await op.subjectJwt('w-1'));
      const profile = {
        name: 'bound',
        token_url: `${lb.url}/token`,
        client_id: 'c',
        client_secret: 's',
        grant: 'token_exchange',
        subject_token_file: file,
        dpop: true,
      } as const;
      const opts = { clock, encryptionKey: key, onWarning: () => {} };
      const store = () => new FileStore({ dir: join(dir, 'cache'), key });
      const m1 = await createTokenManager(profile, { ...opts, store: store() });
      managers.push(m1);
      await m1.getToken();
      const jkt = await m1.dpop!.thumbprint();
      const key1 = m1.key;
      writeFileSync(file, await op.subjectJwt('w-2'));
      now += 1_000;
      const t2 = await m1.getToken();
      assert.equal(t2.accessToken, 'at-2');
      assert.notEqual(m1.key, key1);
      assert.equal(await m1.dpop!.thumbprint(), jkt);
      // Another process opened after the rotation: the same cache key, the same key pair, the stored token.
      const m2 = await createTokenManager(profile, { ...opts, store: store() });
      managers.push(m2);
      assert.equal(m2.key, m1.key);
      assert.equal(await m2.dpop!.thumbprint(), jkt);
      assert.equal((await m2.getToken()).accessToken, 'at-2');
      assert.equal(n, 2);
    } finally {
      await lb.close();
    }
  });
});

describe('through the CLI', () => {
  it('tokenward token exchanges once; the next run is served from the cache; a rotated file exchanges again', async () => {
    const home = tempHome();
    try {
      const file = join(dir, 'token');
      const jwt = await op.subjectJwt('cli-1');
      writeFileSync(file, jwt);
      writeConfig(['[profiles.x]', 'grant = "token_exchange"', `subject_token_file = "${file}"`].join('\n'));
      const cliEnv = { ...home.env, TOKENWARD_CONFIG: config, EX_SECRET: op.client.secret };
      const r1 = await tw(['token', 'x', '--verbose'], { env: cliEnv });
      assert.equal(r1.code, 0, r1.stderr);
      assert.ok(!r1.stderr.includes(jwt), 'the subject token is not in the verbose trace');
      const r2 = await tw(['token', 'x'], { env: cliEnv });
      assert.equal(r2.stdout, r1.stdout);
      assert.deepEqual(op.counts, { [TOKEN_EXCHANGE]: 1 });
      writeFileSync(file, await op.subjectJwt('cli-2'));
      const r3 = await tw(['token', 'x'], { env: cliEnv });
      assert.equal(r3.code, 0, r3.stderr);
      assert.notEqual(r3.stdout, r1.stdout);
      assert.deepEqual(op.counts, { [TOKEN_EXCHANGE]: 2 });
      assert.deepEqual(
        op.seen.map((x) => x.sub),
        ['cli-1', 'cli-2'],
      );
    } finally {
      home.cleanup();
    }
  });
});
