/**
 * Client authentication: pick a method from a profile.
 * @module
 */

import { ConfigError } from '../errors.js';
import type { ClientAuthMethod, Profile } from '../profile.js';
import { authMethodFromProfile } from '../providers/values.js';
import { type BasicEncoding, clientSecretBasic } from './basic.js';
import { clientSecretJwt } from './client-secret-jwt.js';
import { noneAuth } from './none.js';
import { clientSecretPost } from './post.js';
import { privateKeyJwt } from './private-key-jwt.js';
import { selfSignedTlsClientAuth } from './self-signed-tls-client-auth.js';
import { tlsClientAuth } from './tls-client-auth.js';
import type { ClientAuth } from './types.js';

export { type BasicEncoding, clientSecretBasic, encodeBasicCredentials, formUrlEncode } from './basic.js';
export { clientSecretJwt } from './client-secret-jwt.js';
export { noneAuth } from './none.js';
export { clientSecretPost } from './post.js';
export { loadPrivateKey, privateKeyJwt } from './private-key-jwt.js';
export {
  type SelfSignedTlsClientAuthOptions,
  selfSignedTlsClientAuth,
} from './self-signed-tls-client-auth.js';
export { type TlsClientAuthOptions, tlsClientAuth } from './tls-client-auth.js';
export * from './types.js';

/** The profile keys client authentication reads (secrets already resolved to plain strings). */
export type ClientAuthProfile = Pick<
  Profile,
  | 'client_id'
  | 'client_secret'
  | 'auth_method'
  | 'private_key'
  | 'signing_alg'
  | 'key_id'
  | 'tls_cert'
  | 'tls_key'
> & {
  /** How `client_secret_basic` encodes id and secret. Default `rfc6749`. */
  basic_encoding?: BasicEncoding;
  /** The `aud` of JWT client assertions instead of the token URL. */
  assertion_audience?: string;
};

const METHODS: readonly ClientAuthMethod[] = [
  'client_secret_basic',
  'client_secret_post',
  'client_secret_jwt',
  'private_key_jwt',
  'tls_client_auth',
  'self_signed_tls_client_auth',
  'none',
];

/**
 * Builds the client authentication a profile asks for: `auth_method`, or by default
 * `client_secret_basic` when a secret is set, `private_key_jwt` when only a `private_key` is set,
 * `tls_client_auth` when only a `tls_cert` is set, else `none`. The mutual-TLS methods need `tls_cert`
 * and `tls_key` (the HTTP layer presents them; see `loadClientCertificate`).
 *
 * @throws ConfigError naming the missing or invalid key.
 */
export function createClientAuth(profile: ClientAuthProfile): ClientAuth {
  const method: ClientAuthMethod = authMethodFromProfile(profile);
  if (!METHODS.includes(method)) {
    throw new ConfigError(`unknown method "${String(method)}"; use one of ${METHODS.join(', ')}`, {
      key: 'auth_method',
    });
  }
  const clientId = profile.client_id ?? '';
  if (method !== 'none' && !clientId)
    throw new ConfigError(`is required for ${method}`, { key: 'client_id' });
  const needSecret = (): string => {
    if (!profile.client_secret) throw new ConfigError(`is required for ${method}`, { key: 'client_secret' });
    return profile.client_secret;
  };
  switch (method) {
    case 'client_secret_basic': {
      const o: Parameters<typeof clientSecretBasic>[0] = { clientId, clientSecret: needSecret() };
      // Stryker disable next-line ConditionalExpression: the option set to undefined is the option left out (the method applies its default); → false is killed.
      if (profile.basic_encoding !== undefined) o.encoding = profile.basic_encoding;
      return clientSecretBasic(o);
    }
    case 'client_secret_post':
      return clientSecretPost({ clientId, clientSecret: needSecret() });
    case 'client_secret_jwt': {
      const o: Parameters<typeof clientSecretJwt>[0] = { clientId, clientSecret: needSecret() };
      // Stryker disable next-line ConditionalExpression: the option set to undefined is the option left out (the method applies its default); → false is killed.
      if (profile.signing_alg !== undefined) o.alg = profile.signing_alg;
      // Stryker disable next-line ConditionalExpression: the option set to undefined is the option left out (the method applies its default); → false is killed.
      if (profile.assertion_audience !== undefined) o.audience = profile.assertion_audience;
      return clientSecretJwt(o);
    }
    case 'private_key_jwt': {
      // Stryker disable next-line ConditionalExpression: privateKeyJwt() refuses a missing key with the same error; this check narrows the type (→ true is killed).
      if (!profile.private_key)
        throw new ConfigError('is required for private_key_jwt', { key: 'private_key' });
      const o: Parameters<typeof privateKeyJwt>[0] = { clientId, privateKey: profile.private_key };
      // Stryker disable next-line ConditionalExpression: the option set to undefined is the option left out (the method applies its default); → false is killed.
      if (profile.signing_alg !== undefined) o.alg = profile.signing_alg;
      // Stryker disable next-line ConditionalExpression: the option set to undefined is the option left out (the method applies its default); → false is killed.
      if (profile.key_id !== undefined) o.keyId = profile.key_id;
      // Stryker disable next-line ConditionalExpression: the option set to undefined is the option left out (the method applies its default); → false is killed.
      if (profile.assertion_audience !== undefined) o.audience = profile.assertion_audience;
      return privateKeyJwt(o);
    }
    case 'tls_client_auth':
    case 'self_signed_tls_client_auth': {
      // The certificate is presented by the HTTP layer; without one the server could not tell who calls.
      if (!profile.tls_cert) throw new ConfigError(`is required for ${method}`, { key: 'tls_cert' });
      if (!profile.tls_key) throw new ConfigError(`is required for ${method}`, { key: 'tls_key' });
      return method === 'tls_client_auth'
        ? tlsClientAuth({ clientId })
        : selfSignedTlsClientAuth({ clientId });
    }
    default:
      return clientId ? noneAuth({ clientId }) : noneAuth();
  }
}
