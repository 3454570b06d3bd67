/**
 * panva's `oidc-provider` in-process on 127.0.0.1 (random port) for core tests: one client per client
 * authentication method, client_credentials, a `password` grant (registered with `registerGrantType`) that
 * issues refresh tokens, refresh_token with rotation, revocation, and counters of requests.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/* Minimal shapes of the untyped `oidc-provider` package, as used here. */
interface OidcModel {
  save(): Promise<string>;
  expiration?: number;
  addOIDCScope?(scope: string): void;
}
type OidcModelClass = new (init: Record<string, unknown>) => OidcModel;
interface OidcKoaContext {
  path: string;
  body: unknown;
  oidc?: {
    params?: Record<string, unknown>;
    client?: { clientId: string };
    provider: { AccessToken: OidcModelClass; RefreshToken: OidcModelClass; Grant: OidcModelClass };
  };
}
interface OidcProviderInstance {
  registerGrantType(name: string, handler: (ctx: OidcKoaContext) => Promise<void>, params: string[]): void;
  use(mw: (ctx: OidcKoaContext, next: () => Promise<void>) => Promise<void>): void;
  callback(): (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void;
}
interface OidcProviderModule {
  default: new (issuer: string, config: Record<string, unknown>) => OidcProviderInstance;
  errors: Record<'InvalidGrant' | 'InvalidScope', new (description: string, detail?: string) => Error>;
}

/** A resource owner the password grant accepts. */
export const USER = { username: 'alice', password: 'pw-Alice-correct-horse-battery' } as const;

/** Client credentials of the provider's clients (one per auth method). */
export interface OidcClients {
  basic: { clientId: string; clientSecret: string };
  post: { clientId: string; clientSecret: string };
  jwt: { clientId: string; clientSecret: string };
  /** private_key_jwt: PKCS#8 PEM private key and its JWK form. */
  pkjwt: { clientId: string; privateKeyPem: string; privateJwk: string; kid: string };
  /** A public client (`none`), allowed the password and refresh_token grants. */
  public: { clientId: string };
}

/** Request counters, reset at will. */
export interface OidcCounts {
  token: number;
  byGrant: Record<string, number>;
  revocation: number;
  discovery: number;
}

/** A running provider. */
export interface OidcTestProvider {
  issuer: string;
  url: string;
  tokenUrl: string;
  revocationUrl: string;
  clients: OidcClients;
  counts: OidcCounts;
  resetCounts(): void;
  close(): Promise<void>;
}

/**
 * Starts the provider. Scopes: `openid offline_access api:read api:write`; the confidential clients may
 * ask for all but `api:write` with client_credentials.
 */
export async function startOidcProvider(): Promise<OidcTestProvider> {
  const { default: Provider, errors } = (await import('oidc-provider' as string)) as OidcProviderModule;
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;

  const secret = () => randomBytes(24).toString('base64url');
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `k-${randomBytes(4).toString('hex')}`;
  const publicJwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  const privateJwk = { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256' };
  const signing = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });

  const clients: OidcClients = {
    basic: { clientId: 'c-basic', clientSecret: `basic-${secret()}:%+ !*()~` },
    post: { clientId: 'c-post', clientSecret: `post-${secret()}` },
    jwt: { clientId: 'c-jwt', clientSecret: `jwt-${secret()}${secret()}` },
    pkjwt: {
      clientId: 'c-pkjwt',
      privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      privateJwk: JSON.stringify(privateJwk),
      kid,
    },
    public: { clientId: 'c-public' },
  };
  const grantTypes = ['client_credentials', 'password', 'refresh_token'];
  // `api:write` is a known scope these clients may not ask for (to test invalid_scope).
  const common = {
    grant_types: grantTypes,
    redirect_uris: [],
    response_types: [],
    scope: 'openid offline_access api:read',
  };

  const provider = new Provider(issuer, {
    clients: [
      {
        ...common,
        client_id: clients.basic.clientId,
        client_secret: clients.basic.clientSecret,
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        ...common,
        client_id: clients.post.clientId,
        client_secret: clients.post.clientSecret,
        token_endpoint_auth_method: 'client_secret_post',
      },
      {
        ...common,
        client_id: clients.jwt.clientId,
        client_secret: clients.jwt.clientSecret,
        token_endpoint_auth_method: 'client_secret_jwt',
      },
      {
        ...common,
        client_id: clients.pkjwt.clientId,
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [publicJwk] },
      },
      {
        client_id: clients.public.clientId,
        grant_types: ['password', 'refresh_token'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'none',
      },
    ],
    jwks: { keys: [{ ...signing, kid: 'sig', alg: 'RS256', use: 'sig' }] },
    scopes: ['openid', 'offline_access', 'api:read', 'api:write'],
    features: {
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      devInteractions: { enabled: false },
    },
    rotateRefreshToken: true,
    findAccount: async (_ctx: unknown, id: string) => ({ accountId: id, claims: async () => ({ sub: id }) }),
    ttl: {
      AccessToken: 600,
      ClientCredentials: 600,
      RefreshToken: 3600,
      Grant: 3600,
    },
  });

  provider.registerGrantType(
    'password',
    async (ctx) => {
      const oidc = ctx.oidc!;
      const { username, password, scope } = oidc.params as Record<string, string | undefined>;
      if (username !== USER.username || password !== USER.password) {
        throw new errors.InvalidGrant('invalid resource owner credentials');
      }
      const client = oidc.client!;
      const { AccessToken, RefreshToken, Grant } = oidc.provider;
      const wanted = new Set((scope ?? 'openid offline_access api:read').split(' '));
      const allowed = ['openid', 'offline_access', 'api:read', 'api:write'];
      const unknown = [...wanted].filter((s) => !allowed.includes(s));
      if (unknown.length) throw new errors.InvalidScope('requested scope is not allowed', unknown.join(' '));
      const scopeStr = [...wanted].join(' ');
      const grant = new Grant({ accountId: username, clientId: client.clientId });
      grant.addOIDCScope!(scopeStr);
      const grantId = await grant.save();
      const at = new AccessToken({ accountId: username, client, grantId, scope: scopeStr, gty: 'password' });
      const accessToken = await at.save();
      const rt = new RefreshToken({ accountId: username, client, grantId, scope: scopeStr, gty: 'password' });
      const refreshToken = await rt.save();
      ctx.body = {
        access_token: accessToken,
        expires_in: at.expiration,
        token_type: 'Bearer',
        refresh_token: refreshToken,
        scope: scopeStr,
      };
    },
    ['username', 'password', 'scope'],
  );

  const counts: OidcCounts = { token: 0, byGrant: {}, revocation: 0, discovery: 0 };
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path === '/token') {
      counts.token++;
      const g = String(
        (ctx.oidc?.params as Record<string, unknown> | undefined)?.['grant_type'] ?? 'unknown',
      );
      counts.byGrant[g] = (counts.byGrant[g] ?? 0) + 1;
    } else if (ctx.path === '/token/revocation') counts.revocation++;
    else if (ctx.path.startsWith('/.well-known/')) counts.discovery++;
  });

  server.on('request', provider.callback());

  return {
    issuer,
    url: issuer,
    tokenUrl: `${issuer}/token`,
    revocationUrl: `${issuer}/token/revocation`,
    clients,
    counts,
    resetCounts() {
      counts.token = 0;
      counts.byGrant = {};
      counts.revocation = 0;
      counts.discovery = 0;
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
