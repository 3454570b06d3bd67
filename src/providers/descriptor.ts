/**
 * The provider descriptor: everything the rest of tokenward knows about a provider, stated by the
 * provider itself — its profile keys (schema entries and their documentation, which are secret, which
 * are endpoint URLs), where its tokens may be sent, the identity (cache key facts) of a profile, and how
 * to load the module that builds its token client.
 *
 * Descriptors are import-light: a descriptor module imports no grant, HTTP, client-authentication or
 * JOSE code and not its token client (that is what {@link ProviderDescriptor.load} is for), so the
 * registry can answer "which keys, which origins, which identity" without loading the token-client graph.
 * @module
 */

import type * as v from 'valibot';
import { ConfigError } from '../errors.js';
import type { HttpOptions } from '../http/types.js';
import type { Profile } from '../profile.js';
import type { SubjectContext } from '../subject/index.js';
import type { TokenClient, TokenIdentity } from '../token-client.js';
import { originOf, type StringProfileKey } from './values.js';

/**
 * What the front door gives a client beyond its profile: the environment, the way to another profile's
 * token (`subject_profile`, `parent_profile`), where keys sit in the config file, and identity facts it
 * computed with I/O (a subject token's `iss`/`sub`/hash), which the client then reports as well.
 */
export interface ClientLinks extends Pick<SubjectContext, 'env' | 'profileToken' | 'where' | 'baseDir'> {
  /** Identity facts added to the descriptor's {@link ProviderDescriptor.identity}. */
  identity?: TokenIdentity;
}

/** What every provider's client module exports. */
export interface ProviderModule {
  /** Builds the token client of a profile whose secrets are already resolved. No network I/O. */
  createClient(profile: Profile, http?: HttpOptions, links?: ClientLinks): Promise<TokenClient>;
}

/** A valibot schema of an optional profile value (`v.optional(…)`). */
export type OptionalValueSchema = v.OptionalSchema<v.GenericSchema, undefined>;

/** One profile key a provider reads on top of the common keys. */
export interface ProfileKeySpec<S extends OptionalValueSchema = OptionalValueSchema> {
  /** The schema entry: `v.optional(…)` of the value's type and rules. */
  readonly schema: S;
  /** One line for help and documentation, e.g. `region suffix (us, apne1, …)`. */
  readonly doc: string;
  /** The value is a secret (it must be in `SECRET_PROFILE_KEYS` of `src/secret-fields.ts`). */
  readonly secret?: boolean;
  /** The value is an endpoint URL (checked like `token_url`: https, or http to loopback). */
  readonly endpoint?: boolean;
}

/** A provider's own profile keys. */
export type ProfileKeySpecs = Readonly<Record<string, ProfileKeySpec>>;

/** The profile type of a provider's own keys (each optional), for `Profile`. */
export type KeysOf<K extends ProfileKeySpecs> = {
  -readonly [P in keyof K]?: Exclude<v.InferOutput<K[P]['schema']>, undefined>;
};

/** A URL a token may be sent to, with the profile key it comes from (for error messages). */
export type OriginSource = readonly [key: string, url: string];

/** What a provider states about itself. */
export interface ProviderDescriptor {
  /** The `provider = "…"` value. */
  readonly name: string;
  /** One line for help: what the provider talks to. */
  readonly summary: string;
  /**
   * The keys it reads beyond the common ones (`token_url`, `client_id`, `scope`, `store`, …). A key
   * two providers share must have the same kind of schema in both.
   */
  readonly keys: ProfileKeySpecs;
  /** The keys it requires (beyond what any provider needs), for help; alternatives as `a|b`. */
  readonly required: readonly string[];
  /**
   * Where its tokens go when the profile has no `api_base_url`: the API's base URL(s), from the
   * profile's own keys or the provider's defaults, in order (the first is the preset's `apiBaseUrl`).
   * Pure; may throw a `ConfigError` for a value it cannot read.
   */
  apiOrigins(profile: Profile): OriginSource[];
  /**
   * The identity of the tokens a profile gets — what its token client reports as `identity`, a pure
   * function of the profile's non-secret values. Hashed into the cache key.
   */
  identity(profile: Profile): TokenIdentity;
  /** Loads the module that builds the token client. */
  load(): Promise<ProviderModule>;
}

/**
 * Declares a descriptor, keeping its literal name and key types (for `ProviderName` and `Profile`).
 * @example
 * ```ts
 * export const acme = defineProvider({ name: 'acme', summary: '…', keys: {}, required: [], … });
 * ```
 */
export function defineProvider<const D extends ProviderDescriptor>(descriptor: D): D {
  return descriptor;
}

/**
 * A preset's `apiBaseUrl`: `api_base_url`, else the first of the descriptor's {@link
 * ProviderDescriptor.apiOrigins}. Pure; no I/O.
 * @throws ConfigError when the profile names no API base at all.
 */
export function presetApiBaseUrl(descriptor: ProviderDescriptor, profile: Profile): string {
  if (profile.api_base_url !== undefined) return profile.api_base_url;
  const first = descriptor.apiOrigins(profile)[0];
  if (first === undefined) {
    throw new ConfigError(
      `names no API base for provider "${descriptor.name}": set api_base_url (or the preset's ${descriptor.required.join(', ')})`,
      { key: 'api_base_url' },
    );
  }
  return first[1];
}

/**
 * The `apiOrigins` of a preset whose API lives at a base URL key (`base_url`, `datacenter_url`): that
 * key's value, else the origin of `token_url`, else none.
 */
export function baseUrlOrigins(profile: Profile, key: StringProfileKey): OriginSource[] {
  const base = profile[key];
  if (base !== undefined) return [[key, base]];
  if (profile.token_url !== undefined) return [['token_url', originOf(profile.token_url)]];
  return [];
}
