/**
 * Exit codes of the `tokenward` command, and the mapping from error codes to them.
 * @module
 */

/** The documented exit codes. */
export const EXIT = {
  /** Success. */
  OK: 0,
  /** Any other failure. */
  FAILURE: 1,
  /** Bad usage or configuration (unknown option, bad profile, unset secret variable, …). */
  USAGE: 2,
  /** The server rejected the request for a token (HTTP error from the token endpoint, unusable answer). */
  REJECTED: 3,
  /** Network failure: refused, reset, DNS, TLS, timeout. */
  NETWORK: 4,
  /** Token store failure (file, PostgreSQL, Redis) or lock timeout. */
  STORE: 5,
  /** `request`: the API answered with a status outside 200–299 (the body is still printed). */
  HTTP_STATUS: 6,
  /**
   * The token endpoint is unavailable: HTTP 502/503/504/429 after the retries, or a `Retry-After`
   * longer than the retry budget. Try again later; the credentials were not rejected.
   */
  UNAVAILABLE: 7,
  /** No usable sign-in: run `tokenward login <profile>` (interactive profiles). */
  LOGIN_REQUIRED: 8,
  /** `exec`: the command exists but could not be executed (permission). */
  EXEC_NOT_EXECUTABLE: 126,
  /** `exec`: the command was not found. */
  EXEC_NOT_FOUND: 127,
  /** Standard output was closed by its reader (EPIPE) before everything was written: 128 + SIGPIPE. */
  BROKEN_PIPE: 141,
} as const;

/** A command-line usage mistake (exit code 2). */
export class UsageError extends Error {
  readonly code = 'ERR_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The exit code for an error, from its `code` (so it works without loading the error classes). */
export function exitCodeFor(err: unknown): number {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  switch (code) {
    case 'ERR_USAGE':
    case 'ERR_CONFIG':
    case 'ERR_INSECURE_ENDPOINT':
      return EXIT.USAGE;
    case 'ERR_TOKEN_ENDPOINT':
    case 'ERR_INVALID_TOKEN_RESPONSE':
    case 'ERR_AUTHORIZATION':
    case 'ERR_ID_TOKEN':
      return EXIT.REJECTED;
    case 'ERR_UPSTREAM_UNAVAILABLE':
      return EXIT.UNAVAILABLE;
    case 'ERR_NETWORK':
    case 'ERR_TIMEOUT':
      return EXIT.NETWORK;
    case 'ERR_LOGIN_REQUIRED':
      return EXIT.LOGIN_REQUIRED;
    case 'ERR_STORE':
    case 'ERR_LOCK_TIMEOUT':
      return EXIT.STORE;
    default:
      return EXIT.FAILURE;
  }
}
