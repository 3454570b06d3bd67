/**
 * Redaction of secrets. Two layers: a registry of known secret values (every secret tokenward resolves or
 * receives is registered), and patterns for things that look like credentials (Bearer/Basic values,
 * JWTs, `password=`-style form fields). Both are applied to every error message and debug line.
 * @module
 */

/** Long-lived secrets: client secrets, passwords, keys. Few, kept for the life of the process. */
const known = new Set<string>();
/**
 * Issued credentials: access, refresh and ID tokens, signed assertions. A long-running process receives
 * them without end, so only the most recent {@link MAX_RECENT_TOKENS} are kept (insertion order = age).
 * Older ones are still caught by the credential patterns below when they travel as Bearer values, JWTs
 * or named fields — and an old token is expired anyway.
 */
const recentTokens = new Map<string, true>();
/** How many issued tokens the registry remembers. */
export const MAX_RECENT_TOKENS = 256;
const MIN_SECRET_LENGTH = 4;
let knownPattern: RegExp | undefined;

/** The text shown in place of a secret. */
export const REDACTED = '[REDACTED]';

/**
 * Registers a long-lived secret value (a client secret, a password, a key) so that it is redacted
 * wherever it appears from now on, together with its URL and Base64 encodings. Values shorter than four
 * characters are ignored (they would redact ordinary text). For issued tokens use {@link registerToken}.
 */
export function registerSecret(value: string | undefined | null): void {
  if (typeof value !== 'string' || value.length < MIN_SECRET_LENGTH || known.has(value)) return;
  known.add(value);
  // Also register the encodings a secret commonly travels in.
  for (const v of [encodeURIComponent(value), Buffer.from(value).toString('base64')]) {
    if (v !== value && v.length >= MIN_SECRET_LENGTH) known.add(v);
  }
  knownPattern = undefined;
}

/** Registers the password of a URL such as `redis://user:pw@host` (and its decoded form) as a secret. */
export function registerUrlPassword(url: string): void {
  try {
    const u = new URL(url);
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
  if (recentTokens.has(value) || known.has(value)) return;
  recentTokens.set(value, true);
  if (recentTokens.size > MAX_RECENT_TOKENS) {
    const oldest = recentTokens.keys().next().value;
    if (oldest !== undefined) recentTokens.delete(oldest);
  }
  knownPattern = undefined;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const patterns: Array<[RegExp, string]> = [
  // Authorization header values
  [/\b(Bearer|Basic|DPoP)\s+[A-Za-z0-9\-._~+/]+=*/gi, `$1 ${REDACTED}`],
  // JWT / JWS compact serialisations
  [/\beyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g, REDACTED],
  // form or JSON fields that carry secrets
  [
    /((?:client_secret|password|newPassword|new_password|refresh_token|access_token|id_token|subject_token|actor_token|assertion|client_assertion|auth_token|app_secret|private_key|code_verifier)["']?\s*[=:]\s*["']?)[^&"'\s,}]+/gi,
    `$1${REDACTED}`,
  ],
];

/** Replaces every registered secret and every credential-shaped substring in `text`. */
export function redactText(text: string): string {
  let out = text;
  if (known.size > 0 || recentTokens.size > 0) {
    knownPattern ??= new RegExp(
      [...known, ...recentTokens.keys()]
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
  return { secrets: known.size, tokens: recentTokens.size };
}

/** For tests: forgets every registered secret. */
export function clearRegisteredSecrets(): void {
  known.clear();
  recentTokens.clear();
  knownPattern = undefined;
}
