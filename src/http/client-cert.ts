/**
 * The client certificate of mutual TLS (RFC 8705): the profile's `tls_cert` and `tls_key` (PEM text,
 * usually given as references such as `file:/etc/pki/client.pem`), checked once, when the profile's
 * HTTP options are built. Every failure is a {@link ConfigError} naming the key; none carries key
 * material, the passphrase or the certificate itself.
 * @module
 */

import { createHash, createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { ConfigError, printWarningOnce, type WarningHandler } from '../errors.js';
import { registerSecret } from '../redact.js';

/** A checked client certificate, ready for TLS. */
export interface ClientCertificate {
  /** The certificate (and any chain after it), PEM. */
  readonly cert: string;
  /** The private key, PEM (PKCS#8, decrypted). Secret: registered for redaction. */
  readonly key: string;
  /**
   * The certificate's SHA-256 thumbprint, base64url (`x5t#S256`, RFC 8705 §3.1): what a
   * certificate-bound access token's `cnf` names.
   */
  readonly thumbprint: string;
}

/** What {@link loadClientCertificate} reads (profile values, references already resolved). */
export interface ClientCertificateInput {
  /** `tls_cert`: PEM certificate, a chain may follow. */
  cert?: string | undefined;
  /** `tls_key`: PEM private key (PKCS#8, PKCS#1 or SEC1), maybe encrypted. */
  key?: string | undefined;
  /** `tls_key_passphrase`: the passphrase of an encrypted key. */
  passphrase?: string | undefined;
  /**
   * Receives the `CLIENT_CERT_EXPIRED` warning: the certificate has expired or is not valid yet.
   * Default: printed once to stderr.
   */
  onWarning?: WarningHandler | undefined;
  /** The time the certificate's dates are checked against, epoch ms. Default `Date.now()`. */
  now?: number | undefined;
}

/** How far ahead of this machine's clock a certificate's start may be before it is reported. */
const NOT_BEFORE_SKEW_MS = 5 * 60_000;

/**
 * What is wrong with a certificate's dates at `now`, or `undefined` when it is valid. `notBefore` is
 * allowed {@link NOT_BEFORE_SKEW_MS} of clock skew (a certificate issued a moment ago by a machine
 * whose clock is a little ahead).
 */
export function certificateDatesProblem(cert: X509Certificate, now: number): string | undefined {
  const notAfter = Date.parse(cert.validTo);
  const notBefore = Date.parse(cert.validFrom);
  const day = (ms: number) =>
    new Date(ms)
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, ' UTC');
  if (notAfter < now) {
    return `the client certificate in tls_cert expired on ${day(notAfter)}: a server that checks its dates refuses the TLS handshake; renew it`;
  }
  if (notBefore > now + NOT_BEFORE_SKEW_MS) {
    return `the client certificate in tls_cert is not valid before ${day(notBefore)}: a server that checks its dates refuses the TLS handshake; check this machine's clock`;
  }
  return undefined;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The `x5t#S256` of a certificate (RFC 8705 §3.1): SHA-256 of its DER, base64url. */
export function certificateThumbprint(cert: X509Certificate): string {
  return createHash('sha256').update(cert.raw).digest('base64url');
}

/**
 * Checks and prepares a client certificate: the certificate parses, the key parses (decrypted with the
 * passphrase when it is encrypted), and the key is the certificate's. The key, its decrypted form and
 * the passphrase are registered for redaction. A certificate that has expired or is not valid yet is
 * still loaded (a server doing `self_signed_tls_client_auth` may match its key alone), with a
 * `CLIENT_CERT_EXPIRED` warning.
 *
 * @throws ConfigError (key `tls_cert`, `tls_key` or `tls_key_passphrase`) for a missing or unusable
 *   value, a wrong or missing passphrase, or a key that does not belong to the certificate.
 */
export function loadClientCertificate(input: ClientCertificateInput): ClientCertificate {
  const { key: keyText, passphrase } = input;
  if (keyText) registerSecret(keyText);
  if (passphrase) registerSecret(passphrase);
  if (!input.cert) {
    throw new ConfigError('is required with tls_key (the client certificate, PEM)', { key: 'tls_cert' });
  }
  if (!keyText) {
    throw new ConfigError("is required with tls_cert (the client certificate's private key, PEM)", {
      key: 'tls_key',
    });
  }
  const certs = input.cert.match(PEM_CERT) ?? [];
  if (certs.length === 0) {
    throw new ConfigError(
      'holds no PEM certificate ("-----BEGIN CERTIFICATE-----"); give the PEM text, or file:/path/to/cert.pem',
      { key: 'tls_cert' },
    );
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certs[0] as string);
    for (const more of certs.slice(1)) new X509Certificate(more);
  } catch {
    throw new ConfigError('holds a PEM certificate that does not parse', { key: 'tls_cert' });
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(keyText)) {
    throw new ConfigError(
      'holds no PEM private key ("-----BEGIN PRIVATE KEY-----"); give the PEM text, or file:/path/to/key.pem',
      { key: 'tls_key' },
    );
  }
  const encrypted = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,ENCRYPTED/.test(keyText);
  if (encrypted && !passphrase) {
    throw new ConfigError('is encrypted: give its passphrase in tls_key_passphrase', { key: 'tls_key' });
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(
      encrypted
        ? { key: keyText, format: 'pem', passphrase: passphrase as string }
        : { key: keyText, format: 'pem' },
    );
  } catch {
    if (encrypted) throw new ConfigError('does not decrypt tls_key', { key: 'tls_key_passphrase' });
    throw new ConfigError('is not a usable PEM private key (PKCS#8, PKCS#1 or SEC1)', { key: 'tls_key' });
  }
  if (!x509.checkPrivateKey(key)) {
    throw new ConfigError('is not the private key of the certificate in tls_cert', { key: 'tls_key' });
  }
  const problem = certificateDatesProblem(x509, input.now ?? Date.now());
  if (problem !== undefined) {
    try {
      (input.onWarning ?? printWarningOnce)({ code: 'CLIENT_CERT_EXPIRED', message: problem });
    } catch {
      // A throwing warning hook must not break loading.
    }
  }
  const pem = key.export({ format: 'pem', type: 'pkcs8' }).toString();
  registerSecret(pem);
  return { cert: certs.join('\n'), key: pem, thumbprint: certificateThumbprint(x509) };
}
