/**
 * Reading profile values: typed, validated, with a {@link ConfigError} that names the key. Shared by the
 * provider modules and their descriptors, so it stays import-light: no grant, HTTP, client-auth or JOSE
 * code is loaded by it (the CA file reader of {@link httpOptionsFromProfile} is imported on use).
 * @module
 */

import { createHash } from 'node:crypto';
import { ConfigError } from '../errors.js';
import type { GrantParseOptions } from '../grants/types.js';
import type { HttpOptions } from '../http/types.js';
import type { ClientAuthMethod, GrantName, Profile } from '../profile.js';
import { isSecretField } from '../secret-fields.js';

/** A string value, or `undefined` when absent. */
export function optionalString(profile: Profile, key: keyof Profile): string | undefined {
  const v = profile[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw new ConfigError('must be a non-empty string', { key });
  return v;
}

/**
 * A string value the provider needs.
 * @param hint - Added to the message in parentheses, e.g. `or set token_url`.
 */
export function requiredString(
  profile: Profile,
  key: keyof Profile,
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

/** A boolean value, or `undefined` when absent. */
export function optionalBoolean(profile: Profile, key: keyof Profile): boolean | undefined {
  const v = profile[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new ConfigError('must be true or false', { key });
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

function positive(
  profile: Profile,
  key: 'default_lifetime' | 'max_lifetime' | 'timeout' | 'retries',
): number | undefined {
  const v = profile[key];
  if (v === undefined) return undefined;
  const ok = typeof v === 'number' && Number.isFinite(v) && (key === 'retries' ? v >= 0 : v > 0);
  if (!ok)
    throw new ConfigError(
      `must be a ${key === 'retries' ? 'non-negative' : 'positive'} number, got ${JSON.stringify(v)}`,
      { key },
    );
  return v;
}

/** Validates the generic keys of a profile and returns the parse options. */
export function parseOptionsFromProfile(profile: Profile): GrantParseOptions {
  const out: GrantParseOptions = {};
  const def = positive(profile, 'default_lifetime');
  const max = positive(profile, 'max_lifetime');
  if (def !== undefined) out.defaultLifetimeSeconds = def;
  if (max !== undefined) out.maxLifetimeSeconds = max;
  if (profile.token_types !== undefined) {
    if (
      !Array.isArray(profile.token_types) ||
      !profile.token_types.every((t) => typeof t === 'string' && t !== '')
    ) {
      throw new ConfigError('must be a list of token type names', { key: 'token_types' });
    }
    out.acceptedTokenTypes = ['bearer', ...profile.token_types];
  }
  return out;
}

/**
 * The time limits of a profile's requests (`timeout`, `retries`) as HTTP options: the part of
 * {@link httpOptionsFromProfile} that needs no I/O (a manager's budget is computed from it before its
 * token client is built).
 */
export function httpLimitsFromProfile(profile: Profile): HttpOptions {
  const out: HttpOptions = {};
  const timeout = positive(profile, 'timeout');
  const retries = positive(profile, 'retries');
  if (timeout !== undefined) out.timeoutMs = timeout * 1000;
  if (retries !== undefined) out.retries = retries;
  return out;
}

/**
 * HTTP options from a profile (`timeout`, `retries`, `ca_file`, `insecure_skip_tls_verify`) under the
 * caller's `http`, which wins.
 */
export async function httpOptionsFromProfile(profile: Profile, http: HttpOptions = {}): Promise<HttpOptions> {
  const out: HttpOptions = httpLimitsFromProfile(profile);
  if (profile.insecure_skip_tls_verify !== undefined) {
    if (typeof profile.insecure_skip_tls_verify !== 'boolean') {
      throw new ConfigError('must be true or false', { key: 'insecure_skip_tls_verify' });
    }
    out.insecureSkipTlsVerify = profile.insecure_skip_tls_verify;
  }
  if (profile.ca_file !== undefined && http.ca === undefined) {
    const { loadCaFile } = await import('../http/agent.js');
    out.ca = await loadCaFile(profile.ca_file);
  }
  return { ...out, ...http };
}

/** The scope as one space-separated string (trimmed; `undefined` when empty), validated. */
export function scopeFromProfile(profile: Profile): string | undefined {
  const s = profile.scope;
  if (s === undefined) return undefined;
  let text: string;
  if (typeof s === 'string') text = s.trim();
  else if (Array.isArray(s) && s.every((x) => typeof x === 'string')) text = s.join(' ').trim();
  else throw new ConfigError('must be a space-separated string or a list of strings', { key: 'scope' });
  return text === '' ? undefined : text;
}

/** Extra form parameters of a profile, validated. */
export function paramsFromProfile(profile: Profile): Record<string, string> | undefined {
  const p = profile.params;
  if (p === undefined) return undefined;
  if (typeof p !== 'object' || p === null || Array.isArray(p)) {
    throw new ConfigError('must be a table of string values', { key: 'params' });
  }
  for (const [k, v] of Object.entries(p)) {
    if (typeof v !== 'string') throw new ConfigError(`${k} must be a string`, { key: 'params' });
  }
  return p;
}

const GRANTS: readonly GrantName[] = ['client_credentials', 'password', 'refresh_token'];

/** The primary grant: `grant`, else `password` when `username` is set, else `client_credentials`. */
export function grantFromProfile(profile: Profile): GrantName {
  const g = profile.grant ?? (profile.username ? 'password' : 'client_credentials');
  if (!GRANTS.includes(g)) {
    throw new ConfigError(`unknown grant "${String(g)}"; use one of ${GRANTS.join(', ')}`, { key: 'grant' });
  }
  return g;
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
  const params = paramsFromProfile(profile);
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
  };
}

/**
 * A preset's token URL, unchecked: `token_url` (canonical form), else `path` under the URL in `baseKey`.
 * @param missing - The error when neither is set.
 */
export function tokenUrlUnder(
  profile: Profile,
  baseKey: keyof Profile,
  path: string,
  missing: () => ConfigError,
): string {
  const t = optionalString(profile, 'token_url');
  if (t !== undefined) return canonicalUrl(t);
  const base = optionalString(profile, baseKey);
  if (base === undefined) throw missing();
  return urlUnder(base, path);
}
