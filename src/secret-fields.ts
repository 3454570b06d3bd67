/**
 * The one catalogue of what is secret. Every part of tokenward that must decide whether a name carries a
 * secret asks here: the text redaction patterns ({@link ../redact.ts}), the `-v` exchange trace (form and
 * JSON fields), the config's secret keys and its `params` rule, the HTTP layer's registration of what it
 * sends, the providers' handling of `params` in a token's identity, and `profiles show`/`profiles add`.
 * Nobody else keeps a list of secret names.
 *
 * Two questions are answered:
 *
 * - {@link SECRET_PROFILE_KEYS} / {@link isSecretProfileKey}: which top-level profile keys hold a secret.
 *   `store_url` and `proxy` ({@link URL_SECRET_PROFILE_KEYS}), and any URL, count for their password
 *   part only.
 * - {@link isSecretField}: whether a form field, JSON member or `params` entry of this name carries a
 *   secret. A name is secret when it is one of {@link SECRET_FIELD_NAMES}, when it contains `secret`,
 *   `passw`, `passphrase` or `credential`, or when it ends in `token`, `assertion` or `key` (so
 *   `api_key`, `x-api-key`, `session_token` are secret; `token_type`, `token_endpoint`, `key_id` are not).
 *   Comparison ignores case and treats `-` like `_`.
 *
 * {@link secretTier} says which redaction tier a secret field's value belongs to: issued, short-lived
 * credentials (tokens, assertions, codes) or long-lived secrets (client secrets, passwords, keys).
 * @module
 */

/** Top-level profile keys whose values are secrets. */
export const SECRET_PROFILE_KEYS = [
  'client_secret',
  'password',
  'app_secret',
  'private_key',
  'refresh_token',
  'tls_key',
  'tls_key_passphrase',
  'subject_token',
  'actor_token',
] as const;

/**
 * Top-level profile keys holding a URL whose password part is a secret: `store_url`
 * (`redis://:pw@host`) and `proxy` (`http://user:pw@proxy:3128`). Their values are redacted to the
 * password, taken from stdin by `profiles add --secret-stdin`, and their `env:` variables kept from
 * `tokenward exec`'s child.
 */
export const URL_SECRET_PROFILE_KEYS = ['store_url', 'proxy'] as const;

const URL_KEY_SET: ReadonlySet<string> = new Set(URL_SECRET_PROFILE_KEYS);

/** True for a profile key whose URL value may carry a password (`store_url`, `proxy`). */
export function isUrlSecretProfileKey(key: string): key is (typeof URL_SECRET_PROFILE_KEYS)[number] {
  return URL_KEY_SET.has(key);
}

/** A top-level profile key that holds a secret. */
export type SecretProfileKey = (typeof SECRET_PROFILE_KEYS)[number];

const PROFILE_KEY_SET: ReadonlySet<string> = new Set(SECRET_PROFILE_KEYS);

/** True when a top-level profile key holds a secret (`client_secret`, `password`, …). */
export function isSecretProfileKey(key: string): key is SecretProfileKey {
  return PROFILE_KEY_SET.has(key);
}

/**
 * Field names that carry a secret in forms, JSON bodies and `params`, lower case with `_`. Names that
 * the generic rule of {@link isSecretField} covers anyway are listed too, so this list reads as the set
 * of fields tokenward itself sends or receives.
 */
export const SECRET_FIELD_NAMES: readonly string[] = [
  'access_token',
  'actor_token',
  'api_key',
  'apikey',
  'app_secret',
  'assertion',
  'auth_token',
  'client_assertion',
  'client_secret',
  'code',
  'code_verifier',
  'device_code',
  'id_token',
  'new_password',
  'newpassword',
  'passphrase',
  'password',
  'private_key',
  'refresh_token',
  'secret',
  'subject_token',
  'token',
];

const EXACT = new Set(SECRET_FIELD_NAMES);

/** The generic rule, as regular-expression source matching a whole (normalised or raw) field name. */
const GENERIC_SOURCE = '[\\w-]*(?:secret|passw|passphrase|credential)[\\w-]*|[\\w-]*(?:token|assertion|key)';
const GENERIC = new RegExp(`^(?:${GENERIC_SOURCE})$`, 'i');

/** Issued, short-lived credentials: names ending in `token`, `assertion`, `code` or `code_verifier`. */
const ISSUED = /(?:token|assertion|code|code_verifier)$/;

function normalise(name: string): string {
  return name.trim().toLowerCase().replaceAll('-', '_');
}

/**
 * True when a form field, JSON member, header-like field or `params` entry of this name carries a
 * secret. See the module documentation for the rule.
 */
export function isSecretField(name: string): boolean {
  const n = normalise(name);
  return n !== '' && (EXACT.has(n) || GENERIC.test(n));
}

/**
 * The redaction tier of a secret field's value: `token` for issued, short-lived credentials (access,
 * refresh and ID tokens, assertions, codes), `secret` for long-lived ones (client secrets, passwords,
 * keys). `undefined` when the field is not secret.
 */
export function secretTier(name: string): 'token' | 'secret' | undefined {
  if (!isSecretField(name)) return undefined;
  return ISSUED.test(normalise(name)) ? 'token' : 'secret';
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Regular-expression source matching a secret field name in free text (case-insensitive use), built from
 * the same catalogue as {@link isSecretField}. Used by the text redaction patterns.
 */
export const SECRET_FIELD_NAME_SOURCE = `(?:${[...SECRET_FIELD_NAMES]
  .sort((a, b) => b.length - a.length)
  .map((n) => escapeRegExp(n).replaceAll('_', '[_-]'))
  .join('|')}|${GENERIC_SOURCE})`;

/** Header names whose whole value is a credential (only the scheme is kept in traces). */
export const SECRET_HEADER_NAMES: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'dpop',
]);

/**
 * True when a header's value is a credential: one of {@link SECRET_HEADER_NAMES}, or a header named like
 * a secret field (`X-Api-Key`, `X-Auth-Token`).
 */
export function isSecretHeader(name: string): boolean {
  return SECRET_HEADER_NAMES.has(name.toLowerCase()) || isSecretField(name);
}
