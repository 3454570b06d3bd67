/**
 * The renewal and failure counts kept in a store entry (`StoredEntry.counts`, shown by `tokenward
 * status`): carried from the entry read before each write, so every process sharing the store adds to
 * the same numbers at no extra I/O.
 * @module
 */

import type { EntryCounts, StoredEntry } from '../stores/types.js';

function countsOf(entry: StoredEntry | undefined): EntryCounts {
  const c = entry?.counts;
  const n = (v: unknown): number => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : 0);
  return { renewals: n(c?.renewals), failures: n(c?.failures) };
}

/** Sets the counts of an entry about to be written with a new token: the previous entry's, one more renewal. */
export function countRenewal(entry: StoredEntry, previous: StoredEntry | undefined): void {
  const c = countsOf(previous);
  entry.counts = { renewals: c.renewals + 1, failures: c.failures };
}

/** Sets the counts of an entry about to be written with a failure record: one more failure. */
export function countFailure(record: StoredEntry, previous: StoredEntry | undefined): void {
  const c = countsOf(previous);
  record.counts = { renewals: c.renewals, failures: c.failures + 1 };
}
