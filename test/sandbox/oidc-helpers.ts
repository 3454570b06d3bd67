/** Helpers for the sandbox's OpenID Connect server tests: PKCE, authorize URLs, a redirect listener. */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Sandbox } from '../../src/sandbox/index.js';
import { type Loopback, startLoopback } from '../helpers/loopback.js';
import { postForm } from './helpers.js';

/** The device grant's grant_type. */
export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** A PKCE verifier and its S256 challenge. */
export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** A loopback listener standing in for the client's redirect URI: answers 200 to every request. */
export async function redirectListener(): Promise<Loopback & { redirectUri: string }> {
  const lb = await startLoopback((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('signed in, you can close this tab');
  });
  return Object.assign(lb, { redirectUri: `${lb.url}/callback` });
}

/** One code-flow request: its parameters and the authorization URL. */
export interface CodeRequest {
  url: string;
  verifier: string;
  state: string;
  nonce: string;
  redirectUri: string;
}

/** Builds an authorization URL for the public client; `params` override or (as `undefined`) drop. */
export function authorizeRequest(
  sandbox: Sandbox,
  redirectUri: string,
  params: Record<string, string | undefined> = {},
): CodeRequest {
  const { verifier, challenge } = pkce();
  const state = randomBytes(8).toString('hex');
  const nonce = randomBytes(8).toString('hex');
  const all: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: sandbox.credentials.oidc.clientId,
    redirect_uri: redirectUri,
    scope: 'openid profile email offline_access',
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...params,
  };
  const u = new URL(`${sandbox.url}/oidc/authorize`);
  for (const [k, v] of Object.entries(all)) if (v !== undefined) u.searchParams.set(k, v);
  return { url: u.href, verifier, state, nonce, redirectUri };
}

/** POSTs to the token endpoint as the public client (unless `client_id` is given). */
export function tokenRequest(
  sandbox: Sandbox,
  params: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return postForm(
    `${sandbox.url}/oidc/token`,
    { client_id: sandbox.credentials.oidc.clientId, ...params },
    headers,
  );
}

/** Reads an OAuth error answer: status and `error`. */
export async function oauthErrorOf(res: Response): Promise<[number, string]> {
  const b = (await res.json()) as { error?: string };
  return [res.status, b.error ?? ''];
}

/** The `code` of a redirect URL, checking `state` and `iss` on the way. */
export function codeOf(redirect: string, req: CodeRequest, issuer: string): string {
  const u = new URL(redirect);
  assert.equal(u.searchParams.get('state'), req.state);
  assert.equal(u.searchParams.get('iss'), issuer);
  const code = u.searchParams.get('code');
  assert.ok(code, redirect);
  return code;
}
