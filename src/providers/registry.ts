/**
 * The provider registry: the one list of provider descriptors. Everything that depends on which
 * providers exist — the profile schema's `provider` picklist and vendor keys, `PROVIDERS`, the
 * endpoint checks of the config loader, the origins a token may be sent to, the CLI's lists, help and
 * completion, the sandbox's vendor list — is derived from it. Import-light: loading it loads the
 * descriptors, never a token client.
 * @module
 */

import { isSecretProfileKey } from '../secret-fields.js';
import { acronis } from './acronis.descriptor.js';
import { cylance } from './cylance.descriptor.js';
import type { ProviderDescriptor } from './descriptor.js';
import { msx } from './msx.descriptor.js';
import { oauth2 } from './oauth2.descriptor.js';
import { oidc } from './oidc.descriptor.js';
import { rdp } from './rdp.descriptor.js';

/** The built-in providers, in help order: the generic ones, then the vendor presets. One line each. */
export const BUILT_IN_PROVIDERS = [oauth2, oidc, cylance, msx, acronis, rdp] as const;

/** The generic providers; every other built-in provider is a vendor preset. */
const GENERIC: readonly string[] = ['oauth2', 'oidc'];

/** The built-in provider names. */
export type ProviderName = (typeof BUILT_IN_PROVIDERS)[number]['name'];
/** The vendor presets' names (every built-in provider but the generic `oauth2` and `oidc`). */
export type PresetName = Exclude<ProviderName, 'oauth2' | 'oidc'>;

/** The built-in vendor presets' names, in registry order. */
export const BUILT_IN_PRESETS: readonly PresetName[] = BUILT_IN_PROVIDERS.map((d) => d.name).filter(
  (n): n is PresetName => !GENERIC.includes(n),
);

const descriptors: ProviderDescriptor[] = [...BUILT_IN_PROVIDERS];
let version = 0;

/** Every provider descriptor, built-in ones first. */
export function providerDescriptors(): readonly ProviderDescriptor[] {
  return descriptors;
}

/** The names of every provider (built-in, then registered ones). */
export function providerNames(): readonly string[] {
  return descriptors.map((d) => d.name);
}

/** The names of the vendor presets (every provider but the generic `oauth2` and `oidc`). */
export function presetNames(): readonly string[] {
  return descriptors.filter((d) => !GENERIC.includes(d.name)).map((d) => d.name);
}

/** The descriptor of a provider name, or `undefined`. */
export function findProvider(name: string): ProviderDescriptor | undefined {
  return descriptors.find((d) => d.name === name);
}

/** Increases whenever a provider is registered: derived values (the schema) are cached per version. */
export function registryVersion(): number {
  return version;
}

/**
 * Checks a descriptor against the others: each of its keys has an optional schema, a key another
 * provider also declares has the same kind of schema there, and a secret key is in the one catalogue
 * of secret names (`SECRET_PROFILE_KEYS` in `src/secret-fields.ts`, which redaction reads).
 * @throws TypeError naming the descriptor and the key.
 */
function checkDescriptor(descriptor: ProviderDescriptor, others: readonly ProviderDescriptor[]): void {
  for (const [key, spec] of Object.entries(descriptor.keys)) {
    const at = `provider "${descriptor.name}", key ${key}`;
    if (spec.schema.type !== 'optional') throw new TypeError(`${at}: the schema must be v.optional(…)`);
    if (spec.secret === true && !isSecretProfileKey(key)) {
      throw new TypeError(`${at}: a secret key must be listed in SECRET_PROFILE_KEYS (src/secret-fields.ts)`);
    }
    for (const other of others) {
      const o = other.keys[key];
      if (o !== undefined && o.schema.wrapped.type !== spec.schema.wrapped.type) {
        throw new TypeError(
          `${at}: "${other.name}" declares it as ${o.schema.wrapped.type}, not ${spec.schema.wrapped.type}`,
        );
      }
    }
  }
}

BUILT_IN_PROVIDERS.forEach((d, i) => {
  checkDescriptor(d, BUILT_IN_PROVIDERS.slice(0, i));
});

/**
 * Adds a provider to the registry. **Not part of the public API** (no entry point of the package
 * exports it): for tests, which add a throwaway preset to show that everything derived from the
 * registry picks it up.
 * @returns A function that removes the provider again.
 * @throws TypeError for a name that is taken, or a key that fails the checks above.
 * @internal
 */
export function registerProvider(descriptor: ProviderDescriptor): () => void {
  if (findProvider(descriptor.name) !== undefined) {
    throw new TypeError(`provider "${descriptor.name}" is already registered`);
  }
  checkDescriptor(descriptor, descriptors);
  descriptors.push(descriptor);
  version++;
  return () => {
    const i = descriptors.indexOf(descriptor);
    if (i >= 0) {
      descriptors.splice(i, 1);
      version++;
    }
  };
}
