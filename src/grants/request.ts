/**
 * The shared body of every form-based grant: client authentication, the HTTP request, parsing.
 * @module
 */

import { requestToken } from '../http/token-endpoint.js';
import type { FormValue } from '../http/types.js';
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
  // Client authentication sees and sets single values; the lists (RFC 8707 `resource`) keep their place.
  const single: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(form)) single[k] = typeof v === 'string' ? v : undefined;
  const req = { form: single, headers: { ...(extras.headers ?? {}) } };
  const authCtx: { tokenUrl: string; audience?: string; now(): number } = { tokenUrl: ctx.tokenUrl, now };
  if (ctx.assertionAudience !== undefined) authCtx.audience = ctx.assertionAudience;
  await ctx.clientAuth.apply(req, authCtx);
  const http = extras.signal ? { ...ctx.http, signal: extras.signal } : ctx.http;
  const sent: Record<string, FormValue> = {};
  for (const [k, v] of Object.entries(form))
    sent[k] = typeof v === 'string' || v === undefined ? req.form[k] : v;
  for (const [k, v] of Object.entries(req.form)) if (!Object.hasOwn(form, k)) sent[k] = v;
  const res = await requestToken({ url: ctx.tokenUrl, form: sent, headers: req.headers }, http);
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
