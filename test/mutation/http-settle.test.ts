/**
 * The `http` group's survivors of its Stryker run, settled by hand (docs/testing.md): `sleep` without
 * a signal (it must neither throw nor take a timer for zero), its abort listener gone after the wait
 * whichever way it ends, and a parse error's position judged against the body without its trailing
 * white space only (leading white space shifts the position, it does not make the body "truncated").
 */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { ConfigError, InvalidTokenResponseError } from '../../src/errors.js';
import { looksLikeHtml, parseSuccessBody } from '../../src/http/response.js';
import { sleep } from '../../src/http/retry.js';
import { assertSecureUrl } from '../../src/http/url.js';

describe('sleep', () => {
  it('zero resolves before a timer set earlier fires (no timer of its own)', async () => {
    const order: string[] = [];
    const t = setTimeout(() => order.push('timer'), 0);
    await sleep(0);
    order.push('sleep');
    clearTimeout(t);
    assert.deepEqual(order, ['sleep']);
  });

  it('a wait without a signal resolves (nothing is asked of the missing signal)', async () => {
    const order: string[] = [];
    const t = setTimeout(() => order.push('timer'), 0);
    await sleep(1);
    order.push('sleep');
    clearTimeout(t);
    assert.deepEqual(order, ['timer', 'sleep']);
  });

  it('the abort listener is gone after a completed wait and after an aborted one', async () => {
    const done = new AbortController();
    await sleep(1, done.signal);
    assert.equal(getEventListeners(done.signal, 'abort').length, 0);
    done.abort(new Error('late')); // aborting after the wait changes nothing
    const aborted = new AbortController();
    const p = sleep(60_000, aborted.signal);
    assert.equal(getEventListeners(aborted.signal, 'abort').length, 1);
    aborted.abort(new Error('now'));
    await assert.rejects(p, (e: unknown) => e instanceof Error && e.message === 'now');
    assert.equal(getEventListeners(aborted.signal, 'abort').length, 0);
  });
});

describe('parseSuccessBody: where the parser stopped', () => {
  const ctx = { what: 'token endpoint', url: 'https://idp.example.com/token', maxBytes: 1000 };
  it('leading white space does not make a body with junk after it "truncated"', () => {
    const text = '   {"a":1} x';
    assert.throws(
      () => parseSuccessBody({ status: 200, headers: {}, text, bytes: text.length }, ctx),
      (e: unknown) => {
        assert.ok(e instanceof InvalidTokenResponseError, String(e));
        assert.equal(
          e.message,
          `token endpoint ${ctx.url} answered HTTP 200 with malformed JSON (parse error at byte 11) (no content-type, 12 bytes)`,
        );
        return true;
      },
    );
  });
});

describe('looksLikeHtml', () => {
  it('XML only at the very start counts; its name in any case', () => {
    assert.equal(looksLikeHtml('<p><?xml', ''), true);
    assert.equal(looksLikeHtml('  <?XML version="1.0"?>', ''), false);
    assert.equal(looksLikeHtml('\uFEFF<html>', ''), true);
    assert.equal(looksLikeHtml('<', ''), true);
  });
});

describe('assertSecureUrl', () => {
  it('a value that is not a string (a JavaScript caller): refused without quoting it', () => {
    for (const v of [undefined, null, 42]) {
      assert.throws(
        () => assertSecureUrl(v as unknown as string, 'token_url'),
        (e: unknown) => {
          assert.ok(e instanceof ConfigError, String(e));
          assert.equal(
            e.message.endsWith('is not a valid absolute URL; expected https://host/path'),
            true,
            e.message,
          );
          return true;
        },
      );
    }
  });
});
