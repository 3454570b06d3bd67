/**
 * The token exchange grant (RFC 8693): a subject token (and optionally an actor token) exchanged for a
 * token of another audience, resource or type.
 * @module
 */

import { ConfigError } from '../errors.js';
import { registerSecret } from '../redact.js';
import type { Token } from '../token.js';
import { type GrantRequestExtras, grantForm, grantRequest } from './request.js';
import {
  type GrantContext,
  type ResourceInput,
  resourceParam,
  type ScopeInput,
  scopeParam,
} from './types.js';

/** `grant_type` of the token exchange (RFC 8693 §2.1). */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** Token type URIs of RFC 8693 §3 (any other URI may be given too). */
export const TOKEN_TYPES = {
  jwt: 'urn:ietf:params:oauth:token-type:jwt',
  accessToken: 'urn:ietf:params:oauth:token-type:access_token',
  refreshToken: 'urn:ietf:params:oauth:token-type:refresh_token',
  idToken: 'urn:ietf:params:oauth:token-type:id_token',
} as const;

/** Parameters of {@link tokenExchange}. A field that is `undefined` is left out of the request. */
export interface TokenExchangeParams {
  /** The subject token. Secret. */
  subjectToken: string;
  /** Its type URI. Default `urn:ietf:params:oauth:token-type:jwt`. */
  subjectTokenType?: string | undefined;
  /** The actor token (delegation, RFC 8693 §1.1). Secret. */
  actorToken?: string | undefined;
  /** Its type URI; required with `actorToken`. Default `urn:ietf:params:oauth:token-type:jwt`. */
  actorTokenType?: string | undefined;
  /** The type of token wanted (`requested_token_type`). */
  requestedTokenType?: string | undefined;
  scope?: ScopeInput | undefined;
  /** `audience`: the logical name of the target service. */
  audience?: string | undefined;
  /** `resource` (RFC 8707): one URI or several (the field repeated). */
  resource?: ResourceInput | undefined;
  /** Extra form parameters; the grant's own fields, when set, win over them. */
  params?: Record<string, string> | undefined;
}

/**
 * Runs `grant_type=urn:ietf:params:oauth:grant-type:token-exchange`. The subject and actor tokens are
 * registered for redaction before anything is sent; the answer's `issued_token_type` is not checked
 * (a token with `token_type = "N_A"`, RFC 8693 §2.2.1, needs `token_types = ["N_A"]`).
 *
 * @throws ConfigError for an empty subject token (key `subject_token`).
 * @throws TokenEndpointError when the server refuses the exchange (its `error`, never the tokens).
 */
export function tokenExchange(
  ctx: GrantContext,
  p: TokenExchangeParams,
  extras?: GrantRequestExtras,
): Promise<Token> {
  if (typeof p.subjectToken !== 'string' || p.subjectToken === '') {
    throw new ConfigError('is required for the token exchange', { key: 'subject_token' });
  }
  registerSecret(p.subjectToken);
  const actor = p.actorToken !== undefined && p.actorToken !== '' ? p.actorToken : undefined;
  if (actor !== undefined) registerSecret(actor);
  return grantRequest(
    ctx,
    grantForm(p.params, {
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: p.subjectToken,
      subject_token_type: p.subjectTokenType ?? TOKEN_TYPES.jwt,
      actor_token: actor,
      actor_token_type: actor === undefined ? undefined : (p.actorTokenType ?? TOKEN_TYPES.jwt),
      requested_token_type: p.requestedTokenType,
      scope: scopeParam(p.scope),
      audience: p.audience,
      resource: resourceParam(p.resource),
    }),
    extras,
  );
}
