/**
 * Waiting for something that happens in the background (a background refresh, a server noticing a
 * request) without guessing how long it takes: poll a condition. The bound only ends a test that would
 * otherwise hang; it is generous so that a slow, loaded machine never trips it.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Resolves once `condition()` is true (polled every `everyMs`); rejects after `timeoutMs` with `what`. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  { timeoutMs = 60_000, everyMs = 5 }: { timeoutMs?: number; everyMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(everyMs);
  }
}
