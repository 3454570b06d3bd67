/**
 * Redaction, pinned edge by edge (written to kill the mutants StrykerJS found surviving in src/redact.ts;
 * see docs/testing.md). Each test states a behaviour a user relies on: which values are secrets, that a
 * registration takes effect at once, the registry's bound, and exactly what each credential pattern hides.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import {
  clearRegisteredSecrets,
  MAX_RECENT_TOKENS,
  maskToken,
  REDACTED,
  redactText,
  registerSecret,
  registerToken,
  registerUrlPassword,
  registrySize,
  secretEncodings,
} from '../../src/redact.js';

beforeEach(() => clearRegisteredSecrets());

describe('registry: what is a secret', () => {
  it('with nothing registered, text without credentials is returned unchanged', () => {
    assert.deepEqual(registrySize(), { secrets: 0, tokens: 0 });
    assert.equal(redactText('plain text, nothing secret: 1234'), 'plain text, nothing secret: 1234');
    assert.equal(redactText(''), '');
  });

  it('a secret of four characters is redacted; three characters are ignored (would redact ordinary text)', () => {
    registerSecret('wxyz');
    registerSecret('abc');
    registerSecret(undefined);
    registerSecret(null);
    assert.equal(redactText('wxyz abc'), `${REDACTED} abc`);
    registerToken('tk12');
    registerToken('tk3');
    registerToken(undefined);
    assert.equal(redactText('tk12 tk3'), `${REDACTED} tk3`);
    assert.deepEqual(
      registrySize(),
      { secrets: secretEncodings('wxyz').length, tokens: 1 },
      'wxyz in its encodings (not abc); tk12 (not tk3)',
    );
  });

  it('only issued tokens registered (no long-lived secret): they are still redacted', () => {
    registerToken('only-a-token-1234');
    assert.equal(registrySize().secrets, 0);
    assert.equal(redactText('x only-a-token-1234 y'), `x ${REDACTED} y`);
  });

  it('a value registered after a redaction is redacted by the next one (the pattern is rebuilt)', () => {
    registerSecret('first-secret');
    assert.equal(redactText('first-secret second-secret'), `${REDACTED} second-secret`);
    registerSecret('second-secret');
    assert.equal(redactText('first-secret second-secret'), `${REDACTED} ${REDACTED}`);
    registerToken('third-token-value');
    assert.equal(redactText('third-token-value'), REDACTED);
  });

  it('the longest secret wins where one contains another: nothing of the longer one is left', () => {
    // Both registration orders, so that no fixed order of the alternatives can pass by luck.
    for (const secrets of [
      ['abcd', 'abcdefgh'],
      ['abcdefgh', 'abcd'],
    ]) {
      clearRegisteredSecrets();
      for (const x of secrets) registerSecret(x);
      registerToken('abcdefghijkl');
      assert.equal(
        redactText('abcdefghijkl abcdefgh abcd'),
        `${REDACTED} ${REDACTED} ${REDACTED}`,
        secrets.join(),
      );
    }
  });

  it('a secret is matched literally, whatever regular-expression characters it holds', () => {
    const metas = ['.', '*', '+', '?', '^', '$', '{', '}', '(', ')', '|', '[', ']', '\\'];
    for (const m of metas) registerSecret(`k${m}z9q`);
    for (const m of metas) {
      assert.equal(redactText(`<k${m}z9q>`), `<${REDACTED}>`, `secret with ${m}`);
    }
    // Literal: "k.z9q" does not match "kXz9q", "k*z9q" does not match "kz9q", "k+z9q" not "kkz9q"…
    assert.equal(redactText('kXz9q kz9q kkz9q k|z kz9'), 'kXz9q kz9q kkz9q k|z kz9');
  });

  it('registering a token that is already a long-lived secret adds nothing', () => {
    registerSecret('client-secret-value');
    const before = registrySize();
    registerToken('client-secret-value');
    registerToken('client-secret-value');
    registerSecret('client-secret-value');
    assert.deepEqual(registrySize(), before);
    assert.equal(before.tokens, 0);
  });

  it('a secret is registered with each of its encodings (each once)', () => {
    registerSecret('a b/c');
    assert.deepEqual(registrySize(), { secrets: secretEncodings('a b/c').length, tokens: 0 });
    assert.equal(new Set(secretEncodings('a b/c')).size, secretEncodings('a b/c').length);
    assert.equal(
      redactText(`${encodeURIComponent('a b/c')} ${Buffer.from('a b/c').toString('base64')}`),
      `${REDACTED} ${REDACTED}`,
    );
    clearRegisteredSecrets();
    registerSecret('plainvalue');
    // Its URL and form encodings are itself: registered once.
    assert.deepEqual(registrySize(), { secrets: secretEncodings('plainvalue').length, tokens: 0 });
    assert.ok(secretEncodings('plainvalue').length < secretEncodings('a b/c').length);
  });

  it('a URL password is registered raw and decoded; a URL without one registers nothing', () => {
    registerUrlPassword('redis://user:p%40ss%2Fw0rd@127.0.0.1:6379/0');
    assert.equal(redactText('p%40ss%2Fw0rd and p@ss/w0rd'), `${REDACTED} and ${REDACTED}`);
    clearRegisteredSecrets();
    registerUrlPassword('redis://user@127.0.0.1:6379/0');
    registerUrlPassword('not a url');
    assert.deepEqual(registrySize(), { secrets: 0, tokens: 0 });
  });

  it('clearRegisteredSecrets forgets secrets, tokens and the compiled pattern', () => {
    registerSecret('forget-me-secret');
    registerToken('forget-me-token');
    assert.equal(redactText('forget-me-secret forget-me-token'), `${REDACTED} ${REDACTED}`);
    clearRegisteredSecrets();
    assert.deepEqual(registrySize(), { secrets: 0, tokens: 0 });
    assert.equal(redactText('forget-me-secret forget-me-token'), 'forget-me-secret forget-me-token');
  });
});

describe('registry: the bound on issued tokens', () => {
  const tok = (i: number) => `issued-${String(i).padStart(4, '0')}-value`;

  it(`keeps exactly the ${MAX_RECENT_TOKENS} most recent, dropping the oldest first`, () => {
    assert.equal(MAX_RECENT_TOKENS, 256);
    for (let i = 0; i < MAX_RECENT_TOKENS; i++) registerToken(tok(i));
    assert.equal(registrySize().tokens, MAX_RECENT_TOKENS);
    assert.equal(redactText(tok(0)), REDACTED, `with ${MAX_RECENT_TOKENS} the first is still kept`);
    registerToken(tok(MAX_RECENT_TOKENS));
    assert.equal(registrySize().tokens, MAX_RECENT_TOKENS);
    assert.equal(redactText(tok(0)), tok(0), 'one more: the oldest is dropped');
    assert.equal(redactText(tok(1)), REDACTED, 'only the oldest');
    assert.equal(redactText(tok(MAX_RECENT_TOKENS)), REDACTED);
  });

  it('registering a kept token again does not make it younger, nor count twice', () => {
    for (let i = 0; i < MAX_RECENT_TOKENS; i++) registerToken(tok(i));
    registerToken(tok(0));
    assert.equal(registrySize().tokens, MAX_RECENT_TOKENS);
    registerToken(tok(9999));
    assert.equal(redactText(tok(0)), tok(0), 'tok(0) was still the oldest');
  });
});

describe('credential patterns', () => {
  it('Authorization values: Bearer, Basic (with padding), DPoP, any case, any whitespace', () => {
    assert.equal(redactText('Authorization: Bearer abc.DEF-ghi_~+/jk'), `Authorization: Bearer ${REDACTED}`);
    assert.equal(redactText('Authorization: Basic dXNlcjpwYXNzd29yZA=='), `Authorization: Basic ${REDACTED}`);
    assert.equal(
      redactText('authorization: bearer\tlowercase-value, next'),
      `authorization: bearer ${REDACTED}, next`,
    );
    assert.equal(redactText('DPoP   proof-value'), `DPoP ${REDACTED}`);
    assert.equal(redactText('dpop x'), `dpop ${REDACTED}`);
    assert.equal(
      redactText('a Bearer of news'),
      `a Bearer ${REDACTED} news`,
      'the word is enough (cautious)',
    );
    assert.equal(redactText('unBearer abc'), 'unBearer abc', 'only the whole word');
    assert.equal(redactText('Bearer'), 'Bearer', 'no value, nothing to hide');
  });

  it('JWTs, with or without a signature, and nothing that merely starts like one', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    assert.equal(redactText(`[${jwt}]`), `[${REDACTED}]`);
    assert.equal(redactText('x eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0. y'), `x ${REDACTED} y`, 'unsecured JWT');
    assert.equal(redactText('eyJab.cd.ef'), REDACTED, 'two characters per part are enough');
    assert.equal(redactText('eyJa.cd.ef eyJab.c.ef'), 'eyJa.cd.ef eyJab.c.ef', 'one is not');
    assert.equal(redactText('keyJab.cd.ef'), 'keyJab.cd.ef', 'only from a word boundary');
    assert.equal(redactText('eyJab_-.cd_-.ef_- tail'), `${REDACTED} tail`);
  });

  it('secret fields in forms, JSON and query strings: the value only, up to its end', () => {
    const fields = [
      'client_secret',
      'password',
      'newPassword',
      'new_password',
      'refresh_token',
      'access_token',
      'id_token',
      'subject_token',
      'actor_token',
      'assertion',
      'client_assertion',
      'auth_token',
      'app_secret',
      'private_key',
      'code_verifier',
    ];
    for (const f of fields) {
      assert.equal(redactText(`${f}=v4lue&next=1`), `${f}=${REDACTED}&next=1`, f);
      assert.equal(redactText(`{"${f}":"v4lue","next":1}`), `{"${f}":"${REDACTED}","next":1}`, f);
      assert.equal(
        redactText(`${f.toUpperCase()}: "v4lue" other`),
        `${f.toUpperCase()}: "${REDACTED}" other`,
        f,
      );
      // An unquoted `NAME: word …` is prose (a config error about the key), not a value: its words stay.
      assert.equal(redactText(`${f.toUpperCase()}: v4lue other`), `${f.toUpperCase()}: v4lue other`, f);
    }
    assert.equal(redactText("{'password' : 'v4lue'}"), `{'password' : '${REDACTED}'}`);
    assert.equal(redactText('password= v4lue,next'), `password= ${REDACTED},next`);
    assert.equal(redactText('{password:v4lue}'), `{password:${REDACTED}}`);
    assert.equal(redactText('username=alice&grant_type=password'), 'username=alice&grant_type=password');
  });
});

describe('maskToken', () => {
  it('shows the first characters and how many are hidden, never a short token', () => {
    assert.equal(maskToken('abcdefghijklm'), 'abcdef…[7 chars hidden]');
    assert.equal(maskToken('abcdefghijkl'), REDACTED, 'twice the visible part or less: all hidden');
    assert.equal(maskToken('abcdefghijk', 5), 'abcde…[6 chars hidden]');
    assert.equal(maskToken('abcdefghij', 5), REDACTED);
    assert.equal(maskToken(''), REDACTED);
  });
});
