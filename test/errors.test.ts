import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../src/errors.js';
import { registerSecret } from '../src/redact.js';

describe('ConfigError', () => {
  it('keeps the words of a message about a secret-named key', () => {
    for (const key of ['password', 'client_secret', 'app_secret', 'refresh_token']) {
      const e = new ConfigError('is required for this grant', { key, file: '/etc/tw.toml', line: 7 });
      assert.equal(e.message, `/etc/tw.toml:7: ${key}: is required for this grant`);
      assert.ok(e.stack?.startsWith(`ConfigError: ${e.message}`));
      assert.equal(e.key, key);
    }
  });

  it('still redacts a secret inside the message', () => {
    registerSecret('s3cret-value-for-config-error');
    const e = new ConfigError('cannot use s3cret-value-for-config-error here', { key: 'client_secret' });
    assert.ok(!e.message.includes('s3cret-value-for-config-error'));
    assert.ok(!String(e.stack).includes('s3cret-value-for-config-error'));
    assert.match(e.message, /^client_secret: cannot use \[REDACTED\] here$/);
  });
});
