/**
 * The refresh token grant (RFC 6749 §6), rotation-aware: when the answer has no new refresh token, the
 * one used is kept.
 * @module
 */

import { ConfigError, UnsupportedError } from '../errors.js';
import type { Token } from '../token.js';
import { type GrantRequestExtras, grantForm, grantRequest } from './request.js';
import {
  type GrantContext,
  type ResourceInput,
  resourceParam,
  type ScopeInput,
  scopeParam,
} from './types.js';

/** Parameters of {@link refreshTokenGrant}. */
export interface RefreshTokenParams {
  /** The refresh token to use. Secret. */
  refreshToken: string;
  /** Its known expiry (ms), kept when the answer carries no new refresh token. */
  refreshExpiresAt?: number;
  /** A narrower scope (RFC 6749 §6); usually left out. */
  scope?: ScopeInput | undefined;
  /** `audience`, for servers that want it again on refresh (a profile's `refresh_params`). */
  audience?: string | undefined;
  /** `resource` (RFC 8707 §2.2: a refresh may name the resource(s) again). */
  resource?: ResourceInput | undefined;
  /** Extra form parameters (e.g. `username` for some vendors); the grant's own fields, when set, win over them. */
  params?: Record<string, string> | undefined;
}

/** Runs `grant_type=refresh_token`. */
export function refreshTokenGrant(
  ctx: GrantContext,
  p: RefreshTokenParams,
  extras: GrantRequestExtras = {},
): Promise<Token> {
  if (!p.refreshToken)
    throw new ConfigError('is required for the refresh_token grant', { key: 'refresh_token' });
  const x: GrantRequestExtras = { ...extras, previousRefreshToken: p.refreshToken };
  if (p.refreshExpiresAt !== undefined) x.previousRefreshExpiresAt = p.refreshExpiresAt;
  return grantRequest(
    ctx,
    grantForm(p.params, {
      grant_type: 'refresh_token',
      refresh_token: p.refreshToken,
      scope: scopeParam(p.scope),
      audience: p.audience,
      resource: resourceParam(p.resource),
    }),
    x,
  );
}

/**
 * Refreshes a token with its own refresh token (and keeps that token's refresh expiry when the answer
 * carries no new one). `params` are extra form fields, e.g. `username` for RDP; `resend` the primary
 * grant's `scope`, `audience` and `resource` to send again (what a profile's `refresh_params` picks).
 * @throws UnsupportedError when the token has no refresh token.
 */
export async function refreshWithToken(
  ctx: GrantContext,
  token: Token,
  extras: GrantRequestExtras = {},
  params?: Record<string, string>,
  resend: Pick<RefreshTokenParams, 'scope' | 'audience' | 'resource'> = {},
): Promise<Token> {
  if (!token.refreshToken) throw new UnsupportedError('this token has no refresh token');
  const p: RefreshTokenParams = { ...resend, refreshToken: token.refreshToken };
  if (params !== undefined) p.params = params;
  if (token.refreshExpiresAt !== undefined) p.refreshExpiresAt = token.refreshExpiresAt;
  return refreshTokenGrant(ctx, p, extras);
}
