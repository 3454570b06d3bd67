/**
 * `tls_client_auth`: the client proves itself with a certificate issued by a CA the server trusts,
 * presented in the TLS handshake (RFC 8705 §2.1, PKI mutual TLS). The form carries only `client_id`.
 * @module
 */

import { ConfigError } from '../errors.js';
import type { ClientAuth } from './types.js';

/** Options of {@link tlsClientAuth}. */
export interface TlsClientAuthOptions {
  clientId: string;
}

/**
 * `tls_client_auth`: adds `client_id` to the form. The certificate itself is the HTTP layer's
 * (`HttpOptions.clientCert`, from the profile's `tls_cert` and `tls_key`): without it the server refuses.
 */
export function tlsClientAuth(options: TlsClientAuthOptions): ClientAuth {
  if (!options.clientId) throw new ConfigError('is required for tls_client_auth', { key: 'client_id' });
  return {
    method: 'tls_client_auth',
    clientId: options.clientId,
    async apply(req) {
      req.form['client_id'] = options.clientId;
    },
  };
}
