/**
 * Exact name resolution for tests, with no query leaving the machine: wraps `node:dns`' `lookup` (the
 * one `src/http/agent.ts`' `pinnedLookup` calls; `src/` sees the new export through
 * `syncBuiltinESMExports`) for one made-up name. Restore the real one with {@link restoreResolver}
 * (in an `afterEach`).
 */
import dns from 'node:dns';
import { syncBuiltinESMExports } from 'node:module';

const realLookup = dns.lookup;

/** Puts the real `dns.lookup` back. */
export function restoreResolver(): void {
  dns.lookup = realLookup;
  syncBuiltinESMExports();
}

/**
 * Wraps `dns.lookup` for `name`: `fail(n)` gives the errno code of the n-th lookup of it, or undefined
 * to answer 127.0.0.1. Every name asked is noted in `asked`; other names go to the real lookup. Returns
 * the outcomes given for `name`, in order (`'ok'` or the code).
 */
export function fakeResolver(
  name: string,
  fail: (n: number) => string | undefined,
  asked: string[] = [],
): string[] {
  const given: string[] = [];
  const wrapped = ((hostname: string, options: dns.LookupOptions, callback: (...a: unknown[]) => void) => {
    asked.push(hostname);
    if (hostname !== name) return (realLookup as (...a: unknown[]) => void)(hostname, options, callback);
    const code = fail(given.length + 1);
    given.push(code ?? 'ok');
    if (code !== undefined) {
      const err = Object.assign(new Error(`getaddrinfo ${code} ${hostname}`), {
        code,
        syscall: 'getaddrinfo',
        hostname,
      });
      process.nextTick(callback, err);
    } else if (options.all === true) {
      process.nextTick(callback, null, [{ address: '127.0.0.1', family: 4 }]);
    } else {
      process.nextTick(callback, null, '127.0.0.1', 4);
    }
  }) as typeof dns.lookup;
  dns.lookup = wrapped;
  syncBuiltinESMExports();
  return given;
}
