/**
 * The algorithms of DPoP keys and the reading of a profile's `dpop` value. Import-light (no `jose`): the
 * config schema uses it.
 * @module
 */

import { ConfigError } from '../errors.js';

/** The signature algorithms a DPoP key may use (RFC 9449 §4.2: asymmetric only). */
export const DPOP_ALGORITHMS = [
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
  'RS256',
  'RS384',
  'RS512',
  'EdDSA',
  'Ed25519',
] as const;

/** A DPoP signature algorithm (see {@link DPOP_ALGORITHMS}). */
export type DpopAlgorithm = (typeof DPOP_ALGORITHMS)[number];

/** The algorithm of `dpop = true`. */
export const DEFAULT_DPOP_ALGORITHM: DpopAlgorithm = 'ES256';

const ALGS: ReadonlySet<string> = new Set(DPOP_ALGORITHMS);

/**
 * The algorithm a profile's `dpop` value asks for: `true` → ES256, a name → that name, `false` or absent
 * → `undefined` (no DPoP).
 * @throws ConfigError (key `dpop`) for an algorithm DPoP cannot use (HS256, none, an unknown name).
 */
export function dpopAlgorithm(value: boolean | string | undefined): DpopAlgorithm | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return DEFAULT_DPOP_ALGORITHM;
  if (ALGS.has(value)) return value as DpopAlgorithm;
  throw new ConfigError(
    `${JSON.stringify(value)} is not an algorithm for proofs of possession; use true (ES256) or one of ${DPOP_ALGORITHMS.join(', ')}`,
    { key: 'dpop' },
  );
}
