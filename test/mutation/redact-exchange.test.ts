/**
 * The redaction of a logged HTTP exchange (src/http/redact-exchange.ts), function by function, on exact
 * outputs (written to kill the mutants StrykerJS found surviving there; see docs/testing.md): which
 * headers keep only their scheme, how form and JSON bodies are redacted field by field, the depth bound
 * of the JSON walk, and how a body given as text is recognised as JSON, a form, or plain text.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import {
  redactBodyText,
  redactForm,
  redactHeaders,
  redactJsonValue,
} from '../../src/http/redact-exchange.js';
import { clearRegisteredSecrets, REDACTED, registerSecret } from '../../src/redact.js';

beforeEach(() => clearRegisteredSecrets());

describe('redactHeaders', () => {
  it('a credential header keeps its scheme only; other headers pass through redactText', () => {
    registerSecret('echoed-secret-1');
    assert.deepEqual(
      redactHeaders({
        authorization: 'Basic dXNlcjpwYXNz',
        'x-api-key': 'plainvalue1234',
        accept: 'application/json',
        'x-note': 'it said echoed-secret-1',
      }),
      {
        authorization: `Basic ${REDACTED}`,
        'x-api-key': REDACTED,
        accept: 'application/json',
        'x-note': `it said ${REDACTED}`,
      },
    );
  });

  it('a scheme is only a leading word: a value with a word later on is redacted whole', () => {
    assert.deepEqual(redactHeaders({ 'x-api-key': '9f8e7d-secret more' }), { 'x-api-key': REDACTED });
    assert.deepEqual(redactHeaders({ authorization: 'opaquevalue' }), { authorization: REDACTED });
  });

  it('repeated headers are joined with ", "; absent ones are left out', () => {
    assert.deepEqual(redactHeaders({ 'set-cookie-ish': ['a=1', 'b=2'], gone: undefined, via: 'proxy' }), {
      'set-cookie-ish': 'a=1, b=2',
      via: 'proxy',
    });
  });
});

describe('redactForm', () => {
  it('secret fields are replaced (the marker not percent-encoded), absent fields are left out', () => {
    assert.equal(
      redactForm({
        grant_type: 'client_credentials',
        client_secret: 's3cr3t-value',
        scope: undefined,
        note: 'a b',
      }),
      `grant_type=client_credentials&client_secret=${REDACTED}&note=a+b`,
    );
  });
});

describe('redactJsonValue', () => {
  it('secret fields with a value are replaced, null or absent ones kept; everything else is copied', () => {
    registerSecret('echoed-secret-2');
    const input = {
      access_token: 'at-value-1234',
      client_secret: null,
      password: undefined,
      n: 5,
      ok: true,
      nothing: null,
      note: 'it said echoed-secret-2',
      list: ['echoed-secret-2', 7, { refresh_token: 'rt-value-1234', keep: 'k' }],
      nested: { id_token: 'x.y.z', name: 'n' },
    };
    assert.deepEqual(redactJsonValue(input), {
      access_token: REDACTED,
      client_secret: null,
      password: undefined,
      n: 5,
      ok: true,
      nothing: null,
      note: `it said ${REDACTED}`,
      list: [REDACTED, 7, { refresh_token: REDACTED, keep: 'k' }],
      nested: { id_token: REDACTED, name: 'n' },
    });
    assert.equal(redactJsonValue(null), null);
    assert.equal(redactJsonValue(3), 3);
  });

  it('the walk stops 21 levels down: what is deeper is replaced whole (arrays and objects alike)', () => {
    const deepArray = (levels: number, leaf: unknown): unknown =>
      levels === 0 ? leaf : [deepArray(levels - 1, leaf)];
    const deepObject = (levels: number, leaf: unknown): unknown =>
      levels === 0 ? leaf : { a: deepObject(levels - 1, leaf) };
    // Levels 0 to 20 are walked; the value at depth 21 is replaced.
    assert.deepEqual(redactJsonValue(deepArray(25, 'leaf')), deepArray(21, REDACTED));
    assert.deepEqual(redactJsonValue(deepObject(25, 'leaf')), deepObject(21, REDACTED));
    assert.deepEqual(redactJsonValue(deepArray(20, 'leaf')), deepArray(20, 'leaf'));
    assert.deepEqual(redactJsonValue(deepObject(20, 'leaf')), deepObject(20, 'leaf'));
  });
});

describe('redactBodyText', () => {
  it('JSON (object or array, around white space) is redacted field by field and written compactly', () => {
    assert.equal(
      redactBodyText('  { "client_secret": "has space inside", "n": 1 }\n'),
      `{"client_secret":"${REDACTED}","n":1}`,
    );
    assert.equal(
      redactBodyText('[ {"access_token": "abcd efgh"}, 2 ]'),
      `[{"access_token":"${REDACTED}"},2]`,
    );
  });

  it('text that only starts like JSON is redacted as text, white space and all', () => {
    assert.equal(redactBodyText(' {not json, password=hunter22 '), ` {not json, password=${REDACTED} `);
  });

  it('JSON that does not start with { or [ is text: returned as it came', () => {
    assert.equal(redactBodyText(' 42 '), ' 42 ');
    assert.equal(redactBodyText('"a\\u0041b"'), '"a\\u0041b"');
  });

  it('a form (a field name, "=", no space) is redacted field by field and re-encoded', () => {
    assert.equal(
      redactBodyText('note=hello%20world&client_secret=abc%21def'),
      `note=hello+world&client_secret=${REDACTED}`,
    );
    assert.equal(redactBodyText('x=1'), 'x=1');
  });

  it('text that is not a form: a space in it, or no field name at its start', () => {
    assert.equal(redactBodyText('a=b c'), 'a=b c');
    assert.equal(redactBodyText('@x=hello%20world'), '@x=hello%20world');
    assert.equal(redactBodyText('hello world'), 'hello world');
    assert.equal(redactBodyText('=novalue%20here'), '=novalue%20here');
  });
});
