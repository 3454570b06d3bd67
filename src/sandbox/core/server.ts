/**
 * The sandbox's one HTTP server: reads bodies (capped), routes to the vendor emulators, applies
 * latency and faults to token endpoints, counts outcomes, and serves the `/_sandbox/*` control routes.
 * @module
 */

import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError, TokenwardError } from '../../errors.js';
import type { SandboxVendor } from '../types.js';
import { DEFAULT_SLOW_BODY_MS, faultReply, writeSlowly } from './faults.js';
import {
  encodeBody,
  json,
  MAX_BODY_BYTES,
  parseJsonObject,
  type Reply,
  type SandboxRequest,
} from './http.js';
import { checkVendor, type VendorState } from './settings.js';
import type { Counters } from './stats.js';
import type { Route, VendorModule } from './vendor.js';

/** What the server needs from the sandbox. */
export interface ServerDeps {
  vendors: Record<SandboxVendor, VendorModule>;
  states: Record<SandboxVendor, VendorState>;
  counters: Counters;
  reset(): void;
}

interface Bound {
  vendor: SandboxVendor;
  route: Route;
}

/** A running server. */
export interface RunningServer {
  port: number;
  close(): Promise<void>;
}

class TooLarge extends Error {}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new TooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function matchPath(route: Route, pathname: string): string[] | undefined {
  if (typeof route.path === 'string') return route.path === pathname ? [] : undefined;
  const m = route.path.exec(pathname);
  if (m === null) return undefined;
  try {
    return m.slice(1).map((p) => decodeURIComponent(p ?? ''));
  } catch {
    return undefined;
  }
}

function writeReply(res: ServerResponse, reply: Reply, extra: Record<string, string> = {}): Buffer {
  const { bytes, type } = encodeBody(reply.body);
  const headers: Record<string, string> = { ...extra, ...reply.headers };
  if (type !== undefined && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) {
    headers['content-type'] = type;
  }
  headers['content-length'] = String(bytes.length);
  res.writeHead(reply.status, headers);
  return bytes;
}

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };

/** Starts the server on 127.0.0.1. */
export async function startServer(port: number, deps: ServerDeps): Promise<RunningServer> {
  const routes: Bound[] = [];
  for (const [vendor, mod] of Object.entries(deps.vendors) as [SandboxVendor, VendorModule][]) {
    for (const route of mod.routes) routes.push({ vendor, route });
  }
  const closing = new AbortController();

  async function control(req: SandboxRequest): Promise<Reply> {
    const path = req.url.pathname;
    if (path === '/_sandbox/stats' && req.method === 'GET') return json(200, deps.counters.snapshot());
    if (path === '/_sandbox/reset' && req.method === 'POST') {
      deps.reset();
      return { status: 204 };
    }
    if (path === '/_sandbox/config' && req.method === 'POST') {
      const parsed = parseJsonObject(req);
      if (!parsed.ok) return json(400, { error: 'invalid_request', error_description: parsed.detail });
      const { vendor, ...settings } = parsed.value;
      try {
        checkVendor(vendor);
        deps.states[vendor].configure(settings);
        return json(200, { vendor, settings: deps.states[vendor].resolved });
      } catch (err) {
        if (err instanceof TokenwardError) {
          return json(400, { error: 'invalid_request', error_description: err.message });
        }
        throw err;
      }
    }
    return json(404, {
      error: 'not_found',
      error_description: `no sandbox control route ${req.method} ${path}`,
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const done = new AbortController();
    const signal = AbortSignal.any([done.signal, closing.signal]);
    res.on('close', () => done.abort());
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch (err) {
      if (!(err instanceof TooLarge)) throw err;
      const bytes = writeReply(
        res,
        json(413, { error: 'invalid_request', error_description: 'request body too large' }),
        {
          connection: 'close',
        },
      );
      res.end(bytes);
      return;
    }
    // Concatenated, not resolved: a request target like `//host/path` must stay a path.
    const url = new URL(`http://127.0.0.1${req.url ?? '/'}`);
    const method = req.method ?? 'GET';
    const sreq: SandboxRequest = { method, url, headers: req.headers, body, params: [] };

    if (url.pathname.startsWith('/_sandbox/')) {
      res.end(writeReply(res, await control(sreq)));
      return;
    }
    let bound: Bound | undefined;
    const allowed: string[] = [];
    for (const b of routes) {
      const params = matchPath(b.route, url.pathname);
      if (params === undefined) continue;
      if (b.route.method !== method) {
        allowed.push(b.route.method);
        continue;
      }
      bound = b;
      sreq.params = params;
      break;
    }
    if (bound === undefined) {
      const reply =
        allowed.length > 0
          ? json(405, { error: 'method_not_allowed' }, { allow: allowed.join(', ') })
          : json(404, { error: 'not_found', error_description: `no route ${method} ${url.pathname}` });
      res.end(writeReply(res, reply));
      return;
    }
    const { vendor, route } = bound;
    const state = deps.states[vendor];
    const isToken = route.kind === 'token';
    const fault = isToken ? state.takeFault() : undefined;
    if (isToken && state.resolved.latencyMs > 0) {
      try {
        await sleep(state.resolved.latencyMs, undefined, { signal });
      } catch {
        res.destroy();
        return;
      }
    }
    if (fault !== undefined) {
      deps.counters.fault(vendor);
      if (fault.kind === 'hang') {
        // Never answer: wait for the client to give up (or the sandbox to close), then drop it.
        if (!signal.aborted) await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
        res.destroy();
        return;
      }
      const reply = faultReply(fault);
      if (reply !== undefined) {
        res.end(writeReply(res, reply, NO_STORE));
        return;
      }
    }
    const reply = await route.handle(sreq);
    const ok = reply.status >= 200 && reply.status < 300;
    if (isToken && ok && reply.grant !== undefined) deps.counters.issued(vendor, reply.grant);
    else if (route.kind === 'api' && ok) deps.counters.api(vendor);
    else if (reply.status >= 400 && reply.status < 500) deps.counters.rejected(vendor);
    const bytes = writeReply(res, reply, isToken ? NO_STORE : {});
    if (fault?.kind === 'slow-body')
      await writeSlowly(res, bytes, fault.delayMs ?? DEFAULT_SLOW_BODY_MS, signal);
    else res.end(bytes);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) {
        res.end(
          writeReply(res, json(500, { error: 'server_error', error_description: 'sandbox internal error' })),
        );
      } else {
        res.destroy();
      }
    });
  });
  server.listen(port, '127.0.0.1');
  try {
    await once(server, 'listening');
  } catch (err) {
    const code = String((err as { code?: unknown }).code ?? 'error');
    const what =
      code === 'EADDRINUSE' ? 'is in use' : code === 'EACCES' ? 'is not allowed' : 'cannot be used';
    throw new ConfigError(`port ${port} on 127.0.0.1 ${what} (${code}); pick another, or 0 for a free one`);
  }
  const actual = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    port: actual,
    close() {
      closed ??= (async () => {
        closing.abort();
        const done = once(server, 'close');
        server.close();
        server.closeAllConnections();
        await done;
      })();
      return closed;
    },
  };
}
