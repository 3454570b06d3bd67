/**
 * A small OAuth 2.0 token endpoint on loopback for manager tests: client_credentials, password and
 * refresh_token (rotating, one use per refresh token), with a configurable lifetime, latency and faults,
 * and counts of every request by grant.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Fault {
  status: number;
  body: string;
  contentType?: string;
  /** How many requests get the fault (default: until cleared). */
  times?: number;
  /** Extra response headers (e.g. `retry-after`). */
  headers?: Record<string, string>;
  /** Only requests of this grant type get the fault (default: every request). */
  grant?: string;
}

export interface TokenServer {
  url: string;
  tokenUrl: string;
  counts: { total: number; byGrant: Record<string, number> };
  /** Seconds; sent as expires_in. */
  lifetime: number;
  latencyMs: number;
  issueRefreshTokens: boolean;
  rotate: boolean;
  fault: Fault | undefined;
  /** Refresh tokens that are currently valid. */
  liveRefreshTokens: Set<string>;
  rejectedRefreshes: number;
  /**
   * Runs on every request after it is counted and before it is answered (awaited): to hang the
   * endpoint (return a promise the test settles) or to act as another process meanwhile.
   */
  onRequest: ((grant: string, form: URLSearchParams) => void | Promise<void>) | undefined;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startTokenServer(
  init: Partial<Pick<TokenServer, 'lifetime' | 'latencyMs' | 'issueRefreshTokens' | 'rotate'>> = {},
): Promise<TokenServer> {
  let n = 0;
  const state: Omit<TokenServer, 'url' | 'tokenUrl' | 'close'> = {
    counts: { total: 0, byGrant: {} },
    lifetime: init.lifetime ?? 3600,
    latencyMs: init.latencyMs ?? 20,
    issueRefreshTokens: init.issueRefreshTokens ?? true,
    rotate: init.rotate ?? true,
    fault: undefined,
    liveRefreshTokens: new Set(),
    rejectedRefreshes: 0,
    onRequest: undefined,
  };
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server = createServer(async (req, res) => {
    const body = new URLSearchParams(await readBody(req));
    const grant = body.get('grant_type') ?? 'none';
    state.counts.total++;
    state.counts.byGrant[grant] = (state.counts.byGrant[grant] ?? 0) + 1;
    if (state.latencyMs > 0) await new Promise((r) => setTimeout(r, state.latencyMs));
    if (state.onRequest !== undefined) await state.onRequest(grant, body);
    const f = state.fault;
    if (f !== undefined && (f.grant === undefined || f.grant === grant)) {
      if (f.times !== undefined && --f.times <= 0) state.fault = undefined;
      res.writeHead(f.status, { 'content-type': f.contentType ?? 'application/json', ...(f.headers ?? {}) });
      res.end(f.body);
      return;
    }
    if (grant === 'refresh_token') {
      const rt = body.get('refresh_token') ?? '';
      if (!state.liveRefreshTokens.has(rt)) {
        state.rejectedRefreshes++;
        send(res, 400, { error: 'invalid_grant', error_description: 'refresh token is invalid or was used' });
        return;
      }
      if (state.rotate) state.liveRefreshTokens.delete(rt);
    } else if (grant !== 'client_credentials' && grant !== 'password') {
      send(res, 400, { error: 'unsupported_grant_type' });
      return;
    }
    n++;
    const out: Record<string, unknown> = {
      access_token: `at-${n}-${Math.random().toString(36).slice(2)}`,
      token_type: 'Bearer',
      expires_in: state.lifetime,
    };
    if (state.issueRefreshTokens && (grant !== 'refresh_token' || state.rotate)) {
      const rt = `rt-${n}-${Math.random().toString(36).slice(2)}`;
      state.liveRefreshTokens.add(rt);
      out['refresh_token'] = rt;
    }
    send(res, 200, out);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return Object.assign(state, {
    url,
    tokenUrl: `${url}/token`,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  });
}
