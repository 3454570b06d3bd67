/**
 * The HTTP layer's settings and connection plumbing (src/http/budget.ts, src/http/agent.ts), pinned at
 * their boundaries: which option values count, the request budget, the TLS warning given once per origin
 * and hook, `localhost` answered without a resolver, one cached pool per setting, and `ca_file` checks.
 */
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, type TokenwardWarning } from '../../src/errors.js';
import {
  closeAgents,
  dispatcherFor,
  loadCaFile,
  pinnedLookup,
  warnInsecureTlsOnce,
} from '../../src/http/agent.js';
import {
  DEFAULT_MAX_RESPONSE_BYTES,
  DEFAULT_RETRIES,
  DEFAULT_RETRY_BASE_MS,
  DEFAULT_RETRY_MAX_MS,
  DEFAULT_TIMEOUT_MS,
  requestBudgetMs,
  resolve,
} from '../../src/http/budget.js';
import { fakeResolver, restoreResolver } from '../helpers/fake-resolver.js';
import { missing } from '../helpers/services.js';
import { selfSignedCert, TLS_CERT_INSTALL } from '../helpers/tls-cert.js';

describe('resolve: the options with defaults, a value out of range counting as not given', () => {
  const defaults = {
    timeoutMs: DEFAULT_TIMEOUT_MS,
    retries: DEFAULT_RETRIES,
    retryBaseMs: DEFAULT_RETRY_BASE_MS,
    retryMaxMs: DEFAULT_RETRY_MAX_MS,
    maxBytes: DEFAULT_MAX_RESPONSE_BYTES,
  };
  it('the defaults', () => {
    assert.deepEqual(resolve({}), defaults);
    assert.deepEqual(defaults, {
      timeoutMs: 10_000,
      retries: 2,
      retryBaseMs: 200,
      retryMaxMs: 10_000,
      maxBytes: 1024 * 1024,
    });
  });

  it('the least value accepted for each; one below is the default', () => {
    assert.deepEqual(
      resolve({ timeoutMs: 1, retries: 0, retryBaseMs: 0, retryMaxMs: 0, maxResponseBytes: 1 }),
      { timeoutMs: 1, retries: 0, retryBaseMs: 0, retryMaxMs: 0, maxBytes: 1 },
    );
    assert.deepEqual(
      resolve({ timeoutMs: 0.5, retries: -1, retryBaseMs: -1, retryMaxMs: -0.5, maxResponseBytes: 0.5 }),
      defaults,
    );
  });

  it('NaN, infinities and non-numbers are the default; retries and bytes are whole numbers', () => {
    for (const v of [Number.NaN, Number.POSITIVE_INFINITY, '5', null]) {
      assert.deepEqual(
        resolve({
          timeoutMs: v as number,
          retries: v as number,
          retryBaseMs: v as number,
          retryMaxMs: v as number,
          maxResponseBytes: v as number,
        }),
        defaults,
        String(v),
      );
    }
    assert.deepEqual(resolve({ retries: 2.9, maxResponseBytes: 10.7, timeoutMs: 1.5 }), {
      ...defaults,
      retries: 2,
      maxBytes: 10,
      timeoutMs: 1.5,
    });
  });

  it('requestBudgetMs: every attempt at its timeout plus the longest wait before each retry', () => {
    assert.equal(requestBudgetMs(), 10_000 * 3 + 10_000 * 2);
    assert.equal(requestBudgetMs({ timeoutMs: 7, retries: 3, retryMaxMs: 11 }), 7 * 4 + 11 * 3);
    assert.equal(requestBudgetMs({ timeoutMs: 7, retries: 0, retryMaxMs: 11 }), 7);
  });
});

describe('warnInsecureTlsOnce', () => {
  it('once per origin and per hook; a throwing hook is survived', () => {
    const a: TokenwardWarning[] = [];
    const b: TokenwardWarning[] = [];
    const hookA = (w: TokenwardWarning) => a.push(w);
    const hookB = (w: TokenwardWarning) => b.push(w);
    warnInsecureTlsOnce('https://one.example', 'm1', hookA);
    warnInsecureTlsOnce('https://one.example', 'm1 again', hookA);
    warnInsecureTlsOnce('https://two.example', 'm2', hookA);
    warnInsecureTlsOnce('https://one.example', 'm1', hookB);
    assert.deepEqual(a, [
      { code: 'TLS_VERIFY_DISABLED', message: 'm1' },
      { code: 'TLS_VERIFY_DISABLED', message: 'm2' },
    ]);
    assert.deepEqual(b, [{ code: 'TLS_VERIFY_DISABLED', message: 'm1' }]);
    let calls = 0;
    const throwing = () => {
      calls++;
      throw new Error('hook');
    };
    warnInsecureTlsOnce('https://one.example', 'm', throwing);
    warnInsecureTlsOnce('https://one.example', 'm', throwing);
    assert.equal(calls, 1);
  });

  it('without a hook: printed once to stderr as a process warning', async () => {
    const seen: Error[] = [];
    const on = (w: Error) => seen.push(w);
    process.on('warning', on);
    try {
      warnInsecureTlsOnce('https://printed.example', 'tls check off for printed.example');
      warnInsecureTlsOnce('https://printed.example', 'tls check off for printed.example');
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', on);
    }
    const ours = seen.filter((w) => w.message === 'tls check off for printed.example');
    assert.equal(ours.length, 1);
    assert.equal((ours[0] as Error & { code?: string }).code, 'TOKENWARD_TLS_VERIFY_DISABLED');
  });
});

describe('pinnedLookup', () => {
  const lookup = (host: string, options: Parameters<typeof pinnedLookup>[1]) =>
    new Promise<{ address: string | LookupAddress[]; family: number | undefined }>((resolve, reject) => {
      let sync = true;
      pinnedLookup(host, options, (err, address, family) => {
        if (sync) reject(new Error('the callback must not run synchronously'));
        else if (err) reject(err);
        else resolve({ address, family });
      });
      sync = false;
    });

  it('localhost (any case, trailing dot) is 127.0.0.1 and ::1, by family, never asking a resolver', async () => {
    for (const host of ['localhost', 'LocalHost', 'localhost.']) {
      assert.deepEqual(await lookup(host, {}), { address: '127.0.0.1', family: 4 });
      assert.deepEqual(await lookup(host, { all: true }), {
        address: [
          { address: '127.0.0.1', family: 4 },
          { address: '::1', family: 6 },
        ],
        family: undefined,
      });
    }
    assert.deepEqual(await lookup('localhost', { family: 6 }), { address: '::1', family: 6 });
    assert.deepEqual(await lookup('localhost', { family: 'IPv6' }), { address: '::1', family: 6 });
    assert.deepEqual(await lookup('localhost', { family: 4 }), { address: '127.0.0.1', family: 4 });
    assert.deepEqual(await lookup('localhost', { family: 'IPv4' }), { address: '127.0.0.1', family: 4 });
    assert.deepEqual(await lookup('localhost', { family: 6, all: true }), {
      address: [{ address: '::1', family: 6 }],
      family: undefined,
    });
    assert.deepEqual(await lookup('localhost', { family: 'IPv4', all: true }), {
      address: [{ address: '127.0.0.1', family: 4 }],
      family: undefined,
    });
  });

  it('names that only look like localhost, and addresses, go to dns.lookup', async () => {
    assert.deepEqual(await lookup('127.0.0.2', {}), { address: '127.0.0.2', family: 4 });
    assert.deepEqual(await lookup('::1', { all: true }), {
      address: [{ address: '::1', family: 6 }],
      family: undefined,
    });
    // Answered by the wrapped resolver (no query leaves the machine): the name reached dns.lookup.
    const asked: string[] = [];
    fakeResolver('localhost.invalid', () => 'ENOTFOUND', asked);
    try {
      await assert.rejects(
        lookup('localhost.invalid', {}),
        (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOTFOUND',
      );
    } finally {
      restoreResolver();
    }
    assert.deepEqual(asked, ['localhost.invalid']);
  });
});

describe('dispatcherFor: one pool per setting', () => {
  after(() => closeAgents());
  const route = { uri: 'http://127.0.0.1:9', shown: 'http://127.0.0.1:9', source: 'proxy' };
  it('the same settings give the same pool; each of ca, insecure and proxy makes another', async () => {
    const base = await dispatcherFor({});
    assert.equal(await dispatcherFor({}), base);
    assert.equal(await dispatcherFor({ insecureSkipTlsVerify: false }), base);
    const insecure = await dispatcherFor({ insecureSkipTlsVerify: true });
    const ca = await dispatcherFor({ ca: 'PEM' });
    const proxied = await dispatcherFor({}, route);
    const all = new Set([base, insecure, ca, proxied]);
    assert.equal(all.size, 4);
    assert.equal(await dispatcherFor({ ca: 'PEM' }), ca);
    assert.equal(await dispatcherFor({}, route), proxied);
    await closeAgents();
    assert.notEqual(await dispatcherFor({}), base, 'closeAgents() empties the cache');
  });
});

describe('loadCaFile', () => {
  let dir: string;
  let cert: string | undefined;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tw-mut-ca-'));
    cert = selfSignedCert('ca.test', 'DNS:ca.test')?.cert;
  });
  after(() => rm(dir, { recursive: true, force: true }));
  const refused = async (path: string, message: string, key = 'ca_file') =>
    assert.rejects(loadCaFile(path, key === 'ca_file' ? undefined : key), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.key, key);
      assert.ok(e.message.endsWith(message), `${e.message} / ${message}`);
      return true;
    });

  it('a missing file, or one without a certificate, is a ConfigError naming the key', async () => {
    const missing = join(dir, 'missing.pem');
    await assert.rejects(
      loadCaFile(missing),
      (e: unknown) => e instanceof ConfigError && e.key === 'ca_file' && e.message.includes(missing),
    );
    await assert.rejects(
      loadCaFile(missing, 'proxy_ca_file'),
      (e: unknown) => e instanceof ConfigError && e.key === 'proxy_ca_file',
    );
    const key = join(dir, 'key.pem');
    await writeFile(key, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    await refused(
      key,
      `${key} holds no PEM certificate ("-----BEGIN CERTIFICATE-----"); give the CA certificate(s) that sign the server's certificate, in PEM`,
    );
  });

  it('every certificate must parse; they come back joined by a line break, without what was around them', async (t) => {
    if (cert === undefined) return missing(t, 'openssl', TLS_CERT_INSTALL);
    const broken = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----';
    const mixed = join(dir, 'mixed.pem');
    await writeFile(mixed, `${cert}\n${broken}\n`);
    await refused(mixed, `certificate 2 of 2 in ${mixed} does not parse`);
    const first = join(dir, 'first.pem');
    await writeFile(first, `${broken}\n${cert}`);
    await refused(first, `certificate 1 of 2 in ${first} does not parse`);
    const two = join(dir, 'two.pem');
    const pem = cert.trim();
    await writeFile(two, `comment\n${pem}\n\nmore\n${pem}\ntrailer\n`);
    assert.equal(await loadCaFile(two), `${pem}\n${pem}`);
  });
});
