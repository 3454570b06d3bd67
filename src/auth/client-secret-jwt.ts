/**
 * `client_secret_jwt`: a JWT client assertion signed with the client secret (HMAC; RFC 7523, OIDC Core §9).
 * @module
 */

import { ConfigError } from '../errors.js';
import { registerSecret } from '../redact.js';
import { applyAssertion } from './assertion.js';
import type { ClientAuth } from './types.js';

const HMAC_ALGS = new Set(['HS256', 'HS384', 'HS512']);

/** Options of {@link clientSecretJwt}. */
export interface ClientSecretJwtOptions {
  clientId: string;
  clientSecret: string;
  /** `HS256` (default), `HS384` or `HS512`. */
  alg?: string;
  /** The assertion's `aud` instead of the token URL. */
  audience?: string | string[];
}

/** `client_secret_jwt`: signs an HMAC client assertion per request. */
export function clientSecretJwt(options: ClientSecretJwtOptions): ClientAuth {
  if (!options.clientId) throw new ConfigError('is required for client_secret_jwt', { key: 'client_id' });
  if (!options.clientSecret)
    throw new ConfigError('is required for client_secret_jwt', { key: 'client_secret' });
  const alg = options.alg ?? 'HS256';
  if (!HMAC_ALGS.has(alg)) {
    throw new ConfigError(`"${alg}" is not an HMAC algorithm; use HS256, HS384 or HS512`, {
      key: 'signing_alg',
    });
  }
  // The secret signs and is never sent, so the HTTP layer cannot see it: register it here, where it is used.
  registerSecret(options.clientSecret);
  const key = new TextEncoder().encode(options.clientSecret);
  return {
    method: 'client_secret_jwt',
    clientId: options.clientId,
    async apply(req, ctx) {
      const p: Parameters<typeof applyAssertion>[2] = { clientId: options.clientId, alg, key };
      // Stryker disable next-line ConditionalExpression: an audience set to undefined falls back as an absent one does (→ false is killed).
      if (options.audience !== undefined) p.audience = options.audience;
      await applyAssertion(req, ctx, p);
    },
  };
}
