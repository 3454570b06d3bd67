/**
 * `none`: a public client that sends only its `client_id` (RFC 6749 §2.1, OpenID Connect Core §9).
 * @module
 */

import type { ClientAuth } from './types.js';

/** Options of {@link noneAuth}. */
export interface NoneAuthOptions {
  /** The client id; when absent, nothing is sent at all. */
  clientId?: string;
}

/** `none`: adds `client_id` to the form (when given) and no secret. */
export function noneAuth(options: NoneAuthOptions = {}): ClientAuth {
  const auth: { method: 'none'; clientId?: string; apply: ClientAuth['apply'] } = {
    method: 'none',
    async apply(req) {
      if (options.clientId) req.form['client_id'] = options.clientId;
    },
  };
  if (options.clientId) auth.clientId = options.clientId;
  return auth;
}
