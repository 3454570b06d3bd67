/** The allow-list: normalisation, matching, and the origins of a profile. Pure; no network. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, InsecureEndpointError } from '../../src/errors.js';
import { isReplayableBody, isTokenRejected, OriginScope, originsFromProfile } from '../../src/fetch/index.js';

describe('OriginScope', () => {
  const scope = new OriginScope([
    'https://api.example.com',
    'https://files.example.com:443/v1/',
    'http://127.0.0.1:8080/base',
  ]);

  it('keeps one normalised origin per entry', () => {
    assert.deepEqual(scope.origins, [
      'https://api.example.com',
      'https://files.example.com',
      'http://127.0.0.1:8080',
    ]);
  });

  it('matches exact origins after normalisation (case, default ports)', () => {
    for (const url of [
      'https://api.example.com/x',
      'https://api.example.com',
      'https://API.Example.COM:443/x?y=1',
      'https://files.example.com/anything',
      'http://127.0.0.1:8080/other/path',
      new URL('https://api.example.com/u'),
    ]) {
      assert.equal(scope.allowsUrl(url), true, String(url));
    }
  });

  it('refuses look-alikes, other ports and schemes, credentials tricks and garbage', () => {
    for (const url of [
      'https://api.example.com.evil.test/x',
      'https://evil.test/https://api.example.com/',
      'https://api.example.com@evil.test/',
      'https://api.example.com:8443/x',
      'http://api.example.com/x',
      'http://127.0.0.1:8081/',
      'https://sub.api.example.com/',
      '/relative/path',
      'not a url',
    ]) {
      assert.equal(scope.allowsUrl(url), false, url);
    }
  });

  it('matches undici-style origins', () => {
    assert.equal(scope.allowsOrigin('https://api.example.com'), true);
    assert.equal(scope.allowsOrigin('https://api.example.com:443'), true);
    assert.equal(scope.allowsOrigin(new URL('http://127.0.0.1:8080')), true);
    assert.equal(scope.allowsOrigin('https://evil.test'), false);
  });

  it('refuses an empty list, non-http(s) URLs and plain http to a non-loopback host', () => {
    assert.throws(() => new OriginScope([]), ConfigError);
    assert.throws(() => new OriginScope(['ftp://files.example.com']), ConfigError);
    assert.throws(() => new OriginScope(['http://api.example.com']), InsecureEndpointError);
  });
});

describe('originsFromProfile', () => {
  it('api_base_url and allowed_origins, deduplicated', () => {
    assert.deepEqual(
      originsFromProfile({
        api_base_url: 'https://api.example.com/v2/',
        allowed_origins: ['https://api.example.com:443', 'https://files.example.com/'],
        base_url: 'https://ignored.example.com',
      }),
      ['https://api.example.com', 'https://files.example.com'],
    );
  });

  it('cylance without api_base_url: the host of its regional token endpoint', () => {
    assert.deepEqual(originsFromProfile({ provider: 'cylance', region: 'euc1' }), [
      'https://protectapi-euc1.cylance.com',
    ]);
    assert.deepEqual(originsFromProfile({ provider: 'cylance' }), ['https://protectapi.cylance.com']);
    assert.deepEqual(
      originsFromProfile({ provider: 'cylance', token_url: 'http://127.0.0.1:9/auth/v2/token' }),
      ['http://127.0.0.1:9'],
    );
  });

  it('without api_base_url: the presets’ base_url and datacenter_url', () => {
    assert.deepEqual(originsFromProfile({ provider: 'msx', base_url: 'https://msx.example.com/idm' }), [
      'https://msx.example.com',
    ]);
    assert.deepEqual(
      originsFromProfile({
        provider: 'acronis',
        datacenter_url: 'https://eu2-cloud.example.com',
        allowed_origins: ['https://other.example.com'],
      }),
      ['https://eu2-cloud.example.com', 'https://other.example.com'],
    );
  });

  it('a profile that names no origin, or a bad one, is a ConfigError naming the key', () => {
    assert.throws(
      () => originsFromProfile({ name: 'p', token_url: 'https://idp.example.com/token' }),
      (err: unknown) =>
        err instanceof ConfigError && err.key === 'api_base_url' && /profile "p"/.test(err.message),
    );
    assert.throws(
      () => originsFromProfile({ api_base_url: 'https://a.example.com', allowed_origins: ['nope'] }),
      (err: unknown) => err instanceof ConfigError && err.key === 'allowed_origins',
    );
  });
});

describe('shared tests', () => {
  it('isTokenRejected: 401, or a 4xx with error="invalid_token"', () => {
    assert.equal(isTokenRejected(401, null), true);
    assert.equal(isTokenRejected(403, 'Bearer realm="x", error="invalid_token"'), true);
    assert.equal(isTokenRejected(400, ['Basic realm="x"', 'Bearer error=invalid_token']), true);
    assert.equal(isTokenRejected(403, 'Bearer error="insufficient_scope"'), false);
    assert.equal(isTokenRejected(200, 'Bearer error="invalid_token"'), false);
    assert.equal(isTokenRejected(503, 'Bearer error="invalid_token"'), false);
  });

  it('isReplayableBody: buffers and strings yes, streams no', () => {
    for (const b of [
      undefined,
      null,
      's',
      new Uint8Array(1),
      new ArrayBuffer(1),
      new URLSearchParams(),
      new Blob([]),
      new FormData(),
    ]) {
      assert.equal(isReplayableBody(b), true);
    }
    const iter = (async function* () {
      yield 'x';
    })();
    for (const b of [new ReadableStream(), iter, 42]) assert.equal(isReplayableBody(b), false);
  });
});
