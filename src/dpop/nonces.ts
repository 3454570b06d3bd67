/**
 * The `DPoP-Nonce` values servers hand out (RFC 9449 §8, §9), remembered per origin in a bounded map so
 * that the next proof to that origin carries the nonce at once.
 * @module
 */

/** The most origins remembered; the least recently set is forgotten first. */
export const MAX_DPOP_NONCE_ORIGINS = 64;

/** The longest nonce kept, characters (a nonce is an opaque short string, RFC 9449 §8.1). */
export const MAX_DPOP_NONCE_LENGTH = 512;

// RFC 9449 §8.1: nonce = 1*NQCHAR (%x21 / %x23-5B / %x5D-7E).
const NONCE = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

function originOf(url: string | URL): string | undefined {
  try {
    return (typeof url === 'string' ? new URL(url) : url).origin;
  } catch {
    return undefined;
  }
}

/** The nonces of a DPoP key's servers, by origin (bounded; see {@link MAX_DPOP_NONCE_ORIGINS}). */
export class DpopNonces {
  readonly #byOrigin = new Map<string, string>();
  readonly #max: number;

  constructor(max = MAX_DPOP_NONCE_ORIGINS) {
    this.#max = max;
  }

  /** The nonce last given by the origin of `url`. */
  get(url: string | URL): string | undefined {
    const o = originOf(url);
    return o === undefined ? undefined : this.#byOrigin.get(o);
  }

  /**
   * Remembers `nonce` (a `DPoP-Nonce` header value) for the origin of `url`. A value that is not a
   * valid nonce is ignored. Returns true when the remembered nonce changed.
   */
  set(url: string | URL, nonce: string | undefined): boolean {
    if (nonce === undefined) return false;
    const n = nonce.trim();
    if (n.length === 0 || n.length > MAX_DPOP_NONCE_LENGTH || !NONCE.test(n)) return false;
    const o = originOf(url);
    if (o === undefined) return false;
    const prev = this.#byOrigin.get(o);
    this.#byOrigin.delete(o);
    this.#byOrigin.set(o, n);
    while (this.#byOrigin.size > this.#max) {
      const oldest = this.#byOrigin.keys().next().value;
      if (oldest === undefined) break;
      this.#byOrigin.delete(oldest);
    }
    return prev !== n;
  }

  /** How many origins are remembered. */
  get size(): number {
    return this.#byOrigin.size;
  }
}
