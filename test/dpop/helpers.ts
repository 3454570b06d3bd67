/**
 * DPoP fixtures: panva's oidc-provider in-process with its DPoP feature on (nonces required when asked)
 * issuing JWT access tokens bound to the proof's key (`cnf.jkt`), and a loopback API that verifies every
 * request as RFC 9449 §7 says, with `jose`: the access token's signature (the provider's key), the proof's
 * signature by the `jwk` in its header, `typ`, `htm`, `htu`, the `iat` window, `ath`, a replayed `jti`
 * refused, the key's thumbprint equal to the token's `cnf.jkt`, and its own nonce when it requires one.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  decodeProtectedHeader,
  EmbeddedJWK,
  type JWK,
  jwtVerify,
} from 'jose';
import { athOf } from '../../src/dpop/proof.js';

interface OidcProviderInstance {
  use(
    mw: (
      ctx: { path: string; method: string; headers: Record<string, string | string[] | undefined> },
      next: () => Promise<void>,
    ) => Promise<void>,
  ): void;
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
}
interface OidcProviderModule {
  default: new (issuer: string, config: Record<string, unknown>) => OidcProviderInstance;
}

/** The API's audience: the resource the provider issues JWT access tokens for. */
export const API_RESOURCE = 'urn:tokenward:test-api';

/** A running DPoP-enabled provider. */
export interface DpopProvider {
  issuer: string;
  tokenUrl: string;
  /** A `client_secret_basic` client; `<id>-jwt` with the secret twice is a `client_secret_jwt` one. */
  client: { clientId: string; clientSecret: string };
  /** The provider's public signing keys (for the API to verify access tokens). */
  jwks: { keys: JWK[] };
  /** Token requests seen, and how many of them were answered 400 `use_dpop_nonce`. */
  counts: { token: number; nonceChallenges: number };
  /** The DPoP proofs of the requests to each path (revocation, introspection…), in order. */
  proofs: Record<string, string[]>;
  close(): Promise<void>;
}

/** Starts oidc-provider with DPoP on; `requireNonce` makes every token request use a server nonce. */
export async function startDpopProvider(options: { requireNonce?: boolean } = {}): Promise<DpopProvider> {
  const { default: Provider } = (await import('oidc-provider' as string)) as OidcProviderModule;
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;
  const signing = {
    ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
  };
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicPart } = signing;
  const client = { clientId: 'c-dpop', clientSecret: `dpop-${randomBytes(24).toString('base64url')}` };
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: client.clientId,
        client_secret: client.clientSecret,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: 'api:read',
      },
      {
        client_id: `${client.clientId}-jwt`,
        client_secret: `${client.clientSecret}${client.clientSecret}`,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_jwt',
        scope: 'api:read',
      },
    ],
    jwks: { keys: [{ ...signing, kid: 'sig', alg: 'RS256', use: 'sig' }] },
    scopes: ['api:read'],
    enabledJWA: { dPoPSigningAlgValues: ['ES256', 'PS256', 'EdDSA', 'Ed25519'] },
    features: {
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      devInteractions: { enabled: false },
      dPoP: {
        enabled: true,
        nonceSecret: randomBytes(32),
        requireNonce: () => options.requireNonce === true,
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => API_RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'api:read',
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
          accessTokenTTL: 600,
        }),
      },
    },
  });
  const counts = { token: 0, nonceChallenges: 0 };
  const proofs: Record<string, string[]> = {};
  provider.use(async (ctx, next) => {
    const proof = ctx.headers['dpop'];
    if (typeof proof === 'string') proofs[ctx.path] = [...(proofs[ctx.path] ?? []), proof];
    await next();
    if (ctx.path === '/token') {
      counts.token++;
      const body = (ctx as unknown as { body?: { error?: string } }).body;
      if (body?.error === 'use_dpop_nonce') counts.nonceChallenges++;
    }
  });
  server.on('request', provider.callback());
  return {
    issuer,
    tokenUrl: `${issuer}/token`,
    client,
    jwks: { keys: [{ ...publicPart, kid: 'sig', alg: 'RS256', use: 'sig' } as JWK] },
    counts,
    proofs,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** One request the API checked. */
export interface ApiVerdict {
  method: string;
  path: string;
  status: number;
  /** Why it was refused (`ath`, `jti replayed`, `jkt`…), or `ok`. */
  reason: string;
  /** The raw request headers (for leak checks). */
  authorization: string | undefined;
  dpop: string | undefined;
}

/** The verifying API. */
export interface DpopApi {
  url: string;
  verdicts: ApiVerdict[];
  /** Require a nonce of this API's own (401 `use_dpop_nonce` until the proof carries it). */
  requireNonce: boolean;
  /** The nonce this API hands out now. */
  nonce: string;
  /** Rotate the nonce on every successful answer, handing the next one out in its `DPoP-Nonce`. */
  rotateOnSuccess: boolean;
  close(): Promise<void>;
}

/** Starts an API that accepts only DPoP-bound tokens of `provider` with valid proofs. */
export async function startDpopApi(provider: Pick<DpopProvider, 'issuer' | 'jwks'>): Promise<DpopApi> {
  const jwks = createLocalJWKSet(provider.jwks);
  const seenJti = new Set<string>();
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const api: DpopApi = {
    url,
    verdicts: [],
    requireNonce: false,
    nonce: `n-${randomBytes(8).toString('hex')}`,
    rotateOnSuccess: false,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    const authorization = req.headers.authorization;
    const dpop = typeof req.headers.dpop === 'string' ? req.headers.dpop : undefined;
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const answer = (status: number, reason: string, headers: Record<string, string> = {}) => {
      api.verdicts.push({ method, path, status, reason, authorization, dpop });
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(status === 200 ? { ok: true, path } : { error: reason }));
    };
    const refuse = (reason: string, error = 'invalid_dpop_proof') =>
      answer(401, reason, { 'www-authenticate': `DPoP error="${error}", algs="ES256 PS256 EdDSA"` });
    void (async () => {
      const m = /^DPoP (\S+)$/.exec(authorization ?? '');
      if (m === null) return refuse('no DPoP authorization', 'invalid_token');
      if (dpop === undefined) return refuse('no proof');
      const token = m[1]!;
      let cnf: string;
      try {
        const { payload } = await jwtVerify(token, jwks, { issuer: provider.issuer, audience: API_RESOURCE });
        cnf = String((payload['cnf'] as { jkt?: unknown } | undefined)?.jkt ?? '');
      } catch {
        return refuse('access token invalid', 'invalid_token');
      }
      let proof: Awaited<ReturnType<typeof jwtVerify>>;
      try {
        proof = await jwtVerify(dpop, EmbeddedJWK, {
          typ: 'dpop+jwt',
          algorithms: ['ES256', 'PS256', 'EdDSA', 'Ed25519'],
        });
      } catch {
        return refuse('proof signature');
      }
      const p = proof.payload;
      const jwk = decodeProtectedHeader(dpop).jwk as JWK;
      if (p['htm'] !== method) return refuse('htm');
      if (p['htu'] !== `${url}${path.split('?')[0]}`) return refuse('htu');
      if (typeof p.iat !== 'number' || Math.abs(Date.now() / 1000 - p.iat) > 300) return refuse('iat');
      if (p['ath'] !== athOf(token)) return refuse('ath');
      if (typeof p.jti !== 'string' || seenJti.has(p.jti)) return refuse('jti replayed');
      seenJti.add(p.jti);
      if ((await calculateJwkThumbprint(jwk, 'sha256')) !== cnf) return refuse('jkt');
      if (api.requireNonce && p['nonce'] !== api.nonce) {
        return answer(401, 'nonce', {
          'www-authenticate':
            'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"',
          'dpop-nonce': api.nonce,
        });
      }
      if (api.rotateOnSuccess) api.nonce = `n-${randomBytes(8).toString('hex')}`;
      answer(200, 'ok', api.rotateOnSuccess ? { 'dpop-nonce': api.nonce } : {});
    })().catch(() => answer(500, 'server error'));
  });
  return api;
}
