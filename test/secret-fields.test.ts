/**
 * The one catalogue of secret names (src/secret-fields.ts) and the redaction built on it: every user of
 * the catalogue agrees, every encoding of a registered secret is redacted, redaction happens before
 * clipping, and prose about a secret key keeps its words.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeBasicCredentials, formUrlEncode } from '../src/auth/index.js';
import { PROFILE_KEYS } from '../src/config/schema.js';
import { isSecretKey, SECRET_KEYS } from '../src/config/secrets.js';
import { ConfigError } from '../src/errors.js';
import { redactBodyText, redactForm, redactHeaders } from '../src/http/redact-exchange.js';
import { errorForStatus, oauthErrorFields } from '../src/http/response.js';
import { canonicalParams } from '../src/providers/values.js';
import {
  REDACTED,
  redactText,
  registerBasicCredentials,
  registerSecret,
  secretEncodings,
} from '../src/redact.js';
import {
  isSecretField,
  isSecretHeader,
  isSecretProfileKey,
  SECRET_FIELD_NAMES,
  SECRET_PROFILE_KEYS,
  secretTier,
} from '../src/secret-fields.js';

describe('the catalogue of secret names', () => {
  it('names the usual secret fields and leaves their non-secret neighbours alone', () => {
    for (const n of [
      'client_secret',
      'password',
      'newPassword',
      'refresh_token',
      'client_assertion',
      'api_key',
      'X-Api-Key',
      'apiKey',
      'session_token',
      'code',
      'code_verifier',
      'db_passphrase',
      'aws_credentials',
    ]) {
      assert.equal(isSecretField(n), true, n);
    }
    for (const n of [
      'token_type',
      'token_type_hint',
      'requested_token_type',
      'client_assertion_type',
      'token_endpoint',
      'token_url',
      'key_id',
      'client_id',
      'username',
      'scope',
      'grant_type',
      'expires_in',
      'region',
      '',
    ]) {
      assert.equal(isSecretField(n), false, n);
    }
    for (const n of SECRET_FIELD_NAMES) assert.equal(isSecretField(n), true, n);
  });

  it('the config, the params rule and the field rule agree', () => {
    assert.deepEqual([...SECRET_KEYS], [...SECRET_PROFILE_KEYS]);
    // Exactly the profile keys named like secrets are the secret profile keys: one rule, not two lists.
    assert.deepEqual(PROFILE_KEYS.filter((k) => isSecretField(k)).sort(), [...SECRET_PROFILE_KEYS].sort());
    for (const k of PROFILE_KEYS) assert.equal(isSecretKey(k), isSecretProfileKey(k), k);
    for (const n of ['api_key', 'client_assertion', 'my_token', 'region', 'tenant']) {
      assert.equal(isSecretKey(n, true), isSecretField(n), n);
    }
  });

  it('sorts secrets into tiers: issued credentials and long-lived secrets', () => {
    assert.equal(secretTier('access_token'), 'token');
    assert.equal(secretTier('client_assertion'), 'token');
    assert.equal(secretTier('code'), 'token');
    assert.equal(secretTier('client_secret'), 'secret');
    assert.equal(secretTier('password'), 'secret');
    assert.equal(secretTier('api_key'), 'secret');
    assert.equal(secretTier('scope'), undefined);
  });

  it('headers: credential headers and headers named like secrets', () => {
    for (const h of ['Authorization', 'proxy-authorization', 'Cookie', 'X-Api-Key', 'x-auth-token']) {
      assert.equal(isSecretHeader(h), true, h);
    }
    for (const h of ['content-type', 'x-request-id', 'accept']) assert.equal(isSecretHeader(h), false, h);
    assert.deepEqual(redactHeaders({ 'x-api-key': 'k-123456', accept: 'application/json' }), {
      'x-api-key': REDACTED,
      accept: 'application/json',
    });
  });

  it('the text patterns, the form trace and the JSON trace use the same catalogue', () => {
    assert.equal(
      redactText('api_key=abc123&token_type=Bearer&x=1'),
      `api_key=${REDACTED}&token_type=Bearer&x=1`,
    );
    assert.equal(redactForm({ api_key: 'abc123', region: 'eu' }), `api_key=${REDACTED}&region=eu`);
    assert.equal(
      redactBodyText('{"apiKey":"abc123","token_type":"Bearer"}'),
      `{"apiKey":"${REDACTED}","token_type":"Bearer"}`,
    );
  });

  it('a secret param is never literally in the identity, and two values still differ', () => {
    const a = canonicalParams({ api_key: 'SECRET-VALUE-1', region: 'eu' });
    const b = canonicalParams({ api_key: 'SECRET-VALUE-2', region: 'eu' });
    assert.ok(!a.includes('SECRET-VALUE'), a);
    assert.match(a, /^api_key=sha256:[0-9a-f]{16}&region=eu$/);
    assert.notEqual(a, b);
    assert.equal(a, canonicalParams({ region: 'eu', api_key: 'SECRET-VALUE-1' }), 'stable');
  });
});

describe('redaction of registered secrets', () => {
  it('prose about a secret key keeps its words', () => {
    for (const text of [
      'profiles.p.client_secret: environment variable X is not set (referenced as env:X)',
      'password: is required for grant = "password"',
      'params.api_key: the secret command printed nothing',
    ]) {
      assert.equal(redactText(text), text);
    }
    const e = new ConfigError('environment variable CS_VAR is not set', { key: 'profiles.p.client_secret' });
    assert.equal(redactText(e.message), 'profiles.p.client_secret: environment variable CS_VAR is not set');
    // Values are still redacted wherever they look like values.
    assert.equal(redactText('password:hunter22 x'), `password:${REDACTED} x`);
    assert.equal(redactText(`password: 'hunter22'`), `password: '${REDACTED}'`);
    assert.equal(redactText('{"password": "hunter22"}'), `{"password": "${REDACTED}"}`);
  });

  it('every encoding of a registered secret is redacted, in any surrounding text', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 6, maxLength: 24, unit: 'grapheme' }).filter((s) => s.trim().length >= 6),
        fc.string({ maxLength: 20 }),
        fc.string({ maxLength: 20 }),
        (secret, before, after) => {
          registerSecret(secret);
          for (const enc of secretEncodings(secret)) {
            const out = redactText(`${before}${enc}${after}`);
            assert.ok(!out.includes(enc), `${JSON.stringify(enc)} survived in ${JSON.stringify(out)}`);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it("RFC 6749 form-encoding differs from encodeURIComponent for ! ' ( ) * and space: both are redacted", () => {
    const secret = "fe-q! '()*-é";
    registerSecret(secret);
    assert.notEqual(formUrlEncode(secret), encodeURIComponent(secret));
    for (const v of [
      formUrlEncode(secret),
      encodeURIComponent(secret),
      new URLSearchParams({ s: secret }).toString().slice(2),
    ]) {
      assert.equal(redactText(`[${v}]`), `[${REDACTED}]`, v);
    }
  });

  it('Basic credentials: the header, the decoded pair and the raw secret are all registered', () => {
    const secret = "bc-q! '()*-ü";
    const b64 = encodeBasicCredentials('basic-id', secret);
    registerBasicCredentials(b64);
    const decoded = Buffer.from(b64, 'base64').toString('utf8');
    for (const v of [b64, decoded, `basic-id:${secret}`, secret, formUrlEncode(secret)]) {
      const out = redactText(`echo <${v}>`);
      assert.ok(!out.includes(v), `${v} survived: ${out}`);
    }
    assert.equal(redactText('basic-id'), 'basic-id', 'the client id alone is not a secret');
    const raw = encodeBasicCredentials('raw-id', "rw-q! '()*-ø", 'raw');
    registerBasicCredentials(raw);
    assert.equal(redactText("x rw-q! '()*-ø y"), `x ${REDACTED} y`);
  });
});

describe('redact first, then clip', () => {
  it('a secret straddling the 500/200-character cut of error_description / error leaks nothing', () => {
    const secret = 'straddle-q7! ()*-Ω-0123456789';
    registerSecret(secret);
    for (let pad = 480; pad <= 500; pad++) {
      const body = JSON.stringify({
        error: `${'e'.repeat(pad - 300)}${secret}`,
        error_description: `${'d'.repeat(pad)}${secret}`,
      });
      const f = oauthErrorFields(body);
      for (const part of [f.error ?? '', f.errorDescription ?? '']) {
        for (let i = 0; i + 8 <= secret.length; i++) {
          assert.ok(!part.includes(secret.slice(i, i + 8)), `pad ${pad}: ${part.slice(-40)}`);
        }
      }
    }
  });

  it('a secret with runs of white space in a text body is redacted before the body is collapsed', () => {
    const secret = 'ws-q7  two\tspaces\n-Ω';
    registerSecret(secret);
    const e = errorForStatus(
      { status: 400, headers: { 'content-type': 'text/plain' }, text: `bad: ${secret} end`, bytes: 0 },
      { what: 'token endpoint', url: 'http://127.0.0.1/t', maxBytes: 1000 },
      { attempts: 1 },
    );
    assert.ok(!e.message.includes('two'), e.message);
    assert.match(e.message, /bad: \[REDACTED\] end/);
  });
});
