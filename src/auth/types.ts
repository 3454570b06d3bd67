/**
 * The client authentication contract: how a client proves itself to a token endpoint (RFC 6749 §2.3,
 * OpenID Connect Core §9, RFC 7523 §2.2).
 * @module
 */

import type { ClientAuthMethod } from '../profile.js';

/** The parts of a token request a client authentication method may change. */
export interface ClientAuthRequest {
  /** Form fields; set a value to add it, `undefined` values are not sent. */
  form: Record<string, string | undefined>;
  /** Request headers (e.g. `Authorization`). */
  headers: Record<string, string>;
}

/** Facts a client authentication method needs about the request. */
export interface ClientAuthContext {
  /** The token endpoint URL (the default `aud` of JWT client assertions). */
  tokenUrl: string;
  /** The `aud` for JWT client assertions instead of the token URL (e.g. the issuer). */
  audience?: string;
  /** Current time in ms. */
  now(): number;
}

/** A client authentication method bound to one client's credentials. */
export interface ClientAuth {
  /** The method's registered name. */
  readonly method: ClientAuthMethod;
  /** The client id, when the method has one. */
  readonly clientId?: string;
  /** Adds the client's credentials to a token request. */
  apply(req: ClientAuthRequest, ctx: ClientAuthContext): Promise<void>;
}

/** The media type of JWT client assertions (RFC 7523 §2.2). */
export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
