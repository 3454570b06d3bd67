/**
 * The loopback redirect listener of the authorization code flow (RFC 8252 §7.3): an HTTP server on
 * `127.0.0.1` (an ephemeral port unless `redirect_uri` fixes one) that takes exactly one answer on its
 * path, shows the browser a small plain page, and closes — after that answer, a timeout, or an abort.
 * A `localhost` redirect is listened for on both loopback addresses, `127.0.0.1` and `::1` (the same
 * port), since a browser may resolve `localhost` to either; `::1` is left out only on a machine without
 * IPv6.
 * @module
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, LoginTimeoutError } from '../errors.js';

/** Default path of the redirect when `redirect_uri` does not give one. */
export const DEFAULT_REDIRECT_PATH = '/callback';
/** Longest query string accepted on the redirect (a code, a state, an error description…). */
const MAX_QUERY_LENGTH = 16 * 1024;
/** Errors of a listen on `::1` that mean the machine has no IPv6 loopback. */
const NO_IPV6 = new Set(['EADDRNOTAVAIL', 'EAFNOSUPPORT']);

/** The one redirect the listener received. */
export interface ReceivedRedirect {
  /** The query parameters of the redirect. */
  params: URLSearchParams;
  /** Answers the browser with the result page, then closes the listener. Call it exactly once. */
  finish(ok: boolean, message: string): void;
}

/** A listening redirect listener. */
export interface RedirectListener {
  /** The exact `redirect_uri` to send (in the authorization and the token request). */
  readonly redirectUri: string;
  /** Resolves with the first request on the redirect path; rejects on timeout or abort. */
  readonly received: Promise<ReceivedRedirect>;
  /** Closes the listener (idempotent). */
  close(): void;
}

/** Options of {@link listenForRedirect}. */
export interface RedirectListenerOptions {
  /** A fixed loopback `redirect_uri` (http://127.0.0.1:PORT/PATH, [::1] or localhost). */
  redirectUri?: string;
  /** How long to wait for the redirect, ms. */
  timeoutMs: number;
  /** Stops waiting. */
  signal?: AbortSignal;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The plain result page the browser gets. */
export function resultPage(ok: boolean, message: string): string {
  const title = ok ? 'Signed in' : 'Sign-in failed';
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>tokenward: ${title}</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:3em auto">
<h1>${title}</h1>
<p id="message">${escapeHtml(message)}</p>
${ok ? '<p>You can close this tab.</p>' : '<p>Go back to the terminal for details.</p>'}
</body></html>
`;
}

/**
 * Starts the listener. The returned {@link RedirectListener.redirectUri} is what to register and send.
 *
 * @throws ConfigError (key `redirect_uri`) when the fixed port is in use or cannot be listened on.
 */
export async function listenForRedirect(options: RedirectListenerOptions): Promise<RedirectListener> {
  let hosts = ['127.0.0.1'];
  let port = 0;
  let path = DEFAULT_REDIRECT_PATH;
  let shownHost = '127.0.0.1';
  if (options.redirectUri !== undefined) {
    const u = new URL(options.redirectUri);
    shownHost = u.hostname;
    hosts = u.hostname === '[::1]' ? ['::1'] : u.hostname === 'localhost' ? ['127.0.0.1', '::1'] : hosts;
    port = u.port === '' ? 80 : Number(u.port);
    path = u.pathname === '' ? '/' : u.pathname;
  }
  let settle: { resolve(r: ReceivedRedirect): void; reject(e: unknown): void } | undefined;
  const received = new Promise<ReceivedRedirect>((resolve, reject) => {
    settle = { resolve, reject };
  });
  received.catch(() => {}); // the caller awaits it; an early rejection is not unhandled
  let done = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://loopback');
    if (req.method !== 'GET' || url.pathname !== path || done) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
      res.end('not found\n');
      return;
    }
    done = true;
    if (timer !== undefined) clearTimeout(timer);
    const query = url.search.length > MAX_QUERY_LENGTH ? '' : url.search;
    let answered = false;
    settle?.resolve({
      params: new URLSearchParams(query),
      finish(ok, message) {
        if (answered) return;
        answered = true;
        const body = resultPage(ok, message);
        res.writeHead(ok ? 200 : 400, {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-store',
          'referrer-policy': 'no-referrer',
          connection: 'close',
        });
        res.end(body, () => close());
      },
    });
  };
  const servers: Server[] = [];
  const close = () => {
    if (timer !== undefined) clearTimeout(timer);
    for (const server of servers) {
      server.close();
      server.closeAllConnections();
    }
  };
  /** Listens on every host (the same port); on a failure closes what it opened and says why. */
  const listenAll = async (): Promise<
    { host: string; at: number; err: NodeJS.ErrnoException } | undefined
  > => {
    for (const host of hosts) {
      const server = createServer(handle);
      server.headersTimeout = 10_000;
      server.requestTimeout = 10_000;
      // The second address of `localhost` takes the port the first one got.
      const first = servers[0];
      const at = first === undefined ? port : (first.address() as AddressInfo).port;
      const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
        server.once('error', resolve);
        server.listen(at, host, () => resolve(undefined));
      });
      if (err === undefined) servers.push(server);
      // No IPv6 on this machine: `localhost` can only be 127.0.0.1 here.
      else if (!(host === '::1' && servers.length > 0 && NO_IPV6.has(err.code ?? ''))) {
        close();
        servers.length = 0;
        return { host, at, err };
      }
    }
    return undefined;
  };
  for (let attempt = 1; ; attempt++) {
    const failed = await listenAll();
    if (failed === undefined) break;
    const { host, at, err } = failed;
    // An ephemeral port that the first address got and the second has in use: try another port.
    if (port === 0 && host !== hosts[0] && err.code === 'EADDRINUSE' && attempt < 5) continue;
    const why =
      err.code === 'EADDRINUSE'
        ? `port ${at} is in use${hosts.length > 1 ? ` on ${host}` : ''} (another program, or another sign-in); free it or change redirect_uri`
        : `cannot listen on ${hosts.length > 1 ? host : shownHost}:${at} (${err.code ?? err.message})`;
    throw new ConfigError(why, { key: 'redirect_uri' });
  }
  const server = servers[0] as Server;
  const actual = (server.address() as AddressInfo).port;
  const redirectUri = `http://${shownHost}:${actual}${path}`;
  timer = setTimeout(() => {
    if (done) return;
    done = true;
    close();
    settle?.reject(
      new LoginTimeoutError(
        options.timeoutMs,
        `no answer from the browser within ${Math.round(options.timeoutMs / 1000)} s (the sign-in page was not completed); run the sign-in again`,
      ),
    );
  }, options.timeoutMs);
  timer.unref();
  const onAbort = () => {
    if (done) return;
    done = true;
    close();
    settle?.reject(options.signal?.reason ?? new Error('aborted'));
  };
  if (options.signal?.aborted === true) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  received.finally(() => options.signal?.removeEventListener('abort', onAbort)).catch(() => {});
  return {
    redirectUri,
    received,
    close: () => {
      if (!done) {
        done = true;
        settle?.reject(new Error('the redirect listener was closed'));
      }
      close();
    },
  };
}
