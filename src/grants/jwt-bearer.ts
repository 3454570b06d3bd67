/**
 * The JWT bearer grant (RFC 7523 §2.1): a JWT issued by a party the server trusts (a CI platform, a
 * workload identity) is the authorization grant.
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

/** `grant_type` of the JWT bearer grant (RFC 7523 §2.1). */
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** Parameters of {@link jwtBearer}. A field that is `undefined` is left out of the request. */
export interface JwtBearerParams {
  /** The JWT sent as `assertion`. Secret. */
  assertion: string;
  scope?: ScopeInput | undefined;
  audience?: string | undefined;
  /** `resource` (RFC 8707): one URI or several (the field repeated). */
  resource?: ResourceInput | undefined;
  /** Extra form parameters; the grant's own fields, when set, win over them. */
  params?: Record<string, string> | undefined;
}

/**
 * Runs `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` with the JWT as `assertion`. The JWT is
 * registered for redaction before anything is sent.
 *
 * @throws ConfigError for an empty assertion (key `subject_token`, where profiles take it from).
 * @throws TokenEndpointError when the server refuses the assertion.
 */
export function jwtBearer(
  ctx: GrantContext,
  p: JwtBearerParams,
  extras?: GrantRequestExtras,
): Promise<Token> {
  if (typeof p.assertion !== 'string' || p.assertion === '') {
    throw new ConfigError('is required for the jwt_bearer grant (the assertion)', { key: 'subject_token' });
  }
  registerSecret(p.assertion);
  return grantRequest(
    ctx,
    grantForm(p.params, {
      grant_type: JWT_BEARER_GRANT,
      assertion: p.assertion,
      scope: scopeParam(p.scope),
      audience: p.audience,
      resource: resourceParam(p.resource),
    }),
    extras,
  );
}
