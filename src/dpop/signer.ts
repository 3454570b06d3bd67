/**
 * The DPoP signer of one profile identity: its key pair (loaded from, or created once in, the profile's
 * store), the nonces its servers gave, proofs for token requests and API requests, and the hook the
 * token endpoint layer calls on every attempt of a token request (`use_dpop_nonce`: one more attempt
 * with the nonce; a token that came back unbound: refused).
 * @module
 */

import { InvalidTokenResponseError } from '../errors.js';
import type { TokenRequestAnswer, TokenRequestHook } from '../http/types.js';
import type { TokenStore } from '../stores/types.js';
import type { DpopAlgorithm } from './algorithms.js';
import { type DpopKeyPair, dpopKeyStoreKey, loadOrCreateDpopKey } from './keys.js';
import { DpopNonces } from './nonces.js';
import { createProof, jwkThumbprint, type ProofTarget } from './proof.js';

/** Options of a {@link DpopSigner}. */
export interface DpopSignerOptions {
  /** The signature algorithm. */
  alg: DpopAlgorithm;
  /** The store of the profile's tokens: the key pair is kept there. */
  store: TokenStore;
  /** The store key of the profile's tokens (the key pair's entry is derived from it). */
  tokenKey: string;
  /** The profile name, kept with the key's entry. */
  profile?: string | undefined;
  /** Current time, ms: the proofs' `iat`. Default `Date.now` (a proof's time must be the real time). */
  now?: () => number;
  /** The lease and the wait of the store lock taken to create the key, ms. */
  lockLeaseMs?: number;
  lockTimeoutMs?: number;
}

/**
 * Signs DPoP proofs (RFC 9449) with a profile identity's key pair. A {@link TokenManager} built from a
 * profile with `dpop` has one (`manager.dpop`); the request integrations take it from the manager.
 */
export class DpopSigner {
  /** The signature algorithm. */
  readonly alg: DpopAlgorithm;
  /** The servers' nonces, by origin. */
  readonly nonces = new DpopNonces();
  /** The hook the token endpoint layer calls on each attempt of a token request (see `HttpOptions`). */
  readonly tokenRequestHook: TokenRequestHook;
  readonly #options: DpopSignerOptions;
  readonly #now: () => number;
  #key: Promise<DpopKeyPair> | undefined;

  constructor(options: DpopSignerOptions) {
    this.alg = options.alg;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.tokenRequestHook = {
      // The key is read from the store again for each token request: a token is bound to the key
      // every process sharing the store uses now (another process's logout may have deleted it).
      headers: async (target) => {
        await this.#reload();
        return { dpop: await this.proof(target) };
      },
      onAnswer: (answer) => this.#onTokenAnswer(answer),
    };
  }

  #loadOptions(): Parameters<typeof loadOrCreateDpopKey>[0] {
    const o = this.#options;
    return {
      store: o.store,
      tokenKey: o.tokenKey,
      profile: o.profile,
      alg: o.alg,
      now: this.#now,
      ...(o.lockLeaseMs !== undefined ? { lockLeaseMs: o.lockLeaseMs } : {}),
      ...(o.lockTimeoutMs !== undefined ? { lockTimeoutMs: o.lockTimeoutMs } : {}),
    };
  }

  /** Reads the key pair from the store (creating it if it is gone) and uses it from now on. */
  async #reload(): Promise<void> {
    const p = loadOrCreateDpopKey(this.#loadOptions());
    await p;
    this.#key = p;
  }

  /**
   * Deletes the key pair from the store and forgets it (`logout`): the next token request makes a new
   * one.
   * @throws StoreError from the store.
   */
  async forget(): Promise<void> {
    this.#key = undefined;
    await this.#options.store.delete(dpopKeyStoreKey(this.#options.tokenKey, this.alg));
  }

  /**
   * The key pair: read from the store on first use, or created there under the store's lock. Shared by
   * concurrent callers; a failure is not remembered.
   * @throws StoreError / LockTimeoutError; ConfigError (key `dpop`) for an unusable stored key.
   */
  key(): Promise<DpopKeyPair> {
    if (this.#key === undefined) {
      const p = loadOrCreateDpopKey(this.#loadOptions());
      this.#key = p;
      p.catch(() => {
        if (this.#key === p) this.#key = undefined;
      });
    }
    return this.#key;
  }

  /** The JWK SHA-256 thumbprint of the public key: what a bound token's `cnf.jkt` holds. */
  async thumbprint(): Promise<string> {
    return jwkThumbprint(await this.key());
  }

  /**
   * A proof for one request to `target`: with `ath` when `accessToken` is given (a request to a
   * resource), with the nonce last given by the target's origin.
   */
  async proof(target: ProofTarget, accessToken?: string): Promise<string> {
    const key = await this.key();
    return createProof(key, target, {
      accessToken,
      nonce: this.nonces.get(target.url),
      iat: Math.floor(this.#now() / 1000),
    });
  }

  #onTokenAnswer(answer: TokenRequestAnswer): boolean {
    this.nonces.set(answer.url, answer.headers['dpop-nonce']);
    if (answer.body !== undefined) {
      const type = answer.body['token_type'];
      if (typeof type !== 'string' || type.toLowerCase() !== 'dpop') {
        // No "DPoP <word>" in messages: the redaction takes it for a credential.
        throw new InvalidTokenResponseError(
          answer.url,
          answer.status,
          `token endpoint ${answer.url} answered token_type ${typeof type === 'string' ? JSON.stringify(type) : 'none'} to a request with a proof of possession: the server did not bind the token to the profile's key; refused (the profile key \`dpop\` asks for sender-constrained tokens: remove it to accept unbound tokens)`,
        );
      }
      return false;
    }
    return answer.error === 'use_dpop_nonce' && this.nonces.get(answer.url) !== undefined;
  }
}
