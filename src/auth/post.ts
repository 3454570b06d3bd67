/**
 * `client_secret_post`: the client id and secret as form fields (RFC 6749 §2.3.1).
 * @module
 */

import { ConfigError } from '../errors.js';
import type { ClientAuth } from './types.js';

/** Options of {@link clientSecretPost}. */
export interface ClientSecretPostOptions {
  clientId: string;
  clientSecret: string;
}

/**
 * `client_secret_post`: adds `client_id` and `client_secret` to the form. The HTTP layer registers the
 * `client_secret` field for redaction when it sends it.
 */
export function clientSecretPost(options: ClientSecretPostOptions): ClientAuth {
  if (!options.clientId) throw new ConfigError('is required for client_secret_post', { key: 'client_id' });
  if (!options.clientSecret)
    throw new ConfigError('is required for client_secret_post', { key: 'client_secret' });
  return {
    method: 'client_secret_post',
    clientId: options.clientId,
    async apply(req) {
      req.form['client_id'] = options.clientId;
      req.form['client_secret'] = options.clientSecret;
    },
  };
}
