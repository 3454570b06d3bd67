/**
 * The diagnostics channels over the real stack: the generic `oauth2` provider, the HTTP layer, the file
 * store (its cross-process lock) and the loopback token server, which here echoes the client secret and
 * the tokens in its error bodies. Every channel is subscribed to for a whole flow — cold start, single
 * flight, memory and store hits, refresh, a 401, a failed renewal served stale — and every message is
 * checked for every secret the flow handled, in every encoding the library knows
 * (`secretEncodings`), and against the redaction registry (`redactText`). Time is the managers'
 * injected clock.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { createTokenManager } from '../../src/front-door.js';
import { closeAgents } from '../../src/http/agent.js';
import type { TokenManager } from '../../src/manager/token-manager.js';
import { CHANNELS, type TokenRequestEndMessage } from '../../src/observe/channels.js';
import { redactText, secretEncodings } from '../../src/redact.js';
import { FileStore } from '../../src/stores/file.js';
import { CACHE_KEY_PATTERN } from '../../src/stores/store-key.js';
import type { Token } from '../../src/token.js';
import { profileFor, startTokenServer, TEST_CLIENT, type TokenServer } from '../helpers/token-server.js';

let server: TokenServer;
let dir: string;
let clockMs = Date.now();
const clock = () => clockMs;
const seen: Array<{ channel: string; message: unknown }> = [];
const listeners = new Map<string, (message: unknown, name: string | symbol) => void>();

before(async () => {
  server = await startTokenServer({ lifetime: 300, clients: { [TEST_CLIENT.id]: TEST_CLIENT.secret } });
  dir = await mkdtemp(join(tmpdir(), 'tw-observe-'));
  for (const name of Object.values(CHANNELS)) {
    const fn = (message: unknown) => {
      // A deep copy now: a request message is completed in place when it ends.
      seen.push({ channel: name, message: structuredClone(message) });
    };
    listeners.set(name, fn);
    diagnosticsChannel.subscribe(name, fn);
  }
});
after(async () => {
  for (const [name, fn] of listeners) diagnosticsChannel.unsubscribe(name, fn);
  server.close();
  await closeAgents();
  await rm(dir, { recursive: true, force: true });
});

function of(channel: string): Array<Record<string, unknown>> {
  return seen.filter((s) => s.channel === channel).map((s) => s.message as Record<string, unknown>);
}

describe('diagnostics channels', () => {
  it('publish a whole flow with no secret in any message, in any encoding', async () => {
    const key = randomBytes(32);
    const store = new FileStore({ dir, key });
    const profile = { ...profileFor(server, { retries: 0 }), name: 'observed' };
    const opts = { store, clock, onWarning: () => {}, tuning: { eagerRetryGapMs: 0 } };
    const m1: TokenManager = await createTokenManager(profile, opts);
    const m2: TokenManager = await createTokenManager(profile, {
      ...opts,
      store: new FileStore({ dir, key }),
    });
    const tokens: Token[] = [];
    try {
      // Cold: two callers, one flight (the second is coalesced), one lock wait, one token request.
      tokens.push(...(await Promise.all([m1.getToken(), m1.getToken()])));
      // Warm in memory; then a second manager finds it in the store.
      tokens.push(await m1.getToken());
      tokens.push(await m2.getToken());
      // Expired: a refresh grant.
      clockMs += 400_000;
      tokens.push(await m1.getToken());
      // An API rejects it: 401 retry, and the next call renews.
      const rejected = tokens.at(-1) as Token;
      m1.invalidate(rejected.accessToken);
      m1.invalidate(rejected.accessToken); // the same 401 again: one event
      tokens.push(await m1.getToken());
      // The token endpoint fails, echoing every secret it knows; a renewal asked for by minTtlMs is
      // optional (the token has 100 s left), so the valid token is served stale.
      const last = tokens.at(-1) as Token;
      server.fault = {
        status: 500,
        body: JSON.stringify({
          error: 'server_error',
          error_description: `echo ${TEST_CLIENT.secret} ${last.accessToken} ${last.refreshToken ?? ''}`,
        }),
      };
      clockMs += 200_000;
      tokens.push(await m1.getToken({ minTtlMs: 150_000 }));
    } finally {
      server.fault = undefined;
      await m1.close();
      await m2.close();
      await store.close();
    }

    // What each channel said, exactly.
    const served = of(CHANNELS.served);
    assert.deepEqual(
      served.map((s) => s['source']),
      ['memory', 'store'],
    );
    const flights = of(CHANNELS.flight);
    assert.deepEqual(
      flights.map((f) => f['coalesced']),
      [false, true, false, false, false, false],
    );
    const ends = of(CHANNELS.requestEnd) as unknown as TokenRequestEndMessage[];
    assert.deepEqual(
      ends.map((e) => [e.grant, e.status, e.attempt, e.profile, e.provider]),
      [
        ['client_credentials', 200, 1, 'observed', 'oauth2'],
        ['refresh_token', 200, 1, 'observed', 'oauth2'],
        ['refresh_token', 200, 1, 'observed', 'oauth2'],
        ['refresh_token', 500, 1, 'observed', 'oauth2'],
      ],
    );
    assert.ok(ends.every((e) => e.key === m1.key && e.durationMs >= 0 && e.url === server.tokenUrl));
    assert.equal(of(CHANNELS.requestStart).length, 4);
    assert.deepEqual(
      of(CHANNELS.refresh).map((r) => r['grant']),
      ['client_credentials', 'refresh_token', 'refresh_token'],
    );
    assert.deepEqual(
      of(CHANNELS.renewalFailed).map((r) => [r['errorCode'], r['status'], r['optional']]),
      [['ERR_TOKEN_ENDPOINT', 500, true]],
    );
    assert.deepEqual(
      of(CHANNELS.servedStale).map((r) => r['errorCode']),
      ['ERR_TOKEN_ENDPOINT'],
    );
    assert.equal(of(CHANNELS.retry401).length, 1);
    const waits = of(CHANNELS.lockWait);
    assert.equal(waits.length, 4);
    assert.ok(waits.every((w) => w['acquired'] === true && w['store'] === 'file'));

    // No secret anywhere.
    const secrets = new Set<string>([TEST_CLIENT.secret]);
    for (const t of tokens) {
      secrets.add(t.accessToken);
      if (t.refreshToken !== undefined) secrets.add(t.refreshToken);
    }
    assert.ok(secrets.size >= 5);
    for (const { channel, message } of seen) {
      const texts = [JSON.stringify(message), inspect(message, { depth: 10, showHidden: true })];
      // The store key is a SHA-256 hex, which redaction's credential patterns mask as any long hex.
      const { key: storeKey, ...rest } = message as { key?: unknown };
      assert.ok(typeof storeKey === 'string' && CACHE_KEY_PATTERN.test(storeKey), `${channel} key`);
      const plain = JSON.stringify(rest);
      assert.equal(redactText(plain), plain, `${channel} carries a registered secret: ${plain}`);
      for (const text of texts) {
        for (const s of secrets) {
          for (const form of secretEncodings(s)) {
            assert.ok(!text.includes(form), `${channel} carries a secret (${form.slice(0, 4)}…): ${text}`);
          }
        }
      }
    }
  });
});
