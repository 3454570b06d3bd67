/**
 * The vendor presets against the real vendor emulators of the sandbox, with the sandbox's own fault
 * injection (5xx, 429, HTML, malformed JSON, slow body, and the kinds added for this suite: hang, empty,
 * 2 MiB body, wrong types, CR/LF token, redirect). The good token is obtained through the real
 * flow first; then a second manager on the same store (with the case's short timeout) forces a renewal
 * into the fault. Asserts the typed error and exit code, the token requests the sandbox counted, the
 * good token kept, and no demo secret or token in the error.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { exitCodeFor } from '../../src/cli/exit.js';
import { TokenwardError } from '../../src/errors.js';
import { createTokenManager } from '../../src/front-door.js';
import type { TokenManager } from '../../src/manager/token-manager.js';
import { DEMO_CREDENTIALS, type Sandbox, sandboxProfiles, startSandbox } from '../../src/sandbox/index.js';
import type { SandboxFault, VendorName } from '../../src/sandbox/types.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { LONG_TIMEOUT_S, RETRIES, SHORT_TIMEOUT_S } from './faults.js';
import { errorText, leaked } from './flows.js';

interface SandboxCase {
  name: string;
  fault: SandboxFault;
  timeoutSeconds: number;
  code: string;
  exit: number;
  minRequests: number;
  maxRequests: number;
}

const CASES: readonly SandboxCase[] = [
  {
    name: '503',
    fault: { kind: '5xx' },
    timeoutSeconds: LONG_TIMEOUT_S,
    code: 'ERR_UPSTREAM_UNAVAILABLE',
    exit: 7,
    minRequests: 2,
    maxRequests: 2,
  },
  {
    name: '500',
    fault: { kind: '5xx', status: 500 },
    timeoutSeconds: LONG_TIMEOUT_S,
    code: 'ERR_TOKEN_ENDPOINT',
    exit: 3,
    minRequests: 2,
    maxRequests: 2,
  },
  {
    name: '429 Retry-After 1',
    fault: { kind: '429', retryAfterSeconds: 1 },
    timeoutSeconds: LONG_TIMEOUT_S,
    code: 'ERR_UPSTREAM_UNAVAILABLE',
    exit: 7,
    minRequests: 2,
    maxRequests: 2,
  },
  {
    name: '429 Retry-After 99999',
    fault: { kind: '429', retryAfterSeconds: 99999 },
    timeoutSeconds: LONG_TIMEOUT_S,
    code: 'ERR_UPSTREAM_UNAVAILABLE',
    exit: 7,
    minRequests: 1,
    maxRequests: 1,
  },
  {
    name: 'HTML 200',
    fault: { kind: 'html' },
    timeoutSeconds: LONG_TIMEOUT_S,
    code: 'ERR_INVALID_TOKEN_RESPONSE',
    exit: 3,
    minRequests: 1,
    maxRequests: 1,
  },
  {
    name: 'malformed JSON',
    fault: { kind: 'malformed-json' },
    timeoutSeconds: LONG_TIMEOUT_S,
    code: 'ERR_INVALID_TOKEN_RESPONSE',
    exit: 3,
    minRequests: 1,
    maxRequests: 1,
  },
  {
    name: 'slow body',
    fault: { kind: 'slow-body', delayMs: 60_000 },
    timeoutSeconds: SHORT_TIMEOUT_S,
    code: 'ERR_TIMEOUT',
    exit: 4,
    minRequests: 0,
    maxRequests: 2,
  },
  {
    name: 'hang',
    fault: { kind: 'hang' },
    timeoutSeconds: SHORT_TIMEOUT_S,
    code: 'ERR_TIMEOUT',
    exit: 4,
    minRequests: 0,
    maxRequests: 2,
  },
  {
    name: 'empty 200',
    fault: { kind: 'empty' },
    timeoutSeconds: LONG_TIMEOUT_S,
    code: 'ERR_INVALID_TOKEN_RESPONSE',
    exit: 3,
    minRequests: 1,
    maxRequests: 1,
  },
  {
    name: '2 MiB body',
    fault: { kind: 'big-body' },
    timeoutSeconds: LONG_TIMEOUT_S,
    code: 'ERR_INVALID_TOKEN_RESPONSE',
    exit: 3,
    minRequests: 1,
    maxRequests: 1,
  },
  {
    name: 'wrong types',
    fault: { kind: 'wrong-types' },
    timeoutSeconds: LONG_TIMEOUT_S,
    code: 'ERR_INVALID_TOKEN_RESPONSE',
    exit: 3,
    minRequests: 1,
    maxRequests: 1,
  },
  {
    name: 'CR/LF token',
    fault: { kind: 'crlf-token' },
    timeoutSeconds: LONG_TIMEOUT_S,
    code: 'ERR_INVALID_TOKEN_RESPONSE',
    exit: 3,
    minRequests: 1,
    maxRequests: 1,
  },
  {
    name: 'redirect',
    fault: { kind: 'redirect' },
    timeoutSeconds: LONG_TIMEOUT_S,
    code: 'ERR_TOKEN_ENDPOINT',
    exit: 3,
    minRequests: 1,
    maxRequests: 1,
  },
];

const VENDOR_LIST: readonly VendorName[] = ['cylance', 'msx', 'acronis', 'rdp'];
/** Every demo secret: canaries. */
const SECRETS = [
  DEMO_CREDENTIALS.cylance.appSecret,
  DEMO_CREDENTIALS.msx.clientSecret,
  DEMO_CREDENTIALS.msx.password,
  DEMO_CREDENTIALS.acronis.clientSecret,
  DEMO_CREDENTIALS.rdp.password,
];

let sandbox: Sandbox;
let passed = 0;

before(async () => {
  sandbox = await startSandbox({ port: 0 });
});
after(async () => {
  await sandbox.close();
  console.log(
    `fault matrix (sandbox): ${passed}/${VENDOR_LIST.length * CASES.length} cases passed — ${VENDOR_LIST.length} presets × ${CASES.length} sandbox faults`,
  );
});

/** Token requests answered by the injected fault (while it is set, every token request is). */
function faultedRequests(vendor: VendorName): number {
  return sandbox.stats().faults[vendor];
}

describe('vendor presets × sandbox faults', () => {
  for (const vendor of VENDOR_LIST) {
    describe(vendor, () => {
      for (const c of CASES) {
        it(`${c.name} → ${c.code}, exit ${c.exit}`, async () => {
          const store = new MemoryStore();
          const managers: TokenManager[] = [];
          try {
            const base = { ...sandboxProfiles(sandbox)[vendor], retries: RETRIES };
            const seeder = await createTokenManager({ ...base, timeout: LONG_TIMEOUT_S }, { store, env: {} });
            managers.push(seeder);
            const good = await seeder.getToken();
            const m = await createTokenManager({ ...base, timeout: c.timeoutSeconds }, { store, env: {} });
            managers.push(m);
            assert.equal(m.key, seeder.key);

            const before = faultedRequests(vendor);
            sandbox.configure(vendor, { fault: c.fault });
            const err: unknown = await m.getToken({ force: true }).then(
              () => undefined,
              (e: unknown) => e,
            );
            sandbox.configure(vendor, { fault: undefined });
            assert.ok(err instanceof TokenwardError, String(err));
            assert.equal(err.code, c.code, err.message);
            assert.equal(exitCodeFor(err), c.exit);
            const made = faultedRequests(vendor) - before;
            assert.ok(made >= c.minRequests && made <= c.maxRequests, `${made} token requests`);

            const entry = await store.get(m.key);
            assert.equal(
              entry?.token?.accessToken,
              good.accessToken,
              'the good token was replaced or deleted',
            );
            assert.equal(entry?.token?.refreshToken, good.refreshToken, 'the refresh token was dropped');
            assert.equal((await m.getToken()).accessToken, good.accessToken);
            const tokens = [
              good.accessToken,
              ...(good.refreshToken === undefined ? [] : [good.refreshToken]),
            ];
            const text = `${errorText(err)}\n${JSON.stringify(entry?.lastError ?? null)}`;
            assert.deepEqual(
              leaked(text, [...SECRETS, ...tokens, 'X-Injected', 'sandbox-token']),
              [],
              'a canary leaked',
            );
            passed++;
          } finally {
            sandbox.configure(vendor, { fault: undefined });
            await Promise.allSettled(managers.map((x) => x.close()));
          }
        });
      }
    });
  }
});
