/**
 * A small OAuth 2.0 token endpoint on loopback for the manager, store, herd, request-integration and CLI
 * tests, driven through the real client stack (profile → provider → grant → HTTP layer):
 * client_credentials, password and refresh_token (rotating, one use per refresh token), with a
 * configurable lifetime, latency and faults, optional checks of the client's credentials (Basic or
 * form) and of the resource owner's password, and counts and a log of every request.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Profile } from '../../src/profile.js';

/**
 * The client the tests register with the token server and authenticate as. The secret has characters
 * that RFC 6749 §2.3.1 form-encodes before Base64, so Basic authentication is exercised for real.
 */
export const TEST_CLIENT = { id: 'tw-test-client', secret: 'tw test+secret:/!(x)' } as const;

/** A resource owner for password-grant tests. */
export const TEST_USER = { username: 'alice', password: 'pw of alice' } as const;

/**
 * A profile for the generic `oauth2` provider against `server`, as the {@link TEST_CLIENT}
 * (client_credentials unless `extra` says otherwise).
 */
export function profileFor(server: Pick<TokenServer, 'tokenUrl'>, extra: Profile = {}): Profile {
  return {
    token_url: server.tokenUrl,
    client_id: TEST_CLIENT.id,
    client_secret: TEST_CLIENT.secret,
    ...extra,
  };
}

/** An answer the server gives instead of doing its work. */
export interface Fault {
  status: number;
  body: string;
  contentType?: string;
  /** Extra response headers (e.g. `retry-after`). */
  headers?: Record<string, string>;
  /** Only requests of this grant type get the fault (default: every request). */
  grant?: string;
  /** How many requests get the fault (default: until cleared). */
  times?: number;
}

/** One request as the token server saw it. Secrets are kept out, except the refresh token used. */
export interface TokenRequest {
  grant: string;
  /** The client as it authenticated (Basic or form), if at all. */
  clientId: string | undefined;
  /** How the client authenticated. */
  auth: 'basic' | 'post' | 'none';
  /** The refresh token presented (refresh_token grant). */
  refreshToken?: string;
  /** The HTTP status of the answer. */
  status: number;
}

/** Settings a test may pass to {@link startTokenServer} (and that {@link TokenServer.reset} restores). */
export interface TokenServerOptions {
  /** Seconds; sent as expires_in. Default 3600. */
  lifetime?: number;
  /** Delay before each answer, ms. Default 20. */
  latencyMs?: number;
  /** Issue refresh tokens with the primary grants. Default true. */
  issueRefreshTokens?: boolean;
  /** Refresh answers carry a new refresh token and the used one is revoked. Default true. */
  rotate?: boolean;
  /**
   * Registered clients (client_id → client_secret). When given, every request must authenticate as one
   * of them, with HTTP Basic (RFC 6749 §2.3.1: form-encoded, then Base64) or in the form; anything else
   * is answered `401 invalid_client`.
   */
  clients?: Record<string, string>;
  /** Resource owners (username → password). When given, the password grant checks them (`invalid_grant`). */
  users?: Record<string, string>;
  /** Hand back this access token string on every success (as servers do while a token is valid). */
  fixedAccessToken?: string;
}

export interface TokenServer {
  url: string;
  tokenUrl: string;
  counts: { total: number; byGrant: Record<string, number> };
  /** Every request, in order. */
  requests: TokenRequest[];
  /** Seconds; sent as expires_in. */
  lifetime: number;
  latencyMs: number;
  issueRefreshTokens: boolean;
  rotate: boolean;
  fixedAccessToken: string | undefined;
  fault: Fault | undefined;
  /** Refresh tokens that are currently valid. */
  liveRefreshTokens: Set<string>;
  /** Refresh grants answered `invalid_grant` (a revoked, used or unknown refresh token). */
  rejectedRefreshes: number;
  /**
   * Runs on every request after it is counted and before it is answered (awaited): to hang the
   * endpoint (return a promise the test settles) or to act as another process meanwhile.
   */
  onRequest: ((grant: string, form: URLSearchParams) => void | Promise<void>) | undefined;
  /** Requests answered `invalid_client`. */
  rejectedClients: number;
  /** Restores the start settings and clears counts, log, fault and refresh tokens. */
  reset(): void;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** `application/x-www-form-urlencoded` decoding of one Basic credential part (RFC 6749 §2.3.1). */
function formDecode(s: string): string {
  return decodeURIComponent(s.replace(/\+/g, ' '));
}

/** The client's credentials from an `Authorization: Basic` header or the form. */
function clientCredentialsOf(
  req: IncomingMessage,
  form: URLSearchParams,
): { auth: TokenRequest['auth']; id: string | undefined; secret: string | undefined } {
  const m = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (m !== null) {
    const decoded = Buffer.from(m[1] ?? '', 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 0) return { auth: 'basic', id: undefined, secret: undefined };
    try {
      return { auth: 'basic', id: formDecode(decoded.slice(0, i)), secret: formDecode(decoded.slice(i + 1)) };
    } catch {
      return { auth: 'basic', id: undefined, secret: undefined };
    }
  }
  const id = form.get('client_id') ?? undefined;
  const secret = form.get('client_secret') ?? undefined;
  return { auth: secret === undefined ? 'none' : 'post', id, secret };
}

export async function startTokenServer(init: TokenServerOptions = {}): Promise<TokenServer> {
  let n = 0;
  const settings = () => ({
    lifetime: init.lifetime ?? 3600,
    latencyMs: init.latencyMs ?? 20,
    issueRefreshTokens: init.issueRefreshTokens ?? true,
    rotate: init.rotate ?? true,
    fixedAccessToken: init.fixedAccessToken,
  });
  const state: Omit<TokenServer, 'url' | 'tokenUrl' | 'close' | 'reset'> = {
    ...settings(),
    counts: { total: 0, byGrant: {} },
    requests: [],
    fault: undefined,
    liveRefreshTokens: new Set(),
    rejectedRefreshes: 0,
    onRequest: undefined,
    rejectedClients: 0,
  };
  const server = createServer(async (req, res) => {
    const form = new URLSearchParams(await readBody(req));
    const grant = form.get('grant_type') ?? 'none';
    const client = clientCredentialsOf(req, form);
    const record: TokenRequest = { grant, clientId: client.id, auth: client.auth, status: 0 };
    const rt = form.get('refresh_token');
    if (grant === 'refresh_token' && rt !== null) record.refreshToken = rt;
    state.requests.push(record);
    state.counts.total++;
    state.counts.byGrant[grant] = (state.counts.byGrant[grant] ?? 0) + 1;
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
      res.end(JSON.stringify(body));
    };
    if (state.latencyMs > 0) await new Promise((r) => setTimeout(r, state.latencyMs));
    if (state.onRequest !== undefined) await state.onRequest(grant, form);
    const f = state.fault;
    if (f !== undefined && (f.grant === undefined || f.grant === grant)) {
      if (f.times !== undefined && --f.times <= 0) state.fault = undefined;
      record.status = f.status;
      res.writeHead(f.status, { 'content-type': f.contentType ?? 'application/json', ...(f.headers ?? {}) });
      res.end(f.body);
      return;
    }
    if (init.clients !== undefined) {
      const secret = client.id === undefined ? undefined : init.clients[client.id];
      if (secret === undefined || client.secret !== secret) {
        state.rejectedClients++;
        send(
          401,
          { error: 'invalid_client', error_description: 'client authentication failed' },
          { 'www-authenticate': 'Basic realm="token"' },
        );
        return;
      }
    }
    if (grant === 'refresh_token') {
      if (rt === null || !state.liveRefreshTokens.has(rt)) {
        state.rejectedRefreshes++;
        send(400, { error: 'invalid_grant', error_description: 'refresh token is invalid or was used' });
        return;
      }
      if (state.rotate) state.liveRefreshTokens.delete(rt);
    } else if (grant === 'password') {
      const user = form.get('username') ?? '';
      if (
        init.users !== undefined &&
        (init.users[user] === undefined || init.users[user] !== form.get('password'))
      ) {
        send(400, { error: 'invalid_grant', error_description: 'wrong username or password' });
        return;
      }
    } else if (grant !== 'client_credentials') {
      send(400, { error: 'unsupported_grant_type' });
      return;
    }
    n++;
    const out: Record<string, unknown> = {
      access_token: state.fixedAccessToken ?? `at-${n}-${Math.random().toString(36).slice(2)}`,
      token_type: 'Bearer',
      expires_in: state.lifetime,
    };
    if (state.issueRefreshTokens && (grant !== 'refresh_token' || state.rotate)) {
      const newRt = `rt-${n}-${Math.random().toString(36).slice(2)}`;
      state.liveRefreshTokens.add(newRt);
      out['refresh_token'] = newRt;
    }
    send(200, out);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return Object.assign(state, {
    url,
    tokenUrl: `${url}/token`,
    reset: () => {
      Object.assign(state, settings());
      state.counts = { total: 0, byGrant: {} };
      state.requests = [];
      state.fault = undefined;
      state.liveRefreshTokens.clear();
      state.rejectedRefreshes = 0;
      state.rejectedClients = 0;
    },
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  });
}
