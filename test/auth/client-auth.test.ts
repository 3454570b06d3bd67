import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import {
  createClientAuth,
  encodeBasicCredentials,
  formUrlEncode,
  JWT_BEARER_ASSERTION_TYPE,
} from '../../src/auth/index.js';
import type { ClientAuthRequest } from '../../src/auth/types.js';
import { ConfigError } from '../../src/errors.js';

/** Decodes Basic credentials as RFC 6749 §2.3.1 says a server must. */
function decodeBasic(b64: string): [string, string] {
  const pair = Buffer.from(b64, 'base64').toString('utf8');
  const i = pair.indexOf(':');
  const dec = (s: string) => decodeURIComponent(s.replace(/\+/g, '%20'));
  return [dec(pair.slice(0, i)), dec(pair.slice(i + 1))];
}

const NOW = 1_700_000_000_000;
const ctx = { tokenUrl: 'https://idp.example.com/oauth/token', now: () => NOW };
const blank = (): ClientAuthRequest => ({ form: {}, headers: {} });

describe('encodeBasicCredentials (RFC 6749 §2.3.1)', () => {
  it('round-trips ids and secrets with : % + space and non-ASCII', () => {
    const id = 'my client:1 é';
    const secret = "s3:cr%t+with space/é€!'()*~";
    const b64 = encodeBasicCredentials(id, secret);
    assert.deepEqual(decodeBasic(b64), [id, secret]);
    // the encoded pair has exactly one raw ':'
    assert.equal(Buffer.from(b64, 'base64').toString().split(':').length, 2);
  });
  it("form-encodes: spaces as +, and !'()* percent-encoded", () => {
    assert.equal(formUrlEncode("a b+c:d%e!'()*"), 'a+b%2Bc%3Ad%25e%21%27%28%29%2A');
    assert.equal(formUrlEncode('plain-._~09AZ'), 'plain-._~09AZ');
  });
  it("raw encoding base64s id:secret as is (vendors that don't form-encode)", () => {
    assert.equal(encodeBasicCredentials('id', 'a b+c', 'raw'), Buffer.from('id:a b+c').toString('base64'));
  });
});

describe('client authentication methods', () => {
  it('client_secret_basic sets only the Authorization header', async () => {
    const a = createClientAuth({ client_id: 'cid', client_secret: 'p+ss word' });
    assert.equal(a.method, 'client_secret_basic');
    const r = blank();
    await a.apply(r, ctx);
    assert.deepEqual(r.form, {});
    assert.deepEqual(decodeBasic(r.headers['authorization']!.replace(/^Basic /, '')), ['cid', 'p+ss word']);
  });
  it('client_secret_basic raw encoding is selectable', async () => {
    const a = createClientAuth({ client_id: 'cid', client_secret: 'p+ss', basic_encoding: 'raw' });
    const r = blank();
    await a.apply(r, ctx);
    assert.equal(r.headers['authorization'], `Basic ${Buffer.from('cid:p+ss').toString('base64')}`);
  });
  it('client_secret_post puts id and secret in the form', async () => {
    const r = blank();
    await createClientAuth({
      client_id: 'cid',
      client_secret: 'sec-1234',
      auth_method: 'client_secret_post',
    }).apply(r, ctx);
    assert.deepEqual(r.form, { client_id: 'cid', client_secret: 'sec-1234' });
    assert.deepEqual(r.headers, {});
  });
  it('none sends client_id only; it is the default without a secret', async () => {
    const a = createClientAuth({ client_id: 'pub' });
    assert.equal(a.method, 'none');
    const r = blank();
    await a.apply(r, ctx);
    assert.deepEqual(r.form, { client_id: 'pub' });
  });
  it('client_secret_jwt signs an HS256 assertion: iss=sub=client_id, aud=token URL, jti, iat, exp=iat+60', async () => {
    const secret = 'a-long-enough-client-secret-for-hs256!!';
    const a = createClientAuth({ client_id: 'cid', client_secret: secret, auth_method: 'client_secret_jwt' });
    const r = blank();
    await a.apply(r, ctx);
    assert.equal(r.form['client_assertion_type'], JWT_BEARER_ASSERTION_TYPE);
    assert.equal(r.form['client_id'], 'cid');
    const { payload, protectedHeader } = await jwtVerify(
      r.form['client_assertion']!,
      new TextEncoder().encode(secret),
      {
        currentDate: new Date(NOW),
      },
    );
    assert.equal(protectedHeader.alg, 'HS256');
    assert.equal(payload.iss, 'cid');
    assert.equal(payload.sub, 'cid');
    assert.equal(payload.aud, ctx.tokenUrl);
    assert.equal(payload.iat, NOW / 1000);
    assert.equal(payload.exp, NOW / 1000 + 60);
    assert.equal(typeof payload.jti, 'string');
    const r2 = blank();
    await a.apply(r2, { ...ctx, audience: 'https://issuer.example.com' });
    const p2 = await jwtVerify(r2.form['client_assertion']!, new TextEncoder().encode(secret), {
      currentDate: new Date(NOW),
    });
    assert.equal(p2.payload.aud, 'https://issuer.example.com');
    assert.notEqual(p2.payload.jti, payload.jti);
  });
  it('private_key_jwt signs with a PEM (RS256 default, kid) or a JWK (EC → ES256)', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const a = createClientAuth({ client_id: 'cid', private_key: pem, key_id: 'k1' });
    assert.equal(a.method, 'private_key_jwt');
    const r = blank();
    await a.apply(r, ctx);
    const v = await jwtVerify(r.form['client_assertion']!, rsa.publicKey, { currentDate: new Date(NOW) });
    assert.equal(v.protectedHeader.alg, 'RS256');
    assert.equal(v.protectedHeader.kid, 'k1');
    assert.equal(v.payload.iss, 'cid');

    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = JSON.stringify({ ...ec.privateKey.export({ format: 'jwk' }), kid: 'ec-1' });
    const b = createClientAuth({ client_id: 'cid', private_key: jwk, auth_method: 'private_key_jwt' });
    const r2 = blank();
    await b.apply(r2, ctx);
    assert.deepEqual(decodeProtectedHeader(r2.form['client_assertion']!), {
      alg: 'ES256',
      typ: 'JWT',
      kid: 'ec-1',
    });
    await jwtVerify(r2.form['client_assertion']!, ec.publicKey, { currentDate: new Date(NOW) });

    const c = createClientAuth({ client_id: 'cid', private_key: pem, signing_alg: 'PS256' });
    const r3 = blank();
    await c.apply(r3, ctx);
    assert.equal(decodeProtectedHeader(r3.form['client_assertion']!).alg, 'PS256');
  });
  it('ConfigError names the missing or invalid key, and never echoes key material', () => {
    const check = (p: Parameters<typeof createClientAuth>[0], key: string) =>
      assert.throws(
        () => createClientAuth(p),
        (e) => e instanceof ConfigError && e.key === key,
      );
    check({ client_secret: 's3cret' }, 'client_id');
    check({ client_id: 'c', auth_method: 'client_secret_post' }, 'client_secret');
    check({ client_id: 'c', auth_method: 'client_secret_jwt' }, 'client_secret');
    check({ client_id: 'c', auth_method: 'private_key_jwt' }, 'private_key');
    check(
      { client_id: 'c', client_secret: 'xxxx', auth_method: 'client_secret_jwt', signing_alg: 'RS256' },
      'signing_alg',
    );
    check({ client_id: 'c', auth_method: 'bogus' as never }, 'auth_method');
    const garbage = '-----BEGIN PRIVATE KEY-----\nTOTALLYSECRETGARBAGE\n-----END PRIVATE KEY-----';
    assert.throws(
      () => createClientAuth({ client_id: 'c', private_key: garbage }),
      (e) => e instanceof ConfigError && e.key === 'private_key' && !e.message.includes('TOTALLYSECRET'),
    );
    check({ client_id: 'c', private_key: '{"kty":"RSA"}' }, 'private_key');
  });
});
