import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_RECENT_TOKENS, redactText, registerSecret, registerToken, registrySize } from '../src/redact.js';
import { parseTokenResponse } from '../src/token.js';

describe('the redaction registry', () => {
  it('keeps long-lived secrets and their encodings for good', () => {
    registerSecret('pa ss/word+1');
    for (let i = 0; i < MAX_RECENT_TOKENS * 2; i++) registerToken(`opaque-token-${i}-xyz`);
    const text = `a pa ss/word+1 b ${encodeURIComponent('pa ss/word+1')} c ${Buffer.from('pa ss/word+1').toString('base64')}`;
    assert.equal(redactText(text), 'a [REDACTED] b [REDACTED] c [REDACTED]');
  });

  it('remembers only the most recent issued tokens, so a long-running process does not grow', () => {
    const before = registrySize().secrets;
    for (let i = 0; i < 5_000; i++) {
      parseTokenResponse(
        { access_token: `at-${i}-0123456789`, refresh_token: `rt-${i}-0123456789`, expires_in: 60 },
        { url: 'http://127.0.0.1/token' },
      );
    }
    const size = registrySize();
    assert.equal(size.tokens, MAX_RECENT_TOKENS);
    assert.equal(size.secrets, before, 'issued tokens do not enter the long-lived tier');
    assert.equal(redactText('x at-4999-0123456789 y rt-4999-0123456789'), 'x [REDACTED] y [REDACTED]');
  });

  it('an old token is still caught by the credential patterns where it travels as one', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    assert.equal(redactText(`Authorization: Bearer old-opaque-value`), 'Authorization: Bearer [REDACTED]');
    assert.equal(redactText(`token ${jwt} end`), 'token [REDACTED] end');
    assert.equal(redactText('refresh_token=old-opaque-value&x=1'), 'refresh_token=[REDACTED]&x=1');
  });
});

describe('the registry makes encodings when it is next used', () => {
  it('a secret or token registered after a redaction is redacted in every encoding', () => {
    registerSecret('lazy-first-secret-value');
    assert.equal(redactText('x lazy-first-secret-value y'), 'x [REDACTED] y');
    // The pattern is built now; what is registered later must still be expanded and matched.
    const secret = 'lazy-second-secret-value';
    registerSecret(secret);
    const b64 = Buffer.from(secret).toString('base64');
    const hex = Buffer.from(secret).toString('hex');
    assert.equal(
      redactText(`a ${b64} b ${hex} c ${encodeURIComponent(secret)}`),
      'a [REDACTED] b [REDACTED] c [REDACTED]',
    );
    const token = 'lazy.token.value-0123456789';
    registerToken(token);
    assert.equal(redactText(`t=${Buffer.from(token).toString('base64url')}`), 't=[REDACTED]');
    assert.equal(redactText('lazy-first-secret-value'), '[REDACTED]', 'the earlier secret still');
  });

  it('registrySize counts the encodings of secrets not used yet', () => {
    const before = registrySize().secrets;
    registerSecret('lazy-counted-secret-value');
    assert.ok(registrySize().secrets >= before + 3, 'the value, its Base64 and its hex are counted');
  });
});
