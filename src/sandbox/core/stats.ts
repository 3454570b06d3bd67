/**
 * The sandbox's counters: tokens issued per vendor and grant, API calls, rejections and injected faults.
 * @module
 */

import { SANDBOX_VENDORS, type SandboxStats, type SandboxVendor } from '../types.js';

/** Mutable counters behind `stats()`. */
export class Counters {
  #s: SandboxStats = Counters.#empty();

  static #empty(): SandboxStats {
    const perVendor = <T>(f: () => T) =>
      Object.fromEntries(SANDBOX_VENDORS.map((v) => [v, f()])) as Record<SandboxVendor, T>;
    return {
      token: perVendor(() => ({})),
      api: perVendor(() => 0),
      rejected: perVendor(() => 0),
      faults: perVendor(() => 0),
    };
  }

  /** A token was issued by `grant`. */
  issued(vendor: SandboxVendor, grant: string): void {
    const g = this.#s.token[vendor];
    g[grant] = (g[grant] ?? 0) + 1;
  }

  /** An API call succeeded. */
  api(vendor: SandboxVendor): void {
    this.#s.api[vendor]++;
  }

  /** The vendor logic refused a request. */
  rejected(vendor: SandboxVendor): void {
    this.#s.rejected[vendor]++;
  }

  /** A fault answered a token request. */
  fault(vendor: SandboxVendor): void {
    this.#s.faults[vendor]++;
  }

  /** A deep copy of the counters. */
  snapshot(): SandboxStats {
    return structuredClone(this.#s);
  }

  /** Back to zero. */
  clear(): void {
    this.#s = Counters.#empty();
  }
}
