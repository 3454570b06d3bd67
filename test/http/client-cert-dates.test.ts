/**
 * A client certificate's dates (src/http/client-cert.ts): one that has expired or is not valid yet is
 * still loaded — a server doing `self_signed_tls_client_auth` may match its key alone — with one
 * `CLIENT_CERT_EXPIRED` warning; `notBefore` is allowed five minutes of clock skew. The time is the
 * test's (`now`), never the wall clock.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';
import type { TokenwardWarning } from '../../src/errors.js';
import { certificateDatesProblem, loadClientCertificate } from '../../src/http/client-cert.js';
import { type CertAndKey, certWithDates, PKI_INSTALL } from '../helpers/mtls.js';
import { missing } from '../helpers/services.js';

const FROM = Date.parse('2020-01-01T00:00:00Z');
const TO = Date.parse('2020-01-02T00:00:00Z');
const MIN = 60_000;

describe('client certificate dates', () => {
  let dated: CertAndKey | undefined;
  before(() => {
    dated = certWithDates('20200101000000Z', '20200102000000Z');
  });

  it('certificateDatesProblem: expired, not valid yet beyond the skew, else nothing', (t) => {
    if (dated === undefined) return missing(t, 'openssl', PKI_INSTALL);
    const x509 = new X509Certificate(dated.cert);
    assert.equal(certificateDatesProblem(x509, FROM + 12 * 60 * MIN), undefined);
    assert.equal(certificateDatesProblem(x509, TO), undefined, 'valid through its last second');
    assert.match(certificateDatesProblem(x509, TO + 1) ?? '', /expired on 2020-01-02 00:00:00 UTC.*renew it/);
    assert.equal(certificateDatesProblem(x509, FROM - 4 * MIN), undefined, 'within the clock skew');
    assert.match(
      certificateDatesProblem(x509, FROM - 6 * MIN) ?? '',
      /not valid before 2020-01-01 00:00:00 UTC.*check this machine's clock/,
    );
  });

  it('loadClientCertificate: an expired certificate is loaded, with one CLIENT_CERT_EXPIRED warning', (t) => {
    if (dated === undefined) return missing(t, 'openssl', PKI_INSTALL);
    const warnings: TokenwardWarning[] = [];
    const cert = loadClientCertificate({
      cert: dated.cert,
      key: dated.key,
      now: TO + 1,
      onWarning: (w) => warnings.push(w),
    });
    assert.ok(cert.thumbprint.length > 0);
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['CLIENT_CERT_EXPIRED'],
    );
    assert.doesNotMatch(warnings[0]?.message ?? '', /PRIVATE KEY|BEGIN/);
    // Within its dates: no warning; a throwing hook does not stop the load.
    const quiet: TokenwardWarning[] = [];
    loadClientCertificate({
      cert: dated.cert,
      key: dated.key,
      now: FROM + MIN,
      onWarning: (w) => quiet.push(w),
    });
    assert.deepEqual(quiet, []);
    const loaded = loadClientCertificate({
      cert: dated.cert,
      key: dated.key,
      now: TO + 1,
      onWarning: () => {
        throw new Error('a broken hook');
      },
    });
    assert.equal(loaded.thumbprint, cert.thumbprint);
  });
});
