/**
 * `client_secret_basic`: HTTP Basic authentication with the client id and secret (RFC 6749 §2.3.1).
 * @module
 */

import { ConfigError } from '../errors.js';
import { formUrlEncode } from '../form-encoding.js';
import type { ClientAuth } from './types.js';

export { formUrlEncode } from '../form-encoding.js';

/**
 * How the id and secret are encoded before Base64: `rfc6749` form-urlencodes each first (RFC 6749 §2.3.1,
 * Appendix B); `raw` Base64-encodes `id:secret` as is (what some vendors expect).
 */
export type BasicEncoding = 'rfc6749' | 'raw';

/**
 * The credentials part of an `Authorization: Basic` header for `id` and `secret`: Base64 of
 * `formUrlEncode(id):formUrlEncode(secret)` (or of the raw `id:secret` with `encoding: 'raw'`).
 */
export function encodeBasicCredentials(
  id: string,
  secret: string,
  // Stryker disable next-line StringLiteral: any value but 'raw' is the RFC 6749 encoding; '' is too.
  encoding: BasicEncoding = 'rfc6749',
): string {
  const pair = encoding === 'raw' ? `${id}:${secret}` : `${formUrlEncode(id)}:${formUrlEncode(secret)}`;
  // Stryker disable next-line StringLiteral: Buffer.from(s, '') decodes as UTF-8 too (Node's default).
  return Buffer.from(pair, 'utf8').toString('base64');
}

/** Options of {@link clientSecretBasic}. */
export interface ClientSecretBasicOptions {
  clientId: string;
  /** The client secret. May be empty (some vendors use Basic with an empty secret). */
  clientSecret: string;
  /** Default `rfc6749`. */
  encoding?: BasicEncoding;
}

/**
 * `client_secret_basic`: sends `Authorization: Basic …` and nothing in the form. The HTTP layer registers
 * the header's credentials for redaction when it sends them (the Base64, the decoded `id:secret`, and
 * the secret form-encoded and raw).
 */
export function clientSecretBasic(options: ClientSecretBasicOptions): ClientAuth {
  if (!options.clientId) throw new ConfigError('is required for client_secret_basic', { key: 'client_id' });
  if (options.encoding === 'raw' && options.clientId.includes(':')) {
    // Not "raw Basic encoding": "Basic <word>" reads as a credential and would be redacted from the message.
    throw new ConfigError('must not contain ":" with the raw encoding of client_secret_basic', {
      key: 'client_id',
    });
  }
  const header = `Basic ${encodeBasicCredentials(options.clientId, options.clientSecret, options.encoding)}`;
  return {
    method: 'client_secret_basic',
    clientId: options.clientId,
    async apply(req) {
      req.headers['authorization'] = header;
    },
  };
}
