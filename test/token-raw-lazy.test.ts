import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenManager } from '../src/manager/token-manager.js';
import { MemoryStore } from '../src/stores/memory.js';
import { parseTokenResponse, type Token } from '../src/token.js';
import type { TokenClient } from '../src/token-client.js';

const NOW = 1_700_000_000_000;
const url = 'https://idp.example.com/token';
const parse = (body: Record<string, unknown>) => parseTokenResponse(body, { url, now: NOW });
const isLazy = (t: Token) => typeof Object.getOwnPropertyDescriptor(t, 'raw')?.get === 'function';

describe('Token.raw kept lazily', () => {
  it('a response of standard fields only: raw is an accessor giving an equal object, seen by spread, JSON and clone', () => {
    const body = {
      access_token: 'at-1',
      token_type: 'Bearer',
      expires_in: 3600,
      scope: 'api:read',
      refresh_token: 'rt-1',
      id_token: 'id-1',
    };
    const t = parse({ ...body });
    assert.equal(isLazy(t), true);
    assert.deepStrictEqual(t.raw, body);
    assert.notEqual(t.raw, t.raw, 'each read is a new object');
    assert.deepStrictEqual({ ...t }.raw, body);
    assert.deepStrictEqual(JSON.parse(JSON.stringify(t)).raw, body);
    assert.deepStrictEqual(structuredClone(t).raw, body);
    assert.deepStrictEqual(Object.keys(t).sort(), [
      'accessToken',
      'expiresAt',
      'expirySource',
      'idToken',
      'obtainedAt',
      'raw',
      'refreshToken',
      'scope',
      'tokenType',
    ]);
  });

  it('a response without token_type or scope gives back exactly the fields it had', () => {
    const t = parse({ access_token: 'at-2', expires_in: 60 });
    assert.deepStrictEqual(t.raw, { access_token: 'at-2', expires_in: 60 });
    assert.equal(t.tokenType, 'Bearer');
  });

  it('vendor fields, or a standard field the token does not carry exactly: raw is the parsed object', () => {
    const cases: Array<Record<string, unknown>> = [
      { access_token: 'at-3', expires_in: 3600, tenantId: 't-1', username: 'u' },
      { access_token: 'at-4', expires_in: '3600' },
      { access_token: 'at-5', expires_in: 3600.5 },
      { access_token: 'at-6', token_type: 'bearer', expires_in: 3600 },
      { access_token: 'at-7', expires_in: 3600, refresh_token: 'rt', refresh_expires_in: 7200 },
    ];
    for (const body of cases) {
      const t = parse(body);
      assert.equal(isLazy(t), false, JSON.stringify(body));
      assert.equal(t.raw, body);
    }
    assert.equal(parse(cases[0]!).raw['tenantId'], 't-1');
  });

  it('the MemoryStore gives back an equal entry for a lazy token and for a kept one', async () => {
    const store = new MemoryStore();
    const lazy = parse({ access_token: 'at-8', token_type: 'Bearer', expires_in: 300, scope: 'a b' });
    const kept = parseTokenResponse(
      { access_token: 'at-9', token_type: 'DPoP', expires_in: 300, scope: 'c', x: 1 },
      { url, now: NOW, acceptedTokenTypes: ['dpop'] },
    );
    assert.equal(isLazy(lazy), true);
    await store.set({ v: 1, key: 'k1', token: lazy, updatedAt: NOW });
    await store.set({ v: 1, key: 'k2', token: kept, updatedAt: NOW + 1 });
    const a = await store.get('k1');
    const b = await store.get('k2');
    assert.deepStrictEqual(a?.token?.raw, lazy.raw);
    assert.deepStrictEqual({ ...a?.token }, { ...lazy });
    assert.deepStrictEqual(b?.token, { ...kept, raw: { ...kept.raw } });
    assert.equal(b?.token?.tokenType, 'DPoP');
    assert.equal(b?.token?.scope, 'c');
  });

  it('a manager serves the token its client returned, the same object each call, with raw readable', async () => {
    let requests = 0;
    const client: TokenClient = {
      identity: { token_url: url, client_id: 'c' },
      fetchToken: async (ctx) => {
        requests++;
        return parseTokenResponse(
          { access_token: `at-m${requests}`, token_type: 'Bearer', expires_in: 3600 },
          { url, now: ctx.now() },
        );
      },
    };
    const m = new TokenManager({ client, key: 'k', store: new MemoryStore(), clock: () => NOW });
    const t1 = await m.getToken();
    const t2 = await m.getToken();
    assert.equal(t1, t2);
    assert.equal(requests, 1);
    assert.deepStrictEqual(t1.raw, { access_token: 'at-m1', token_type: 'Bearer', expires_in: 3600 });
    await m.close();
  });
});
