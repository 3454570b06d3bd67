/** Pure helpers of the CLI: durations, exit codes, origins, key=value pairs, redaction of `profiles show`. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { profileFromPairs, redactProfile } from '../../src/cli/commands/profiles.js';
import { allowedOrigins } from '../../src/cli/commands/request.js';
import { describeExpiry, formatDuration, parseDuration } from '../../src/cli/duration.js';
import { EXIT, exitCodeFor, UsageError } from '../../src/cli/exit.js';
import {
  ConfigError,
  LockTimeoutError,
  NetworkError,
  StoreError,
  TokenEndpointError,
} from '../../src/errors.js';
import { originsFromProfile, profileOrigins } from '../../src/fetch/index.js';

describe('durations', () => {
  it('parses 60s, 5m, 1h30m, 500ms and bare seconds', () => {
    assert.equal(parseDuration('60s'), 60_000);
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('90'), 90_000);
    assert.equal(parseDuration('soon'), undefined);
    assert.equal(parseDuration('5x'), undefined);
  });
  it('formats relative times', () => {
    assert.equal(formatDuration(252_000), '4m12s');
    assert.equal(formatDuration(3_720_000), '1h2m');
    assert.equal(describeExpiry(1_000 + 252_000, 1_000), 'expires in 4m12s');
    assert.equal(describeExpiry(0, 3_000), 'expired 3s ago');
  });
});

describe('exit codes', () => {
  it('maps error classes to the documented codes', () => {
    assert.equal(exitCodeFor(new UsageError('x')), EXIT.USAGE);
    assert.equal(exitCodeFor(new ConfigError('x')), 2);
    assert.equal(exitCodeFor(new TokenEndpointError('u', 401, {})), 3);
    assert.equal(exitCodeFor(new NetworkError('u', 'down')), 4);
    assert.equal(exitCodeFor(new NetworkError('u', 'slow', { timeout: true })), 4);
    assert.equal(exitCodeFor(new StoreError('redis', 'down')), 5);
    assert.equal(exitCodeFor(new LockTimeoutError('file', 10)), 5);
    assert.equal(exitCodeFor(new Error('x')), 1);
  });
});

describe('request origins', () => {
  it('uses the profile API origins (api_base_url, preset base URLs, allowed_origins), else the typed URL', () => {
    const url = new URL('https://api.example.test/x');
    assert.deepEqual(allowedOrigins({}, url, profileOrigins), ['https://api.example.test']);
    assert.deepEqual(
      allowedOrigins(
        { api_base_url: 'https://a.test/v1', allowed_origins: ['https://b.test'] },
        url,
        originsFromProfile,
      ),
      ['https://a.test', 'https://b.test'],
    );
    assert.deepEqual(
      allowedOrigins(
        { provider: 'acronis', datacenter_url: 'https://eu2-cloud.example.test' },
        url,
        originsFromProfile,
      ),
      ['https://eu2-cloud.example.test'],
    );
  });

  it("a Cylance profile without api_base_url sends its token only to its regional host, not to the typed URL's origin", () => {
    const typed = new URL('https://elsewhere.example.test/devices/v2');
    assert.deepEqual(allowedOrigins({ provider: 'cylance', region: 'euc1' }, typed, profileOrigins), [
      'https://protectapi-euc1.cylance.com',
    ]);
    assert.deepEqual(allowedOrigins({ provider: 'cylance' }, typed, profileOrigins), [
      'https://protectapi.cylance.com',
    ]);
  });
});

describe('profiles add / show helpers', () => {
  it('types key=value pairs by key', async () => {
    const p = await profileFromPairs([
      'timeout=5',
      'scopes=a,b',
      'insecure_skip_tls_verify=false',
      'params.x=1',
      'params.y=2',
      'client_id=c',
    ]);
    assert.deepEqual(p, {
      timeout: 5,
      scopes: ['a', 'b'],
      insecure_skip_tls_verify: false,
      params: { x: '1', y: '2' },
      client_id: 'c',
    });
    await assert.rejects(profileFromPairs(['timout=5']), /did you mean "timeout"/);
    await assert.rejects(profileFromPairs(['timeout=soon']), /takes a number/);
  });
  it('redacts literal secrets but shows references', async () => {
    const shown = await redactProfile({
      client_secret: 'literal-1234',
      password: 'env:PW',
      store_url: 'redis://:pw-5678@127.0.0.1:6379/0',
      params: { api_key: 'k-9999', region: 'eu' },
    });
    assert.equal(shown['client_secret'], '[REDACTED]');
    assert.equal(shown['password'], 'env:PW');
    assert.equal(shown['store_url'], 'redis://:[REDACTED]@127.0.0.1:6379/0');
    assert.deepEqual(shown['params'], { api_key: '[REDACTED]', region: 'eu' });
  });
});
