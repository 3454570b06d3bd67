/**
 * A manager given a client factory (`LazyTokenClient`, the prerequisite of issue 13's warm CLI path):
 * a token found in the store is served without building the client; the first grant builds it once
 * for all concurrent callers; a failing factory is a typed error that leaves the store as it was.
 * Real client stack and file store, exact counts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClientSetupError, ConfigError } from '../../src/errors.js';
import type { LazyTokenClient } from '../../src/manager/token-manager.js';
import type { TokenClient } from '../../src/token-client.js';
import { makeManager, realClient, useRealStack } from './real-stack.js';

const stack = useRealStack({ lifetime: 300, latencyMs: 0 });
const KEY = 'manager-test-key';

/** A lazy client over the real one, counting how often it is built; `fail` makes the next builds throw. */
async function lazy(): Promise<{
  client: LazyTokenClient;
  calls: () => number;
  fail: (e?: unknown) => void;
}> {
  const built = await realClient(stack.server);
  let calls = 0;
  let failure: unknown;
  return {
    client: {
      identity: built.identity,
      ...(built.budgetMs === undefined ? {} : { budgetMs: built.budgetMs }),
      create: async (): Promise<TokenClient> => {
        calls++;
        await new Promise((r) => setImmediate(r)); // a real build takes a while: callers pile up
        if (failure !== undefined) throw failure;
        return built;
      },
    },
    calls: () => calls,
    fail: (e?: unknown) => {
      failure = e;
    },
  };
}

describe('a manager with a lazy token client', () => {
  it('serves a stored token with 0 builds and 0 requests', async () => {
    const seed = makeManager(await realClient(stack.server), stack.stores.store(), stack.clock);
    const t1 = await seed.manager.getToken();
    await seed.manager.close();
    const l = await lazy();
    const { manager } = makeManager(l.client, stack.stores.store(), stack.clock);
    assert.deepEqual(manager.identity, l.client.identity);
    for (let i = 0; i < 5; i++) assert.equal((await manager.getToken()).accessToken, t1.accessToken);
    assert.equal(l.calls(), 0);
    assert.equal(stack.server.counts.total, 1);
    await manager.close();
  });

  it('clientCertificate: without hasClientCert 0 builds; with it 1 build, shared with the grant', async () => {
    const none = await lazy();
    const a = makeManager(none.client, stack.stores.store(), stack.clock);
    assert.equal(await a.manager.clientCertificate(), undefined);
    assert.equal(none.calls(), 0);
    await a.manager.close();
    const l = await lazy();
    const cert = { cert: 'CERT', key: 'KEY', thumbprint: 'x5t' };
    const create = l.client.create;
    const client: LazyTokenClient = {
      ...l.client,
      hasClientCert: true,
      create: async () => ({ ...(await create()), clientCert: cert }),
    };
    const b = makeManager(client, stack.stores.store(), stack.clock);
    const [got] = await Promise.all([b.manager.clientCertificate(), b.manager.getToken()]);
    assert.equal(got, cert);
    assert.equal(await b.manager.clientCertificate(), cert);
    assert.equal(l.calls(), 1);
    await b.manager.close();
  });

  it('8 concurrent cold callers: 1 build, 1 grant; the stored entry carries the identity', async () => {
    const l = await lazy();
    const { manager } = makeManager(l.client, stack.stores.store(), stack.clock);
    const got = await Promise.all(Array.from({ length: 8 }, () => manager.getToken()));
    assert.equal(new Set(got.map((t) => t.accessToken)).size, 1);
    assert.equal(l.calls(), 1);
    assert.equal(stack.server.counts.total, 1);
    stack.now += 300_000; // expired: a refresh, with the client already built
    await manager.getToken();
    assert.equal(l.calls(), 1);
    assert.equal(stack.server.counts.byGrant['refresh_token'], 1);
    assert.deepEqual(
      (await stack.stores.store().get(KEY))?.identity,
      JSON.parse(JSON.stringify(l.client.identity)),
    );
    await manager.close();
  });

  it('a failing build is a ClientSetupError, the store is left as it was, and the next call builds again', async () => {
    const seed = makeManager(await realClient(stack.server), stack.stores.store(), stack.clock);
    await seed.manager.getToken();
    await seed.manager.close();
    const before = await stack.stores.store().get(KEY);
    stack.now += 300_000; // expired: the next call must renew
    const l = await lazy();
    l.fail(new Error('secret command exited with 1'));
    const { manager } = makeManager(l.client, stack.stores.store(), stack.clock);
    await assert.rejects(
      Promise.all([manager.getToken(), manager.getToken(), manager.getToken()]),
      (e: unknown) =>
        e instanceof ClientSetupError &&
        e.code === 'ERR_CLIENT_SETUP' &&
        /secret command exited/.test(e.message),
    );
    assert.equal(l.calls(), 1, 'one build for the three callers');
    assert.equal(stack.server.counts.total, 1, 'no request');
    assert.deepEqual(await stack.stores.store().get(KEY), before, 'no failure recorded, nothing dropped');
    l.fail(undefined);
    await manager.getToken();
    assert.equal(l.calls(), 2, 'a failure is not remembered');
    assert.equal(stack.server.counts.byGrant['refresh_token'], 1);
    await manager.close();
  });

  it('a TokenwardError from the factory (an unresolvable secret) is passed on as it is', async () => {
    const l = await lazy();
    l.fail(new ConfigError('environment variable X is not set', { key: 'profiles.p.client_secret' }));
    const { manager } = makeManager(l.client, stack.stores.store(), stack.clock);
    await assert.rejects(
      manager.getToken(),
      (e: unknown) => e instanceof ConfigError && e.key === 'profiles.p.client_secret',
    );
    assert.equal(await stack.stores.store().get(KEY), undefined);
    await manager.close();
  });

  it('a built client with another identity is refused (its tokens would sit under the wrong key)', async () => {
    const l = await lazy();
    const other: LazyTokenClient = { ...l.client, identity: { ...l.client.identity, scope: 'other' } };
    const { manager } = makeManager(other, stack.stores.store(), stack.clock);
    await assert.rejects(
      manager.getToken(),
      (e: unknown) => e instanceof ClientSetupError && /identity/.test(e.message),
    );
    assert.equal(stack.server.counts.total, 0);
    await manager.close();
  });

  it('logout builds the client to revoke; a failing build is a REVOKE_FAILED warning and the token is deleted', async () => {
    const seed = makeManager(await realClient(stack.server), stack.stores.store(), stack.clock);
    await seed.manager.getToken();
    await seed.manager.close();
    const l = await lazy();
    l.fail(new Error('keyring locked'));
    const { manager, warnings } = makeManager(l.client, stack.stores.store(), stack.clock);
    assert.deepEqual(await manager.logout(), { revoked: false, deleted: true });
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['REVOKE_FAILED'],
    );
    assert.equal(l.calls(), 1);
    assert.equal(await stack.stores.store().get(KEY), undefined);
    await manager.close();
  });
});
