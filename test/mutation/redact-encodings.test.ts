/**
 * Redaction of a secret in the forms a server echoes it in (written to kill the mutants StrykerJS found
 * surviving in src/redact.ts; see docs/testing.md): its JSON string forms (escaped, `\u00f6` and
 * `\u00F6`), the WHATWG form-encoding `URLSearchParams` sends, and the credentials of a Basic header —
 * each asserted on the exact text that comes out, so a mutant that redacts a little more or a little less
 * (an extra quote, a stray `x=`, a prefix left behind) is seen.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { encodeBasicCredentials, formUrlEncode } from '../../src/auth/basic.js';
import {
  clearRegisteredSecrets,
  REDACTED,
  redactText,
  registerBasicCredentials,
  registerSecret,
  registerToken,
  registrySize,
  secretEncodings,
} from '../../src/redact.js';

beforeEach(() => clearRegisteredSecrets());

describe('a secret echoed inside JSON', () => {
  // A quote, a backslash and a non-ASCII letter: each JSON form differs from the others.
  const secret = 'pa"ss\\wörd-1';

  it('escaped as JSON.stringify writes it: the string content is redacted, its quotes are kept', () => {
    registerSecret(secret);
    const body = JSON.stringify({ note: secret });
    assert.equal(body, '{"note":"pa\\"ss\\\\wörd-1"}');
    assert.equal(redactText(body), `{"note":"${REDACTED}"}`);
    assert.equal(redactText('said pa\\"ss\\\\wörd-1.'), `said ${REDACTED}.`);
  });

  it('with non-ASCII escaped as \\u00f6 (lower-case hex, padded to four digits) and as \\u00F6', () => {
    registerSecret(secret);
    assert.equal(redactText('{"note":"pa\\"ss\\\\w\\u00f6rd-1"}'), `{"note":"${REDACTED}"}`);
    assert.equal(redactText('{"note":"pa\\"ss\\\\w\\u00F6rd-1"}'), `{"note":"${REDACTED}"}`);
    // Only characters outside ASCII are escaped: the ASCII ones stay as they are in every JSON form.
    assert.deepEqual(
      secretEncodings(secret).filter((e) => e.includes('\\u')),
      ['pa\\"ss\\\\w\\u00f6rd-1', 'pa\\"ss\\\\w\\u00F6rd-1'],
    );
  });

  it('a character above U+0FFF keeps its four hex digits, upper-cased in the second form', () => {
    registerSecret('key-€uro-9');
    assert.equal(redactText('"key-\\u20acuro-9"'), `"${REDACTED}"`);
    assert.equal(redactText('"key-\\u20ACuro-9"'), `"${REDACTED}"`);
  });
});

describe('a value echoed as URLSearchParams encodes it (WHATWG form-encoding)', () => {
  // `*` is left alone by WHATWG but encoded by RFC 6749; `~` the other way round.
  const secret = 'ab*cd~ef-1';

  it('a secret: once and twice percent-encoded, nothing of the parameter name around it', () => {
    registerSecret(secret);
    const whatwg = new URLSearchParams({ s: secret }).toString().slice(2);
    assert.equal(whatwg, 'ab*cd%7Eef-1');
    assert.notEqual(formUrlEncode(secret), whatwg);
    assert.notEqual(encodeURIComponent(secret), whatwg);
    assert.equal(redactText(`[${whatwg}]`), `[${REDACTED}]`);
    assert.equal(redactText(`[${encodeURIComponent(whatwg)}]`), `[${REDACTED}]`);
  });

  it('an issued token', () => {
    registerToken('tok~en-1234');
    assert.equal(redactText('[tok%7Een-1234]'), `[${REDACTED}]`);
  });
});

describe('registerBasicCredentials', () => {
  it('RFC 6749 credentials: the header value, the pair as sent and decoded, the secret as sent and decoded', () => {
    const b64 = encodeBasicCredentials('my client', 'p@ss w0rd!');
    registerBasicCredentials(b64);
    assert.equal(redactText(`Authorization: ${b64}`), `Authorization: ${REDACTED}`);
    assert.equal(redactText('got my+client:p%40ss+w0rd%21 ok'), `got ${REDACTED} ok`);
    assert.equal(redactText('got p%40ss+w0rd%21 ok'), `got ${REDACTED} ok`);
    assert.equal(redactText('got p@ss w0rd! ok'), `got ${REDACTED} ok`);
    // The pair with both halves decoded is one secret, not an id followed by a redacted secret.
    assert.equal(redactText('got my client:p@ss w0rd! ok'), `got ${REDACTED} ok`);
    assert.equal(redactText('client my client'), 'client my client', 'the client id alone is not a secret');
  });

  it('surrounding white space is trimmed before the value is decoded', () => {
    registerBasicCredentials(`  ${encodeBasicCredentials('trim-id', 'trim-secret')}\t`);
    assert.equal(redactText(encodeBasicCredentials('trim-id', 'trim-secret')), REDACTED);
    assert.equal(redactText('[trim-secret]'), `[${REDACTED}]`);
  });

  it('Base64 with one, two or no padding characters is decoded', () => {
    const secrets = ['pad-secret012', 'pad-secret0', 'pad-secret01'];
    for (const secret of secrets) {
      const b64 = encodeBasicCredentials('id', secret);
      registerBasicCredentials(b64);
      assert.equal(redactText(`[${secret}]`), `[${REDACTED}]`, b64);
    }
    assert.deepEqual(
      secrets.map((s) => encodeBasicCredentials('id', s).match(/=*$/)?.[0].length),
      [2, 1, 0],
      'the three secrets cover the three paddings',
    );
  });

  it('an empty client id: the secret after the leading colon is registered', () => {
    registerBasicCredentials(Buffer.from(':lone-secret').toString('base64'));
    assert.equal(redactText('[lone-secret]'), `[${REDACTED}]`);
  });

  it('a value that is not Base64 is registered as it is, and not decoded', () => {
    const b64 = Buffer.from('nb-id:not-decoded-1').toString('base64');
    // Node decodes Base64 leniently, ignoring the stray characters: the check is what stops it.
    for (const v of [`${b64}*`, `*${b64}`]) {
      assert.equal(Buffer.from(v, 'base64').toString('utf8'), 'nb-id:not-decoded-1');
      registerBasicCredentials(v);
      assert.equal(redactText(`<${v}>`), `<${REDACTED}>`);
    }
    assert.equal(redactText('not-decoded-1 nb-id:not-decoded-1'), 'not-decoded-1 nb-id:not-decoded-1');
    assert.deepEqual(registrySize(), {
      secrets: secretEncodings(`${b64}*`).length + secretEncodings(`*${b64}`).length,
      tokens: 0,
    });
  });

  it('Base64 of something without a colon registers only the Base64', () => {
    const b64 = Buffer.from('no-colon-here').toString('base64');
    registerBasicCredentials(b64);
    assert.equal(redactText('no-colon-here'), 'no-colon-here');
    assert.deepEqual(registrySize(), { secrets: secretEncodings(b64).length, tokens: 0 });
  });

  it('raw credentials whose percent signs are not percent-encoding: registered as sent, nothing invented', () => {
    const b64 = encodeBasicCredentials('100%club', '50%off-now', 'raw');
    registerBasicCredentials(b64);
    assert.equal(redactText('[100%club:50%off-now]'), `[${REDACTED}]`);
    assert.equal(redactText('[50%off-now]'), `[${REDACTED}]`);
    // Neither half can be form-decoded: no decoded secret, no decoded pair (nor an "undefined" one).
    assert.deepEqual(registrySize(), {
      secrets: new Set([
        ...secretEncodings(b64),
        ...secretEncodings('100%club:50%off-now'),
        ...secretEncodings('50%off-now'),
      ]).size,
      tokens: 0,
    });
    assert.equal(
      redactText('undefined:undefined 100%club:undefined'),
      'undefined:undefined 100%club:undefined',
    );
  });

  it('a raw secret that cannot be decoded, with an id that can: no pair is made up from the secret', () => {
    const b64 = encodeBasicCredentials('okid', '50%off-now', 'raw');
    registerBasicCredentials(b64);
    assert.equal(redactText('[okid:50%off-now] [50%off-now]'), `[${REDACTED}] [${REDACTED}]`);
    assert.equal(redactText('okid:undefined'), 'okid:undefined');
  });

  it('a raw id that cannot be decoded, with a secret that can: no pair is made up from the id', () => {
    const b64 = encodeBasicCredentials('id%zz', 'fine+secret', 'raw');
    registerBasicCredentials(b64);
    assert.equal(redactText('[fine secret] [fine+secret]'), `[${REDACTED}] [${REDACTED}]`);
    assert.equal(redactText('[undefined:fine secret]'), `[undefined:${REDACTED}]`);
  });
});
