/**
 * `self_signed_tls_client_auth`: the client proves itself with a self-signed certificate registered
 * with the server (its JWK set, matched by `x5t#S256`), presented in the TLS handshake (RFC 8705 §2.2).
 * The form carries only `client_id`.
 * @module
 */

import { ConfigError } from '../errors.js';
import type { ClientAuth } from './types.js';

/** Options of {@link selfSignedTlsClientAuth}. */
export interface SelfSignedTlsClientAuthOptions {
  clientId: string;
}

/**
 * `self_signed_tls_client_auth`: adds `client_id` to the form. The certificate itself is the HTTP
 * layer's (`HttpOptions.clientCert`, from the profile's `tls_cert` and `tls_key`).
 */
export function selfSignedTlsClientAuth(options: SelfSignedTlsClientAuthOptions): ClientAuth {
  if (!options.clientId) {
    throw new ConfigError('is required for self_signed_tls_client_auth', { key: 'client_id' });
  }
  return {
    method: 'self_signed_tls_client_auth',
    clientId: options.clientId,
    async apply(req) {
      req.form['client_id'] = options.clientId;
    },
  };
}
