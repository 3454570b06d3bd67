/**
 * Loopback fixtures for the authenticated-request tests: an API server that checks Bearer tokens (its
 * rule: a token the token server issued — `at-…` — that has not been revoked here), a second server
 * on another origin, the hooks that start them with the token server and build the manager under test
 * (the real generic OAuth 2.0 provider), and the three integrations behind one small client interface
 * so the same assertions run over authFetch, undici and axios.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, beforeEach } from 'node:test';
import axios, { type AxiosRequestConfig } from 'axios';
import { Agent, interceptors, request } from 'undici';
import {
  attachAxios,
  createAuthFetch,
  type TokenSource,
  tokenwardInterceptor,
} from '../../src/fetch/index.js';
import { TokenManager } from '../../src/manager/token-manager.js';
import { createTokenClient } from '../../src/providers/index.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { TokenClient } from '../../src/token-client.js';
import { profileFor, startTokenServer, TEST_CLIENT, type TokenServer } from '../helpers/token-server.js';

/** One request as an API server saw it. */
export interface Hit {
  method: string;
  path: string;
  authorization: string | undefined;
  cookie: string | undefined;
  proxyAuthorization: string | undefined;
  body: string;
}

/** A loopback API. */
export interface ApiServer {
  url: string;
  hits: Hit[];
  /** Tokens this API no longer accepts (as if they expired on the server side). */
  revoked: Set<string>;
  /** Reject every token (a 401 that persists after a retry). */
  rejectAll: boolean;
  /** Where `/to-other` redirects (set to the second server's URL). */
  other: string;
  /** Hits on `path` (without the query string). */
  hitsTo(path: string): Hit[];
  reset(): void;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const BEARER = /^Bearer (at-\S+)$/;

/**
 * Routes:
 * - `/data`: 200 `{ok, method, body, token}` with a good token; else 401 with
 *   `WWW-Authenticate: Bearer error="invalid_token"` and a JSON error body.
 * - `/scoped`: like `/data`, but a bad token gets 403 + `error="invalid_token"` (no 401).
 * - `/to-other?status=N`: redirect (N, default 302) to `${other}/landing`; `/to-self?status=N` to `/data`.
 * - `/loop`: redirects to itself.
 * - `/landing`: 200 for anyone.
 */
export async function startApiServer(): Promise<ApiServer> {
  const state = {
    hits: [] as Hit[],
    revoked: new Set<string>(),
    rejectAll: false,
    other: '',
  };
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const u = new URL(req.url ?? '/', 'http://x');
    state.hits.push({
      method: req.method ?? '',
      path: u.pathname,
      authorization: req.headers.authorization,
      cookie: req.headers.cookie,
      proxyAuthorization: req.headers['proxy-authorization'],
      body,
    });
    const status = Number(u.searchParams.get('status') ?? '302');
    const send = (code: number, payload: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(code, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(payload));
    };
    switch (u.pathname) {
      case '/to-other':
        res.writeHead(status, { location: `${state.other}/landing` });
        res.end('moved');
        return;
      case '/to-self':
        res.writeHead(status, { location: '/data' });
        res.end('moved');
        return;
      case '/loop':
        res.writeHead(302, { location: '/loop' });
        res.end();
        return;
      case '/landing':
        send(200, { landed: true, method: req.method, body });
        return;
      case '/data':
      case '/scoped': {
        const m = BEARER.exec(req.headers.authorization ?? '');
        const token = m?.[1];
        if (token === undefined || state.rejectAll || state.revoked.has(token)) {
          const code = u.pathname === '/scoped' ? 403 : 401;
          send(
            code,
            { error: { code: String(code), message: 'token expired', status: 'Unauthorized' } },
            { 'www-authenticate': 'Bearer realm="api", error="invalid_token"' },
          );
          return;
        }
        send(200, { ok: true, method: req.method, body, token });
        return;
      }
      default:
        send(404, { error: 'not found' });
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    hitsTo: (path: string) => state.hits.filter((h) => h.path === path),
    reset: () => {
      state.hits.length = 0;
      state.revoked.clear();
      state.rejectAll = false;
    },
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  });
}

/** The loopback servers of a test file and the manager under test, fresh for every test. */
export interface FetchServers {
  /** The token server (the real `oauth2` provider authenticates to it as `TEST_CLIENT`). */
  tokens: TokenServer;
  /** The API the tokens are for; its `/to-other` redirects to `other`. */
  api: ApiServer;
  /** A second API on another origin (no token may reach it). */
  other: ApiServer;
  /** A new manager per test: memory store, no background refresh, the real generic OAuth 2.0 client. */
  manager: TokenManager;
}

/**
 * Registers the hooks of a request-integration test file: the token server and two API servers start
 * once (`before`) and stop at the end (`after`); before each test, the servers are reset and a new
 * manager is built. Read the servers and the manager from the returned object inside the tests.
 */
export function useFetchServers(options: { latencyMs?: number } = {}): FetchServers {
  const fx = {} as FetchServers;
  let client: TokenClient;
  before(async () => {
    [fx.tokens, fx.api, fx.other] = await Promise.all([
      startTokenServer({
        lifetime: 3600,
        latencyMs: options.latencyMs ?? 5,
        clients: { [TEST_CLIENT.id]: TEST_CLIENT.secret },
      }),
      startApiServer(),
      startApiServer(),
    ]);
    fx.api.other = fx.other.url;
    // The real token client of the generic provider; no HTTP retries, so a fault injected once is seen.
    client = await createTokenClient(profileFor(fx.tokens, { retries: 0 }));
  });
  after(async () => {
    await Promise.all([fx.tokens?.close(), fx.api?.close(), fx.other?.close()]);
  });
  beforeEach(() => {
    fx.tokens.reset();
    fx.api.reset();
    fx.other.reset();
    fx.manager = new TokenManager({
      client,
      key: 'fetch-tests',
      store: new MemoryStore(),
      eagerRefreshFraction: 1,
    });
  });
  return fx;
}

/** A request, integration-neutral. */
export interface Req {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Send the body as a stream (once-only). */
  stream?: boolean;
}

/** An answer, integration-neutral. */
export interface Res {
  status: number;
  text: string;
}

/** One integration under test. */
export interface Client {
  send(url: string, req?: Req): Promise<Res>;
  close(): Promise<void>;
}

/** Options the tests pass to every integration. */
export interface IntegrationOptions {
  origins: string[];
  retryOn401?: boolean;
  onForeignOrigin?: 'plain' | 'throw';
}

/** How to build each integration. */
export interface Integration {
  name: string;
  make(source: TokenSource, options: IntegrationOptions): Client;
}

function webStream(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes.subarray(0, 2));
      controller.enqueue(bytes.subarray(2));
      controller.close();
    },
  });
}

/** authFetch over the global fetch. */
export const FETCH: Integration = {
  name: 'authFetch',
  make(source, options) {
    const authFetch = createAuthFetch(source, options);
    return {
      async send(url, req = {}) {
        const init: RequestInit = {};
        if (req.method !== undefined) init.method = req.method;
        if (req.headers !== undefined) init.headers = req.headers;
        if (req.body !== undefined) {
          if (req.stream === true) {
            init.body = webStream(req.body);
            init.duplex = 'half';
          } else init.body = req.body;
        }
        const res = await authFetch(url, init);
        return { status: res.status, text: await res.text() };
      },
      close: async () => {},
    };
  },
};

/** undici's request() through an Agent composed with the interceptor (and undici's redirect interceptor). */
export const UNDICI: Integration = {
  name: 'undici',
  make(source, options) {
    const agent = new Agent();
    const dispatcher = agent.compose(
      tokenwardInterceptor(source, options),
      interceptors.redirect({ maxRedirections: 5 }),
    );
    return {
      async send(url, req = {}) {
        const body =
          req.body === undefined
            ? undefined
            : req.stream === true
              ? Readable.from([req.body.slice(0, 2), req.body.slice(2)])
              : req.body;
        const res = await request(url, {
          dispatcher,
          method: (req.method ?? 'GET') as 'GET',
          ...(req.headers === undefined ? {} : { headers: req.headers }),
          ...(body === undefined ? {} : { body }),
        });
        return { status: res.statusCode, text: await res.body.text() };
      },
      close: () => agent.close(),
    };
  },
};

/** An axios instance with tokenward attached; every status resolves (validateStatus). */
export const AXIOS: Integration = {
  name: 'axios',
  make(source, options) {
    const instance = axios.create({ validateStatus: () => true, maxRedirects: 5 });
    const { detach } = attachAxios(instance, source, options);
    return {
      async send(url, req = {}) {
        const config: AxiosRequestConfig = {
          url,
          method: req.method ?? 'GET',
          responseType: 'text',
          transformResponse: (x: unknown) => x,
        };
        if (req.headers !== undefined) config.headers = req.headers;
        if (req.body !== undefined) {
          config.data =
            req.stream === true ? Readable.from([req.body.slice(0, 2), req.body.slice(2)]) : req.body;
        }
        const res = await instance.request<string>(config);
        return { status: res.status, text: res.data };
      },
      close: async () => detach(),
    };
  },
};

/** All three, for tests that loop over the integrations. */
export const INTEGRATIONS: readonly Integration[] = [FETCH, UNDICI, AXIOS];
