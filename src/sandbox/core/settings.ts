/**
 * Per-vendor settings: validation, merging (`configure`) and the fault budget (`times`).
 * @module
 */

import { ConfigError } from '../../errors.js';
import type { SandboxFault, SandboxVendor, VendorSettings } from '../types.js';
import { SANDBOX_VENDORS } from '../types.js';
import { type ResolvedSettings, resolveSettings } from './vendor.js';

const FAULT_KINDS: ReadonlySet<string> = new Set([
  '5xx',
  '429',
  'malformed-json',
  'html',
  'slow-body',
  'hang',
  'empty',
  'big-body',
  'wrong-types',
  'crlf-token',
  'redirect',
]);
const SETTING_KEYS: ReadonlySet<string> = new Set([
  'tokenLifetimeSeconds',
  'latencyMs',
  'fault',
  'sessionLifetimeSeconds',
  'deviceIntervalSeconds',
]);

function bad(key: string, message: string): never {
  throw new ConfigError(message, { key });
}

function checkNumber(key: string, v: unknown, min: number, integer = false): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
    bad(key, `must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${JSON.stringify(v)}`);
  }
}

function checkFault(f: unknown): asserts f is SandboxFault {
  if (f === null || typeof f !== 'object') bad('fault', 'must be an object with a "kind"');
  const o = f as Record<string, unknown>;
  if (typeof o['kind'] !== 'string' || !FAULT_KINDS.has(o['kind'])) {
    bad('fault.kind', `must be one of ${[...FAULT_KINDS].join(', ')}`);
  }
  for (const k of Object.keys(o)) {
    if (!['kind', 'times', 'retryAfterSeconds', 'status', 'delayMs'].includes(k))
      bad(`fault.${k}`, 'unknown key');
  }
  if (o['times'] !== undefined) checkNumber('fault.times', o['times'], 1, true);
  if (o['retryAfterSeconds'] !== undefined)
    checkNumber('fault.retryAfterSeconds', o['retryAfterSeconds'], 0, true);
  if (o['delayMs'] !== undefined) checkNumber('fault.delayMs', o['delayMs'], 0);
  if (o['status'] !== undefined) {
    checkNumber('fault.status', o['status'], 100, true);
    if ((o['status'] as number) > 599) bad('fault.status', 'must be an HTTP status (100-599)');
  }
}

/** Validates a vendor name. */
export function checkVendor(v: unknown): asserts v is SandboxVendor {
  if (typeof v !== 'string' || !(SANDBOX_VENDORS as readonly string[]).includes(v)) {
    bad('vendor', `must be one of ${SANDBOX_VENDORS.join(', ')}, got ${JSON.stringify(v)}`);
  }
}

/** Validates settings; `null` and `undefined` values mean "clear". */
export function checkSettings(s: unknown): asserts s is VendorSettings {
  if (s === null || typeof s !== 'object') bad('settings', 'must be an object');
  for (const [k, v] of Object.entries(s)) {
    if (!SETTING_KEYS.has(k)) bad(k, 'unknown setting');
    if (v === undefined || v === null) continue;
    if (k === 'fault') checkFault(v);
    else checkNumber(k, v, k === 'latencyMs' ? 0 : 1, k !== 'latencyMs');
  }
}

/** One vendor's live settings and fault budget. */
export class VendorState {
  #settings: VendorSettings = {};
  #resolved: ResolvedSettings;
  /** Token requests the current fault still applies to (Infinity: until cleared). */
  #faultLeft = 0;

  constructor(readonly vendor: SandboxVendor) {
    this.#resolved = resolveSettings(vendor, {});
  }

  /** Merges settings; keys given as `undefined`/`null` are cleared. */
  configure(s: VendorSettings): void {
    checkSettings(s);
    const next: Record<string, unknown> = { ...this.#settings };
    for (const [k, v] of Object.entries(s)) {
      if (v === undefined || v === null) delete next[k];
      else next[k] = v;
    }
    this.#settings = next as VendorSettings;
    this.#resolved = resolveSettings(this.vendor, this.#settings);
    if ('fault' in s) this.#faultLeft = s.fault ? (s.fault.times ?? Number.POSITIVE_INFINITY) : 0;
  }

  /** Settings with defaults. */
  get resolved(): ResolvedSettings {
    return this.#resolved;
  }

  /** Takes one use of the current fault, if any is left. */
  takeFault(): SandboxFault | undefined {
    const f = this.#settings.fault;
    if (f === undefined || this.#faultLeft <= 0) return undefined;
    this.#faultLeft--;
    if (this.#faultLeft <= 0) this.configure({ fault: undefined });
    return f;
  }

  /** Clears the fault (reset). */
  clearFault(): void {
    this.configure({ fault: undefined });
  }
}
