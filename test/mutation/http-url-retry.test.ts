/**
 * The HTTP layer's small pure parts (src/http/url.ts, src/http/retry.ts), at their boundaries and on
 * exact messages (written against the mutants StrykerJS found surviving there; see docs/testing.md):
 * what counts as loopback, which endpoint URLs are refused and how, the back-off ceiling, `Retry-After`,
 * and `sleep` with an abort signal.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, InsecureEndpointError } from '../../src/errors.js';
import { backoffMs, parseRetryAfter, sleep } from '../../src/http/retry.js';
import { assertSecureUrl, isLoopbackHost, safeUrl } from '../../src/http/url.js';

describe('isLoopbackHost', () => {
  it('only a leading "[" and a trailing "]" are taken off: brackets inside are kept (not loopback)', () => {
    assert.equal(isLoopbackHost('[::1]'), true);
    assert.equal(isLoopbackHost('::[1'), false);
    assert.equal(isLoopbackHost('::]1'), false);
  });

  it('loopback: 127.0.0.0/8, ::1 in both spellings and bracketed, IPv4-mapped, localhost (any case, with a dot)', () => {
    for (const h of [
      '127.0.0.1',
      '127.255.0.9',
      '::1',
      '[::1]',
      '0:0:0:0:0:0:0:1',
      '[::ffff:7f00:1]',
      '::ffff:7fff:ffff',
      '::ffff:127.0.0.1',
      'localhost',
      'LOCALHOST',
      'localhost.',
    ]) {
      assert.equal(isLoopbackHost(h), true, h);
    }
  });

  it('not loopback: other addresses, names that merely contain loopback, *.localhost', () => {
    for (const h of [
      '128.0.0.1',
      '10.127.0.1',
      '1.127.0.0',
      '::2',
      '::ffff:8f00:1',
      '::ffff:7f00:12345',
      'x::ffff:7f00:1',
      '::ffff:7f00:1:2',
      '::ffff:10.0.0.1',
      'a::ffff:127.0.0.1',
      'app.localhost',
      'localhost.example.com',
      'mylocalhost',
      '127.0.0.1.nip.io',
      '',
    ]) {
      assert.equal(isLoopbackHost(h), false, h);
    }
  });
});

describe('assertSecureUrl', () => {
  const configError = (url: string, message: string) =>
    assert.throws(
      () => assertSecureUrl(url, 'token_url'),
      (e: unknown) => e instanceof ConfigError && e.key === 'token_url' && e.message === message,
    );

  it('returns the parsed URL for https:// anywhere and http:// to loopback', () => {
    assert.equal(
      assertSecureUrl('https://idp.example.com/t?x=1', 'token_url').href,
      'https://idp.example.com/t?x=1',
    );
    assert.equal(assertSecureUrl('http://127.0.0.1:8080/t', 'token_url').port, '8080');
    assert.equal(assertSecureUrl('http://[::1]/t', 'token_url').hostname, '[::1]');
    assert.equal(assertSecureUrl('http://localhost/t', 'token_url').protocol, 'http:');
  });

  it('an unparseable URL is shown only when short and free of "@"', () => {
    configError(
      'not a url',
      'token_url: is not a valid absolute URL ("not a url"); expected https://host/path',
    );
    configError(
      'idp.example.com/token',
      'token_url: is not a valid absolute URL ("idp.example.com/token"); expected https://host/path',
    );
    configError('//user:pw@nowhere', 'token_url: is not a valid absolute URL; expected https://host/path');
    const long = `x${'a'.repeat(199)}`;
    assert.equal(long.length, 200);
    configError(
      long,
      `token_url: is not a valid absolute URL (${JSON.stringify(long)}); expected https://host/path`,
    );
    configError(`${long}b`, 'token_url: is not a valid absolute URL; expected https://host/path');
  });

  it('other schemes and credentials in the URL are refused', () => {
    configError('ftp://idp.example.com/t', 'token_url: must be an https:// URL, got the scheme ftp:');
    const creds =
      'token_url: must not contain credentials (user:password@); give them as client_id/client_secret instead';
    configError('https://user@idp.example.com/t', creds);
    configError('https://:pw@idp.example.com/t', creds);
    configError('http://user:pw@127.0.0.1/t', creds);
  });

  it('http:// to anything else is an InsecureEndpointError naming the setting and the URL without its query', () => {
    assert.throws(
      () => assertSecureUrl('http://idp.example.com:8080/t?secret=1#f', 'issuer'),
      (e: unknown) =>
        e instanceof InsecureEndpointError &&
        e.message ===
          'issuer http://idp.example.com:8080/t uses plain http:// to a non-loopback host; tokens and secrets would travel in clear text. Use https:// (http:// is allowed only for 127.0.0.1, ::1 and localhost)',
    );
  });

  it('safeUrl drops credentials, query and fragment; an unparseable string says so', () => {
    assert.equal(safeUrl('https://u:p@h.example.com:444/a/b?q=1#x'), 'https://h.example.com:444/a/b');
    assert.equal(safeUrl(new URL('http://127.0.0.1/x?y')), 'http://127.0.0.1/x');
    assert.equal(safeUrl('nope'), '(invalid URL)');
  });
});

describe('backoffMs', () => {
  it('the ceiling doubles from the base on each retry, capped at the maximum; the wait is random below it', () => {
    const top = () => 0.999_999;
    assert.equal(backoffMs(1, 100, 10_000, top), 99);
    assert.equal(backoffMs(2, 100, 10_000, top), 199);
    assert.equal(backoffMs(3, 100, 10_000, top), 399);
    assert.equal(backoffMs(0, 100, 10_000, top), 99, 'retry 0 is treated as the first');
    assert.equal(backoffMs(20, 100, 1_000, top), 999);
    assert.equal(
      backoffMs(3, 100, 10_000, () => 0.5),
      200,
    );
    assert.equal(
      backoffMs(3, 100, 10_000, () => 0),
      0,
    );
    for (let i = 0; i < 50; i++) {
      const w = backoffMs(2, 100, 10_000);
      assert.ok(Number.isInteger(w) && w >= 0 && w < 200, String(w));
    }
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-30T12:00:00Z');
  it('delta seconds (trimmed), an HTTP date (rounded up, never negative), nothing for the rest', () => {
    assert.equal(parseRetryAfter(undefined, now), undefined);
    assert.equal(parseRetryAfter('', now), undefined);
    assert.equal(parseRetryAfter('   ', now), undefined);
    assert.equal(parseRetryAfter(' 120 ', now), 120);
    assert.equal(parseRetryAfter('0', now), 0);
    assert.equal(parseRetryAfter('Mon, 30 Nov 2026 12:01:00 GMT', now), 60);
    assert.equal(parseRetryAfter(new Date(now + 1_500).toUTCString(), now - 500), 2);
    assert.equal(parseRetryAfter('Mon, 30 Nov 2026 11:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    // Not all digits: a date parse of "12abc" fails; "1.5" is a date to Date.parse, so guard both ends.
    assert.equal(parseRetryAfter('12abc', now), undefined);
    assert.equal(parseRetryAfter('x12', now), undefined);
  });

  it('without `now`, the time of the call is used', () => {
    const date = new Date(Date.now() + 3_600_000).toUTCString();
    const at = Date.parse(date);
    const before = Date.now();
    const s = parseRetryAfter(date);
    const after = Date.now();
    assert.ok(s !== undefined, date);
    assert.ok(s >= Math.ceil((at - after) / 1000) && s <= Math.ceil((at - before) / 1000), String(s));
  });
});

describe('sleep', () => {
  it('zero or negative resolves at once; an aborted signal rejects with its reason, even for zero', async () => {
    await sleep(0);
    await sleep(-5);
    const c = new AbortController();
    c.abort(new Error('stop-now'));
    await assert.rejects(sleep(0, c.signal), (e: unknown) => e instanceof Error && e.message === 'stop-now');
    await assert.rejects(sleep(10, c.signal), (e: unknown) => e instanceof Error && e.message === 'stop-now');
  });

  it('an abort during the wait rejects with the reason; a finished wait leaves no listener behind', async () => {
    const c = new AbortController();
    const p = sleep(60_000, c.signal);
    c.abort(new Error('aborted-late'));
    await assert.rejects(p, (e: unknown) => e instanceof Error && e.message === 'aborted-late');
    const d = new AbortController();
    let calls = 0;
    const add = d.signal.addEventListener.bind(d.signal);
    const remove = d.signal.removeEventListener.bind(d.signal);
    d.signal.addEventListener = ((...a: Parameters<typeof add>) => {
      calls++;
      add(...a);
    }) as typeof add;
    d.signal.removeEventListener = ((...a: Parameters<typeof remove>) => {
      calls--;
      remove(...a);
    }) as typeof remove;
    await sleep(5, d.signal);
    assert.equal(calls, 0, 'the abort listener was added once and removed once');
  });
});
