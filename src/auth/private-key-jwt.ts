/**
 * `private_key_jwt`: a JWT client assertion signed with the client's private key (RFC 7523, OIDC Core §9).
 * @module
 */

import { createPrivateKey, type KeyObject } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { registerSecret } from '../redact.js';
import { applyAssertion } from './assertion.js';
import type { ClientAuth } from './types.js';

/** Options of {@link privateKeyJwt}. */
export interface PrivateKeyJwtOptions {
  clientId: string;
  /** A PEM private key (PKCS#8, or PKCS#1/SEC1) or a private JWK as JSON text. Secret. */
  privateKey: string;
  /** JWS algorithm. Default: the JWK's `alg`, else by key type (RS256, ES256/384/512, EdDSA). */
  alg?: string;
  /** `kid` header. Default: the JWK's `kid`. */
  keyId?: string;
  /** The assertion's `aud` instead of the token URL. */
  audience?: string | string[];
}

interface LoadedKey {
  key: KeyObject;
  alg: string;
  kid?: string;
}

function defaultAlg(key: KeyObject): string {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'RS256';
    case 'rsa-pss':
      return 'PS256';
    case 'ec': {
      // Stryker disable next-line OptionalChaining: Node gives every EC key its asymmetricKeyDetails; the `?.` is for the type.
      const curve = key.asymmetricKeyDetails?.namedCurve;
      return curve === 'secp384r1' ? 'ES384' : curve === 'secp521r1' ? 'ES512' : 'ES256';
    }
    case 'ed25519':
    case 'ed448':
      return 'EdDSA';
    default:
      throw new ConfigError(
        `key type ${String(key.asymmetricKeyType)} is not supported for private_key_jwt`,
        {
          key: 'private_key',
        },
      );
  }
}

/** Parses a PEM or JWK private key. Never puts key material into an error. */
export function loadPrivateKey(text: string, alg?: string, keyId?: string): LoadedKey {
  const t = text.trim();
  let key: KeyObject;
  let jwkAlg: string | undefined;
  let jwkKid: string | undefined;
  if (t.startsWith('{')) {
    let jwk: Record<string, unknown>;
    try {
      jwk = JSON.parse(t) as Record<string, unknown>;
    } catch {
      throw new ConfigError('looks like JSON but does not parse as a JWK', { key: 'private_key' });
    }
    if (typeof jwk['d'] !== 'string') {
      throw new ConfigError('the JWK has no private part ("d"); give the private key', {
        key: 'private_key',
      });
    }
    if (typeof jwk['alg'] === 'string') jwkAlg = jwk['alg'];
    if (typeof jwk['kid'] === 'string') jwkKid = jwk['kid'];
    try {
      key = createPrivateKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
    } catch {
      throw new ConfigError('is not a usable private JWK', { key: 'private_key' });
    }
  } else {
    if (!t.includes('-----BEGIN')) {
      throw new ConfigError('must be a PEM private key (-----BEGIN PRIVATE KEY-----) or a JWK as JSON', {
        key: 'private_key',
      });
    }
    try {
      key = createPrivateKey({ key: t, format: 'pem' });
    } catch {
      throw new ConfigError(
        'is not a usable PEM private key (PKCS#8 expected; encrypted keys are not supported)',
        {
          key: 'private_key',
        },
      );
    }
  }
  const out: LoadedKey = { key, alg: alg ?? jwkAlg ?? defaultAlg(key) };
  const kid = keyId ?? jwkKid;
  if (kid !== undefined) out.kid = kid;
  return out;
}

/** `private_key_jwt`: signs an asymmetric client assertion per request. */
export function privateKeyJwt(options: PrivateKeyJwtOptions): ClientAuth {
  if (!options.clientId) throw new ConfigError('is required for private_key_jwt', { key: 'client_id' });
  if (!options.privateKey) throw new ConfigError('is required for private_key_jwt', { key: 'private_key' });
  // The key signs and is never sent, so the HTTP layer cannot see it: register it here, where it is used.
  registerSecret(options.privateKey);
  const loaded = loadPrivateKey(options.privateKey, options.alg, options.keyId);
  if (/^HS/.test(loaded.alg) || loaded.alg === 'none') {
    throw new ConfigError(`"${loaded.alg}" is not an asymmetric algorithm`, { key: 'signing_alg' });
  }
  return {
    method: 'private_key_jwt',
    clientId: options.clientId,
    async apply(req, ctx) {
      const p: Parameters<typeof applyAssertion>[2] = {
        clientId: options.clientId,
        alg: loaded.alg,
        key: loaded.key,
      };
      // Stryker disable next-line ConditionalExpression: a kid set to undefined is no kid to applyAssertion (→ false is killed).
      if (loaded.kid !== undefined) p.kid = loaded.kid;
      // Stryker disable next-line ConditionalExpression: an audience set to undefined falls back as an absent one does (→ false is killed).
      if (options.audience !== undefined) p.audience = options.audience;
      await applyAssertion(req, ctx, p);
    },
  };
}
