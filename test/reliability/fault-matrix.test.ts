/**
 * The standing fault matrix: every flow (client_credentials, password, refresh, and the cylance, msx,
 * acronis and rdp presets) × every fault of faults.ts, through the library's front door
 * (`createTokenManager`). Each case seeds the store with a good token, forces a renewal against the
 * faulty server, and asserts:
 *   - the typed error (`code`) and the CLI exit code it maps to;
 *   - the number of requests the server saw (retried faults exactly `retries + 1`, the rest once);
 *   - the good token is still in the store and still served (not replaced, not deleted);
 *   - no canary (profile secrets, the good tokens, the bad token's text) in the error, its cause chain,
 *     its JSON, the warnings or the stored entry.
 * A representative subset runs through the built CLI in fault-matrix-cli.test.ts.
 */
import assert from 'node:assert/strict';
import { after, describe, it, test } from 'node:test';
import { exitCodeFor } from '../../src/cli/exit.js';
import { TokenwardError } from '../../src/errors.js';
import { createTokenManager } from '../../src/front-door.js';
import type { TokenManager, TokenwardWarning } from '../../src/manager/token-manager.js';
import { parseTokenResponse } from '../../src/token.js';
import { startLoopback } from '../helpers/loopback.js';
import { FAULTS, type Fault, goodAnswer, RETRIES } from './faults.js';
import { errorText, type Flow, leaked, makeFlows } from './flows.js';

const flows = makeFlows();
const passed = new Map<string, number>();
let seq = 0;

async function runCase(flow: Flow, fault: Fault): Promise<void> {
  const server = await startLoopback(fault.handler);
  const warnings: TokenwardWarning[] = [];
  let manager: TokenManager | undefined;
  try {
    manager = await createTokenManager(
      { ...flow.profile(server.url), store: 'memory', timeout: fault.timeoutSeconds, retries: RETRIES },
      { env: {}, onWarning: (w) => warnings.push(w) },
    );
    const n = ++seq;
    const good = parseTokenResponse(goodAnswer(n, flow.refresh), { url: server.url });
    await manager.store.set({ v: 1, key: manager.key, token: good, updatedAt: Date.now() });
    assert.equal((await manager.getToken()).accessToken, good.accessToken, 'the seeded token is served');
    assert.equal(server.requests.length, 0);

    const err: unknown = await manager.getToken({ force: true }).then(
      () => undefined,
      (e: unknown) => e,
    );
    // The typed error and its exit code.
    assert.ok(err instanceof TokenwardError, `a TokenwardError, got ${String(err)}`);
    assert.equal(err.code, fault.expect.code, err.message);
    assert.equal(exitCodeFor(err), fault.expect.exit);
    if (fault.expect.retryAfter !== undefined) {
      const ra = (err as { retryAfter?: number }).retryAfter;
      assert.ok(ra !== undefined && ra >= fault.expect.retryAfter, `retryAfter ${ra}`);
    }
    if (fault.expect.attempts !== undefined)
      assert.equal((err as { attempts?: number }).attempts, fault.expect.attempts);
    // Bounded requests, every one of them the flow's renewal request, none followed anywhere.
    const seen = server.requests;
    assert.ok(
      seen.length >= fault.expect.minRequests && seen.length <= fault.expect.maxRequests,
      `${seen.length} requests, expected ${fault.expect.minRequests}..${fault.expect.maxRequests}`,
    );
    for (const r of seen) {
      assert.ok(!r.url.startsWith('/elsewhere'), 'a redirect was followed');
      assert.ok(flow.isRenewal(r.body), `not a ${flow.name} renewal: ${r.url}`);
    }
    // The good token is neither replaced nor deleted, and is served again without a request.
    const entry = await manager.store.get(manager.key);
    assert.equal(entry?.token?.accessToken, good.accessToken, 'the stored token was replaced or deleted');
    assert.equal(entry?.token?.refreshToken, good.refreshToken, 'the refresh token was dropped');
    assert.equal((await manager.getToken()).accessToken, good.accessToken);
    assert.equal(server.requests.length, seen.length, 'serving the good token made a request');
    // No canary anywhere.
    const canaries = [
      ...flow.secrets,
      good.accessToken,
      ...(good.refreshToken === undefined ? [] : [good.refreshToken]),
      'fresh-at',
      'X-Injected',
      'code=leak',
    ];
    const exposed = [
      errorText(err),
      JSON.stringify(entry?.lastError ?? null),
      ...warnings.map((w) => `${w.message}\n${errorText(w.cause)}`),
    ].join('\n');
    assert.deepEqual(leaked(exposed, canaries), [], 'a canary leaked');
    passed.set(fault.area, (passed.get(fault.area) ?? 0) + 1);
  } finally {
    await manager?.close();
    await server.close();
  }
}

describe('fault matrix (library)', { concurrency: 4 }, () => {
  for (const flow of flows) {
    describe(flow.name, () => {
      for (const fault of FAULTS) {
        it(`${fault.name} → ${fault.expect.code}, exit ${fault.expect.exit}`, () => runCase(flow, fault));
      }
    });
  }
});

after(() => {
  const total = [...passed.values()].reduce((a, b) => a + b, 0);
  const areas = [...passed.entries()].map(([a, n]) => `${a} ${n}`).join(', ');
  // The suite's own summary (recorded in docs/reliability.md).
  console.log(
    `fault matrix (library): ${total}/${flows.length * FAULTS.length} cases passed — ${flows.length} flows × ${FAULTS.length} faults; per area: ${areas}`,
  );
});

test('the matrix covers every flow and fault', () => {
  assert.equal(flows.length, 7);
  assert.ok(FAULTS.length >= 20);
});
