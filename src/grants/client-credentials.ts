/**
 * The client credentials grant (RFC 6749 §4.4).
 * @module
 */

import type { Token } from '../token.js';
import { type GrantRequestExtras, grantForm, grantRequest } from './request.js';
import {
  type GrantContext,
  type ResourceInput,
  resourceParam,
  type ScopeInput,
  scopeParam,
} from './types.js';

/** Parameters of {@link clientCredentials}. A field that is `undefined` is left out of the request. */
export interface ClientCredentialsParams {
  scope?: ScopeInput | undefined;
  /** `audience` (Auth0-style APIs). */
  audience?: string | undefined;
  /** `resource` (RFC 8707): one URI or several (the field repeated). */
  resource?: ResourceInput | undefined;
  /** Extra form parameters; the grant's own fields, when set, win over them. */
  params?: Record<string, string> | undefined;
}

/** Runs `grant_type=client_credentials`. */
export function clientCredentials(
  ctx: GrantContext,
  p: ClientCredentialsParams = {},
  extras?: GrantRequestExtras,
): Promise<Token> {
  return grantRequest(
    ctx,
    grantForm(p.params, {
      grant_type: 'client_credentials',
      scope: scopeParam(p.scope),
      audience: p.audience,
      resource: resourceParam(p.resource),
    }),
    extras,
  );
}
