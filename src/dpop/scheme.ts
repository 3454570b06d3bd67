/**
 * The DPoP credential scheme of the request core (RFC 9449 §7): `Authorization: DPoP <token>` and a
 * `DPoP` proof bound to the request's method and URL and to the token (`ath`) on every request and
 * redirect hop that carries the token; the API's `DPoP-Nonce` remembered per origin, and its
 * `WWW-Authenticate: DPoP error="use_dpop_nonce"` answered by sending the request once more with the
 * nonce. A token that is not of type DPoP is sent as the Bearer scheme sends it.
 *
 * Import-light: no `jose` here (the signer loads it).
 * @module
 */

import type {
  Attachment,
  ChallengeVerdict,
  CredentialScheme,
  RequestTarget,
  RequestToken,
  ResponseInfo,
} from '../fetch/core.js';
import { AuthorizationValue, isTokenRejected } from '../fetch/shared.js';
import type { DpopSigner } from './signer.js';

const USE_NONCE = /\berror\s*=\s*"?use_dpop_nonce\b/i;
const BAD_PROOF = /\berror\s*=\s*"?invalid_dpop_proof\b/i;

/** True when a token's type is DPoP (any case). */
export function isDpopToken(token: Pick<RequestToken, 'tokenType'>): boolean {
  return token.tokenType !== undefined && token.tokenType.toLowerCase() === 'dpop';
}

/** The {@link CredentialScheme} of a profile with `dpop`: see the module documentation. */
export class DpopScheme implements CredentialScheme {
  readonly #signer: DpopSigner;
  readonly #value = new AuthorizationValue();
  /** Where each attachment's headers went (for the nonce of the answer's origin). */
  readonly #targets = new WeakMap<object, string | URL>();
  #bearer: Readonly<Record<string, string>> = {};

  constructor(signer: DpopSigner) {
    this.#signer = signer;
  }

  prepare(
    target: RequestTarget,
    token: RequestToken,
  ): Readonly<Record<string, string>> | Promise<Readonly<Record<string, string>>> {
    const authorization = this.#value.of(token);
    if (!isDpopToken(token)) {
      if (this.#bearer['authorization'] !== authorization) this.#bearer = Object.freeze({ authorization });
      return this.#bearer;
    }
    return this.#signer.proof(target, token.accessToken).then((dpop) => {
      const headers = Object.freeze({ authorization, dpop });
      this.#targets.set(headers, target.url);
      return headers;
    });
  }

  observe(response: ResponseInfo, attachment: Attachment): void {
    const nonce = response.header('dpop-nonce');
    if (nonce === undefined) return;
    const url = response.url ?? this.#targets.get(attachment.headers);
    if (url !== undefined) this.#signer.nonces.set(url, nonce);
  }

  onChallenge(response: ResponseInfo, attachment: Attachment): ChallengeVerdict {
    const challenge = response.header('www-authenticate');
    if (isDpopToken(attachment.token) && challenge !== undefined) {
      if (USE_NONCE.test(challenge)) {
        // The nonce came with the answer (observe() kept it): the same token, a new proof.
        const url = response.url ?? this.#targets.get(attachment.headers);
        return url !== undefined && this.#signer.nonces.get(url) !== undefined ? 'resend' : undefined;
      }
      // A proof the API refused is not mended by a new token: the answer stands.
      if (BAD_PROOF.test(challenge)) return undefined;
    }
    return isTokenRejected(response.status, challenge) ? 'renew' : undefined;
  }
}
