/**
 * One typed warning through one hook (issue 12, "One policy, one place"): every code of
 * `WARNING_CODES` is produced for real through the front door (`createTokenManager` / `openProfile`)
 * and arrives at its `onWarning` hook — the manager's, the store's, the HTTP layer's and the config
 * file's. The table is typed by the code union, so a new code without a producer does not compile.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import {
  NetworkError,
  printWarningOnce,
  StoreError,
  type TokenwardWarning,
  type TokenwardWarningCode,
  WARNING_CODES,
} from '../../src/errors.js';
import {
  type CreateTokenManagerOptions,
  closeAll,
  createTokenManager,
  openProfile,
} from '../../src/front-door.js';
import type { Profile } from '../../src/profile.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { StoredEntry } from '../../src/stores/types.js';
import { certWithDates, PKI_INSTALL } from '../helpers/mtls.js';
import { missing } from '../helpers/services.js';
import { freePort } from '../helpers/throwaway.js';
import { useRealStack, warningArrives } from './real-stack.js';

const stack = useRealStack({ lifetime: 300, latencyMs: 0 });

function profile(extra: Profile = {}): Profile {
  return {
    token_url: stack.server.tokenUrl,
    client_id: 'manager-tests',
    client_secret: 'manager-tests-secret',
    retries: 0,
    ...extra,
  };
}

/** Front-door options: the test clock, a memory store (unless `extra` says), warnings into `into`. */
function options(into: TokenwardWarning[], extra: CreateTokenManagerOptions = {}): CreateTokenManagerOptions {
  return { clock: stack.clock, store: new MemoryStore(), onWarning: (w) => into.push(w), ...extra };
}

/** A memory store whose writes fail (a full disk, a read-only server). */
class UnwritableStore extends MemoryStore {
  override async set(_entry: StoredEntry): Promise<void> {
    throw new StoreError('memory', 'the store refused the write');
  }
}

/**
 * Makes its code's warning arrive in `w`. One that needs a tool skips its test when the tool is missing
 * (`missing`) and returns with nothing in `w`.
 */
type Producer = (w: TokenwardWarning[], t: TestContext) => Promise<void>;

const PRODUCERS: Record<TokenwardWarningCode, Producer> = {
  async EAGER_REFRESH_FAILED(w) {
    const m = await createTokenManager(profile({ eager_refresh: 0.5 }), options(w));
    await m.getToken();
    stack.server.fault = { status: 500, body: '{"error":"server_error"}', contentType: 'application/json' };
    stack.now += 200_000;
    await m.getToken();
    await warningArrives(w, 'EAGER_REFRESH_FAILED');
    await m.close();
  },
  async REFRESH_REJECTED(w) {
    const m = await createTokenManager(profile(), options(w));
    await m.getToken();
    stack.now += 300_000;
    stack.server.fault = { status: 400, body: '{"error":"invalid_grant"}', grant: 'refresh_token', times: 1 };
    await m.getToken();
    await m.close();
  },
  async SERVED_STALE_MARGIN(w) {
    const m = await createTokenManager(profile(), options(w));
    const t1 = await m.getToken();
    stack.server.fault = { status: 500, body: '{"error":"server_error"}', contentType: 'application/json' };
    stack.now += 100_000; // 190 s of usable life left; 250 s asked for
    assert.equal((await m.getToken({ minTtlMs: 250_000 })).accessToken, t1.accessToken);
    await m.close();
  },
  async STORE_WRITE_FAILED(w) {
    const m = await createTokenManager(profile(), options(w, { store: new UnwritableStore() }));
    await m.getToken();
    await m.close();
  },
  async REVOKE_FAILED(w) {
    const down = `http://127.0.0.1:${await freePort()}/revoke`;
    const m = await createTokenManager(profile({ revocation_url: down }), options(w));
    await m.getToken();
    assert.deepEqual(await m.logout(), { revoked: false, deleted: true });
    await m.close();
  },
  async MIN_TTL_EXCEEDS_LIFETIME(w) {
    const m = await createTokenManager(profile(), options(w));
    await m.getToken({ minTtlMs: 3_600_000 });
    await m.close();
  },
  async CLOSE_TIMEOUT(w) {
    let release = () => {};
    const hung = new Promise<void>((r) => {
      release = r;
    });
    stack.server.onRequest = () => hung;
    try {
      const m = await createTokenManager(
        profile({ timeout: 300 }),
        options(w, { tuning: { closeTimeoutMs: 1 } }),
      );
      const pending = m.getToken();
      pending.catch(() => {});
      await new Promise<void>((r) => {
        const poll = () => (stack.server.counts.total > 0 ? r() : setTimeout(poll, 5));
        poll();
      });
      await m.close();
      await assert.rejects(pending, (e: unknown) => e instanceof Error);
    } finally {
      release();
    }
  },
  async TLS_VERIFY_DISABLED(w) {
    const url = `https://127.0.0.1:${await freePort()}/token`;
    const m = await createTokenManager(
      profile({ token_url: url, insecure_skip_tls_verify: true }),
      options(w),
    );
    await assert.rejects(m.getToken(), (e: unknown) => e instanceof NetworkError);
    await m.close();
  },
  async CLIENT_CERT_EXPIRED(w, t) {
    const expired = certWithDates('20200101000000Z', '20200102000000Z');
    if (expired === undefined) {
      missing(t, 'openssl', PKI_INSTALL);
      return;
    }
    // Loaded (and the warning given) when the token client is built, on the first request; the token
    // endpoint is plain http, so nothing is refused: the certificate is still used where it works.
    const m = await createTokenManager(profile({ tls_cert: expired.cert, tls_key: expired.key }), options(w));
    await m.getToken();
    assert.match(w[0]?.message ?? '', /expired on 2020-01-02 00:00:00 UTC/);
    await m.close();
  },
  async STORE(w) {
    const redis = `redis://127.0.0.1:${await freePort()}/0`;
    const { store: _none, ...opts } = options(w);
    const m = await createTokenManager(
      profile({ store: 'redis', store_url: redis, store_fallback_memory: true }),
      opts,
    );
    assert.equal(m.store.kind, 'memory');
    await m.close();
  },
  async CONFIG_LITERAL_SECRET(w) {
    const dir = await mkdtemp(join(tmpdir(), 'tw-warnings-'));
    try {
      const config = join(dir, 'config.toml');
      await writeFile(
        config,
        '[profiles.loose]\ntoken_url = "https://idp.example.com/token"\nclient_id = "c"\nclient_secret = "a-literal-secret-1"\n',
      );
      await chmod(config, 0o644);
      const m = await openProfile('loose', { config, ...options(w) });
      assert.equal(m.profile, 'loose');
    } finally {
      await closeAll();
      await rm(dir, { recursive: true, force: true });
    }
  },
};

describe('every warning code, for real, through the one onWarning hook', () => {
  for (const code of WARNING_CODES) {
    it(code, async (t) => {
      const warnings: TokenwardWarning[] = [];
      await PRODUCERS[code](warnings, t);
      if (warnings.length === 0 && code === 'CLIENT_CERT_EXPIRED') return; // skipped: no openssl
      assert.deepEqual(
        warnings.map((x) => x.code),
        [code],
      );
      const [warning] = warnings;
      assert.ok(warning !== undefined && warning.message.length > 0);
      assert.doesNotMatch(warning.message, /manager-tests-secret|a-literal-secret-1/);
    });
  }
});

describe('the default hook', () => {
  it('prints each distinct warning once, as a process warning named TokenwardWarning with code TOKENWARD_<code>', async () => {
    const seen: Error[] = [];
    const listener = (e: Error) => {
      if (e.name === 'TokenwardWarning') seen.push(e);
    };
    process.on('warning', listener);
    try {
      const w: TokenwardWarning = { code: 'STORE', message: `default hook test ${process.pid}` };
      for (let i = 0; i < 3; i++) printWarningOnce(w);
      printWarningOnce({ ...w, message: `${w.message} (another)` });
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(
        seen.map((e) => [(e as Error & { code?: string }).code, e.message]),
        [
          ['TOKENWARD_STORE', w.message],
          ['TOKENWARD_STORE', `${w.message} (another)`],
        ],
      );
    } finally {
      process.off('warning', listener);
    }
  });
});
