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
import { dpopAlgorithm } from '../dpop/algorithms.js';
import { ConfigError } from '../errors.js';
import type { GrantParseOptions } from '../grants/types.js';
import type { HttpOptions } from '../http/types.js';
import type { ClientAuthMethod, GrantName, Profile, RefreshParam } from '../profile.js';
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
  // With `dpop`, the token endpoint's hook refuses an unbound (Bearer) answer; DPoP is accepted here.
  if (profile.dpop !== undefined && profile.dpop !== false)
    out.acceptedTokenTypes = [...(out.acceptedTokenTypes ?? ['bearer']), 'dpop'];
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
 * HTTP options from a profile (`timeout`, `retries`, `ca_file`, `insecure_skip_tls_verify`, `proxy`, the
 * client certificate of `tls_cert` / `tls_key` / `tls_key_passphrase`) under the caller's `http`, which
 * wins.
 * @throws ConfigError naming the key of an unreadable CA file or an unusable client certificate or key.
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
  if ((profile.tls_cert !== undefined || profile.tls_key !== undefined) && http.clientCert === undefined) {
    const { loadClientCertificate } = await import('../http/client-cert.js');
    out.clientCert = loadClientCertificate({
      cert: profile.tls_cert,
      key: profile.tls_key,
      passphrase: profile.tls_key_passphrase,
      onWarning: http.onWarning,
    });
  }
  return { ...out, ...http };
}

/**
 * The resource indicator(s) (RFC 8707 §2): `undefined`, one URI, or a list of at least two (a list of
 * one is that one). Each must be an absolute URI without a fragment.
 * @throws ConfigError (key `resource`) for an empty value or one that is not an absolute URI.
 */
export function resourceFromProfile(profile: Profile): string | string[] | undefined {
  const r = profile.resource;
  if (r === undefined) return undefined;
  const list = typeof r === 'string' ? [r] : r;
  if (list.length === 0) throw new ConfigError('must name at least one resource URI', { key: 'resource' });
  for (const [i, one] of list.entries()) {
    const at = list.length > 1 ? ` (entry ${i + 1})` : '';
    let ok = false;
    try {
      ok = new URL(one).hash === '' && !one.includes('#');
    } catch {
      ok = false;
    }
    if (!ok) {
      throw new ConfigError(`must be an absolute URI without a fragment (RFC 8707)${at}`, {
        key: 'resource',
      });
    }
  }
  return list.length === 1 ? list[0] : [...list];
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
 * when a secret is set, `private_key_jwt` when only a `private_key` is, `tls_client_auth` when only a
 * `tls_cert` is, else `none` (the rule `createClientAuth` applies).
 */
export function authMethodFromProfile(
  profile: Pick<Profile, 'auth_method' | 'client_secret' | 'private_key' | 'tls_cert'>,
): ClientAuthMethod {
  return (
    profile.auth_method ??
    (profile.client_secret
      ? 'client_secret_basic'
      : profile.private_key
        ? 'private_key_jwt'
        : profile.tls_cert
          ? 'tls_client_auth'
          : 'none')
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

/** A short fingerprint of the `tls_cert` text (not secret, but long): for the identity. */
function certFingerprint(text: string): string {
  const h = createHash('sha256').update('tokenward identity tls_cert\0').update(text.trim());
  return `sha256:${h.digest('hex').slice(0, 16)}`;
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
  const dpop = dpopAlgorithm(profile.dpop);
  return {
    provider,
    ...endpointIdentity,
    client_id: profile.client_id,
    auth_method: authMethodFromProfile(profile),
    grant,
    username: grant === 'password' ? profile.username : undefined,
    scope: scopeFromProfile(profile),
    audience: optionalString(profile, 'audience'),
    resource: identityResource(profile),
    params: params ? canonicalParams(params) : undefined,
    // A token bound to a key is another cache entry (absent without dpop: the keys stored stay).
    ...(dpop === undefined ? {} : { dpop }),
    // A certificate-bound token is usable only with its certificate: a new certificate, a new token.
    // (Only when set: the identities of profiles without one stay exactly what they were.)
    ...(profile.tls_cert ? { tls_cert: certFingerprint(profile.tls_cert) } : {}),
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

/** The resource(s) for the identity: the one URI, or the list joined by spaces (unchecked: pure). */
function identityResource(profile: Profile): string | undefined {
  const r = profile.resource;
  return r === undefined || r === '' ? undefined : typeof r === 'string' ? r : r.join(' ');
}

/**
 * What a refresh sends again (`refresh_params`): none by default, all of `resource`, `audience`, `scope`,
 * `params` for `true`, else those listed.
 */
export function refreshParamsFromProfile(profile: Profile): ReadonlySet<RefreshParam> {
  const r = profile.refresh_params;
  if (r === undefined || r === false) return new Set();
  if (r === true) return new Set<RefreshParam>(['resource', 'audience', 'scope', 'params']);
  return new Set(r);
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
