/**
 * Sign-in on the sandbox's OpenID Connect pages without a browser: the forms are posted over plain HTTP
 * the way a browser would post them, so a demo (or a test that does not need Chromium) can run the code
 * flow and the device flow end to end. For the sandbox's own pages only: the URLs must be on loopback.
 *
 * ```ts
 * // code flow: as the `openBrowser` hook of login(), completes the forms and sends the redirect
 * await login(profile, { openBrowser: async (url) => void (await completeSandboxSignIn(url)) });
 * // device flow: approves the user code shown by the client while it polls
 * let approval: Promise<void> | undefined;
 * await login(deviceProfile, {
 *   onDeviceCode: (d) => {
 *     approval = approveSandboxDevice(d.verificationUri, d.userCode);
 *   },
 * });
 * await approval;
 * ```
 * @module
 */

import { DEMO_CREDENTIALS } from './credentials.js';

/** Why a browserless sign-in failed. */
export type SandboxSignInProblem = 'not-loopback' | 'credentials' | 'unexpected-answer' | 'device-code';

/** A browserless sign-in on the sandbox's pages failed. `problem` says why; no secret is in the message. */
export class SandboxSignInError extends Error {
  /** A stable code to switch on. */
  readonly code = 'ERR_SANDBOX_SIGN_IN';
  readonly problem: SandboxSignInProblem;
  /** HTTP status of the answer that was not what a browser would have got, when there was one. */
  readonly status?: number;

  constructor(problem: SandboxSignInProblem, message: string, status?: number) {
    super(message);
    this.name = 'SandboxSignInError';
    this.problem = problem;
    if (status !== undefined) this.status = status;
  }
}

/** Options of {@link completeSandboxSignIn} and {@link approveSandboxDevice}. */
export interface SandboxSignInOptions {
  /** Default: the sandbox's test user (`DEMO_CREDENTIALS.oidc.username`). */
  username?: string;
  /** Default: the test user's password. */
  password?: string;
  /** The button pressed on the consent page. Default `allow`. */
  decision?: 'allow' | 'deny';
  /**
   * {@link completeSandboxSignIn} only: wait for the client's loopback listener to answer the redirect.
   * Default false, as a browser does: a client that answers its listener only once it has redeemed the
   * code (tokenward's does) is waiting for the `openBrowser` hook to return, and the two would wait for
   * each other. Tests whose listener answers at once set it to know the redirect has arrived.
   */
  awaitRedirect?: boolean;
  /** Limit per HTTP request, milliseconds. Default 30 000. */
  timeoutMs?: number;
  /** Aborts the sign-in. */
  signal?: AbortSignal;
}

/** Largest page read, bytes. */
const MAX_PAGE_BYTES = 256 * 1024;

function loopbackUrl(raw: string, what: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new SandboxSignInError('not-loopback', `${what} is not a URL`);
  }
  const host = u.hostname;
  if (u.protocol !== 'http:' || !(host === '127.0.0.1' || host === '[::1]' || host === 'localhost')) {
    throw new SandboxSignInError(
      'not-loopback',
      `${what} must be an http:// URL on loopback, got ${u.origin}`,
    );
  }
  return u;
}

interface Page {
  status: number;
  location?: string;
  html: string;
}

async function request(
  url: URL,
  options: SandboxSignInOptions,
  form?: Record<string, string>,
): Promise<Page> {
  const signals = [AbortSignal.timeout(options.timeoutMs ?? 30_000)];
  if (options.signal !== undefined) signals.push(options.signal);
  const res = await fetch(url, {
    method: form === undefined ? 'GET' : 'POST',
    redirect: 'manual',
    signal: AbortSignal.any(signals),
    headers: {
      accept: 'text/html',
      ...(form === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
    },
    ...(form === undefined ? {} : { body: new URLSearchParams(form).toString() }),
  });
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (res.body !== null) {
    for await (const chunk of res.body) {
      size += chunk.length;
      if (size > MAX_PAGE_BYTES) {
        await res.body.cancel();
        throw new SandboxSignInError(
          'unexpected-answer',
          `${url.origin}${url.pathname} sent a page over ${MAX_PAGE_BYTES} bytes`,
        );
      }
      chunks.push(chunk);
    }
  }
  const location = res.headers.get('location');
  return {
    status: res.status,
    html: Buffer.concat(chunks).toString('utf8'),
    ...(location === null ? {} : { location: new URL(location, url).href }),
  };
}

/** The value of the hidden `interaction` field of a sandbox page. */
function interactionOf(page: Page, where: string): string {
  const m = /<input type="hidden" name="interaction" value="([A-Za-z0-9_-]+)">/.exec(page.html);
  // A page sent again with an error (wrong password: 401) also carries the field: only a 200 moves on.
  if (m?.[1] === undefined || page.status !== 200) {
    const reason = /<p class="error" role="alert">(.*?)<\/p>/.exec(page.html)?.[1]?.replace(/<[^>]*>/g, '');
    throw new SandboxSignInError(
      page.status === 401 ? 'credentials' : 'unexpected-answer',
      `${where}: HTTP ${page.status}${reason === undefined ? ', not the expected form' : `: ${reason}`}`,
      page.status,
    );
  }
  return m[1];
}

function credentials(options: SandboxSignInOptions): { username: string; password: string } {
  return {
    username: options.username ?? DEMO_CREDENTIALS.oidc.username,
    password: options.password ?? DEMO_CREDENTIALS.oidc.password,
  };
}

/**
 * Completes the sandbox's code-flow sign-in for an authorization URL (what a client would open in a
 * browser): loads the sign-in page, posts the username and password, presses Allow (or Deny) on the
 * consent page, and — like a browser — follows the redirect to the client's loopback `redirect_uri`, so
 * the client's listener receives the `code` (or `error`) and `state`. It returns once the redirect is
 * sent, without waiting for the listener's answer (unless `awaitRedirect`), so it can serve as the
 * `openBrowser` hook of `login()`.
 *
 * @returns The redirect URL the client received (with `code`, `state` and `iss`, or `error`).
 * @throws SandboxSignInError when a URL is not on loopback, the credentials are refused, or a page is
 *   not what the sandbox serves.
 */
export async function completeSandboxSignIn(
  authorizationUrl: string,
  options: SandboxSignInOptions = {},
): Promise<string> {
  const start = loopbackUrl(authorizationUrl, 'the authorization URL');
  const first = await request(start, options);
  let redirect = first.location;
  if (redirect === undefined) {
    const signIn = interactionOf(first, 'the sign-in page');
    const consent = await request(new URL('/oidc/login', start), options, {
      interaction: signIn,
      ...credentials(options),
    });
    const decided = await request(new URL('/oidc/consent', start), options, {
      interaction: interactionOf(consent, 'signing in'),
      decision: options.decision ?? 'allow',
    });
    redirect = decided.location;
    if (redirect === undefined || decided.status !== 303) {
      throw new SandboxSignInError(
        'unexpected-answer',
        `the consent page answered HTTP ${decided.status} without a redirect`,
        decided.status,
      );
    }
  }
  // The browser's last step: the client's loopback listener gets the answer. Sent now, awaited only on
  // request (see awaitRedirect); a failure to deliver is then the client's to notice (its listener times out).
  const delivery = request(loopbackUrl(redirect, 'the redirect URI'), options);
  if (options.awaitRedirect === true) await delivery;
  else delivery.catch(() => {});
  return redirect;
}

/**
 * Approves (or denies) a device authorization on the sandbox's verification page: posts the user code
 * with the username and password, then presses Allow (or Deny) on the consent page.
 *
 * @param verificationUri The `verification_uri` (or `verification_uri_complete`) the client was given.
 * @param userCode The `user_code` the client shows.
 * @throws SandboxSignInError when the URL is not on loopback, the code is unknown or expired
 *   (`device-code`), the credentials are refused, or a page is not what the sandbox serves.
 */
export async function approveSandboxDevice(
  verificationUri: string,
  userCode: string,
  options: SandboxSignInOptions = {},
): Promise<void> {
  const page = loopbackUrl(verificationUri, 'the verification URI');
  const target = new URL(page.pathname, page);
  const consent = await request(target, options, { user_code: userCode, ...credentials(options) });
  if (consent.status === 400) {
    throw new SandboxSignInError(
      'device-code',
      'the sandbox does not know that user code, or it has expired',
      400,
    );
  }
  const decided = await request(new URL('/oidc/consent', page), options, {
    interaction: interactionOf(consent, 'the verification page'),
    decision: options.decision ?? 'allow',
  });
  if (decided.status !== 200) {
    throw new SandboxSignInError(
      'unexpected-answer',
      `the consent page answered HTTP ${decided.status}`,
      decided.status,
    );
  }
}
