/**
 * The DPoP scheme's decisions in the request core alone: the headers it attaches, and its verdict on each
 * challenge (`use_dpop_nonce` → resend, `invalid_dpop_proof` → the answer stands, another 401 → renew).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { DpopSigner } from '../../src/dpop/signer.js';
import { type Attachment, RequestCore } from '../../src/fetch/core.js';
import type { TokenSource } from '../../src/fetch/shared.js';
import { MemoryStore } from '../../src/stores/memory.js';

function source(tokenType: string): TokenSource & { invalidated: string[] } {
  const invalidated: string[] = [];
  return {
    invalidated,
    dpop: new DpopSigner({ alg: 'ES256', store: new MemoryStore(), tokenKey: 'v1-'.padEnd(67, 'a') }),
    getToken: async () => ({ accessToken: 'at-1', tokenType }),
    invalidate: (t) => invalidated.push(t),
  };
}

const API = 'https://api.example.com';
const answer = (status: number, headers: Record<string, string>) => ({
  status,
  header: (n: string) => headers[n.toLowerCase()],
});

describe('DpopScheme in the request core', () => {
  test('a DPoP token: Authorization DPoP and a proof; a Bearer token from the same source: no proof', async () => {
    const s = source('DPoP');
    const core = new RequestCore(s, { origins: [API] });
    const a = await core.attach({ method: 'GET', url: `${API}/x?y=1` }, await core.token());
    assert.equal(a.headers['authorization'], 'DPoP at-1');
    const claims = decodeJwt(a.headers['dpop']!);
    assert.equal(claims['htu'], `${API}/x`);
    const b = await core.attach(
      { method: 'GET', url: `${API}/x` },
      { accessToken: 'at-2', tokenType: 'Bearer' },
    );
    assert.deepEqual({ ...b.headers }, { authorization: 'Bearer at-2' });
  });

  test('verdicts: use_dpop_nonce resends with the nonce, invalid_dpop_proof stands, another 401 renews', async () => {
    const s = source('DPoP');
    const core = new RequestCore(s, { origins: [API] });
    const target = { method: 'POST', url: `${API}/x` };
    const a: Attachment = await core.attach(target, await core.token());
    const nonce = answer(401, { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': 'n-1' });
    assert.equal(
      core.settle(a, nonce, () => true),
      true,
    );
    assert.deepEqual(s.invalidated, []); // same token
    const again = await core.attach(target, await core.token());
    assert.equal(decodeJwt(again.headers['dpop']!)['nonce'], 'n-1');
    // use_dpop_nonce without a nonce: nothing to resend with.
    const s2 = source('DPoP');
    const core2 = new RequestCore(s2, { origins: [API] });
    const a2 = await core2.attach(target, await core2.token());
    assert.equal(
      core2.settle(a2, answer(401, { 'www-authenticate': 'DPoP error="use_dpop_nonce"' }), () => true),
      false,
    );
    const bad = answer(401, { 'www-authenticate': 'DPoP error="invalid_dpop_proof"' });
    assert.equal(
      core.settle(a, bad, () => true),
      false,
    );
    assert.deepEqual(s.invalidated, []);
    const rejected = answer(401, { 'www-authenticate': 'DPoP error="invalid_token"' });
    assert.equal(
      core.settle(a, rejected, () => true),
      true,
    );
    assert.deepEqual(s.invalidated, ['at-1']);
  });

  test('a nonce from a foreign origin or a request that did not carry the token is not kept', async () => {
    const s = source('DPoP');
    const core = new RequestCore(s, { origins: [API] });
    const a = await core.attach({ method: 'GET', url: `${API}/x` }, await core.token());
    core.observe(a, { ...answer(200, { 'dpop-nonce': 'evil' }), url: 'https://evil.example/x' });
    core.observe(a, { ...answer(200, { 'dpop-nonce': 'evil' }), carried: false });
    assert.equal(s.dpop!.nonces.size, 0);
    core.observe(a, answer(200, { 'dpop-nonce': 'good' }));
    assert.equal(s.dpop!.nonces.get(API), 'good');
  });
});
