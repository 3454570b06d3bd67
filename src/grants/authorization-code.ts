/**
 * The authorization code grant with PKCE (RFC 6749 §4.1, RFC 7636 with S256 always, RFC 8252 for native
 * apps): a loopback redirect listener, `state` and `nonce`, the authorization URL printed and opened,
 * pushed authorization requests (RFC 9126) when asked, and the code exchanged with the exact
 * `redirect_uri`. The answer's ID token is checked by the caller's `accept` before anything is stored.
 * @module
 */

import { createHash, randomBytes } from 'node:crypto';
import { AuthorizationError, InvalidTokenResponseError } from '../errors.js';
import { formValues } from '../http/token-endpoint.js';
import type { FormValue } from '../http/types.js';
import { registerSecret } from '../redact.js';
import { listenForRedirect } from '../signin/redirect-listener.js';
import type { Token } from '../token.js';
import { authenticatedPost, grantRequest } from './request.js';
import { type GrantContext, type ResourceInput, resourceParam } from './types.js';

/** A random URL-safe string of `bytes` bytes of entropy. */
export const randomToken = (bytes = 32): string => randomBytes(bytes).toString('base64url');

/** The PKCE S256 challenge of a verifier. */
export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

/** Parameters of {@link authorizationCodeGrant}. */
export interface AuthorizationCodeParams {
  /** The authorization endpoint. */
  authorizationUrl: string;
  /** The client id (sent on the authorization request). */
  clientId: string;
  /** The issuer, when known: an `iss` on the redirect (RFC 9207) must equal it. */
  issuer?: string;
  /** Space-separated scope. */
  scope?: string | undefined;
  /**
   * `resource` (RFC 8707): one URI or several, sent (repeated) on the authorization request and the
   * code exchange.
   */
  resource?: ResourceInput | undefined;
  /** A fixed loopback redirect URI (else 127.0.0.1 and a free port, path `/callback`). */
  redirectUri?: string | undefined;
  /** Extra authorize parameters (`prompt`, `login_hint`, `acr_values`, `max_age`, the profile's table). */
  extraParams?: Readonly<Record<string, string>>;
  /** Send the authorization request with PAR to this endpoint (RFC 9126). */
  parUrl?: string | undefined;
  /** How long to wait for the redirect, ms. */
  timeoutMs: number;
  /** Shows the authorization URL (always called) and opens a browser. */
  present(url: string): Promise<void>;
  /**
   * Checks the token answer before it is accepted (ID token validation, with the nonce sent). Throws
   * to refuse it.
   */
  accept?(token: Token, nonce: string): Promise<void>;
  /** Aborts. */
  signal?: AbortSignal | undefined;
}

/**
 * Runs the code flow once: listener up, authorization URL shown and opened, one redirect taken, the code
 * exchanged. The browser is told the outcome ("signed in" or what went wrong).
 *
 * @throws AuthorizationError (`error=` on the redirect, `state_mismatch`, `missing_code`,
 * `issuer_mismatch`); LoginTimeoutError; ConfigError when a fixed redirect port is in use; the token
 * endpoint's and `accept`'s errors.
 */
export async function authorizationCodeGrant(ctx: GrantContext, p: AuthorizationCodeParams): Promise<Token> {
  const verifier = randomToken(48);
  const state = randomToken(24);
  const nonce = randomToken(24);
  registerSecret(verifier);
  const listener = await listenForRedirect({
    ...(p.redirectUri !== undefined ? { redirectUri: p.redirectUri } : {}),
    timeoutMs: p.timeoutMs,
    ...(p.signal !== undefined ? { signal: p.signal } : {}),
  });
  let finish: ((ok: boolean, message: string) => void) | undefined;
  try {
    const params: Record<string, string> = {
      ...(p.extraParams ?? {}),
      response_type: 'code',
      client_id: p.clientId,
      redirect_uri: listener.redirectUri,
      state,
      nonce,
      code_challenge: pkceChallenge(verifier),
      code_challenge_method: 'S256',
    };
    if (p.scope !== undefined) params['scope'] = p.scope;
    const resource = resourceParam(p.resource);
    const url = new URL(p.authorizationUrl);
    if (p.parUrl !== undefined) {
      const requestUri = await pushAuthorizationRequest(ctx, p.parUrl, { ...params, resource }, p.signal);
      url.searchParams.set('client_id', p.clientId);
      url.searchParams.set('request_uri', requestUri);
    } else {
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      for (const r of formValues(resource)) url.searchParams.append('resource', r);
    }
    await p.present(url.href);
    const redirect = await listener.received;
    finish = redirect.finish;
    const q = redirect.params;
    if (q.get('state') !== state) {
      throw new AuthorizationError(
        'state_mismatch',
        'the redirect came back with another "state" than this sign-in sent (a stale tab or a forged redirect); nothing was stored',
      );
    }
    const error = q.get('error');
    if (error !== null) {
      const description = q.get('error_description') ?? undefined;
      throw new AuthorizationError(
        error,
        `the authorization server refused the sign-in: ${error}${description !== undefined ? ` (${description})` : ''}; nothing was stored`,
        description,
      );
    }
    const iss = q.get('iss');
    if (iss !== null && p.issuer !== undefined && iss !== p.issuer) {
      throw new AuthorizationError(
        'issuer_mismatch',
        `the redirect names issuer ${JSON.stringify(iss)}, not ${JSON.stringify(p.issuer)} (a mix-up); nothing was stored`,
      );
    }
    const code = q.get('code');
    if (code === null || code === '') {
      throw new AuthorizationError(
        'missing_code',
        'the redirect carries no authorization code; nothing was stored',
      );
    }
    registerSecret(code);
    const token = await grantRequest(
      ctx,
      {
        grant_type: 'authorization_code',
        code,
        redirect_uri: listener.redirectUri,
        code_verifier: verifier,
        resource,
      },
      p.signal !== undefined ? { signal: p.signal } : {},
    );
    await p.accept?.(token, nonce);
    finish(true, 'You are signed in to tokenward.');
    finish = undefined;
    return token;
  } catch (err) {
    finish?.(false, err instanceof Error ? err.message : String(err));
    throw err;
  } finally {
    listener.close();
  }
}

/** Sends the authorization request to the PAR endpoint; returns its `request_uri`. */
async function pushAuthorizationRequest(
  ctx: GrantContext,
  parUrl: string,
  params: Record<string, FormValue>,
  signal: AbortSignal | undefined,
): Promise<string> {
  // Not retried: a pushed request is single-use, and a person is waiting.
  const res = await authenticatedPost(ctx, parUrl, params, {
    what: 'pushed authorization request endpoint',
    signal,
    http: { retries: 0 },
  });
  const body = res.body as Record<string, unknown>;
  const uri = body['request_uri'];
  if (typeof uri !== 'string' || uri === '') {
    throw new InvalidTokenResponseError(res.url, res.status, 'the PAR answer has no "request_uri"');
  }
  return uri;
}
