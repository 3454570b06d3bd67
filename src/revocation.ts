/**
 * Token revocation (RFC 7009), authenticated like token requests.
 * @module
 */

import type { ClientAuth, ClientAuthRequest } from './auth/types.js';
import { TokenEndpointError, UnsupportedError } from './errors.js';
import { requestNoContent, withoutTokenCheck } from './http/token-endpoint.js';
import type { HttpOptions } from './http/types.js';
import { registerToken } from './redact.js';
import type { Token } from './token.js';

/** Where and how to revoke. */
export interface RevocationContext {
  /** The revocation endpoint; when absent, revocation is unsupported. */
  revocationUrl?: string;
  /** The token endpoint (the default `aud` of JWT client assertions, which servers accept for any endpoint). */
  tokenUrl: string;
  clientAuth: ClientAuth;
  http: HttpOptions;
  /** The `aud` of JWT client assertions instead of the token URL. */
  assertionAudience?: string;
  /** Current time in ms. Default `Date.now`. */
  now?(): number;
}

/** The RFC 7009 `token_type_hint` values. */
export type TokenTypeHint = 'access_token' | 'refresh_token';

/**
 * Revokes one token (RFC 7009 §2.1). A 200 answer means revoked (or already invalid).
 *
 * @throws UnsupportedError when there is no revocation endpoint.
 * @throws TokenEndpointError / NetworkError when the server refuses or cannot be reached.
 */
export async function revoke(
  ctx: RevocationContext,
  token: string,
  tokenTypeHint?: TokenTypeHint,
  signal?: AbortSignal,
): Promise<void> {
  if (!ctx.revocationUrl) {
    throw new UnsupportedError(
      'this server advertises no revocation endpoint (RFC 7009); set revocation_url in the profile if it has one',
    );
  }
  const { req, http } = await tokenRequestOf(ctx, token, tokenTypeHint, signal);
  await requestNoContent(
    { url: ctx.revocationUrl, form: req.form, headers: req.headers, what: 'revocation endpoint' },
    http,
  );
}

/** What revocation and introspection share: the client and where it proves itself. */
export interface AuthenticatedEndpointContext {
  tokenUrl: string;
  clientAuth: ClientAuth;
  http: HttpOptions;
  assertionAudience?: string;
  now?(): number;
}

/**
 * The form `token` (+ `token_type_hint`) with the client's authentication applied, and the HTTP
 * options with `signal`: the request RFC 7009 and RFC 7662 both make. The token is registered for
 * redaction.
 */
export async function tokenRequestOf(
  ctx: AuthenticatedEndpointContext,
  token: string,
  tokenTypeHint: TokenTypeHint | undefined,
  signal: AbortSignal | undefined,
): Promise<{ req: ClientAuthRequest; http: HttpOptions }> {
  registerToken(token);
  const req: ClientAuthRequest = { form: { token, token_type_hint: tokenTypeHint }, headers: {} };
  const authCtx: { tokenUrl: string; audience?: string; now(): number } = {
    tokenUrl: ctx.tokenUrl,
    now: ctx.now ?? Date.now,
  };
  if (ctx.assertionAudience !== undefined) authCtx.audience = ctx.assertionAudience;
  await ctx.clientAuth.apply(req, authCtx);
  // A DPoP profile proves its key here too (servers that bind refresh tokens may ask for it at
  // revocation); the answer is no token.
  const http = withoutTokenCheck(ctx.http);
  if (signal !== undefined) http.signal = signal;
  return { req, http };
}

/**
 * Revokes a {@link Token}: its refresh token first (which usually ends the whole grant), then its access
 * token. A server that cannot revoke access tokens (`unsupported_token_type`) is not an error.
 */
export async function revokeToken(ctx: RevocationContext, token: Token, signal?: AbortSignal): Promise<void> {
  if (token.refreshToken) await revoke(ctx, token.refreshToken, 'refresh_token', signal);
  try {
    await revoke(ctx, token.accessToken, 'access_token', signal);
  } catch (e) {
    if (e instanceof TokenEndpointError && e.error === 'unsupported_token_type') return;
    throw e;
  }
}
