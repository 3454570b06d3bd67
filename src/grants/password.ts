/**
 * The resource owner password credentials grant (RFC 6749 §4.3).
 * @module
 */

import { ConfigError } from '../errors.js';
import type { Token } from '../token.js';
import { type GrantRequestExtras, grantForm, grantRequest } from './request.js';
import {
  type GrantContext,
  type ResourceInput,
  resourceParam,
  type ScopeInput,
  scopeParam,
} from './types.js';

/** Parameters of {@link passwordGrant}. A field that is `undefined` is left out of the request. */
export interface PasswordParams {
  username: string;
  /** Secret. */
  password: string;
  scope?: ScopeInput | undefined;
  audience?: string | undefined;
  /** `resource` (RFC 8707): one URI or several (the field repeated). */
  resource?: ResourceInput | undefined;
  /** Extra form parameters (e.g. `takeExclusiveSignOnControl`); the grant's own fields, when set, win over them. */
  params?: Record<string, string> | undefined;
}

/** Runs `grant_type=password`. */
export function passwordGrant(
  ctx: GrantContext,
  p: PasswordParams,
  extras?: GrantRequestExtras,
): Promise<Token> {
  if (!p.username) throw new ConfigError('is required for the password grant', { key: 'username' });
  if (!p.password) throw new ConfigError('is required for the password grant', { key: 'password' });
  return grantRequest(
    ctx,
    grantForm(p.params, {
      grant_type: 'password',
      username: p.username,
      password: p.password,
      scope: scopeParam(p.scope),
      audience: p.audience,
      resource: resourceParam(p.resource),
    }),
    extras,
  );
}
