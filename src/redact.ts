/**
 * Redaction of secrets. Two layers: a registry of known secret values, and patterns for things that look
 * like credentials (Bearer/Basic values, JWTs, `password=`-style fields). Both are applied to every error
 * message and debug line.
 *
 * Secrets are registered at the boundaries: where they enter (profile secret resolution,
 * `src/config/secrets.ts`), where they leave (the HTTP layer registers every secret form or JSON field
 * and every credential header it sends, decoding `Basic` credentials), and where a key is used without
 * being sent (JWT signing). Which names are secret is decided by the one catalogue in
 * `src/secret-fields.ts`.
 * @module
 */

import { formUrlDecode, formUrlEncode } from './form-encoding.js';
import { SECRET_FIELD_NAME_SOURCE } from './secret-fields.js';

/** Long-lived secrets: client secrets, passwords, keys. Few, kept for the life of the process. */
const known = new Set<string>();
/**
 * Issued credentials: access, refresh and ID tokens, signed assertions. A long-running process receives
 * them without end, so only the most recent {@link MAX_RECENT_TOKENS} are kept (insertion order = age).
 * Older ones are still caught by the credential patterns below when they travel as Bearer values, JWTs
 * or named fields — and an old token is expired anyway.
 */
const recentTokens = new Map<string, readonly string[] | undefined>();
/**
 * The secrets registered: their encodings are in {@link known}, or are put there by {@link expand}
 * before the registry is next used (a value may be in `known` only as another's encoding).
 */
const expanded = new Set<string>();
/**
 * Registered secrets whose encodings are not made yet: a process that never prints a message (a warm
 * `tokenward token`) never pays for them. {@link expand} makes them before any redaction or count.
 */
const pending: string[] = [];
/** How many issued tokens the registry remembers. */
export const MAX_RECENT_TOKENS = 256;
const MIN_SECRET_LENGTH = 4;
let knownPattern: RegExp | undefined;

/** The text shown in place of a secret. */
export const REDACTED = '[REDACTED]';

/**
 * The encodings a secret travels or is echoed in: itself, `encodeURIComponent`, RFC 6749 form-encoding
 * (`! ' ( ) *` and space differ), WHATWG form-encoding (what `URLSearchParams` sends), each of these
 * percent-encoded once more, Base64 and Base64url, lower-case hex, and its JSON string forms (escaped,
 * and with non-ASCII as `\uXXXX`).
 */
export function secretEncodings(value: string): string[] {
  // Stryker disable next-line StringLiteral: Buffer.from(s, '') is UTF-8 too (Node's default encoding)
  const bytes = Buffer.from(value, 'utf8');
  const json = JSON.stringify(value).slice(1, -1);
  const asciiJson = json.replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  const upperJson = asciiJson.replace(/\\u([0-9a-f]{4})/g, (_m, h: string) => `\\u${h.toUpperCase()}`);
  const uri = encodeURIComponent(value);
  const form = formUrlEncode(value);
  const whatwg = new URLSearchParams({ x: value }).toString().slice(2);
  return [
    ...new Set([
      value,
      uri,
      form,
      whatwg,
      // percent-encoded twice: a form body echoed inside a URL or another form
      encodeURIComponent(uri),
      encodeURIComponent(form),
      encodeURIComponent(whatwg),
      bytes.toString('base64'),
      bytes.toString('base64url'),
      bytes.toString('hex'),
      json,
      asciiJson,
      upperJson,
    ]),
  ];
}

/**
 * Registers a long-lived secret value (a client secret, a password, a key) so that it is redacted
 * wherever it appears from now on, together with every encoding of {@link secretEncodings}. Values
 * shorter than four characters are ignored (they would redact ordinary text). For issued tokens use
 * {@link registerToken}.
 */
export function registerSecret(value: string | undefined | null): void {
  if (typeof value !== 'string' || value.length < MIN_SECRET_LENGTH || expanded.has(value)) return;
  expanded.add(value);
  pending.push(value);
  knownPattern = undefined;
}

/** Makes the encodings of the secrets and tokens registered since the registry was last used. */
function expand(): void {
  for (const value of pending.splice(0)) {
    // Stryker disable next-line ConditionalExpression: no encoding is shorter than the value, so never false here
    for (const v of secretEncodings(value)) if (v.length >= MIN_SECRET_LENGTH) known.add(v);
  }
  for (const [token, encodings] of recentTokens) {
    if (encodings === undefined) recentTokens.set(token, tokenEncodings(token));
  }
}

/**
 * Registers the credentials of an `Authorization: Basic` value (the part after `Basic `) as secrets:
 * the Base64 itself, the decoded `id:secret` pair, and the secret both as sent (form-encoded under
 * RFC 6749 §2.3.1, or raw) and form-decoded, each with all its encodings. So a server, proxy or WAF page
 * that echoes the header, the decoded pair or the raw secret does not leak it. The client id alone is
 * not registered (it is not secret).
 */
export function registerBasicCredentials(credential: string): void {
  const b64 = credential.trim();
  registerSecret(b64);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return;
  const pair = Buffer.from(b64, 'base64').toString('utf8');
  const colon = pair.indexOf(':');
  if (colon < 0) return;
  registerSecret(pair);
  const sent = pair.slice(colon + 1);
  registerSecret(sent);
  const decoded = formUrlDecode(sent);
  // Stryker disable next-line ConditionalExpression: registerSecret(undefined) does nothing (the guard is for tsc)
  if (decoded !== undefined) registerSecret(decoded);
  const id = formUrlDecode(pair.slice(0, colon));
  // The raw pair, as a server that decodes both halves would print it.
  if (id !== undefined && decoded !== undefined) registerSecret(`${id}:${decoded}`);
}

/** Registers the password of a URL such as `redis://user:pw@host` (and its decoded form) as a secret. */
export function registerUrlPassword(url: string): void {
  try {
    const u = new URL(url);
    // Stryker disable next-line ConditionalExpression,StringLiteral: registerSecret ignores '' anyway
    if (u.password !== '') {
      registerSecret(u.password);
      registerSecret(decodeURIComponent(u.password));
    }
  } catch {
    // not a URL: nothing to register
  }
}

/**
 * Registers an issued credential (access, refresh or ID token, a signed assertion) for redaction. The
 * registry keeps the most recent {@link MAX_RECENT_TOKENS}, so a process that runs for months does not
 * grow with every token it receives. Registering a known token again costs nothing.
 */
export function registerToken(value: string | undefined | null): void {
  if (typeof value !== 'string' || value.length < MIN_SECRET_LENGTH) return;
  if (recentTokens.has(value) || expanded.has(value)) return;
  recentTokens.set(value, undefined); // its encodings: made by expand() when next needed
  if (recentTokens.size > MAX_RECENT_TOKENS) {
    const oldest = recentTokens.keys().next().value;
    // Stryker disable next-line ConditionalExpression: the map is not empty here (the guard is for tsc)
    if (oldest !== undefined) recentTokens.delete(oldest);
  }
  knownPattern = undefined;
}

/** The encodings an issued token may be echoed in (its characters are few: RFC 6750 b64token). */
function tokenEncodings(value: string): readonly string[] {
  // Stryker disable next-line StringLiteral: Buffer.from(s, '') is UTF-8 too (Node's default encoding)
  const bytes = Buffer.from(value, 'utf8');
  return [
    ...new Set([
      value,
      encodeURIComponent(value),
      new URLSearchParams({ x: value }).toString().slice(2),
      bytes.toString('base64'),
      bytes.toString('base64url'),
      bytes.toString('hex'),
    ]),
  ];
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const patterns: Array<[RegExp, string]> = [
  // Authorization header values
  [/\b(Bearer|Basic|DPoP)\s+[A-Za-z0-9\-._~+/]+=*/gi, `$1 ${REDACTED}`],
  // JWT / JWS compact serialisations
  [/\beyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g, REDACTED],
  // Form, JSON or query fields named as secrets by the catalogue (src/secret-fields.ts): `name=value`,
  // `"name": value`, `name: "value"` and `name:value`. An unquoted `name: word` is prose ("password: is
  // required", "client_secret: environment variable X is not set"), not a value, and is left alone.
  [
    new RegExp(
      `(?<![\\w-])((?:${SECRET_FIELD_NAME_SOURCE})(?:["']?\\s*=\\s*["']?|["']\\s*:\\s*["']?|\\s*:\\s*["']|:(?=[^\\s"'])))[^&"'\\s,}]+`,
      'gi',
    ),
    `$1${REDACTED}`,
  ],
];

/** Replaces every registered secret and every credential-shaped substring in `text`. */
export function redactText(text: string): string {
  let out = text;
  if (pending.length > 0 || recentTokens.size > 0 || known.size > 0) {
    if (knownPattern === undefined) expand();
    knownPattern ??= new RegExp(
      [...known, ...[...recentTokens.values()].flatMap((e) => e ?? [])]
        .sort((a, b) => b.length - a.length)
        .map(escapeRegExp)
        .join('|'),
      'g',
    );
    out = out.replace(knownPattern, REDACTED);
  }
  for (const [re, rep] of patterns) out = out.replace(re, rep);
  return out;
}

/** Shows the start of a token for humans (`eyJhbG…[9 chars hidden]`), never the whole of it. */
export function maskToken(token: string, visible = 6): string {
  if (token.length <= visible * 2) return REDACTED;
  return `${token.slice(0, visible)}…[${token.length - visible} chars hidden]`;
}

/** How many values the registry holds: long-lived secrets (with their encodings) and recent tokens. */
export function registrySize(): { secrets: number; tokens: number } {
  expand();
  return { secrets: known.size, tokens: recentTokens.size };
}

/** For tests: forgets every registered secret. */
export function clearRegisteredSecrets(): void {
  known.clear();
  expanded.clear();
  pending.length = 0;
  recentTokens.clear();
  knownPattern = undefined;
}
