/**
 * `warmEnvelope` (src/stores/envelope.ts), which a lock waiter runs while it waits so that its first
 * read after the wake-up costs no one-time set-up: it leaves no trace — nothing registered for
 * redaction, no version recorded in the process's rollback guard (an entry written at version 1 after it
 * still decodes), and it runs once per key.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { registrySize } from '../../src/redact.js';
import { decodeEntry, encodeEntry, warmEnvelope } from '../../src/stores/envelope.js';
import { keyFromBytes } from '../../src/stores/keys.js';
import { sampleEntry } from './conformance.js';

describe('warmEnvelope', () => {
  it('leaves no trace: no redaction entry, no rollback version; a real entry of version 1 decodes after it', () => {
    const key = keyFromBytes(randomBytes(32));
    const before = registrySize();
    warmEnvelope(key);
    warmEnvelope(key); // once per key: the second call does nothing
    assert.deepEqual(registrySize(), before);
    const scope = `warm-test ${process.pid}`;
    const entry = sampleEntry('k-warm', { updatedAt: 1 });
    const r = decodeEntry(encodeEntry(entry, key, { scope }), 'k-warm', key, { scope });
    assert.equal(r.ok, true, r.ok ? '' : r.message);
  });

  it('a key that cannot seal (not 32 bytes) does not throw', () => {
    const bad = { key: Buffer.alloc(3), source: 'env', id: '00000000' } as unknown as Parameters<
      typeof warmEnvelope
    >[0];
    assert.doesNotThrow(() => warmEnvelope(bad));
  });
});
