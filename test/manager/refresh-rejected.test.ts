/**
 * A refresh the server rejects (issue 11; issue 18's surviving mutants): a bare 400 or 401 counts as a
 * rejection like invalid_grant, the dead refresh token is not kept, and on a shared store the manager
 * re-reads first, because another process may have rotated the refresh token meanwhile. Real client
 * stack, real file store.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenEndpointError } from '../../src/errors.js';
import { isRejectedRefresh } from '../../src/manager/token-manager.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { Token } from '../../src/token.js';
import { makeManager, realClient, useRealStack } from './real-stack.js';

const KEY = 'manager-test-key';
const stack = useRealStack({ lifetime: 300, latencyMs: 0 });

const grants = () => stack.server.counts.byGrant['client_credentials'] ?? 0;
const refreshes = () => stack.server.counts.byGrant['refresh_token'] ?? 0;

describe('a refresh answered with a bare 400 or 401 (no OAuth error)', () => {
  for (const status of [401, 400]) {
    it(`HTTP ${status} with an empty body falls back to the primary grant, as invalid_grant does`, async () => {
      const { manager, warnings } = makeManager(
        await realClient(stack.server),
        stack.stores.store(),
        stack.clock,
      );
      const t1 = await manager.getToken();
      assert.ok(t1.refreshToken !== undefined);
      stack.now += 300_000; // expired: the next call must renew
      stack.server.fault = { status, body: '', grant: 'refresh_token', times: 1 };
      const t2 = await manager.getToken();
      assert.notEqual(t2.accessToken, t1.accessToken);
      assert.equal(refreshes(), 1);
      assert.equal(grants(), 2, 'the primary grant ran again');
      assert.deepEqual(
        warnings.map((w) => w.code),
        ['REFRESH_REJECTED'],
      );
      assert.equal((await stack.stores.store().get(KEY))?.token?.accessToken, t2.accessToken);
    });
  }

  it('when the primary grant fails too, the dead refresh token is not left stored', async () => {
    const { manager } = makeManager(await realClient(stack.server), stack.stores.store(), stack.clock);
    const t1 = await manager.getToken();
    stack.now += 300_000;
    stack.server.fault = { status: 400, body: '', grant: 'refresh_token', times: 1 };
    stack.server.onRequest = (grant) => {
      if (grant === 'client_credentials') stack.server.fault = { status: 503, body: '{}', times: 1 };
    };
    await assert.rejects(
      manager.getToken(),
      (e: unknown) => e instanceof TokenEndpointError && e.status === 503,
    );
    stack.server.onRequest = undefined;
    const entry = await stack.stores.store().get(KEY);
    assert.equal(entry?.token?.accessToken, t1.accessToken, 'the entry is kept');
    assert.equal(entry?.token?.refreshToken, undefined, 'without the rejected refresh token');
    assert.equal(manager.peek()?.refreshToken, undefined);
    assert.equal(entry?.lastError?.status, 503);

    // Another process (or this one) now goes straight to the primary grant.
    const other = makeManager(await realClient(stack.server), stack.stores.store(), stack.clock);
    await other.manager.getToken();
    assert.equal(refreshes(), 1, 'the dead refresh token was not tried again');
    assert.equal(grants(), 3);
  });

  it('a refresh failing for another reason (503) keeps the refresh token', async () => {
    const { manager } = makeManager(await realClient(stack.server), stack.stores.store(), stack.clock);
    const t1 = await manager.getToken();
    stack.now += 300_000;
    stack.server.fault = { status: 503, body: '', grant: 'refresh_token', times: 1 };
    await assert.rejects(manager.getToken(), TokenEndpointError);
    assert.equal((await stack.stores.store().get(KEY))?.token?.refreshToken, t1.refreshToken);
    assert.equal(grants(), 1, 'no fallback to the primary grant');
  });

  it('isRejectedRefresh: which answers count as a rejected refresh', () => {
    const e = (status: number, error?: string) =>
      new TokenEndpointError('http://127.0.0.1/t', status, error === undefined ? {} : { error });
    assert.equal(isRejectedRefresh(e(400, 'invalid_grant')), true);
    assert.equal(isRejectedRefresh(e(401, 'invalid_token')), true);
    assert.equal(isRejectedRefresh(e(400)), true);
    assert.equal(isRejectedRefresh(e(401)), true);
    assert.equal(isRejectedRefresh(e(403)), false);
    assert.equal(isRejectedRefresh(e(400, 'invalid_client')), false);
    assert.equal(isRejectedRefresh(e(500)), false);
    assert.equal(isRejectedRefresh(new Error('x')), false);
  });
});

describe('a rejected refresh on a shared store re-reads the store', () => {
  it('another process rotated the refresh token meanwhile: its token is used, no primary grant', async () => {
    const store = stack.stores.store();
    const { manager, warnings } = makeManager(await realClient(stack.server), store, stack.clock);
    const t1 = await manager.getToken();
    stack.now += 300_000;
    // "Another process" (one that got the lock after this one's lease ran out) uses the same refresh
    // token first and writes its result to the store, just before the server answers this one.
    let rotated: Token | undefined;
    stack.server.onRequest = async (grant, form) => {
      if (grant !== 'refresh_token' || form.get('refresh_token') !== t1.refreshToken) return;
      stack.server.liveRefreshTokens.delete(t1.refreshToken!);
      stack.server.liveRefreshTokens.add('rt-other-process');
      rotated = {
        accessToken: 'at-other-process',
        tokenType: 'Bearer',
        expiresAt: stack.now + 300_000,
        obtainedAt: stack.now,
        expirySource: 'expires_in',
        refreshToken: 'rt-other-process',
        raw: {},
      };
      await stack.stores.store().set({ v: 1, key: KEY, token: rotated, updatedAt: stack.now });
    };
    const t = await manager.getToken();
    assert.ok(rotated !== undefined);
    assert.equal(t.accessToken, 'at-other-process');
    assert.equal(stack.server.rejectedRefreshes, 1);
    assert.equal(grants(), 1, 'no primary grant');
    assert.deepEqual(warnings, []);
    assert.equal(
      (await store.get(KEY))?.token?.refreshToken,
      'rt-other-process',
      'the live refresh token is kept',
    );
  });

  it('the rotated token is expired too: it is refreshed with the new refresh token', async () => {
    const store = stack.stores.store();
    const { manager, warnings } = makeManager(await realClient(stack.server), store, stack.clock);
    const t1 = await manager.getToken();
    stack.now += 300_000;
    stack.server.onRequest = async (grant, form) => {
      if (grant !== 'refresh_token' || form.get('refresh_token') !== t1.refreshToken) return;
      stack.server.liveRefreshTokens.delete(t1.refreshToken!);
      stack.server.liveRefreshTokens.add('rt-other-process');
      const stale: Token = {
        accessToken: 'at-other-process',
        tokenType: 'Bearer',
        expiresAt: stack.now - 1,
        obtainedAt: stack.now - 300_000,
        expirySource: 'expires_in',
        refreshToken: 'rt-other-process',
        raw: {},
      };
      await stack.stores.store().set({ v: 1, key: KEY, token: stale, updatedAt: stack.now });
    };
    const t = await manager.getToken();
    assert.ok(t.accessToken.startsWith('at-'));
    assert.notEqual(t.accessToken, 'at-other-process');
    assert.equal(refreshes(), 2, 'the old refresh token (rejected), then the rotated one');
    assert.equal(grants(), 1);
    assert.deepEqual(warnings, []);
  });

  it('a non-shared store has no other process to look at: straight to the primary grant', async () => {
    const { manager, warnings } = makeManager(await realClient(stack.server), new MemoryStore(), stack.clock);
    await manager.getToken();
    stack.now += 300_000;
    stack.server.fault = { status: 400, body: '{"error":"invalid_grant"}', grant: 'refresh_token', times: 1 };
    await manager.getToken();
    assert.equal(grants(), 2);
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['REFRESH_REJECTED'],
    );
  });
});
