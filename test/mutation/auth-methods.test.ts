/**
 * Client authentication (src/auth/*.ts), method by method, on exact requests, assertions and messages
 * (written against the mutants StrykerJS found surviving there; see docs/testing.md): which method a
 * profile gets, what each puts in the form or the headers, the signed assertion's header and claims,
 * which keys and algorithms are taken, and that the secret that signs is registered for redaction.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { beforeEach, describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import {
  type ClientAuthRequest,
  clientSecretBasic,
  clientSecretJwt,
  clientSecretPost,
  createClientAuth,
  JWT_BEARER_ASSERTION_TYPE,
  loadPrivateKey,
  noneAuth,
  privateKeyJwt,
} from '../../src/auth/index.js';
import { ConfigError } from '../../src/errors.js';
import { clearRegisteredSecrets, REDACTED, redactText } from '../../src/redact.js';

const NOW = 1_700_000_000_999; // not a whole second: iat is rounded down
const ctx = { tokenUrl: 'https://idp.example.com/oauth/token', now: () => NOW };
const blank = (): ClientAuthRequest => ({ form: {}, headers: {} });
/** Asserts a ConfigError with exactly this message (the key included) and key. */
const configError = (fn: () => unknown, key: string, message: string) =>
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.key, key);
    assert.equal(e.message, message);
    return true;
  });
const pem = (k: KeyObject) => k.export({ format: 'pem', type: 'pkcs8' }).toString();

beforeEach(() => clearRegisteredSecrets());

describe('createClientAuth: which method', () => {
  it('a secret means client_secret_basic, a key private_key_jwt (a secret wins), neither none', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    assert.equal(createClientAuth({ client_id: 'c', client_secret: 's3cr' }).method, 'client_secret_basic');
    assert.equal(
      createClientAuth({ client_id: 'c', private_key: pem(rsa.privateKey) }).method,
      'private_key_jwt',
    );
    assert.equal(
      createClientAuth({ client_id: 'c', client_secret: 's3cr', private_key: pem(rsa.privateKey) }).method,
      'client_secret_basic',
    );
    assert.equal(createClientAuth({ client_id: 'c', client_secret: '' }).method, 'none');
    assert.equal(createClientAuth({ client_id: 'c', private_key: '' }).method, 'none');
  });

  it('an unknown method is refused with the list of known ones', () => {
    configError(
      () => createClientAuth({ client_id: 'c', auth_method: 'bogus' as never }),
      'auth_method',
      'auth_method: unknown method "bogus"; use one of client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt, tls_client_auth, self_signed_tls_client_auth, none',
    );
  });

  it('every method but none needs a client id; secrets and keys are asked for by name', () => {
    configError(
      () => createClientAuth({ client_secret: 's3cr' }),
      'client_id',
      'client_id: is required for client_secret_basic',
    );
    configError(
      () => createClientAuth({ client_id: '', auth_method: 'client_secret_post', client_secret: 's3cr' }),
      'client_id',
      'client_id: is required for client_secret_post',
    );
    configError(
      () => createClientAuth({ client_id: 'c', auth_method: 'client_secret_basic' }),
      'client_secret',
      'client_secret: is required for client_secret_basic',
    );
    configError(
      () => createClientAuth({ client_id: 'c', auth_method: 'client_secret_jwt', client_secret: '' }),
      'client_secret',
      'client_secret: is required for client_secret_jwt',
    );
    configError(
      () => createClientAuth({ client_id: 'c', auth_method: 'private_key_jwt' }),
      'private_key',
      'private_key: is required for private_key_jwt',
    );
  });

  it('with neither a client id nor the secret or key, the client id is named first, for every method', () => {
    // The methods check their own inputs too, but in another order (a secret or key before the id).
    for (const method of [
      'client_secret_basic',
      'client_secret_post',
      'client_secret_jwt',
      'private_key_jwt',
    ] as const) {
      configError(
        () => createClientAuth({ auth_method: method }),
        'client_id',
        `client_id: is required for ${method}`,
      );
    }
  });

  it('none: with a client id it is sent in the form; without one, nothing is sent', async () => {
    const anon = createClientAuth({});
    assert.equal(anon.method, 'none');
    assert.equal('clientId' in anon, false);
    const r = blank();
    await anon.apply(r, ctx);
    assert.deepEqual(r, blank());
    const pub = createClientAuth({ client_id: 'pub', auth_method: 'none', client_secret: 'ignored' });
    assert.equal(pub.clientId, 'pub');
    const r2 = blank();
    await pub.apply(r2, ctx);
    assert.deepEqual(r2, { form: { client_id: 'pub' }, headers: {} });
    assert.equal('clientId' in noneAuth({ clientId: '' }), false);
  });

  it('the profile options reach the method: Basic encoding, HMAC algorithm, assertion audience', async () => {
    const basic = createClientAuth({ client_id: 'c', client_secret: 'a b', basic_encoding: 'raw' });
    const r = blank();
    await basic.apply(r, ctx);
    assert.deepEqual(r, {
      form: {},
      headers: { authorization: `Basic ${Buffer.from('c:a b').toString('base64')}` },
    });
    assert.equal(basic.clientId, 'c');

    const secret = 'an-hs384-client-secret-long-enough-for-it-0123456789';
    const jwtAuth = createClientAuth({
      client_id: 'c',
      client_secret: secret,
      auth_method: 'client_secret_jwt',
      signing_alg: 'HS384',
      assertion_audience: 'https://aud.example.com',
    });
    const r2 = blank();
    await jwtAuth.apply(r2, ctx);
    const v = await jwtVerify(r2.form['client_assertion'] ?? '', new TextEncoder().encode(secret), {
      currentDate: new Date(NOW),
    });
    assert.equal(v.protectedHeader.alg, 'HS384');
    assert.equal(v.payload.aud, 'https://aud.example.com');

    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pk = createClientAuth({
      client_id: 'c',
      private_key: pem(ec.privateKey),
      signing_alg: 'ES256',
      key_id: 'kid-7',
      assertion_audience: 'https://aud2.example.com',
    });
    const r3 = blank();
    await pk.apply(r3, ctx);
    const a = r3.form['client_assertion'] ?? '';
    assert.deepEqual(decodeProtectedHeader(a), { alg: 'ES256', typ: 'JWT', kid: 'kid-7' });
    assert.equal(decodeJwt(a).aud, 'https://aud2.example.com');
  });
});

describe('the methods themselves', () => {
  it('each names its method and client id (what the token request and the status report show)', async () => {
    const post = clientSecretPost({ clientId: 'c-post', clientSecret: 's3cr' });
    assert.equal(post.method, 'client_secret_post');
    assert.equal(post.clientId, 'c-post');
    assert.equal(
      createClientAuth({ client_id: 'c', client_secret: 's3cr', auth_method: 'client_secret_post' }).method,
      'client_secret_post',
    );
    const r = blank();
    await post.apply(r, ctx);
    assert.deepEqual(r, { form: { client_id: 'c-post', client_secret: 's3cr' }, headers: {} });
    assert.equal(clientSecretBasic({ clientId: 'c', clientSecret: 's' }).method, 'client_secret_basic');
    assert.equal(clientSecretJwt({ clientId: 'c', clientSecret: 's3cr' }).method, 'client_secret_jwt');
  });

  it('client_secret_post and client_secret_basic refuse a missing id or secret, naming it', () => {
    configError(
      () => clientSecretPost({ clientId: '', clientSecret: 's' }),
      'client_id',
      'client_id: is required for client_secret_post',
    );
    configError(
      () => clientSecretPost({ clientId: 'c', clientSecret: '' }),
      'client_secret',
      'client_secret: is required for client_secret_post',
    );
    configError(
      () => clientSecretBasic({ clientId: '', clientSecret: 's' }),
      'client_id',
      'client_id: is required for client_secret_basic',
    );
    configError(
      () => clientSecretBasic({ clientId: 'a:b', clientSecret: 's', encoding: 'raw' }),
      'client_id',
      'client_id: must not contain ":" with the raw encoding of client_secret_basic',
    );
    // With RFC 6749 encoding the colon is percent-encoded, so it is allowed; an empty secret is too.
    assert.equal(clientSecretBasic({ clientId: 'a:b', clientSecret: '' }).clientId, 'a:b');
  });

  it('client_secret_jwt: id, secret and an HMAC algorithm are required; the secret is registered', () => {
    configError(
      () => clientSecretJwt({ clientId: '', clientSecret: 's' }),
      'client_id',
      'client_id: is required for client_secret_jwt',
    );
    configError(
      () => clientSecretJwt({ clientId: 'c', clientSecret: '' }),
      'client_secret',
      'client_secret: is required for client_secret_jwt',
    );
    configError(
      () => clientSecretJwt({ clientId: 'c', clientSecret: 's3cret', alg: 'RS256' }),
      'signing_alg',
      'signing_alg: "RS256" is not an HMAC algorithm; use HS256, HS384 or HS512',
    );
    for (const alg of ['HS256', 'HS384', 'HS512'])
      assert.equal(
        clientSecretJwt({ clientId: 'c', clientSecret: 'hm-secret-1', alg }).method,
        'client_secret_jwt',
      );
    assert.equal(redactText('echo hm-secret-1'), `echo ${REDACTED}`);
  });

  it('the assertion: header, claims, form fields; the audience is the option, else the context, else the URL', async () => {
    const secret = 'assertion-secret-long-enough-for-hs256';
    const key = new TextEncoder().encode(secret);
    const r = blank();
    await clientSecretJwt({ clientId: 'cid', clientSecret: secret }).apply(r, ctx);
    assert.deepEqual(Object.keys(r.form).sort(), ['client_assertion', 'client_assertion_type', 'client_id']);
    assert.equal(r.form['client_id'], 'cid');
    assert.equal(r.form['client_assertion_type'], JWT_BEARER_ASSERTION_TYPE);
    assert.equal(JWT_BEARER_ASSERTION_TYPE, 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    assert.deepEqual(r.headers, {});
    const a = r.form['client_assertion'] ?? '';
    assert.deepEqual(decodeProtectedHeader(a), { alg: 'HS256', typ: 'JWT' });
    const { payload } = await jwtVerify(a, key, { currentDate: new Date(NOW) });
    assert.deepEqual(Object.keys(payload).sort(), ['aud', 'exp', 'iat', 'iss', 'jti', 'sub']);
    assert.equal(payload.iat, Math.floor(NOW / 1000));
    assert.equal(payload.exp, Math.floor(NOW / 1000) + 60);
    assert.equal(payload.aud, ctx.tokenUrl);
    assert.match(
      String(payload.jti),
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );

    const r2 = blank();
    await clientSecretJwt({ clientId: 'cid', clientSecret: secret, audience: ['x', 'y'] }).apply(r2, {
      ...ctx,
      audience: 'https://issuer.example.com',
    });
    assert.deepEqual(decodeJwt(r2.form['client_assertion'] ?? '').aud, ['x', 'y']);
  });

  it('private_key_jwt: id and key are required; symmetric algorithms and "none" are refused; the key is registered', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    configError(
      () => privateKeyJwt({ clientId: '', privateKey: pem(rsa.privateKey) }),
      'client_id',
      'client_id: is required for private_key_jwt',
    );
    configError(
      () => privateKeyJwt({ clientId: 'c', privateKey: '' }),
      'private_key',
      'private_key: is required for private_key_jwt',
    );
    for (const alg of ['HS256', 'none']) {
      configError(
        () => privateKeyJwt({ clientId: 'c', privateKey: pem(rsa.privateKey), alg }),
        'signing_alg',
        `signing_alg: "${alg}" is not an asymmetric algorithm`,
      );
    }
    // "HS" only at the start: an algorithm merely containing it is not refused here.
    assert.equal(
      privateKeyJwt({ clientId: 'c', privateKey: pem(rsa.privateKey), alg: 'RS256-HS' }).method,
      'private_key_jwt',
    );
    const body = pem(rsa.privateKey).split('\n')[1] ?? '';
    assert.ok(body.length >= 40);
    assert.equal(redactText(`key ${pem(rsa.privateKey)}`).includes(body), false);
  });

  it('private_key_jwt: the key id and audience reach the assertion; without a key id there is no kid', async () => {
    const ed = generateKeyPairSync('ed25519');
    const r = blank();
    await privateKeyJwt({ clientId: 'c', privateKey: pem(ed.privateKey) }).apply(r, ctx);
    const a = r.form['client_assertion'] ?? '';
    assert.deepEqual(decodeProtectedHeader(a), { alg: 'EdDSA', typ: 'JWT' });
    const v = await jwtVerify(a, ed.publicKey, { currentDate: new Date(NOW) });
    assert.equal(v.payload.iss, 'c');
    assert.equal(v.payload.sub, 'c');
    assert.equal(v.payload.aud, ctx.tokenUrl);
    const r2 = blank();
    await privateKeyJwt({
      clientId: 'c',
      privateKey: pem(ed.privateKey),
      keyId: 'k9',
      audience: 'aud-x',
    }).apply(r2, ctx);
    const a2 = r2.form['client_assertion'] ?? '';
    assert.equal(decodeProtectedHeader(a2).kid, 'k9');
    assert.equal(decodeJwt(a2).aud, 'aud-x');
  });
});

describe('loadPrivateKey', () => {
  it('the default algorithm follows the key type and curve', () => {
    const alg = (k: KeyObject) => loadPrivateKey(pem(k)).alg;
    assert.equal(alg(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey), 'RS256');
    assert.equal(alg(generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey), 'PS256');
    assert.equal(alg(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey), 'ES256');
    assert.equal(alg(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey), 'ES384');
    assert.equal(alg(generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey), 'ES512');
    assert.equal(alg(generateKeyPairSync('ed25519').privateKey), 'EdDSA');
    assert.equal(alg(generateKeyPairSync('ed448').privateKey), 'EdDSA');
    configError(
      () => loadPrivateKey(pem(generateKeyPairSync('x25519').privateKey)),
      'private_key',
      'private_key: key type x25519 is not supported for private_key_jwt',
    );
  });

  it('a JWK: its alg and kid are used unless given; the arguments win; white space around is fine', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = { ...ec.privateKey.export({ format: 'jwk' }), alg: 'ES256', kid: 'jwk-kid' };
    const text = `\n  ${JSON.stringify(jwk)}  \n`;
    const a = loadPrivateKey(text);
    assert.equal(a.alg, 'ES256');
    assert.equal(a.kid, 'jwk-kid');
    assert.equal(a.key.asymmetricKeyType, 'ec');
    const b = loadPrivateKey(text, 'ES384', 'arg-kid');
    assert.equal(b.alg, 'ES384');
    assert.equal(b.kid, 'arg-kid');
    const plain = loadPrivateKey(
      JSON.stringify({ ...ec.privateKey.export({ format: 'jwk' }), alg: 5, kid: 6 }),
    );
    assert.equal(plain.alg, 'ES256', 'non-string alg ignored: the default for the key');
    assert.equal('kid' in plain, false, 'non-string kid ignored');
    assert.equal('kid' in loadPrivateKey(pem(ec.privateKey)), false);
    // An alg the JWK names that is not the key type's default is the one used.
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    assert.equal(loadPrivateKey(JSON.stringify(rsa.privateKey.export({ format: 'jwk' }))).alg, 'RS256');
    assert.equal(
      loadPrivateKey(JSON.stringify({ ...rsa.privateKey.export({ format: 'jwk' }), alg: 'PS384' })).alg,
      'PS384',
    );
  });

  it('what is not a key is refused with a message that says what is expected, never the key', () => {
    configError(
      () => loadPrivateKey('{"d": "x"'),
      'private_key',
      'private_key: looks like JSON but does not parse as a JWK',
    );
    configError(
      () => loadPrivateKey('{"kty": "EC", "crv": "P-256"}'),
      'private_key',
      'private_key: the JWK has no private part ("d"); give the private key',
    );
    configError(
      () => loadPrivateKey('{"kty": "EC", "d": "bm90LWEta2V5"}'),
      'private_key',
      'private_key: is not a usable private JWK',
    );
    configError(
      () => loadPrivateKey('just some text'),
      'private_key',
      'private_key: must be a PEM private key (-----BEGIN PRIVATE KEY-----) or a JWK as JSON',
    );
    configError(
      () => loadPrivateKey('-----BEGIN PRIVATE KEY-----\nbm90LWEta2V5\n-----END PRIVATE KEY-----'),
      'private_key',
      'private_key: is not a usable PEM private key (PKCS#8 expected; encrypted keys are not supported)',
    );
  });
});
