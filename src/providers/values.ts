/**
 * Reading profile values, with a {@link ConfigError} that names the key. Shared by the provider modules
 * and their descriptors, so it stays import-light: no grant, HTTP, client-auth or JOSE code is loaded by
 * it (the CA file reader of {@link httpOptionsFromProfile} is imported on use).
 *
 * The values are already checked against the profile schema (`validateProfile`, which both
 * `createTokenManager` and `createTokenClient` run): types and ranges are the schema's, so these readers
 * only apply rules the schema does not state (an empty string is not a value; defaults; rules that span
 * keys).
 * @module
 */

import { createHash } from 'node:crypto';
import { ConfigError } from '../errors.js';
import type { GrantParseOptions } from '../grants/types.js';
import type { HttpOptions } from '../http/types.js';
import type { ClientAuthMethod, GrantName, Profile } from '../profile.js';
import { isSecretField } from '../secret-fields.js';

/**
 * The profile keys whose value is a string (`provider` left out: its type is derived from the registry,
 * whose descriptors use this type).
 */
export type StringProfileKey = {
  [K in Exclude<keyof Profile, 'provider'>]-?: Exclude<Profile[K], undefined> extends string ? K : never;
}[Exclude<keyof Profile, 'provider'>];

/** A string value, or `undefined` when absent. An empty string is refused (it is never a usable value). */
export function optionalString(profile: Profile, key: StringProfileKey): string | undefined {
  const v = profile[key];
  if (v === '') throw new ConfigError('must be a non-empty string', { key });
  return v;
}

/**
 * A string value the provider needs.
 * @param hint - Added to the message in parentheses, e.g. `or set token_url`.
 */
export function requiredString(
  profile: Profile,
  key: StringProfileKey,
  provider: string,
  hint?: string,
): string {
  const v = optionalString(profile, key);
  if (v === undefined) {
    throw new ConfigError(`is required for provider "${provider}"${hint === undefined ? '' : ` (${hint})`}`, {
      key,
    });
  }
  return v;
}

/** Joins a base URL and an absolute path, keeping any path prefix of the base; drops query and fragment. */
export function urlUnder(base: string, path: string): string {
  const u = new URL(base);
  u.pathname = `${u.pathname.replace(/\/+$/, '')}${path}`;
  u.search = '';
  u.hash = '';
  return u.href;
}

/**
 * The canonical form of a URL (`URL#href`), or the text itself when it does not parse (the provider's
 * own check then rejects it with a {@link ConfigError}). Pure: for identities and origins.
 */
export function canonicalUrl(url: string): string {
  try {
    return new URL(url).href;
  } catch {
    return url;
  }
}

/** The origin of a URL, or the text itself when it does not parse (see {@link canonicalUrl}). */
export function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

/** The parse options of a profile's generic keys (`default_lifetime`, `max_lifetime`, `token_types`). */
export function parseOptionsFromProfile(profile: Profile): GrantParseOptions {
  const out: GrantParseOptions = {};
  if (profile.default_lifetime !== undefined) out.defaultLifetimeSeconds = profile.default_lifetime;
  if (profile.max_lifetime !== undefined) out.maxLifetimeSeconds = profile.max_lifetime;
  if (profile.token_types !== undefined) out.acceptedTokenTypes = ['bearer', ...profile.token_types];
  return out;
}

/**
 * The time limits of a profile's requests (`timeout`, `retries`) as HTTP options: the part of
 * {@link httpOptionsFromProfile} that needs no I/O (a manager's budget is computed from it before its
 * token client is built).
 */
export function httpLimitsFromProfile(profile: Profile): HttpOptions {
  const out: HttpOptions = {};
  if (profile.timeout !== undefined) out.timeoutMs = profile.timeout * 1000;
  if (profile.retries !== undefined) out.retries = profile.retries;
  return out;
}

/**
 * HTTP options from a profile (`timeout`, `retries`, `ca_file`, `insecure_skip_tls_verify`, `proxy`) under
 * the caller's `http`, which wins.
 */
export async function httpOptionsFromProfile(profile: Profile, http: HttpOptions = {}): Promise<HttpOptions> {
  const out: HttpOptions = httpLimitsFromProfile(profile);
  if (profile.insecure_skip_tls_verify !== undefined)
    out.insecureSkipTlsVerify = profile.insecure_skip_tls_verify;
  if (profile.ca_file !== undefined && http.ca === undefined) {
    const { loadCaFile } = await import('../http/agent.js');
    out.ca = await loadCaFile(profile.ca_file);
  }
  if (profile.proxy !== undefined) out.proxy = profile.proxy;
  return { ...out, ...http };
}

/** The scope as one space-separated string (trimmed; `undefined` when empty). */
export function scopeFromProfile(profile: Profile): string | undefined {
  const s = profile.scope;
  if (s === undefined) return undefined;
  const text = (Array.isArray(s) ? s.join(' ') : s).trim();
  return text === '' ? undefined : text;
}

/** The primary grant: `grant`, else `password` when `username` is set, else `client_credentials`. */
export function grantFromProfile(profile: Profile): GrantName {
  return profile.grant ?? (profile.username ? 'password' : 'client_credentials');
}

/**
 * The client authentication method of a profile: `auth_method`, or by default `client_secret_basic`
 * when a secret is set, `private_key_jwt` when only a `private_key` is, else `none` (the rule
 * `createClientAuth` applies).
 */
export function authMethodFromProfile(
  profile: Pick<Profile, 'auth_method' | 'client_secret' | 'private_key'>,
): ClientAuthMethod {
  return (
    profile.auth_method ??
    (profile.client_secret ? 'client_secret_basic' : profile.private_key ? 'private_key_jwt' : 'none')
  );
}

/**
 * Extra parameters as a stable string for the identity. The identity is stored with the token and shown
 * by `status`, so the value of a secret param (one the catalogue in `src/secret-fields.ts` names secret,
 * e.g. `api_key`) never appears in it: only `sha256:` and 16 hex digits of a domain-separated SHA-256,
 * so two profiles that differ only in that secret still get different cache keys.
 */
export function canonicalParams(params: Record<string, string>): string {
  return Object.keys(params)
    .sort()
    .map((k) => `${k}=${isSecretField(k) ? secretFingerprint(k, params[k] ?? '') : params[k]}`)
    .join('&');
}

function secretFingerprint(name: string, value: string): string {
  const h = createHash('sha256').update('tokenward identity param\0').update(name).update('\0').update(value);
  return `sha256:${h.digest('hex').slice(0, 16)}`;
}

/**
 * The identity of a generic (`oauth2`/`oidc`) client: the endpoint facts, then the client, its
 * authentication method, the grant (and its user), scope, audience, resource and extra parameters.
 */
export function genericIdentity(
  provider: string,
  endpointIdentity: Readonly<Record<string, string | undefined>>,
  profile: Profile,
): Record<string, string | undefined> {
  const grant = grantFromProfile(profile);
  const params = profile.params;
  return {
    provider,
    ...endpointIdentity,
    client_id: profile.client_id,
    auth_method: authMethodFromProfile(profile),
    grant,
    username: grant === 'password' ? profile.username : undefined,
    scope: scopeFromProfile(profile),
    audience: optionalString(profile, 'audience'),
    resource: optionalString(profile, 'resource'),
    params: params ? canonicalParams(params) : undefined,
    ...(grant === 'token_exchange' || grant === 'jwt_bearer' ? delegationIdentity(profile) : {}),
  };
}

/**
 * The non-secret settings of a delegated grant (token exchange, JWT bearer) in its identity. The
 * subject token's own facts (`iss`, `sub`, a hash) need I/O and are added by the front door
 * (`src/subject/`), not here.
 */
function delegationIdentity(profile: Profile): Record<string, string | undefined> {
  return {
    subject_token_type: profile.subject_token_type,
    actor_token_type: profile.actor_token_type,
    requested_token_type: profile.requested_token_type,
  };
}

/**
 * A preset's token URL, unchecked: `token_url` (canonical form), else `path` under the URL in `baseKey`.
 * @param missing - The error when neither is set.
 */
export function tokenUrlUnder(
  profile: Profile,
  baseKey: StringProfileKey,
  path: string,
  missing: () => ConfigError,
): string {
  const t = optionalString(profile, 'token_url');
  if (t !== undefined) return canonicalUrl(t);
  const base = optionalString(profile, baseKey);
  if (base === undefined) throw missing();
  return urlUnder(base, path);
}
