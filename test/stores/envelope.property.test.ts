/**
 * Property-based tests (fast-check) of the store envelope: arbitrary entries round-trip; any single
 * byte changed, or any truncation, is detected (a failure result — never a different entry, never a
 * throw); a wrong encryption key or another store key is refused; through the file store, a flipped
 * byte is a warning and a miss, never a wrong token; the rollback guard never lets an envelope older
 * than the tolerance through once a newer one was seen.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import {
  decodeEntry,
  ENVELOPE_MIN_LENGTH,
  encodeEntry,
  envelopeVersion,
  noteWritten,
  ROLLBACK_TOLERANCE_MS,
} from '../../src/stores/envelope.js';
import { FileStore } from '../../src/stores/file.js';
import { keyFromBytes } from '../../src/stores/keys.js';
import { storeKey as makeStoreKey } from '../../src/stores/store-key.js';
import type { StoredEntry } from '../../src/stores/types.js';
import type { Token } from '../../src/token.js';

const roots: string[] = [];
after(async () => {
  for (const d of roots) await rm(d, { recursive: true, force: true });
});

const RUNS = Number(process.env['TW_PROPERTY_RUNS'] ?? 200);

/** Store keys as `storeKey` makes them, and other safe keys. */
const storeKeyArb = fc.oneof(
  fc.string({ minLength: 0, maxLength: 20 }).map((s) => makeStoreKey('p', { s })),
  fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,40}$/),
);

/** Text that survives JSON (any Unicode, lone surrogates included: JSON.stringify escapes them). */
const textArb = (min = 0) => fc.string({ unit: 'binary', minLength: min, maxLength: 200 });
const timeArb = fc.integer({ min: 0, max: 4_102_444_800_000 });
const rawArb = fc
  .dictionary(
    fc.string({ maxLength: 12 }).filter((k) => k !== '__proto__'),
    fc.oneof(fc.string({ maxLength: 30 }), fc.integer(), fc.boolean(), fc.constant(null)),
    { maxKeys: 5 },
  )
  .map((d) => ({ ...d }));

const tokenArb: fc.Arbitrary<Token> = fc
  .record(
    {
      accessToken: textArb(1),
      tokenType: textArb(),
      expiresAt: timeArb,
      obtainedAt: timeArb,
      expirySource: fc.constantFrom('expires_in', 'expires_on', 'jwt_exp', 'default'),
      refreshToken: textArb(1),
      refreshExpiresAt: timeArb,
      scope: textArb(),
      idToken: textArb(),
      raw: rawArb,
    },
    { requiredKeys: ['accessToken', 'tokenType', 'expiresAt', 'obtainedAt', 'expirySource', 'raw'] },
  )
  .map((t) => t as Token);

const entryArb = (key: string): fc.Arbitrary<StoredEntry> =>
  fc
    .record(
      {
        profile: textArb(),
        identity: fc
          .dictionary(
            fc.string({ maxLength: 12 }).filter((k) => k !== '__proto__'),
            fc.string({ maxLength: 40 }),
            { maxKeys: 4 },
          )
          .map((d) => ({ ...d })),
        token: tokenArb,
        lastError: fc.record({ code: textArb(), message: textArb(), at: timeArb }),
        updatedAt: timeArb,
      },
      { requiredKeys: ['updatedAt'] },
    )
    .map((e) => ({ v: 1 as const, key, ...e }));

const keyArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => keyFromBytes(Buffer.from(b)));
const caseArb = storeKeyArb.chain((storeKey) =>
  fc.record({ storeKey: fc.constant(storeKey), entry: entryArb(storeKey), key: keyArb }),
);

describe('envelope properties', () => {
  test('any entry round-trips through encode/decode', () => {
    fc.assert(
      fc.property(caseArb, ({ storeKey, entry, key }) => {
        const r = decodeEntry(encodeEntry(entry, key), storeKey, key);
        assert.ok(r.ok, r.ok ? '' : r.message);
        // fast-check builds objects without a prototype; compare as JSON values.
        assert.deepEqual(r.entry, JSON.parse(JSON.stringify(entry)));
        assert.equal(r.format, 2);
      }),
      { numRuns: RUNS },
    );
  });

  test('any single changed byte is detected: a failure, never an entry, never a throw', () => {
    fc.assert(
      fc.property(
        caseArb,
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        ({ storeKey, entry, key }, at, mask) => {
          const bytes = encodeEntry(entry, key);
          const i = at % bytes.length;
          const bad = Buffer.from(bytes);
          bad[i] = (bad[i] as number) ^ mask;
          const r = decodeEntry(bad, storeKey, key);
          assert.equal(r.ok, false, `byte ${i} of ${bytes.length} changed (xor ${mask}) went unnoticed`);
        },
      ),
      { numRuns: RUNS * 5 },
    );
  });

  test('any truncation, and anything appended, is detected', () => {
    fc.assert(
      fc.property(caseArb, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 }), (c, cut, extra) => {
        const bytes = encodeEntry(c.entry, c.key);
        const n = cut % bytes.length;
        const r = decodeEntry(bytes.subarray(0, n), c.storeKey, c.key);
        assert.equal(r.ok, false);
        if (!r.ok && n >= 4) assert.equal(r.reason, 'corrupt', `cut at ${n}: ${r.message}`);
        assert.equal(decodeEntry(Buffer.concat([bytes, extra]), c.storeKey, c.key).ok, false);
      }),
      { numRuns: RUNS },
    );
  });

  test('another encryption key is refused as such; another store key fails authentication', () => {
    fc.assert(
      fc.property(caseArb, keyArb, storeKeyArb, (c, other, otherStoreKey) => {
        const bytes = encodeEntry(c.entry, c.key);
        fc.pre(!other.key.equals(c.key.key));
        const r = decodeEntry(bytes, c.storeKey, other);
        assert.equal(r.ok, false);
        // Two different keys share a 4-byte id once in 2^32: then it is plain corruption.
        if (!r.ok) assert.equal(r.reason, other.id === c.key.id ? 'corrupt' : 'wrong-key');
        fc.pre(otherStoreKey !== c.storeKey);
        const s = decodeEntry(bytes, otherStoreKey, c.key);
        assert.equal(s.ok, false);
        if (!s.ok) assert.equal(s.reason, 'corrupt');
      }),
      { numRuns: RUNS },
    );
  });

  test('arbitrary bytes never decode and never throw', () => {
    const key = keyFromBytes(randomBytes(32));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: ENVELOPE_MIN_LENGTH * 3 }), fc.boolean(), (b, withMagic) => {
        const bytes = Buffer.from(b);
        if (withMagic && bytes.length >= 8) {
          bytes.write('tw2:', 0, 'latin1');
          Buffer.from(key.id, 'hex').copy(bytes, 4);
        }
        assert.equal(decodeEntry(bytes, 'k', key).ok, false);
      }),
      { numRuns: RUNS },
    );
  });

  test('rollback guard: after any sequence of writes and reads, an envelope older than the newest seen (beyond the tolerance) is refused', () => {
    const key = keyFromBytes(randomBytes(32));
    let n = 0;
    fc.assert(
      fc.property(fc.array(timeArb, { minLength: 1, maxLength: 12 }), (times) => {
        const scope = `prop:${n++}`;
        const storeKey = 'k';
        // As a store writes: encode, write, note.
        const written = times.map((updatedAt) => {
          const bytes = encodeEntry({ v: 1, key: storeKey, updatedAt }, key, { scope });
          noteWritten(scope, storeKey, bytes);
          return bytes;
        });
        let newest = -1;
        for (const bytes of written) {
          // Versions strictly increase in the order written, whatever the updatedAt given.
          const v = envelopeVersion(bytes) as number;
          assert.ok(v > newest, `version ${v} after ${newest}`);
          newest = v;
        }
        for (const bytes of written) {
          const r = decodeEntry(bytes, storeKey, key, { scope });
          const v = bytes.readBigUInt64BE(8);
          assert.equal(r.ok, Number(v) >= newest - ROLLBACK_TOLERANCE_MS);
          if (!r.ok) assert.equal(r.reason, 'rollback');
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe('file store: a changed byte on disk', () => {
  test('any single byte changed in a token file is a warning and a miss, never a wrong token', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'tw-envprop-')), 'tokens');
    roots.push(join(dir, '..'));
    const raw = randomBytes(32);
    const warnings: string[] = [];
    const store = new FileStore({ dir, key: raw, onWarning: (m) => warnings.push(m) });
    const storeKey = makeStoreKey('flip', {});
    await store.set({ v: 1, key: storeKey, updatedAt: Date.now() });
    const good = await readFile(store.pathOf(storeKey));
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.integer({ min: 1, max: 255 }), async (at, mask) => {
        const i = at % good.length;
        const bad = Buffer.from(good);
        bad[i] = (bad[i] as number) ^ mask;
        await writeFile(store.pathOf(storeKey), bad, { mode: 0o600 });
        const before = warnings.length;
        assert.equal(await store.get(storeKey), undefined);
        assert.equal(warnings.length, before + 1);
        assert.match(warnings.at(-1) ?? '', /unusable/);
      }),
      { numRuns: Math.min(RUNS, 100) },
    );
    await writeFile(store.pathOf(storeKey), good, { mode: 0o600 });
    assert.ok((await store.get(storeKey)) !== undefined, 'the original still reads');
  });
});
