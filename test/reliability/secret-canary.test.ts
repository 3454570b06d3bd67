/**
 * Secret canaries. Every flow (client_secret_basic in both encodings, client_secret_post, the password
 * grant, client_secret_jwt, private_key_jwt, the refresh grant, a secret `params.api_key`, and the msx,
 * acronis, rdp and cylance presets) is driven against a loopback server that echoes what it received —
 * the Authorization header, the decoded Basic pair, the raw secret, the form and JSON fields, the body,
 * their Base64/hex/URL encodings — in every error shape (text, OAuth JSON, HTML 5xx with retries, HTML
 * 200, a bad `expires_in`, a description whose 500-character cut falls inside the secret, white space
 * that collapsing would change). Nothing may contain a canary in any encoding: errors' message, stack,
 * cause, toJSON, util.inspect; the `onExchange` (`-v`) trace; the persisted store entry read back through
 * the store (file, memory, Redis, PostgreSQL); the token identity; and, through the CLI, stdout and
 * stderr of `token -v` and of `status --json` run later in another process.
 *
 * Canaries contain `! ' ( ) *`, spaces (two in a row), `"`, `\`, `:`, `%41`, `+` and non-ASCII, so their
 * RFC 6749 form-encoding, WHATWG form-encoding and encodeURIComponent all differ. The library part never
 * registers a secret itself and never resolves a profile: what is redacted there is what the HTTP layer
 * registered from the wire (which is what kills the issue-18 mutant that drops the Basic registration).
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import {
  type ClientAuth,
  clientSecretBasic,
  clientSecretJwt,
  clientSecretPost,
  formUrlEncode,
  privateKeyJwt,
} from '../../src/auth/index.js';
import { TokenwardError } from '../../src/errors.js';
import { createTokenManager } from '../../src/front-door.js';
import { clientCredentials } from '../../src/grants/client-credentials.js';
import { passwordGrant } from '../../src/grants/password.js';
import { refreshTokenGrant } from '../../src/grants/refresh-token.js';
import type { GrantContext } from '../../src/grants/types.js';
import { closeAgents } from '../../src/http/agent.js';
import type { HttpExchange, HttpOptions } from '../../src/http/types.js';
import type { Profile } from '../../src/profile.js';
import { createTokenClient } from '../../src/providers/index.js';
import type { TokenClient } from '../../src/token-client.js';
import { tempHome, tw } from '../cli/helpers.js';
import { json, type Loopback, raw, type SeenRequest, startLoopback } from '../helpers/loopback.js';
import { dropPrefix, dropTable, requireService, uniqueName } from '../helpers/services.js';

// ---------------------------------------------------------------------------------------------------
// Canaries and the leak check

/** The marker every canary starts with: a leak of its first six characters is found by name. */
const MARKER = 'CANARY';
/** What follows the marker in every canary: every character class that encodes differently somewhere. */
const TAIL = `-é ü! '()*~  x+y/z%41"q\\:Ω`;
/** Strings that must not appear: every encoding of every canary, pieces of the tail, Basic pairs, PEM lines. */
const needles = new Set<string>();
let counter = 0;

for (let i = 0; i + 8 <= TAIL.length; i++) needles.add(TAIL.slice(i, i + 8));

function addCanary(c: string): string {
  for (const e of encodings(c)) if (e.length >= 6) needles.add(e);
  return c;
}

/** A new secret: the marker first (a cut that keeps 6 characters shows it), then the tail. */
function canary(tag: string): string {
  return addCanary(`${MARKER}${++counter}-${tag}${TAIL}`);
}

/** A new issued-token-shaped secret (RFC 6750 b64token characters only). */
function tokenCanary(tag: string): string {
  return addCanary(`${MARKER}${++counter}-${tag}-${randomBytes(6).toString('hex')}`);
}

function encodings(s: string): string[] {
  const b = Buffer.from(s, 'utf8');
  const j = JSON.stringify(s).slice(1, -1);
  return [
    s,
    encodeURIComponent(s),
    formUrlEncode(s),
    new URLSearchParams({ x: s }).toString().slice(2),
    b.toString('base64'),
    b.toString('base64url'),
    b.toString('hex'),
    j,
    j.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
  ];
}

/** Registers the Basic pair of a client as things that must not appear, in both encodings. */
function basicPair(id: string, secret: string): void {
  for (const pair of [`${formUrlEncode(id)}:${formUrlEncode(secret)}`, `${id}:${secret}`]) {
    needles.add(pair);
    needles.add(Buffer.from(pair).toString('base64'));
    needles.add(Buffer.from(pair).toString('base64url'));
  }
}

/** The first leak found in `text`, or undefined. */
function leakIn(text: string): string | undefined {
  if (text.includes(MARKER)) return 'the canary marker';
  for (const n of needles) if (text.includes(n)) return JSON.stringify(n.slice(0, 24));
  return undefined;
}

function assertClean(text: string, where: string): void {
  const leak = leakIn(text);
  if (leak !== undefined) {
    const i = Math.max(0, text.indexOf(MARKER));
    assert.fail(`${where} leaks ${leak}: ${text.slice(Math.max(0, i - 300), i + 300)}`);
  }
}

function assertErrorClean(e: unknown, where: string): void {
  assert.ok(e instanceof TokenwardError, `${where}: expected a TokenwardError, got ${String(e)}`);
  assertClean(e.message, `${where} message`);
  assertClean(e.stack ?? '', `${where} stack`);
  assertClean(JSON.stringify(e), `${where} JSON`);
  assertClean(JSON.stringify(e.toJSON()), `${where} toJSON`);
  assertClean(inspect(e, { depth: 10, showHidden: true }), `${where} inspect`);
  let cause: unknown = e.cause;
  for (let i = 0; cause !== undefined && i < 6; i++) {
    assertClean(inspect(cause, { depth: 10, showHidden: true }), `${where} cause`);
    assertClean(String(cause), `${where} cause`);
    cause = (cause as { cause?: unknown }).cause;
  }
}

// ---------------------------------------------------------------------------------------------------
// The echo server

function formDecode(s: string): string {
  try {
    return decodeURIComponent(s.replaceAll('+', ' '));
  } catch {
    return s;
  }
}

/** Everything secret-looking a request carried, decoded every way a server might decode it. */
function echoes(r: SeenRequest): { all: string[]; main: string } {
  const all: string[] = [];
  let main: string | undefined;
  const auth = r.headers.authorization;
  if (typeof auth === 'string' && /^basic /i.test(auth)) {
    const pair = Buffer.from(auth.slice(6), 'base64').toString('utf8');
    const i = pair.indexOf(':');
    const id = pair.slice(0, i);
    const sent = pair.slice(i + 1);
    main = formDecode(sent);
    all.push(auth, pair, sent, main, `${formDecode(id)}:${main}`);
  }
  if ((r.headers['content-type'] ?? '').includes('json')) {
    try {
      for (const v of Object.values(JSON.parse(r.body) as Record<string, unknown>)) {
        if (typeof v === 'string') all.push(v);
      }
    } catch {
      // not JSON
    }
  } else {
    const form = new URLSearchParams(r.body);
    const assertion = form.get('client_assertion');
    if (assertion !== null) needles.add(assertion);
    for (const k of ['password', 'client_secret', 'api_key', 'refresh_token', 'client_assertion']) {
      const v = form.get(k);
      if (v !== null) {
        main ??= v;
        all.push(v);
      }
    }
    for (const [, v] of form) all.push(v);
    all.push(r.body);
  }
  if (main === undefined) main = all[0] ?? '';
  return { all, main };
}

const MODES = [
  'decoded-basic',
  'raw-json',
  'headers',
  'body',
  'encoded',
  'straddle-480',
  'straddle-490',
  'straddle-494',
  'ws',
  'html-500',
  'html-200',
  'expires',
] as const;
type Mode = (typeof MODES)[number];

function answer(mode: string, r: SeenRequest, res: ServerResponse) {
  const { all, main } = echoes(r);
  // Echo in headers too (URL-encoded: header values must be Latin-1).
  res.setHeader('x-echo', encodeURIComponent(main));
  res.setHeader('set-cookie', `s=${encodeURIComponent(main)}`);
  const joined = all.join(' | ');
  switch (mode) {
    case 'ok':
      return json(res, 200, { access_token: OK_TOKEN, token_type: 'Bearer', expires_in: 3600 });
    case 'decoded-basic':
      return raw(res, 401, `Unauthorized. You sent: ${joined}`, 'text/plain');
    case 'raw-secret':
      return json(res, 401, { error: 'invalid_client', error_description: `the secret was ${main}` });
    case 'raw-json':
      return json(res, 401, { error: 'invalid_client', error_description: `bad credentials ${joined}` });
    case 'headers':
      return raw(res, 400, `headers: ${JSON.stringify(r.headers)}`, 'text/plain');
    case 'body':
      return raw(res, 400, r.body, 'text/plain');
    case 'encoded': {
      const enc = all.flatMap((v) => {
        const b = Buffer.from(v, 'utf8');
        return [b.toString('base64'), b.toString('base64url'), b.toString('hex'), encodeURIComponent(v)];
      });
      return raw(res, 400, `encoded: ${enc.join(' ')}`, 'text/plain');
    }
    case 'straddle-480':
    case 'straddle-490':
    case 'straddle-494': {
      const at = Number(mode.slice('straddle-'.length));
      return json(res, 400, {
        error: `${'e'.repeat(at - 300)}${main}`,
        error_description: `${'d'.repeat(at)}${main} and ${joined}`,
      });
    }
    case 'ws':
      return raw(res, 400, `failure:\n\n    ${'w '.repeat(50)}\n${main}\n\n  ${joined}`, 'text/plain');
    case 'html-500':
      return raw(res, 500, `<html><body><pre>${joined}</pre></body></html>`, 'text/html');
    case 'html-200':
      return raw(res, 200, `<html><body><pre>${joined}</pre></body></html>`, 'text/html');
    case 'expires':
      return json(res, 200, {
        access_token: OK_TOKEN,
        token_type: 'Bearer',
        expires_in: `soon-${main}`,
        error_description: joined,
      });
    default:
      return json(res, 404, { error: 'not_found' });
  }
}

const OK_TOKEN = tokenCanary('at');

/** Mutable mode for the `/switch` path (store tests). */
let switchMode = 'ok';
let lb: Loopback;
const exchanges: HttpExchange[] = [];
const http = (): HttpOptions => ({
  retries: 1,
  retryBaseMs: 1,
  retryMaxMs: 5,
  timeoutMs: 20_000,
  onExchange: (x) => exchanges.push(x),
  onWarning: () => undefined,
});

before(async () => {
  lb = await startLoopback((r, res) => {
    const path = new URL(r.url, 'http://x').pathname;
    const mode = path.split('/').filter(Boolean).at(-1) ?? '';
    answer(mode === 'switch' ? switchMode : mode, r, res);
  });
});
after(async () => {
  await lb.close();
  await closeAgents();
});

// ---------------------------------------------------------------------------------------------------
// Flows

const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();
for (const line of pem.split('\n')) if (line.length >= 40) needles.add(line);

interface Flow {
  name: string;
  run(tokenUrl: string): Promise<unknown>;
}

const grantCtx = (tokenUrl: string, clientAuth: ClientAuth): GrantContext => ({
  tokenUrl,
  clientAuth,
  http: http(),
});

function clientFlow(name: string, make: () => Profile): Flow {
  // One set of canaries per flow, made now (the leak check looks for all of them everywhere).
  const profile = make();
  return {
    name,
    async run(tokenUrl) {
      const client: TokenClient = await createTokenClient({ ...profile, token_url: tokenUrl }, http());
      assertClean(JSON.stringify(client.identity), `${name} identity`);
      return client.fetchToken({ now: Date.now });
    },
  };
}

function basicSecret(tag: string, id: string): string {
  const secret = canary(tag);
  basicPair(id, secret);
  return secret;
}

const FLOWS: Flow[] = [
  ((secret) => ({
    name: 'client_secret_basic (rfc6749)',
    run: (u: string) =>
      clientCredentials(grantCtx(u, clientSecretBasic({ clientId: 'cid-basic', clientSecret: secret }))),
  }))(basicSecret('cs-basic', 'cid-basic')),
  ((secret) => ({
    name: 'client_secret_basic (raw)',
    run: (u: string) =>
      clientCredentials(
        grantCtx(u, clientSecretBasic({ clientId: 'cid-raw', clientSecret: secret, encoding: 'raw' })),
      ),
  }))(basicSecret('cs-raw', 'cid-raw')),
  ((secret) => ({
    name: 'client_secret_post',
    run: (u: string) =>
      clientCredentials(grantCtx(u, clientSecretPost({ clientId: 'cid-post', clientSecret: secret }))),
  }))(canary('cs-post')),
  ((secret, password) => ({
    name: 'password grant (basic)',
    run: (u: string) =>
      passwordGrant(grantCtx(u, clientSecretBasic({ clientId: 'cid-pw', clientSecret: secret })), {
        username: 'bob',
        password,
      }),
  }))(basicSecret('cs-pw', 'cid-pw'), canary('pw')),
  ((secret) => ({
    name: 'client_secret_jwt',
    run: (u: string) =>
      clientCredentials(grantCtx(u, clientSecretJwt({ clientId: 'cid-jwt', clientSecret: secret }))),
  }))(canary('cs-jwt')),
  {
    name: 'private_key_jwt',
    run: (u) => clientCredentials(grantCtx(u, privateKeyJwt({ clientId: 'cid-pk', privateKey: pem }))),
  },
  ((secret, refreshToken) => ({
    name: 'refresh_token grant',
    run: (u: string) =>
      refreshTokenGrant(grantCtx(u, clientSecretPost({ clientId: 'cid-rt', clientSecret: secret })), {
        refreshToken,
      }),
  }))(canary('cs-rt'), tokenCanary('rt')),
  clientFlow('params.api_key', () => ({
    client_id: 'cid-params',
    client_secret: canary('cs-params'),
    auth_method: 'client_secret_post',
    params: { api_key: canary('ak'), region: 'eu' },
  })),
  clientFlow('msx preset', () => ({
    provider: 'msx',
    client_id: 'cid-msx',
    client_secret: basicSecret('cs-msx', 'cid-msx'),
    username: 'msx-user',
    password: canary('pw-msx'),
  })),
  clientFlow('acronis preset', () => ({
    provider: 'acronis',
    client_id: 'cid-acronis',
    client_secret: basicSecret('cs-acronis', 'cid-acronis'),
  })),
  clientFlow('rdp preset', () => ({
    provider: 'rdp',
    client_id: 'cid-rdp',
    client_secret: basicSecret('cs-rdp', 'cid-rdp'),
    client_id_in_basic: true,
    username: 'rdp-user',
    password: canary('pw-rdp'),
  })),
  clientFlow('cylance preset', () => ({
    provider: 'cylance',
    app_id: 'app-cyl',
    app_secret: canary('as-cyl'),
    tenant_id: 'tenant-cyl',
  })),
];

describe('secret canaries through the library', () => {
  for (const flow of FLOWS) {
    it(`${flow.name}: every echoing failure`, async () => {
      for (const mode of MODES) {
        const where = `${flow.name} / ${mode}`;
        const before = exchanges.length;
        await assert.rejects(flow.run(`${lb.url}/${mode}`), (e: unknown) => {
          assertErrorClean(e, where);
          return true;
        });
        assert.ok(exchanges.length > before, `${where}: the trace saw the exchange`);
        for (const x of exchanges.slice(before)) assertClean(JSON.stringify(x), `${where} trace`);
      }
      // A success too: its trace shows the request that carried the secret.
      const before = exchanges.length;
      await flow.run(`${lb.url}/ok`);
      for (const x of exchanges.slice(before)) assertClean(JSON.stringify(x), `${flow.name} / ok trace`);
    });
  }

  it('issue 18: a server echoing the RAW secret under client_secret_basic does not leak it', async () => {
    // A secret never seen before, sent only in the Basic header: only the HTTP layer's registration of
    // the decoded Basic credentials can redact the server's echo of the raw value.
    const secret = canary('cs-issue18');
    const auth = clientSecretBasic({ clientId: 'cid-18', clientSecret: secret });
    await assert.rejects(clientCredentials(grantCtx(`${lb.url}/raw-secret`, auth)), (e: unknown) => {
      assert.ok(e instanceof TokenwardError);
      assert.ok(!e.message.includes(secret), `the raw secret leaked: ${e.message}`);
      assert.match(e.message, /\(invalid_client: the secret was \[REDACTED\]\)/);
      return true;
    });
  });

  it('every trace of the run is clean', () => {
    assert.ok(exchanges.length >= FLOWS.length * MODES.length);
    for (const x of exchanges) assertClean(JSON.stringify(x), `trace ${x.url}`);
  });
});

// ---------------------------------------------------------------------------------------------------
// Persisted failures, read back through the store

describe('secret canaries in persisted store entries', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tw-canary-store-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function failAndReadBack(store: Partial<Profile>, where: string): Promise<void> {
    const env = { CANARY_CS: canary('cs-store'), CANARY_PW: canary('pw-store') };
    basicPair('cid-store', env.CANARY_CS);
    const m = await createTokenManager(
      {
        name: `canary-${counter}`,
        token_url: `${lb.url}/switch`,
        client_id: 'cid-store',
        client_secret: 'env:CANARY_CS',
        username: 'store-user',
        password: 'env:CANARY_PW',
        ...store,
      },
      { env, encryptionKey: randomBytes(32), http: http(), onWarning: () => undefined },
    );
    try {
      switchMode = 'ok';
      await m.getToken();
      for (const mode of ['raw-json', 'decoded-basic', 'straddle-490', 'html-500'] as Mode[]) {
        switchMode = mode;
        await assert.rejects(m.getToken({ force: true }), (e: unknown) => {
          assertErrorClean(e, `${where} / ${mode}`);
          return true;
        });
        const entry = await m.store.get(m.key);
        assert.ok(entry?.lastError !== undefined, `${where}: the failure was recorded`);
        assert.ok(entry.token !== undefined, `${where}: the good token is kept`);
        // The entry holds the token it was issued (that is what a store is for) and nothing else secret.
        const text = JSON.stringify(entry).replaceAll(entry.token.accessToken, 'ISSUED-ACCESS-TOKEN');
        assertClean(text, `${where} / ${mode} persisted entry`);
      }
    } finally {
      switchMode = 'ok';
      await m.store.delete(m.key).catch(() => undefined);
      await m.close();
    }
  }

  it('file store', () => failAndReadBack({ store: 'file', cache_dir: dir }, 'file'));
  it('memory store', () => failAndReadBack({ store: 'memory' }, 'memory'));
  it('Redis store', async (t) => {
    const url = await requireService(t, 'redis');
    if (url === undefined) return;
    const prefix = `${uniqueName()}:`;
    try {
      await failAndReadBack({ store: 'redis', store_url: url, store_prefix: prefix }, 'redis');
    } finally {
      await dropPrefix(url, prefix);
    }
  });
  it('PostgreSQL store', async (t) => {
    const url = await requireService(t, 'postgres');
    if (url === undefined) return;
    const table = uniqueName();
    try {
      await failAndReadBack({ store: 'postgres', store_url: url, store_prefix: table }, 'postgres');
    } finally {
      await dropTable(url, table);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// The CLI: token -v, then status --json in another process

describe('secret canaries through the CLI', () => {
  const home = tempHome();
  after(() => home.cleanup());

  const env: Record<string, string> = {};
  const secretRef = (name: string, value: string): string => {
    env[name] = value;
    return `env:${name}`;
  };

  /** One profile per flow (secrets as env: references), as TOML lines without the table header. */
  function flowProfiles(mode: Mode, i: number): Record<string, Record<string, unknown>> {
    const u = `${lb.url}/cli${i}/${mode}`;
    const cs = (tag: string, id: string) => {
      const s = canary(tag);
      basicPair(id, s);
      return secretRef(`CS_${tag.replaceAll('-', '_').toUpperCase()}_${i}`, s);
    };
    const pw = (tag: string) => secretRef(`PW_${tag.toUpperCase()}_${i}`, canary(`pw-${tag}`));
    return {
      [`basic-${i}`]: { token_url: u, client_id: 'cid-b', client_secret: cs('cs-b', 'cid-b') },
      [`post-${i}`]: {
        token_url: u,
        client_id: 'cid-p',
        client_secret: cs('cs-p', 'cid-p'),
        auth_method: 'client_secret_post',
      },
      [`password-${i}`]: {
        token_url: u,
        client_id: 'cid-w',
        client_secret: cs('cs-w', 'cid-w'),
        username: 'bob',
        password: pw('w'),
      },
      [`jwt-${i}`]: {
        token_url: u,
        client_id: 'cid-j',
        client_secret: cs('cs-j', 'cid-j'),
        auth_method: 'client_secret_jwt',
      },
      [`params-${i}`]: {
        token_url: u,
        client_id: 'cid-k',
        client_secret: cs('cs-k', 'cid-k'),
        params: { api_key: secretRef(`AK_${i}`, canary('ak')) },
      },
      [`msx-${i}`]: {
        provider: 'msx',
        token_url: u,
        client_id: 'cid-m',
        client_secret: cs('cs-m', 'cid-m'),
        username: 'mu',
        password: pw('m'),
      },
      [`acronis-${i}`]: {
        provider: 'acronis',
        token_url: u,
        client_id: 'cid-a',
        client_secret: cs('cs-a', 'cid-a'),
      },
      [`rdp-${i}`]: {
        provider: 'rdp',
        token_url: u,
        client_id: 'cid-r',
        client_secret: cs('cs-r', 'cid-r'),
        client_id_in_basic: true,
        username: 'ru',
        password: pw('r'),
      },
      [`cylance-${i}`]: {
        provider: 'cylance',
        token_url: u,
        app_id: 'app-c',
        app_secret: secretRef(`AS_${i}`, canary('as')),
        tenant_id: 'tenant-c',
      },
    };
  }

  // Three failures that together echo everything (decoded Basic, raw secrets, body, headers), cut a
  // secret at the 500/200-character clip, collapse white space, and go through retries; one `it` each.
  const CLI_MODES: Mode[] = ['straddle-494', 'ws', 'html-500'];
  const profiles: Record<string, Record<string, unknown>> = {};
  let runEnv: NodeJS.ProcessEnv = {};

  before(async () => {
    // Here, not when the suite is defined: the echo server's URL is known only now.
    for (const [i, mode] of CLI_MODES.entries()) Object.assign(profiles, flowProfiles(mode, i));
    const { stringify } = await import('smol-toml');
    mkdirSync(dirname(home.config), { recursive: true });
    writeFileSync(home.config, stringify({ defaults: { retries: 1, timeout: 20 }, profiles }), {
      mode: 0o600,
    });
    runEnv = { ...home.env, ...env, TOKENWARD_CONFIG: home.config };
  });

  for (const [i, mode] of CLI_MODES.entries()) {
    it(`token -v, every flow, ${mode}: stdout and stderr are clean`, async () => {
      const names = Object.keys(profiles).filter((n) => n.endsWith(`-${i}`));
      assert.equal(names.length, 9);
      // A few at a time: the machine is shared.
      for (let k = 0; k < names.length; k += 3) {
        const batch = names.slice(k, k + 3);
        const results = await Promise.all(
          batch.map((n) => tw(['token', n, '-v'], { env: runEnv, timeoutMs: 120_000 })),
        );
        results.forEach((r, j) => {
          const where = `tokenward token ${batch[j]} -v`;
          assert.notEqual(r.code, 0, `${where} should fail: ${r.stderr}`);
          assert.match(r.stderr, /tokenward: error:/, where);
          assert.match(r.stderr, /^> POST /m, `${where} printed the trace`);
          assertClean(r.stdout, `${where} stdout`);
          assertClean(r.stderr, `${where} stderr`);
        });
      }
    });
  }

  it('status --json, later, in another process that never resolved the secrets: clean', async () => {
    const names = Object.keys(profiles);
    const status = await tw(['status', '--json'], { env: runEnv, timeoutMs: 120_000 });
    assert.equal(status.code, 0, status.stderr);
    const errors = status.stdout.match(/"message"/g) ?? [];
    assert.equal(
      errors.length,
      names.length,
      `status --json shows every recorded failure: ${status.stdout.slice(0, 400)}`,
    );
    assertClean(status.stdout, 'status --json stdout');
    assertClean(status.stderr, 'status --json stderr');
  });
});
