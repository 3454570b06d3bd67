/**
 * The shared body of every form-based grant: client authentication, the HTTP request, parsing.
 * @module
 */

import { requestToken, withoutTokenCheck } from '../http/token-endpoint.js';
import type { FormValue, HttpOptions, JsonResponse, TokenEndpointRequest } from '../http/types.js';
import { parseTokenResponse, type Token } from '../token.js';
import type { GrantContext } from './types.js';

/** Per-request extras for {@link grantRequest}. */
export interface GrantRequestExtras {
  /** The refresh token in use, kept when the answer has none. */
  previousRefreshToken?: string;
  /** Its expiry, kept with it. */
  previousRefreshExpiresAt?: number;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Aborts the request. */
  signal?: AbortSignal;
}

/**
 * A grant's form: `params` with the grant's own fields laid over them. An own field that is `undefined`
 * (not asked for) leaves the entry of `params` with its name in place, so a profile's
 * `params = { resource = "…" }` is sent.
 */
export function grantForm(
  params: Record<string, string> | undefined,
  own: Record<string, FormValue>,
): Record<string, FormValue> {
  const form: Record<string, FormValue> = { ...(params ?? {}) };
  for (const [k, v] of Object.entries(own)) if (v !== undefined) form[k] = v;
  return form;
}

/**
 * Sends a token request with `form` (after the client authentication has added its part) and parses the
 * answer into a {@link Token}. `undefined` form values are left out; a list is sent as the field repeated.
 */
export async function grantRequest(
  ctx: GrantContext,
  form: Record<string, FormValue>,
  extras: GrantRequestExtras = {},
): Promise<Token> {
  const now = ctx.now ?? Date.now;
  const authenticated = () => authenticate(ctx, ctx.tokenUrl, form, extras.headers);
  const http = extras.signal ? { ...ctx.http, signal: extras.signal } : ctx.http;
  const request = await authenticated();
  // A hook (DPoP) may ask for one more attempt (`use_dpop_nonce`): a client assertion is made anew for
  // it, as its `jti` must not be sent twice.
  if (ctx.http.tokenRequestHook !== undefined) request.renew = authenticated;
  const res = await requestToken(request, http);
  return parseTokenResponse(res.body, {
    ...(ctx.parse ?? {}),
    url: res.url,
    status: res.status,
    now: now(),
    ...(extras.previousRefreshToken !== undefined
      ? { previousRefreshToken: extras.previousRefreshToken }
      : {}),
    ...(extras.previousRefreshExpiresAt !== undefined
      ? { previousRefreshExpiresAt: extras.previousRefreshExpiresAt }
      : {}),
  });
}

/**
 * `form` with the client's authentication applied, as a request to `url`. Client authentication sees
 * and sets single values; the lists (RFC 8707 `resource`) keep their place.
 */
async function authenticate(
  ctx: GrantContext,
  url: string,
  form: Record<string, FormValue>,
  headers: Record<string, string> | undefined,
): Promise<TokenEndpointRequest> {
  const authCtx: { tokenUrl: string; audience?: string; now(): number } = {
    tokenUrl: ctx.tokenUrl,
    now: ctx.now ?? Date.now,
  };
  if (ctx.assertionAudience !== undefined) authCtx.audience = ctx.assertionAudience;
  const single: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(form)) single[k] = typeof v === 'string' ? v : undefined;
  const req = { form: single, headers: { ...(headers ?? {}) } };
  await ctx.clientAuth.apply(req, authCtx);
  const sent: Record<string, FormValue> = {};
  for (const [k, v] of Object.entries(form))
    sent[k] = typeof v === 'string' || v === undefined ? req.form[k] : v;
  for (const [k, v] of Object.entries(req.form)) if (!Object.hasOwn(form, k)) sent[k] = v;
  return { url, form: sent, headers: req.headers };
}

/**
 * POSTs `form` with the client's authentication to another endpoint of the authorization server (PAR,
 * device authorization): the same HTTP layer and client authentication as a token request, the JSON
 * answer as it is (a DPoP profile's proof goes with it; the answer is not checked as a token). `what`
 * names the endpoint in messages.
 */
export async function authenticatedPost(
  ctx: GrantContext,
  url: string,
  form: Record<string, FormValue>,
  options: { what: string; signal?: AbortSignal | undefined; http?: HttpOptions },
): Promise<JsonResponse> {
  const req = await authenticate(ctx, url, form, undefined);
  const http = withoutTokenCheck({ ...ctx.http, ...(options.http ?? {}) });
  if (options.signal !== undefined) http.signal = options.signal;
  return requestToken({ ...req, what: options.what }, http);
}
