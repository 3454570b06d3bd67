/**
 * The MemoryStore keeps entries compact (one flat record, `raw` reduced to the fields the token does not
 * carry) and gives back an entry equal to the one written: checked on the shapes the token parser makes
 * and on arbitrary entries (fast-check).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MemoryStore } from '../../src/stores/memory.js';
import type { StoredEntry } from '../../src/stores/types.js';
import { parseTokenResponse, type Token } from '../../src/token.js';

const NOW = 1_800_000_000_000;

async function roundTrip(entry: StoredEntry): Promise<StoredEntry | undefined> {
  const store = new MemoryStore();
  await store.set(entry);
  const back = await store.get(entry.key);
  const listed = await store.list();
  assert.equal(listed.length, 1);
  assert.deepEqual(listed[0], back);
  return back;
}

test('a parsed response comes back equal, raw included: standard fields, vendor extras, a string expires_in, a lower-case token type', async () => {
  const bodies: Array<Record<string, unknown>> = [
    { access_token: 'at-1', token_type: 'Bearer', expires_in: 3600, scope: 'a b' },
    {
      access_token: 'at-2',
      token_type: 'bearer',
      expires_in: '3600',
      refresh_token: 'rt-2',
      id_token: 'id-2',
    },
    {
      access_token: 'at-3',
      expires_on: NOW / 1000 + 600,
      tenantId: 't-1',
      username: 'u',
      nested: { a: [1] },
    },
    { access_token: 'at-4', token_type: 'Bearer', expires_in: 30 * 24 * 3600, scope: ['x', 'y'] },
    { access_token: 'at-5', refresh_token: 'rt-5', refresh_expires_in: 7200, expires_in: 1.5 },
  ];
  for (const body of bodies) {
    const token = parseTokenResponse(body, { url: 'http://127.0.0.1/token', now: NOW });
    const entry: StoredEntry = {
      v: 1,
      key: `k-${token.accessToken}`,
      profile: 'p',
      identity: { token_url: 'http://127.0.0.1/token', client_id: 'c' },
      token,
      updatedAt: NOW + 3,
    };
    const back = await roundTrip(entry);
    assert.deepEqual(back, entry, JSON.stringify(body));
    assert.deepEqual(back?.token?.raw, body);
  }
});

test('entries without a token, with a failure record, without raw, or with times far apart come back equal', async () => {
  const lastError = { code: 'ERR_TOKEN_ENDPOINT', message: 'no', at: NOW, status: 503 };
  const only: StoredEntry = { v: 1, key: 'k-err', lastError, updatedAt: NOW };
  assert.equal(await roundTrip(only), only, 'a token-less entry is kept as written');
  const { raw: _raw, ...noRaw } = parseTokenResponse(
    { access_token: 'at', expires_in: 60 },
    { url: 'u', now: NOW },
  );
  const withoutRaw = { v: 1 as const, key: 'k-noraw', token: noRaw as Token, updatedAt: NOW };
  assert.deepEqual(await roundTrip(withoutRaw), withoutRaw);
  const far: StoredEntry = {
    v: 1,
    key: 'k-far',
    token: { ...noRaw, obtainedAt: 0.5, raw: {} } as Token,
    lastError,
    updatedAt: NOW + 40 * 24 * 3600_000 + 0.25,
  };
  assert.deepEqual(await roundTrip(far), far);
});

test('property: any entry comes back equal', async () => {
  const str = fc.string({ minLength: 1, maxLength: 12 });
  const time = fc.oneof(
    fc.integer({ min: 0, max: 4_000_000_000_000 }),
    fc.double({ min: 0, max: 4e12, noNaN: true }),
  );
  const json = fc.jsonValue({ maxDepth: 2 });
  const arbitraryToken = fc.record(
    {
      accessToken: str,
      tokenType: fc.constantFrom('Bearer', 'DPoP', 'bearer'),
      expiresAt: time,
      obtainedAt: time,
      expirySource: fc.constantFrom('expires_in', 'expires_on', 'jwt_exp', 'default'),
      refreshToken: str,
      refreshExpiresAt: time,
      scope: str,
      idToken: str,
      raw: fc.dictionary(
        fc.constantFrom(
          'access_token',
          'token_type',
          'expires_in',
          'refresh_token',
          'scope',
          'id_token',
          'x',
          'tenantId',
        ),
        json,
      ),
    },
    { requiredKeys: ['accessToken', 'tokenType', 'expiresAt', 'obtainedAt', 'expirySource', 'raw'] },
  );
  await fc.assert(
    fc.asyncProperty(
      arbitraryToken,
      time,
      fc.option(str, { nil: undefined }),
      fc.boolean(),
      async (token, updatedAt, profile, sameStrings) => {
        const t = token as unknown as Token;
        // Half the cases: the raw fields hold the very values the token carries (as a parser leaves them).
        const raw: Record<string, unknown> = { ...t.raw };
        if (sameStrings) {
          raw['access_token'] = t.accessToken;
          raw['token_type'] = t.tokenType;
          raw['expires_in'] = Math.round((t.expiresAt - t.obtainedAt) / 1000);
          if (t.scope !== undefined) raw['scope'] = t.scope;
        }
        const entry: StoredEntry = { v: 1, key: 'k', token: { ...t, raw }, updatedAt };
        if (profile !== undefined) entry.profile = profile;
        assert.deepEqual(await roundTrip(entry), entry);
      },
    ),
    { numRuns: 300 },
  );
});
