/**
 * Bad local input gets a bounded, clear error: the config file, `file:` secrets (and so `private_key`
 * files), `ca_file` and `request --data @file` / `@-` are read only from regular files, within a size
 * cap and a time bound (a FIFO without a writer, /dev/zero, a directory are refused at once); a
 * `ca_file` without a certificate is a ConfigError when the manager is built; `timeout` and `retries`
 * are bounded; unknown keys in a profile built in code are errors naming the key; only literal loopback
 * addresses and `localhost` (pinned to 127.0.0.1/::1) get the plain-http exemption; the TLS-off warning
 * comes once, through the caller's hook.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import type { LookupAddress } from 'node:dns';
import { mkdtempSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, describe, it } from 'node:test';
import { getProfile } from '../../src/config/load.js';
import {
  LOCAL_FILE_LIMITS,
  LocalReadError,
  readBoundedStream,
  readLocalFile,
} from '../../src/config/local-file.js';
import { originOf, setOrigin } from '../../src/config/origin.js';
import { MAX_RETRIES, MAX_TIMEOUT_SECONDS, validateProfile } from '../../src/config/schema.js';
import { resolveSecretReference } from '../../src/config/secrets.js';
import { ConfigError, InsecureEndpointError } from '../../src/errors.js';
import { createTokenManager, getToken } from '../../src/front-door.js';
import { closeAgents, loadCaFile, pinnedLookup } from '../../src/http/agent.js';
import { requestToken } from '../../src/http/token-endpoint.js';
import { assertSecureUrl, isLoopbackHost } from '../../src/http/url.js';
import type { TokenwardWarning } from '../../src/manager/token-manager.js';
import { tempHome, tw } from '../cli/helpers.js';
import { json, startLoopback } from '../helpers/loopback.js';
import { selfSignedCert } from '../helpers/tls-cert.js';

const posix = process.platform !== 'win32';
// Made at load time: `skip` options are read when the tests are defined.
const dir = mkdtempSync(join(tmpdir(), 'tokenward-input-'));
function makeFifo(): string | undefined {
  if (!posix) return undefined;
  try {
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    return join(dir, 'fifo');
  } catch {
    return undefined;
  }
}
const fifo = makeFifo();
after(async () => {
  await rm(dir, { recursive: true, force: true });
  await closeAgents();
});

async function file(name: string, content: string | Buffer, mode = 0o600): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, content, { mode });
  return p;
}

/** The bad local inputs every reader must refuse, by name. */
function hostile(): Array<[string, string, RegExp]> {
  const out: Array<[string, string, RegExp]> = [
    ['a directory', dir, /is a directory, not a regular file/],
    ['a missing file', join(dir, 'missing'), /does not exist \(ENOENT\)/],
  ];
  if (posix) out.push(['/dev/zero', '/dev/zero', /is a character device, not a regular file/]);
  if (fifo !== undefined)
    out.push(['a FIFO with no writer', fifo, /is a FIFO \(named pipe\), not a regular file/]);
  return out;
}

function rejectsWith(code: string) {
  return (e: unknown) => e instanceof LocalReadError && e.code === code;
}

describe('readLocalFile', () => {
  it('reads a regular file up to the cap, and refuses one byte more', async () => {
    const p = await file('ten', '0123456789');
    assert.equal((await readLocalFile(p, { maxBytes: 10 })).toString(), '0123456789');
    await assert.rejects(readLocalFile(p, { maxBytes: 9 }), rejectsWith('ETOOBIG'));
    assert.equal((await readLocalFile(await file('empty', ''), { maxBytes: 10 })).length, 0);
  });

  it('refuses devices, FIFOs without a writer and directories at once (no read, no hang)', async () => {
    for (const [what, path, message] of hostile()) {
      await assert.rejects(readLocalFile(path, { maxBytes: 1024 }), (e) => {
        assert.ok(e instanceof LocalReadError, what);
        assert.match(e.reason, message, what);
        return true;
      });
    }
  });
});

describe('readBoundedStream (--data @-)', () => {
  it('reads to the end within the cap; refuses more; fails when the writer goes quiet', async () => {
    const ok = new PassThrough();
    const reading = readBoundedStream(ok, { maxBytes: 8 });
    ok.end('{"a":1}');
    assert.equal((await reading).toString(), '{"a":1}');

    const big = new PassThrough();
    const tooBig = readBoundedStream(big, { maxBytes: 8 });
    big.write('0123456789');
    await assert.rejects(tooBig, rejectsWith('ETOOBIG'));

    const quiet = new PassThrough();
    quiet.write('{');
    await assert.rejects(readBoundedStream(quiet, { maxBytes: 8, idleMs: 50 }), rejectsWith('ETIMEDOUT'));
  });
});

describe('the config file (--config)', () => {
  it('a device, FIFO or directory is a ConfigError naming the file, not a hang or a 600 MB read', async () => {
    for (const [what, path, message] of hostile().filter(([w]) => w !== 'a missing file')) {
      await assert.rejects(getProfile('x', { path, env: {} }), (e) => {
        assert.ok(e instanceof ConfigError, what);
        assert.equal(e.file, path);
        assert.match(e.message, message, what);
        return true;
      });
    }
  });

  it(`is capped at ${LOCAL_FILE_LIMITS.configBytes} bytes`, async () => {
    const head = '[profiles.x]\ntoken_url = "https://idp.example.test/token"\n';
    const p = await file('big.toml', head + '#'.repeat(LOCAL_FILE_LIMITS.configBytes + 1 - head.length));
    await assert.rejects(getProfile('x', { path: p, env: {} }), /larger than 1 MiB/);
    const fits = await file('fits.toml', head + '#'.repeat(LOCAL_FILE_LIMITS.configBytes - head.length));
    assert.equal(
      (await getProfile('x', { path: fits, env: {} })).token_url,
      'https://idp.example.test/token',
    );
  });

  it('through the CLI: --config /dev/zero exits 2 with a clear message', { skip: !posix }, async () => {
    const home = tempHome();
    try {
      const r = await tw(['--config', '/dev/zero', 'token', 'x'], { env: home.env });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /\/dev\/zero.*character device, not a regular file/);
    } finally {
      home.cleanup();
    }
  });
});

describe('file: secrets (client_secret, private_key, …)', () => {
  it('a device, FIFO or directory is a ConfigError naming the key', async () => {
    for (const [what, path, message] of hostile()) {
      await assert.rejects(resolveSecretReference(`file:${path}`, { key: 'private_key' }), (e) => {
        assert.ok(e instanceof ConfigError, what);
        assert.equal(e.key, 'private_key');
        assert.match(e.message, message, what);
        return true;
      });
    }
  });

  it(`is capped at ${LOCAL_FILE_LIMITS.secretBytes} bytes`, async () => {
    const p = await file('huge-secret', Buffer.alloc(LOCAL_FILE_LIMITS.secretBytes + 1, 0x61));
    await assert.rejects(resolveSecretReference(`file:${p}`, { key: 'client_secret' }), /larger than 1 MiB/);
  });

  it('a private_key file that is a FIFO fails the first token request with the key named', {
    skip: fifo === undefined,
  }, async () => {
    // Secret keys are resolved when the token client is built, on the first request.
    const m = await createTokenManager(
      {
        token_url: 'https://idp.example.test/token',
        client_id: 'c',
        private_key: `file:${fifo}`,
        store: 'memory',
      },
      { env: {} },
    );
    try {
      await assert.rejects(
        m.getToken(),
        (e) => e instanceof ConfigError && e.key === 'private_key' && /FIFO/.test(e.message),
      );
    } finally {
      await m.close();
    }
  });
});

describe('ca_file', () => {
  const cert = selfSignedCert();
  it('a device, FIFO or directory is a ConfigError with key ca_file', async () => {
    for (const [what, path, message] of hostile()) {
      await assert.rejects(loadCaFile(path), (e) => {
        assert.ok(e instanceof ConfigError, what);
        assert.equal(e.key, 'ca_file');
        assert.match(e.message, message, what);
        return true;
      });
    }
  });

  it('a file without a certificate is a ConfigError when the client is built, not a later TLS error', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const keyOnly = await file('key.pem', privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    const profile = {
      token_url: 'https://idp.example.test/token',
      client_id: 'c',
      client_secret: 's',
      store: 'memory' as const,
      ca_file: keyOnly,
    };
    // The token client (and its CA bundle) is built on the first token request, before any connection.
    const firstRequest = async (p: typeof profile) => {
      const m = await createTokenManager(p, { env: {} });
      try {
        return await m.getToken();
      } finally {
        await m.close();
      }
    };
    await assert.rejects(
      firstRequest(profile),
      (e) => e instanceof ConfigError && e.key === 'ca_file' && /holds no PEM certificate/.test(e.message),
    );
    const broken = await file(
      'broken.pem',
      '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n',
    );
    await assert.rejects(
      firstRequest({ ...profile, ca_file: broken }),
      /certificate 1 of 1 .* does not parse/,
    );
    await assert.rejects(firstRequest({ ...profile, ca_file: '/dev/zero' }), /ca_file/);
  });

  it('a PEM bundle (text around the certificates) loads', { skip: cert === undefined }, async () => {
    const p = await file('bundle.pem', `# my lab CA\n${cert?.cert}\nsome trailing note\n`);
    const pem = await loadCaFile(p);
    assert.match(pem, /^-----BEGIN CERTIFICATE-----/);
    assert.ok(!pem.includes('my lab CA'));
    const m = await createTokenManager(
      {
        token_url: 'https://idp.example.test/token',
        client_id: 'c',
        client_secret: 's',
        store: 'memory',
        ca_file: p,
      },
      { env: {} },
    );
    await m.close();
  });
});

describe('request --data', () => {
  it('@/dev/zero, @FIFO and @directory exit 2 at once with a clear message', async () => {
    const home = tempHome();
    try {
      for (const [what, path, message] of hostile()) {
        const r = await tw(['request', 'p', 'https://api.example.test/x', '--data', `@${path}`], {
          env: home.env,
        });
        assert.equal(r.code, 2, `${what}: ${r.stderr}`);
        assert.match(r.stderr, message, what);
      }
    } finally {
      home.cleanup();
    }
  });
});

describe('schema bounds on timeout and retries', () => {
  const base = { token_url: 'https://idp.example.test/token' };
  const bad = (extra: Record<string, unknown>, key: string) =>
    assert.throws(
      () => validateProfile({ ...base, ...extra }),
      (e) => e instanceof ConfigError && e.key === key,
      JSON.stringify(extra),
    );
  it(`timeout is > 0 and <= ${MAX_TIMEOUT_SECONDS} s; retries a whole number 0..${MAX_RETRIES}`, () => {
    validateProfile({ ...base, timeout: MAX_TIMEOUT_SECONDS, retries: MAX_RETRIES });
    validateProfile({ ...base, timeout: 0.5, retries: 0 });
    bad({ timeout: MAX_TIMEOUT_SECONDS + 1 }, 'timeout');
    bad({ timeout: 0 }, 'timeout');
    bad({ timeout: Number.POSITIVE_INFINITY }, 'timeout');
    bad({ timeout: Number.NaN }, 'timeout');
    bad({ retries: MAX_RETRIES + 1 }, 'retries');
    bad({ retries: 1.5 }, 'retries');
    bad({ retries: -1 }, 'retries');
    bad({ retries: Number.POSITIVE_INFINITY }, 'retries');
    bad({ skew_seconds: Number.POSITIVE_INFINITY }, 'skew_seconds');
    bad({ max_lifetime: Number.POSITIVE_INFINITY }, 'max_lifetime');
  });

  it('TOML inf and nan are refused with the key named', async () => {
    const p = await file(
      'inf.toml',
      '[profiles.x]\ntoken_url = "https://idp.example.test/token"\ntimeout = inf\n',
    );
    await assert.rejects(getProfile('x', { path: p, env: {} }), (e) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.key, 'profiles.x.timeout');
      assert.equal(e.line, 3);
      return true;
    });
    const n = await file(
      'nan.toml',
      '[profiles.x]\ntoken_url = "https://idp.example.test/token"\nretries = nan\n',
    );
    await assert.rejects(getProfile('x', { path: n, env: {} }), { key: 'profiles.x.retries' });
  });
});

describe('profiles built in code are checked like the config file', () => {
  it('an unknown key is a ConfigError naming it (with a suggestion), from createTokenManager and getToken', async () => {
    const profile = {
      token_url: 'https://idp.example.test/token',
      client_id: 'c',
      clinet_secret: 's',
      store: 'memory',
    } as unknown as Parameters<typeof createTokenManager>[0];
    for (const attempt of [
      () => createTokenManager(profile, { env: {} }),
      () => getToken(profile, { env: {} }),
    ]) {
      await assert.rejects(attempt(), (e) => {
        assert.ok(e instanceof ConfigError);
        assert.equal(e.key, 'clinet_secret');
        assert.match(e.message, /unknown key "clinet_secret" \(did you mean "client_secret"\?\)/);
        return true;
      });
    }
  });

  it('wrong types and out-of-range values name the key', async () => {
    const base = { token_url: 'https://idp.example.test/token', client_id: 'c', store: 'memory' as const };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ timeout: '10' }, 'timeout'],
      [{ retries: 50 }, 'retries'],
      [{ scope: 7 }, 'scope'],
      [{ params: { a: 1 } }, 'params.a'],
      [{ store: 'disk' }, 'store'],
    ];
    for (const [extra, key] of cases) {
      await assert.rejects(
        createTokenManager({ ...base, ...extra } as Parameters<typeof createTokenManager>[0], { env: {} }),
        (e) => e instanceof ConfigError && e.key === key,
        key,
      );
    }
  });

  it('a profile loaded from a file keeps pointing at the file and line', async () => {
    const p = await file(
      'ok.toml',
      '[profiles.x]\ntoken_url = "https://idp.example.test/token"\nclient_id = "c"\nclient_secret = "env:X_SECRET"\n',
    );
    const profile = await getProfile('x', { path: p, env: {} });
    const changed = { ...profile, retries: 99 };
    await assert.rejects(createTokenManager(changed, { env: {} }), (e) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.key, 'retries', 'a copy has no origin: the plain key');
      return true;
    });
    const origin = originOf(profile);
    assert.ok(origin !== undefined);
    setOrigin(changed, origin); // as the CLI does for its one-shot copy
    await assert.rejects(createTokenManager(changed, { env: {} }), (e) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.key, 'profiles.x.retries');
      assert.equal(e.file, p);
      return true;
    });
    const m = await createTokenManager({ ...profile, store: 'memory' }, { env: { X_SECRET: 's' } });
    await m.close();
  });
});

describe('loopback: only literal addresses and localhost, and localhost is pinned', () => {
  it('*.localhost and other names are not loopback', () => {
    for (const h of [
      '127.0.0.1',
      '127.255.0.9',
      '[::1]',
      'localhost',
      'LOCALHOST',
      'localhost.',
      '[::ffff:7f00:1]',
    ]) {
      assert.equal(isLoopbackHost(h), true, h);
    }
    for (const h of [
      'api.localhost',
      'localhost.example.com',
      'evil.localhost',
      'localhost.localdomain',
      '10.0.0.1',
      '[::2]',
    ]) {
      assert.equal(isLoopbackHost(h), false, h);
    }
    assert.throws(
      () => assertSecureUrl('http://idp.localhost:8080/token', 'token_url'),
      InsecureEndpointError,
    );
    assert.equal(assertSecureUrl('http://localhost:8080/token', 'token_url').hostname, 'localhost');
  });

  it('pinnedLookup answers localhost with 127.0.0.1 / ::1 itself', async () => {
    const look = (host: string, options: Parameters<typeof pinnedLookup>[1]) =>
      new Promise<{ address: string | LookupAddress[]; family?: number }>((resolve, reject) =>
        pinnedLookup(host, options, (err, address, family) =>
          err ? reject(err) : resolve(family === undefined ? { address } : { address, family }),
        ),
      );
    assert.deepEqual(await look('localhost', { all: true }), {
      address: [
        { address: '127.0.0.1', family: 4 },
        { address: '::1', family: 6 },
      ],
    });
    assert.deepEqual(await look('LocalHost.', { family: 6 }), { address: '::1', family: 6 });
    assert.deepEqual(await look('localhost', {}), { address: '127.0.0.1', family: 4 });
    assert.deepEqual(await look('127.0.0.1', {}), { address: '127.0.0.1', family: 4 }, 'others: dns.lookup');
  });

  it('a token request to http://localhost:PORT reaches the loopback server', async () => {
    const s = await startLoopback((_r, res) => json(res, 200, { access_token: 'a', token_type: 'Bearer' }));
    try {
      const port = new URL(s.url).port;
      for (const host of ['localhost', 'LOCALHOST.']) {
        const r = await requestToken({ url: `http://${host}:${port}/token`, form: {} }, { retries: 0 });
        assert.deepEqual(r.body, { access_token: 'a', token_type: 'Bearer' });
      }
      assert.equal(s.requests.length, 2);
    } finally {
      await s.close();
    }
  });
});

describe('TLS verification off', () => {
  const cert = selfSignedCert();
  it('is warned about once per origin, through the caller’s hook, and never by process.emitWarning', {
    skip: cert === undefined ? 'openssl not available' : false,
  }, async () => {
    let n = 0;
    const s = await startLoopback(
      (_r, res) => json(res, 200, { access_token: `tok-${++n}`, token_type: 'Bearer', expires_in: 3600 }),
      cert,
    );
    const processWarnings: string[] = [];
    const onProcessWarning = (w: Error) => processWarnings.push(w.message);
    process.on('warning', onProcessWarning);
    try {
      const warnings: TokenwardWarning[] = [];
      const m = await createTokenManager(
        {
          token_url: `${s.url}/token`,
          client_id: 'c',
          client_secret: 's',
          insecure_skip_tls_verify: true,
          store: 'memory',
        },
        { env: {}, onWarning: (w) => warnings.push(w) },
      );
      try {
        for (let i = 0; i < 3; i++) await m.getToken({ force: true });
      } finally {
        await m.close();
      }
      assert.equal(s.requests.length, 3);
      assert.deepEqual(
        warnings.map((w) => w.code),
        ['TLS_VERIFY_DISABLED'],
      );
      assert.match(
        warnings[0]?.message ?? '',
        /TLS certificate verification is OFF for https:\/\/127\.0\.0\.1/,
      );
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(
        processWarnings.filter((w) => /TLS/.test(w)),
        [],
      );
    } finally {
      process.off('warning', onProcessWarning);
      await s.close();
    }
  });
});

describe('a directory for the config path', () => {
  it('is refused (EISDIR) like any other non-regular file', async () => {
    const d = join(dir, 'conf.d');
    await mkdir(d);
    await assert.rejects(getProfile('x', { path: d, env: {} }), /is a directory, not a regular file/);
  });
});
