import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UnsecuredJWT } from 'jose';
import { InvalidTokenResponseError } from '../src/errors.js';
import { DEFAULT_MAX_LIFETIME_SECONDS, parseTokenResponse } from '../src/token.js';

const NOW = 1_700_000_000_000;
const url = 'https://idp.example.com/token';
const parse = (body: unknown, extra: Partial<Parameters<typeof parseTokenResponse>[1]> = {}) =>
  parseTokenResponse(body, { url, now: NOW, ...extra });
const rejects = (body: unknown, re: RegExp, extra: Partial<Parameters<typeof parseTokenResponse>[1]> = {}) =>
  assert.throws(
    () => parse(body, extra),
    (e) =>
      e instanceof InvalidTokenResponseError && e.code === 'ERR_INVALID_TOKEN_RESPONSE' && re.test(e.message),
  );
const jwt = (exp: number) => new UnsecuredJWT({ sub: 'x' }).setExpirationTime(exp).encode();

describe('parseTokenResponse: expiry', () => {
  it('expires_in as a number and as a numeric string ("599")', () => {
    const a = parse({ access_token: 'a1234', expires_in: 599 });
    assert.equal(a.expiresAt, NOW + 599_000);
    assert.equal(a.expirySource, 'expires_in');
    assert.equal(a.obtainedAt, NOW);
    const b = parse({ access_token: 'a1234', expires_in: '599' });
    assert.equal(b.expiresAt, NOW + 599_000);
    assert.equal(parse({ access_token: 'a1234', expires_in: ' 300 ' }).expiresAt, NOW + 300_000);
  });
  it('expires_on as epoch seconds (number or string) and as milliseconds', () => {
    const at = NOW / 1000 + 7200;
    for (const v of [at, String(at), at * 1000]) {
      const t = parse({ access_token: 'a1234', expires_on: v });
      assert.equal(t.expiresAt, at * 1000);
      assert.equal(t.expirySource, 'expires_on');
    }
  });
  it('expires_on in the past is rejected with a clock hint', () => {
    rejects(
      { access_token: 'a1234', expires_on: NOW / 1000 - 10 },
      /already in the past; check this machine's clock/,
    );
  });
  it('expires_in wins over expires_on', () => {
    assert.equal(
      parse({ access_token: 'a1234', expires_in: 10, expires_on: NOW / 1000 + 9999 }).expirySource,
      'expires_in',
    );
  });
  it('JWT exp when no lifetime field; an expired JWT exp falls back to the default', () => {
    const t = parse({ access_token: jwt(NOW / 1000 + 1800) });
    assert.equal(t.expirySource, 'jwt_exp');
    assert.equal(t.expiresAt, NOW + 1_800_000);
    const old = parse({ access_token: jwt(NOW / 1000 - 5) });
    assert.equal(old.expirySource, 'default');
  });
  it('default lifetime (300 s, or the configured one)', () => {
    assert.equal(parse({ access_token: 'opaque-token' }).expiresAt, NOW + 300_000);
    const t = parse({ access_token: 'opaque-token' }, { defaultLifetimeSeconds: 1800 });
    assert.equal(t.expiresAt, NOW + 1_800_000);
    assert.equal(t.expirySource, 'default');
  });
  it('negative, zero, NaN and non-numeric lifetimes are rejected', () => {
    for (const v of [-1, 0, '0', '-5', 'abc', '12abc', Number.NaN, Number.POSITIVE_INFINITY, true, [], {}]) {
      rejects({ access_token: 'a1234', expires_in: v }, /expires_in/);
    }
    rejects({ access_token: 'a1234', expires_on: 'tomorrow' }, /expires_on/);
  });
  it('absurd lifetimes are capped to max_lifetime', () => {
    const t = parse({ access_token: 'a1234', expires_in: 10 ** 12 });
    assert.equal(t.expiresAt, NOW + DEFAULT_MAX_LIFETIME_SECONDS * 1000);
    assert.equal(
      parse({ access_token: 'a1234', expires_in: 9999 }, { maxLifetimeSeconds: 60 }).expiresAt,
      NOW + 60_000,
    );
  });
});

describe('parseTokenResponse: fields', () => {
  it('missing or non-string access_token', () => {
    rejects({ token_type: 'Bearer' }, /has no "access_token"/);
    rejects({ access_token: 42 }, /"access_token" must be a non-empty string, got a number/);
    rejects({ access_token: '' }, /got an empty string/);
    rejects({ access_token: null }, /access_token/);
    rejects(['x'], /must be a JSON object, got an array/);
    rejects('x', /must be a JSON object/);
  });
  it('token_type: Bearer in any case is normalised; a missing one means Bearer; others are refused unless accepted', () => {
    assert.equal(parse({ access_token: 'a1234', token_type: 'bearer' }).tokenType, 'Bearer');
    assert.equal(parse({ access_token: 'a1234' }).tokenType, 'Bearer');
    rejects({ access_token: 'a1234', token_type: 'mac' }, /"token_type" is "mac"; expected bearer/);
    rejects({ access_token: 'a1234', token_type: 7 }, /token_type/);
    assert.equal(
      parse({ access_token: 'a1234', token_type: 'DPoP' }, { acceptedTokenTypes: ['bearer', 'dpop'] })
        .tokenType,
      'DPoP',
    );
  });
  it('refresh token: taken when sent, kept when absent, with refresh_expires_in', () => {
    const t = parse({ access_token: 'a1234', refresh_token: 'r-new', refresh_expires_in: 3600 });
    assert.equal(t.refreshToken, 'r-new');
    assert.equal(t.refreshExpiresAt, NOW + 3_600_000);
    const kept = parse(
      { access_token: 'a1234' },
      { previousRefreshToken: 'r-old', previousRefreshExpiresAt: NOW + 5 },
    );
    assert.equal(kept.refreshToken, 'r-old');
    assert.equal(kept.refreshExpiresAt, NOW + 5);
    const replaced = parse(
      { access_token: 'a1234', refresh_token: 'r-new2' },
      { previousRefreshToken: 'r-old' },
    );
    assert.equal(replaced.refreshToken, 'r-new2');
    rejects({ access_token: 'a1234', refresh_token: 5 }, /"refresh_token" must be a non-empty string/);
    assert.equal(parse({ access_token: 'a1234' }).refreshToken, undefined);
  });
  it('scope as a string or a list; id_token; raw kept', () => {
    assert.equal(parse({ access_token: 'a1234', scope: 'a b' }).scope, 'a b');
    assert.equal(parse({ access_token: 'a1234', scope: ['a', 'b'] }).scope, 'a b');
    const t = parse({ access_token: 'a1234', id_token: 'id.tok.en', extra: 1 });
    assert.equal(t.idToken, 'id.tok.en');
    assert.equal(t.raw['extra'], 1);
  });
  it('error messages never contain the access token', () => {
    assert.throws(
      () => parse({ access_token: 'super-secret-at-value', expires_in: 'nope' }),
      (e: unknown) => {
        assert.ok(e instanceof Error, 'an Error is thrown');
        assert.match(e.message, /expires_in/, 'the message names the bad field');
        assert.ok(!e.message.includes('super-secret-at-value'), 'the message has no access token');
        assert.ok(!JSON.stringify(e).includes('super-secret-at-value'), 'nor its JSON');
        return true;
      },
    );
  });
});
