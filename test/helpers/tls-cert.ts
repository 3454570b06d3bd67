/**
 * A self-signed certificate for 127.0.0.1, made with the openssl CLI (undefined when it is missing: the
 * test then calls `missing(t, 'openssl', TLS_CERT_INSTALL)`, which skips it, or fails it under CI).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** How to install what `selfSignedCert` needs. */
export const TLS_CERT_INSTALL = 'apt-get install openssl';

/**
 * @param cn - the certificate's common name. Default `127.0.0.1`.
 * @param san - its subjectAltName. Default `IP:127.0.0.1`.
 */
export function selfSignedCert(
  cn = '127.0.0.1',
  san = 'IP:127.0.0.1',
): { key: string; cert: string } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'tokenward-core-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        `/CN=${cn}`,
        '-addext',
        `subjectAltName=${san}`,
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
