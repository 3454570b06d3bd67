/**
 * What a connection given extra CA certificates trusts. Node's `ca` option *replaces* the default trust
 * (its bundled roots and the `NODE_EXTRA_CA_CERTS` file read at startup), so a `ca` is given as all
 * three: the bundled roots, the `NODE_EXTRA_CA_CERTS` certificates (a corporate proxy's CA, say) and the
 * extra ones — a profile's `ca_file` adds to what the process trusts, it never takes anything away.
 * @module
 */

import { readFileSync, statSync } from 'node:fs';
import { rootCertificates } from 'node:tls';

/** Largest `NODE_EXTRA_CA_CERTS` file read (Debian's whole bundle is about 0.2 MB). */
const EXTRA_CA_MAX_BYTES = 16 * 1024 * 1024;

let extra: string[] | undefined;

/**
 * The certificates of `NODE_EXTRA_CA_CERTS` (PEM text, as one string), read once; none when it is unset,
 * unreadable or too large (Node itself warns about such a file when the process starts).
 */
function extraCaCertificates(): string[] {
  if (extra !== undefined) return extra;
  extra = [];
  const file = process.env['NODE_EXTRA_CA_CERTS'];
  if (file === undefined || file === '') return extra;
  try {
    if (statSync(file).size <= EXTRA_CA_MAX_BYTES) {
      const pem = readFileSync(file, 'utf8');
      if (pem.includes('-----BEGIN CERTIFICATE-----')) extra = [pem];
    }
  } catch {
    // Unreadable: Node said so at startup; the bundled roots and `ca` are still trusted.
  }
  return extra;
}

/**
 * Node's `ca` option for a connection that trusts `ca` besides the default trust; `undefined` (Node's
 * default) for no `ca` or an empty one.
 */
export function caWithDefaults(ca: string | undefined): string[] | undefined {
  if (ca === undefined || ca === '') return undefined;
  return [...rootCertificates, ...extraCaCertificates(), ca];
}
