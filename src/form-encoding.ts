/**
 * `application/x-www-form-urlencoded` encoding as RFC 6749 Appendix B defines it (used for the
 * credentials of `client_secret_basic`, RFC 6749 §2.3.1), and its inverse.
 * @module
 */

/**
 * Encodes a string as `application/x-www-form-urlencoded` (RFC 6749 Appendix B): percent-encoding as
 * `encodeURIComponent` does, plus `!'()*`, with spaces as `+`.
 */
export function formUrlEncode(value: string): string {
  return encodeURIComponent(value)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/** Decodes a form-urlencoded string (`+` is a space); undefined when the percent-encoding is invalid. */
export function formUrlDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replaceAll('+', ' '));
  } catch {
    return undefined;
  }
}
