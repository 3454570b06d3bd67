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
