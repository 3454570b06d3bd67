/**
 * How a transport failure is described and whether it is retried (`classifyNetworkError`,
 * src/http/token-endpoint.ts), code by code: the errno found up to five causes deep (undici's own
 * `UND_ERR_ABORTED` skipped), the TLS codes and prefixes with their hints, the listed codes, and the
 * transient ones retried while every other failure is not.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenwardError } from '../../src/errors.js';
import { classifyNetworkError } from '../../src/http/token-endpoint.js';

/** An Error with this code. */
const coded = (code: unknown, cause?: unknown) =>
  Object.assign(new Error(`failed: ${String(code)}`), { code }, cause === undefined ? {} : { cause });

describe('classifyNetworkError', () => {
  it('TLS: the listed codes and any ERR_SSL* / ERR_TLS*, each with its hint; never retried', () => {
    const cases: Array<[string, string]> = [
      ['ERR_TLS_CERT_ALTNAME_INVALID', 'the certificate does not name this host'],
      ['CERT_HAS_EXPIRED', 'the certificate has expired'],
      ['ERR_SSL_WRONG_VERSION_NUMBER', 'the TLS handshake failed (is this an https:// port?)'],
      ['ERR_SSL_SOMETHING_NEW', 'the TLS handshake failed (is this an https:// port?)'],
      ['ERR_TLS_SOMETHING_NEW', 'the certificate is not trusted; give its CA with ca_file'],
      ['DEPTH_ZERO_SELF_SIGNED_CERT', 'the certificate is not trusted; give its CA with ca_file'],
      ['SELF_SIGNED_CERT_IN_CHAIN', 'the certificate is not trusted; give its CA with ca_file'],
      ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'the certificate is not trusted; give its CA with ca_file'],
      ['UNABLE_TO_GET_ISSUER_CERT', 'the certificate is not trusted; give its CA with ca_file'],
      ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'the certificate is not trusted; give its CA with ca_file'],
      ['CERT_NOT_YET_VALID', 'the certificate is not trusted; give its CA with ca_file'],
      ['CERT_UNTRUSTED', 'the certificate is not trusted; give its CA with ca_file'],
      ['CERT_REVOKED', 'the certificate is not trusted; give its CA with ca_file'],
    ];
    for (const [code, hint] of cases) {
      const e = coded(code);
      assert.deepEqual(
        classifyNetworkError(e),
        { timeout: false, aborted: false, cause: e, retryable: false, reason: `TLS error ${code}: ${hint}` },
        code,
      );
    }
  });

  it('the listed codes: description and retry decision', () => {
    const cases: Array<[string, boolean, string, boolean?]> = [
      [
        'UND_ERR_HEADERS_OVERFLOW',
        false,
        'the response headers are larger than the limit (UND_ERR_HEADERS_OVERFLOW); not retried',
      ],
      ['ECONNREFUSED', true, 'connection refused (ECONNREFUSED); is the server running?'],
      ['ENOTFOUND', false, 'host not found (ENOTFOUND); check the URL'],
      ['EAI_AGAIN', true, 'DNS lookup failed (EAI_AGAIN)'],
      ['ECONNRESET', true, 'connection reset by the server (ECONNRESET)'],
      ['UND_ERR_SOCKET', true, 'the server closed the connection (UND_ERR_SOCKET)'],
      ['UND_ERR_CONNECT_TIMEOUT', true, 'timeout (UND_ERR_CONNECT_TIMEOUT)', true],
      ['UND_ERR_HEADERS_TIMEOUT', true, 'timeout (UND_ERR_HEADERS_TIMEOUT)', true],
      ['UND_ERR_BODY_TIMEOUT', true, 'timeout (UND_ERR_BODY_TIMEOUT)', true],
    ];
    for (const [code, retryable, reason, timeout] of cases) {
      const e = coded(code);
      assert.deepEqual(
        classifyNetworkError(e),
        { timeout: timeout === true, aborted: false, cause: e, retryable, reason },
        code,
      );
    }
  });

  it('only the transient codes are retried among the rest', () => {
    for (const code of [
      'EPIPE',
      'ETIMEDOUT',
      'ECONNABORTED',
      'EHOSTUNREACH',
      'ENETUNREACH',
      'ENETDOWN',
      'EHOSTDOWN',
      'UND_ERR_CLOSED',
      'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
    ]) {
      const e = coded(code);
      assert.deepEqual(
        classifyNetworkError(e),
        { timeout: false, aborted: false, cause: e, retryable: true, reason: `network error (${code})` },
        code,
      );
    }
    for (const code of ['EACCES', 'UND_ERR_INVALID_ARG', 'UND_ERR_RESPONSE']) {
      const f = classifyNetworkError(coded(code));
      assert.equal(f.retryable, false, code);
      assert.equal(f.reason, `network error (${code})`);
    }
  });

  it('no code: the error\'s name, or "unknown"; never retried', () => {
    assert.equal(classifyNetworkError(new TypeError('x')).reason, 'network error (TypeError)');
    assert.equal(classifyNetworkError('a string').reason, 'network error (unknown)');
    assert.equal(classifyNetworkError(undefined).reason, 'network error (unknown)');
    assert.equal(classifyNetworkError(coded(42)).reason, 'network error (Error)');
    assert.equal(classifyNetworkError(new TypeError('x')).retryable, false);
  });

  it('the code is looked for through causes, up to five errors deep; UND_ERR_ABORTED is passed over', () => {
    const deep = (n: number, code: string) => {
      let e: unknown = coded(code);
      for (let i = 1; i < n; i++) e = Object.assign(new Error(`wrapper ${i}`), { cause: e });
      return e;
    };
    assert.equal(
      classifyNetworkError(deep(5, 'ECONNRESET')).reason,
      'connection reset by the server (ECONNRESET)',
    );
    assert.equal(classifyNetworkError(deep(6, 'ECONNRESET')).reason, 'network error (Error)');
    assert.equal(
      classifyNetworkError(coded('UND_ERR_ABORTED', coded('ECONNREFUSED'))).reason,
      'connection refused (ECONNREFUSED); is the server running?',
    );
    assert.equal(classifyNetworkError(coded('UND_ERR_ABORTED')).reason, 'network error (Error)');
    // A cause that is not an Error ends the search.
    assert.equal(
      classifyNetworkError(Object.assign(new Error('w'), { cause: { code: 'ECONNRESET' } })).reason,
      'network error (Error)',
    );
    // The first code found wins.
    assert.equal(
      classifyNetworkError(coded('ENOTFOUND', coded('ECONNRESET'))).reason,
      'host not found (ENOTFOUND); check the URL',
    );
  });

  it('a TokenwardError is not kept as the cause (it is one of ours: its message is already said)', () => {
    const ours = Object.assign(new TokenwardError('ERR_NETWORK', 'x'), { code: 'ECONNRESET' });
    assert.equal(classifyNetworkError(ours).cause, undefined);
    const theirs = coded('ECONNRESET');
    assert.equal(classifyNetworkError(theirs).cause, theirs);
  });
});
