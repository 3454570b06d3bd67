/**
 * How the HTTP layer reads an answer (src/http/response.ts), on exact messages: a 2xx body must be a
 * JSON object (and what came instead is named: too large, empty, HTML, truncated or malformed JSON, a
 * non-object); an error answer's OAuth fields (both shapes, redacted, clipped); the error for each kind
 * of status (redirects named without their query, the unavailable statuses, the hints).
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { InvalidTokenResponseError, TokenEndpointError, UpstreamUnavailableError } from '../../src/errors.js';
import {
  errorForStatus,
  looksLikeHtml,
  oauthErrorFields,
  parseSuccessBody,
  type RawAnswer,
  UNAVAILABLE_STATUSES,
} from '../../src/http/response.js';
import { clearRegisteredSecrets, REDACTED, registerSecret } from '../../src/redact.js';

const url = 'https://idp.example.com/token';
const ctx = { what: 'token endpoint', url, maxBytes: 1000 };
const answer = (
  status: number,
  text: string | undefined,
  headers: Record<string, string> = {},
): RawAnswer => ({
  status,
  headers,
  ...(text === undefined ? {} : { text }),
  bytes: text === undefined ? 2000 : Buffer.byteLength(text),
});
const head = (status: number) => `token endpoint ${url} answered HTTP ${status}`;

beforeEach(() => clearRegisteredSecrets());

describe('parseSuccessBody', () => {
  const refused = (a: RawAnswer, message: string) =>
    assert.throws(
      () => parseSuccessBody(a, ctx),
      (e: unknown) => {
        assert.ok(e instanceof InvalidTokenResponseError, String(e));
        assert.equal(e.message, message);
        assert.equal(e.status, a.status);
        assert.equal(e.url, url);
        return true;
      },
    );

  it('a JSON object is returned as parsed', () => {
    assert.deepEqual(parseSuccessBody(answer(200, ' {"a":1} '), ctx), { a: 1 });
    assert.deepEqual(parseSuccessBody(answer(201, '{}', { 'content-type': 'application/json' }), ctx), {});
  });

  it('too large, empty (with or without content type), only white space', () => {
    refused(
      answer(200, undefined),
      `${head(200)} with a body larger than 1000 bytes; stopped reading (raise maxResponseBytes if this is expected)`,
    );
    refused(answer(200, ''), `${head(200)} with an empty body (no content-type), not JSON`);
    refused(
      answer(200, ' \n ', { 'content-type': 'Application/JSON; charset=utf-8' }),
      `${head(200)} with an empty body (content-type application/json), not JSON`,
    );
  });

  it('an HTML page, by content type or by its first character', () => {
    const tail = 'not JSON; check the URL (a login page or a proxy may be answering)';
    refused(
      answer(200, '{"a":1}', { 'content-type': 'text/html; charset=utf-8' }),
      `${head(200)} with an HTML page (content-type text/html), ${tail}`,
    );
    refused(
      answer(200, '{}', { 'content-type': 'application/xhtml+xml' }),
      `${head(200)} with an HTML page (content-type application/xhtml+xml), ${tail}`,
    );
    refused(answer(200, '  <!DOCTYPE html><p>'), `${head(200)} with an HTML page (no content-type), ${tail}`);
    refused(answer(200, '<HTML>'), `${head(200)} with an HTML page (no content-type), ${tail}`);
    // The content type is trimmed before its parameters are dropped.
    refused(
      answer(200, '{"a":1}', { 'content-type': ' Text/HTML ;charset=utf-8' }),
      `${head(200)} with an HTML page (content-type text/html), ${tail}`,
    );
    refused(answer(200, '<div>'), `${head(200)} with an HTML page (no content-type), ${tail}`);
  });

  it('XML is not HTML: it is malformed JSON (the parser names no position there)', () => {
    refused(
      answer(200, '<?xml version="1.0"?>'),
      `${head(200)} with malformed JSON (no content-type, 21 bytes)`,
    );
  });

  it('truncated JSON (the parser ran off the end, or stopped at or past the last character) or malformed', () => {
    refused(answer(200, '{"a":'), `${head(200)} with truncated JSON (no content-type, 5 bytes)`);
    refused(
      answer(200, '{"a":"b'),
      `${head(200)} with truncated JSON (parse error at byte 7) (no content-type, 7 bytes)`,
    );
    // Stopped exactly at the end, and past the end of the text without its trailing white space.
    refused(
      answer(200, '{"a":1,'),
      `${head(200)} with truncated JSON (parse error at byte 7) (no content-type, 7 bytes)`,
    );
    refused(
      answer(200, '{"a"'),
      `${head(200)} with truncated JSON (parse error at byte 4) (no content-type, 4 bytes)`,
    );
    refused(
      answer(200, '{"a":1,   '),
      `${head(200)} with truncated JSON (parse error at byte 10) (no content-type, 10 bytes)`,
    );
    // Stopped before the end: malformed.
    refused(
      answer(200, '{"a" 1}', { 'content-type': 'application/json' }),
      `${head(200)} with malformed JSON (parse error at byte 5) (content-type application/json, 7 bytes)`,
    );
    refused(
      answer(200, '{"a":1}\n}'),
      `${head(200)} with malformed JSON (parse error at byte 8) (no content-type, 9 bytes)`,
    );
    // The size is in bytes, not characters.
    refused(answer(200, '{"é":x}'), `${head(200)} with malformed JSON (no content-type, 8 bytes)`);
  });

  it('JSON that is not an object is named', () => {
    refused(answer(200, '[1]'), `${head(200)} with JSON that is an array, not an object`);
    refused(answer(200, 'null'), `${head(200)} with JSON that is null, not an object`);
    refused(answer(200, '"x"'), `${head(200)} with JSON that is a string, not an object`);
    refused(answer(200, '42'), `${head(200)} with JSON that is a number, not an object`);
    refused(answer(200, 'true'), `${head(200)} with JSON that is a boolean, not an object`);
  });
});

describe('looksLikeHtml', () => {
  it('by content type, or a body starting with "<" that is not XML', () => {
    assert.equal(looksLikeHtml('{}', 'text/html'), true);
    assert.equal(looksLikeHtml('{}', 'application/xhtml+xml'), true);
    assert.equal(looksLikeHtml('{}', 'text/plain'), false);
    assert.equal(looksLikeHtml('\n\t<!doctype HTML>', ''), true);
    assert.equal(looksLikeHtml('<?xml version="1.0"?><html>', ''), false);
    assert.equal(looksLikeHtml('x<html>', ''), false);
    assert.equal(looksLikeHtml('', ''), false);
  });
});

describe('oauthErrorFields', () => {
  it('{error, error_description}, or {error: {code, message}}, or a message; strings only', () => {
    assert.deepEqual(oauthErrorFields('{"error":"invalid_grant","error_description":"expired"}'), {
      error: 'invalid_grant',
      errorDescription: 'expired',
    });
    assert.deepEqual(oauthErrorFields('{"error":{"code":"E1","message":"bad"}}'), {
      error: 'E1',
      errorDescription: 'bad',
    });
    assert.deepEqual(oauthErrorFields('{"error":{"code":"E1","message":"bad"},"error_description":"wins"}'), {
      error: 'E1',
      errorDescription: 'wins',
    });
    assert.deepEqual(oauthErrorFields('{"message":"only a message"}'), {
      errorDescription: 'only a message',
    });
    assert.deepEqual(oauthErrorFields('{"error_description":"d","message":"m"}'), { errorDescription: 'd' });
    assert.deepEqual(oauthErrorFields('{"error":5,"error_description":7}'), {});
    assert.deepEqual(oauthErrorFields('{"error":{"code":5,"message":null}}'), {});
    assert.deepEqual(oauthErrorFields('{"error":null}'), {});
  });

  it('anything but a JSON object gives nothing', () => {
    for (const t of [undefined, '', 'not json', '[{"error":"x"}]', 'null', '"invalid_grant"']) {
      assert.deepEqual(oauthErrorFields(t), {}, String(t));
    }
  });

  it('redacted, then clipped: error to 200 characters, the description to 500', () => {
    const long = (n: number) => 'e'.repeat(n);
    assert.deepEqual(oauthErrorFields(JSON.stringify({ error: long(200), error_description: long(500) })), {
      error: long(200),
      errorDescription: long(500),
    });
    assert.deepEqual(oauthErrorFields(JSON.stringify({ error: long(201), error_description: long(501) })), {
      error: `${long(200)}…`,
      errorDescription: `${long(500)}…`,
    });
    assert.deepEqual(oauthErrorFields(JSON.stringify({ error: { code: long(201), message: long(501) } })), {
      error: `${long(200)}…`,
      errorDescription: `${long(500)}…`,
    });
    registerSecret('s3cret-value-1');
    assert.deepEqual(
      oauthErrorFields(
        JSON.stringify({ error: 'bad s3cret-value-1', error_description: 'with s3cret-value-1' }),
      ),
      { error: `bad ${REDACTED}`, errorDescription: `with ${REDACTED}` },
    );
    assert.deepEqual(
      oauthErrorFields(JSON.stringify({ error: { code: 's3cret-value-1', message: 's3cret-value-1' } })),
      {
        error: REDACTED,
        errorDescription: REDACTED,
      },
    );
  });
});

describe('errorForStatus', () => {
  const err = (
    a: RawAnswer,
    extra: { attempts: number; retryAfter?: number; retryBudgetMs?: number } = { attempts: 1 },
  ) => errorForStatus(a, ctx, extra);

  it('OAuth fields: "(error: description)" and the hint for the error or status', () => {
    const e = err(answer(400, '{"error":"invalid_grant","error_description":"expired"}'));
    assert.ok(e instanceof TokenEndpointError && !(e instanceof UpstreamUnavailableError));
    assert.equal(
      e.message,
      `${head(400)} (invalid_grant: expired); the credentials, code or refresh token were not accepted`,
    );
    assert.equal(e.error, 'invalid_grant');
    assert.equal(e.errorDescription, 'expired');
    assert.equal(e.status, 400);
    assert.equal(e.url, url);
    const hints: Array<[number, string, string]> = [
      [400, 'invalid_client', '; check client_id, the client secret or key, and auth_method'],
      [403, 'invalid_scope', '; check the scope the profile asks for'],
      [400, 'unauthorized_client', '; the client is not allowed to use this grant'],
      [400, 'unsupported_grant_type', '; the client is not allowed to use this grant'],
      [400, 'invalid_request', ''],
      [401, 'invalid_request', '; check client_id, the client secret or key, and auth_method'],
      [500, 'server_error', '; the server failed, try again later'],
      [499, 'x', ''],
    ];
    for (const [status, error, hint] of hints) {
      assert.equal(
        err(answer(status, JSON.stringify({ error }))).message,
        `${head(status)} (${error})${hint}`,
      );
    }
    assert.equal(err(answer(400, '{"error_description":"only"}')).message, `${head(400)} (only)`);
  });

  it('without OAuth fields: too large, empty, HTML, or the text itself (one line, clipped to 120)', () => {
    assert.equal(
      err(answer(500, undefined)).message,
      `${head(500)} with an error body larger than 1000 bytes; the server failed, try again later`,
    );
    assert.equal(
      err(answer(401, '  ')).message,
      `${head(401)} with an empty body; check client_id, the client secret or key, and auth_method`,
    );
    assert.equal(
      err(answer(404, '<html>', { 'content-type': 'text/html' })).message,
      `${head(404)} with an HTML error page (content-type text/html), not an OAuth JSON error`,
    );
    assert.equal(err(answer(400, ' a \n\t b ')).message, `${head(400)}: "a b"`);
    const t = 'x'.repeat(121);
    assert.equal(err(answer(400, t)).message, `${head(400)}: "${'x'.repeat(120)}…"`);
    assert.equal(err(answer(400, 'x'.repeat(120))).message, `${head(400)}: "${'x'.repeat(120)}"`);
    registerSecret('s3cret value 2');
    assert.equal(err(answer(400, 'leaked s3cret value 2')).message, `${head(400)}: "leaked ${REDACTED}"`);
  });

  it('after several attempts the count is said; one attempt says nothing', () => {
    assert.equal(
      err(answer(400, ''), { attempts: 3 }).message,
      `${head(400)} after 3 attempts with an empty body`,
    );
    assert.equal(err(answer(400, ''), { attempts: 1 }).message, `${head(400)} with an empty body`);
  });

  it('429, 502, 503, 504 are UpstreamUnavailableError (with Retry-After said and carried); 500 is not', () => {
    assert.deepEqual([...UNAVAILABLE_STATUSES].sort(), [429, 502, 503, 504]);
    for (const status of [429, 502, 503, 504]) {
      const e = err(answer(status, ''), { attempts: 1, retryAfter: 7 });
      assert.ok(e instanceof UpstreamUnavailableError, String(status));
      assert.equal(e.code, 'ERR_UPSTREAM_UNAVAILABLE');
      assert.equal(e.retryAfter, 7);
      assert.ok(e.message.endsWith(' (Retry-After: 7 s)'), e.message);
    }
    assert.equal(
      err(answer(429, '')).message,
      `${head(429)} with an empty body; the server is rate limiting, try again later`,
    );
    const e500 = err(answer(500, ''), { attempts: 1, retryAfter: 7 });
    assert.ok(!(e500 instanceof UpstreamUnavailableError));
    assert.equal(e500.retryAfter, 7);
    assert.equal(e500.message, `${head(500)} with an empty body; the server failed, try again later`);
  });

  it('Retry-After longer than the retry budget: not retried, said so (budget in whole seconds)', () => {
    const e = err(answer(503, '{"error":"busy"}'), { attempts: 1, retryAfter: 120, retryBudgetMs: 10_400 });
    assert.ok(e instanceof UpstreamUnavailableError);
    assert.equal(
      e.message,
      `${head(503)} and asked to retry after 120 s, longer than the retry budget (10 s); not retried now, try again after that`,
    );
    assert.equal(e.error, 'busy');
    assert.equal(e.retryAfter, 120);
    // Only with both a budget and a Retry-After, and only for the unavailable statuses.
    assert.ok(!err(answer(503, ''), { attempts: 1, retryBudgetMs: 10_000 }).message.includes('retry budget'));
    assert.ok(
      !err(answer(500, ''), { attempts: 1, retryAfter: 120, retryBudgetMs: 10_000 }).message.includes(
        'retry budget',
      ),
    );
  });

  it('a redirect (300-399) names its target without query, fragment or credentials; never followed', () => {
    const tail =
      '; tokenward does not follow redirects from a token endpoint (the request carries credentials): set the URL to the final endpoint';
    const e = err(answer(302, '', { location: 'https://u:p@login.example.com/a/b?code=secret#frag' }));
    assert.ok(e instanceof TokenEndpointError && !(e instanceof UpstreamUnavailableError));
    assert.equal(e.message, `${head(302)} with a redirect to https://login.example.com/a/b${tail}`);
    assert.equal(
      err(answer(307, '', { location: '/other?x=1' })).message,
      `${head(307)} with a redirect to https://idp.example.com/other${tail}`,
    );
    assert.equal(err(answer(300, '')).message, `${head(300)} with a redirect${tail}`);
    assert.equal(err(answer(399, '', { location: '  ' })).message, `${head(399)} with a redirect${tail}`);
    assert.equal(
      err(answer(301, '', { location: 'http://[bad' })).message,
      `${head(301)} with a redirect${tail}`,
    );
    assert.equal(err(answer(400, '', { location: '/x' })).message, `${head(400)} with an empty body`);
    assert.equal(err(answer(299, '', { location: '/x' })).message, `${head(299)} with an empty body`);
  });
});
