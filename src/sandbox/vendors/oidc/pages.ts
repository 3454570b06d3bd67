/**
 * The OpenID Connect server's HTML pages: sign-in, consent, device code entry, results and errors.
 * Plain HTML with no script; every interpolated value is escaped, and the pages are sent with a strict
 * Content-Security-Policy, no caching and no framing.
 * @module
 */

import type { Reply } from '../../core/http.js';
import { ISSUER_PATH, SCOPES } from './model.js';

/** Escapes text for HTML content and double-quoted attribute values. */
export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Headers of every page. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  pragma: 'no-cache',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const STYLE =
  'body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;line-height:1.4}' +
  'label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.4rem;box-sizing:border-box}' +
  'button{margin:1rem .5rem 0 0;padding:.4rem 1.2rem}.error{color:#a00}.hint{color:#555;font-size:.9em}';

/** A whole page. `body` must already be HTML (built from escaped values). */
export function page(status: number, title: string, body: string): Reply {
  const html =
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>` +
    `<body><h1>${escapeHtml(title)}</h1>${body}</body></html>\n`;
  return { status, headers: { ...PAGE_HEADERS }, body: html };
}

function errorLine(error: string | undefined): string {
  return error === undefined ? '' : `<p class="error" role="alert">${escapeHtml(error)}</p>`;
}

function hidden(name: string, value: string): string {
  return `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`;
}

function credentialFields(username: string): string {
  return (
    `<label for="username">Username</label><input id="username" name="username" autocomplete="username" value="${escapeHtml(username)}" required>` +
    '<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>'
  );
}

function testUserHint(username: string, password: string): string {
  return `<p class="hint">tokenward sandbox: the test user is <code>${escapeHtml(username)}</code>, password <code>${escapeHtml(password)}</code>.</p>`;
}

/** The sign-in form of a code-flow interaction. */
export function signInPage(opts: {
  interaction: string;
  clientName: string;
  loginHint?: string;
  error?: string;
  testUser: { username: string; password: string };
}): Reply {
  return page(
    opts.error === undefined ? 200 : 401,
    'Sign in',
    `<p>Sign in to continue to <strong>${escapeHtml(opts.clientName)}</strong>.</p>${errorLine(opts.error)}` +
      `<form method="post" action="${ISSUER_PATH}/login">${hidden('interaction', opts.interaction)}${credentialFields(opts.loginHint ?? '')}` +
      '<button type="submit">Sign in</button></form>' +
      testUserHint(opts.testUser.username, opts.testUser.password),
  );
}

/** The consent page: what the client asks for, Allow / Deny. */
export function consentPage(opts: {
  interaction: string;
  clientName: string;
  scopes: string[];
  userCode?: string;
}): Reply {
  const items = opts.scopes
    .map((s) => `<li>${escapeHtml(SCOPES[s] ?? s)} (<code>${escapeHtml(s)}</code>)</li>`)
    .join('');
  const device =
    opts.userCode === undefined
      ? ''
      : `<p>Device code <strong>${escapeHtml(opts.userCode)}</strong>: only allow it if you started this sign-in yourself.</p>`;
  return page(
    200,
    'Allow access?',
    `${device}<p><strong>${escapeHtml(opts.clientName)}</strong> asks to:</p><ul>${items}</ul>` +
      `<form method="post" action="${ISSUER_PATH}/consent">${hidden('interaction', opts.interaction)}` +
      '<button type="submit" name="decision" value="allow">Allow</button>' +
      '<button type="submit" name="decision" value="deny">Deny</button></form>',
  );
}

/** The device verification page: user code, username, password. */
export function devicePage(opts: {
  userCode: string;
  error?: string;
  status?: number;
  testUser: { username: string; password: string };
}): Reply {
  return page(
    opts.status ?? 200,
    'Connect a device',
    `<p>Enter the code shown on your device, then sign in.</p>${errorLine(opts.error)}` +
      `<form method="post" action="${ISSUER_PATH}/device">` +
      `<label for="user_code">Code</label><input id="user_code" name="user_code" autocomplete="off" autocapitalize="characters" value="${escapeHtml(opts.userCode)}" required>` +
      `${credentialFields('')}<button type="submit">Continue</button></form>` +
      testUserHint(opts.testUser.username, opts.testUser.password),
  );
}

/** The page after a device decision. */
export function deviceDonePage(allowed: boolean): Reply {
  return allowed
    ? page(200, 'Device connected', '<p>You are signed in on your device. You can close this tab.</p>')
    : page(200, 'Access denied', '<p>The device was not connected. You can close this tab.</p>');
}

/** An error page (for requests that cannot be sent back to a client: no trusted redirect URI). */
export function errorPage(status: number, error: string, description: string): Reply {
  const reply = page(
    status,
    'Sign-in error',
    `<p class="error" role="alert"><code>${escapeHtml(error)}</code>: ${escapeHtml(description)}</p>`,
  );
  return { ...reply, headers: { ...reply.headers, 'x-sandbox-reason': error } };
}
