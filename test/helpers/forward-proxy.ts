/**
 * A small forward proxy on loopback for tests: `CONNECT host:port` tunnels (for https targets) and
 * absolute-form requests (`GET http://host/path`, for plain http targets), with optional
 * `Proxy-Authorization: Basic` checking (a 407 otherwise). It counts what passes through and can map
 * names to addresses (`hosts`), so a test can use a name only the proxy can resolve — proof that the
 * request really went through it.
 */

import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect as netConnect, type Socket } from 'node:net';

/** What {@link startForwardProxy} accepts. */
export interface ForwardProxyOptions {
  /** `user:password` the proxy demands (Basic); unset: no authentication. */
  credentials?: string;
  /** Host name → address the proxy connects to instead of resolving it. */
  hosts?: Record<string, string>;
  /** Key and certificate: the proxy speaks TLS (an `https://` proxy); unset: plain http. */
  tls?: { key: string; cert: string };
}

/** A running forward proxy. */
export interface ForwardProxy {
  /** `http://127.0.0.1:<port>` (`https://` with `tls`; no credentials). */
  url: string;
  port: number;
  /** `host:port` of every CONNECT it accepted, in order. */
  tunnels: string[];
  /** Absolute-form URLs it forwarded, in order. */
  forwarded: string[];
  /** Requests and tunnels refused with 407. */
  refused: number;
  /** The `Proxy-Authorization` values received, in order. */
  proxyAuthorizations: string[];
  close(): Promise<void>;
}

function authorized(req: IncomingMessage, proxy: ForwardProxy, credentials: string | undefined): boolean {
  const h = req.headers['proxy-authorization'];
  if (typeof h === 'string') proxy.proxyAuthorizations.push(h);
  if (credentials === undefined) return true;
  return h === `Basic ${Buffer.from(credentials).toString('base64')}`;
}

/** Starts a forward proxy on 127.0.0.1 (a free port). */
export async function startForwardProxy(options: ForwardProxyOptions = {}): Promise<ForwardProxy> {
  const sockets = new Set<Socket>();
  const resolveHost = (host: string): string => options.hosts?.[host.toLowerCase()] ?? host;
  const listener = (req: IncomingMessage, res: import('node:http').ServerResponse): void => {
    if (!authorized(req, state, options.credentials)) {
      state.refused++;
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="test proxy"', connection: 'close' });
      res.end('proxy authentication required');
      return;
    }
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end('absolute-form request expected');
      return;
    }
    state.forwarded.push(target.href);
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    const upstream = httpRequest(
      {
        host: resolveHost(target.hostname.replace(/^\[|\]$/g, '')),
        port: target.port === '' ? 80 : Number(target.port),
        method: req.method,
        path: `${target.pathname}${target.search}`,
        headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  };
  const server: Server =
    options.tls === undefined ? createServer(listener) : createHttpsServer(options.tls, listener);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    if (!authorized(req, state, options.credentials)) {
      state.refused++;
      client.end(
        'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test proxy"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
      );
      return;
    }
    const authority = req.url ?? '';
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(authority);
    if (m === null) {
      client.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    state.tunnels.push(authority);
    const upstream = netConnect(Number(m[2]), resolveHost((m[1] ?? '').replace(/^\[|\]$/g, '')), () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const state: ForwardProxy = {
    url: `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    port,
    tunnels: [],
    forwarded: [],
    refused: 0,
    proxyAuthorizations: [],
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return state;
}
