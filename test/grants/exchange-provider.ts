/**
 * panva's `oidc-provider` in-process on 127.0.0.1 with the two delegated grants registered through its
 * grant-type API: RFC 8693 token exchange and RFC 7523 JWT bearer. A subject JWT must be signed by the
 * test's "CI issuer" key (ES256, `iss` {@link CI_ISSUER}, `aud` {@link CI_AUDIENCE}); a subject access
 * token must be one this provider issued (a chain). Every accepted subject is recorded.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';

/** The issuer of the subject JWTs the provider trusts. */
export const CI_ISSUER = 'https://ci.tokenward.test';
/** The audience those JWTs must carry. */
export const CI_AUDIENCE = 'tokenward-exchange-test';
/** RFC 8693 / RFC 7523 grant types. */
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

interface OidcModel {
  save(): Promise<string>;
  expiration?: number;
  addOIDCScope?(scope: string): void;
  accountId?: string;
  clientId?: string;
}
type OidcModelClass = (new (
  init: Record<string, unknown>,
) => OidcModel) & {
  find?(token: string): Promise<OidcModel | undefined>;
};
interface Ctx {
  path: string;
  body: unknown;
  oidc?: {
    params?: Record<string, unknown>;
    client?: { clientId: string };
    provider: {
      AccessToken: OidcModelClass;
      ClientCredentials: OidcModelClass;
      Grant: OidcModelClass;
    };
  };
}
interface Provider {
  registerGrantType(name: string, handler: (ctx: Ctx) => Promise<void>, params: string[]): void;
  use(mw: (ctx: Ctx, next: () => Promise<void>) => Promise<void>): void;
  callback(): (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void;
}
interface ProviderModule {
  default: new (issuer: string, config: Record<string, unknown>) => Provider;
  errors: Record<'InvalidGrant' | 'InvalidRequest', new (description: string, detail?: string) => Error>;
}

/** What the provider accepted. */
export interface SeenSubject {
  grant: string;
  sub: string;
  /** `jwt` or `access_token`. */
  type: string;
  actor?: string | undefined;
  audience?: string | undefined;
  requestedTokenType?: string | undefined;
  scope?: string | undefined;
}

/** A running provider. */
export interface ExchangeProvider {
  issuer: string;
  tokenUrl: string;
  client: { id: string; secret: string };
  /** Counts of token requests by grant type (answered ones, errors included). */
  counts: Record<string, number>;
  /** Accepted subjects, in order. */
  seen: SeenSubject[];
  /** Signs a subject JWT with the trusted CI key (`iss`, `aud` fixed; `sub` given), valid an hour. */
  subjectJwt(sub: string, extra?: Record<string, unknown>): Promise<string>;
  /** The same with a key the provider does not trust. */
  untrustedJwt(sub: string): Promise<string>;
  reset(): void;
  close(): Promise<void>;
}

export async function startExchangeProvider(): Promise<ExchangeProvider> {
  const { default: OidcProvider, errors } = (await import('oidc-provider' as string)) as ProviderModule;
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;
  const ci = await generateKeyPair('ES256');
  const other = await generateKeyPair('ES256');
  const signing = await generateKeyPair('RS256', { extractable: true });
  const client = { id: 'c-exchange', secret: `exchange-${randomBytes(18).toString('base64url')}` };

  const provider = new OidcProvider(issuer, {
    clients: [
      {
        client_id: client.id,
        client_secret: client.secret,
        grant_types: ['client_credentials', TOKEN_EXCHANGE, JWT_BEARER],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: 'api:read api:write',
      },
    ],
    jwks: { keys: [{ ...(await exportJWK(signing.privateKey)), kid: 'sig', alg: 'RS256', use: 'sig' }] },
    scopes: ['openid', 'api:read', 'api:write'],
    features: {
      clientCredentials: { enabled: true },
      devInteractions: { enabled: false },
      resourceIndicators: { enabled: false },
    },
    ttl: { AccessToken: 600, ClientCredentials: 600, Grant: 3600 },
  });

  const seen: SeenSubject[] = [];
  const counts: Record<string, number> = {};

  const verifyJwt = async (token: string): Promise<string> => {
    try {
      const { payload } = await jwtVerify(token, ci.publicKey, { issuer: CI_ISSUER, audience: CI_AUDIENCE });
      if (typeof payload.sub !== 'string') throw new Error('no sub');
      return payload.sub;
    } catch {
      throw new errors.InvalidGrant('the subject token is not valid');
    }
  };
  const issue = async (ctx: Ctx, accountId: string, scope: string | undefined, gty: string) => {
    const oidc = ctx.oidc!;
    const { AccessToken, Grant } = oidc.provider;
    const grant = new Grant({ accountId, clientId: oidc.client!.clientId });
    grant.addOIDCScope!('openid');
    const grantId = await grant.save();
    const at = new AccessToken({ accountId, client: oidc.client, grantId, scope: scope ?? 'api:read', gty });
    const accessToken = await at.save();
    ctx.body = {
      access_token: accessToken,
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      token_type: 'Bearer',
      expires_in: at.expiration,
      scope: scope ?? 'api:read',
    };
  };

  provider.registerGrantType(
    TOKEN_EXCHANGE,
    async (ctx) => {
      const p = ctx.oidc!.params as Record<string, string | undefined>;
      const type = p['subject_token_type'];
      const token = p['subject_token'];
      if (!token || !type)
        throw new errors.InvalidRequest('subject_token and subject_token_type are required');
      let sub: string;
      if (type === 'urn:ietf:params:oauth:token-type:jwt') sub = await verifyJwt(token);
      else if (type === 'urn:ietf:params:oauth:token-type:access_token') {
        const found = await ctx.oidc!.provider.AccessToken.find!(token);
        const cc = found ?? (await ctx.oidc!.provider.ClientCredentials.find!(token));
        if (cc === undefined) throw new errors.InvalidGrant('the subject access token is not valid');
        sub = cc.accountId ?? `client:${cc.clientId ?? '?'}`;
      } else throw new errors.InvalidRequest('unsupported subject_token_type');
      let actor: string | undefined;
      if (p['actor_token'] !== undefined) actor = await verifyJwt(p['actor_token']);
      seen.push({
        grant: 'token_exchange',
        sub,
        type: type.split(':').pop()!,
        actor,
        audience: p['audience'],
        requestedTokenType: p['requested_token_type'],
        scope: p['scope'],
      });
      await issue(ctx, sub, p['scope'], 'token_exchange');
    },
    [
      'subject_token',
      'subject_token_type',
      'actor_token',
      'actor_token_type',
      'requested_token_type',
      'audience',
      'scope',
    ],
  );
  provider.registerGrantType(
    JWT_BEARER,
    async (ctx) => {
      const p = ctx.oidc!.params as Record<string, string | undefined>;
      if (!p['assertion']) throw new errors.InvalidRequest('assertion is required');
      const sub = await verifyJwt(p['assertion']);
      seen.push({ grant: 'jwt_bearer', sub, type: 'jwt', scope: p['scope'] });
      await issue(ctx, sub, p['scope'], 'jwt_bearer');
    },
    ['assertion', 'scope'],
  );
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path === '/token') {
      const g = String((ctx.oidc?.params as Record<string, unknown> | undefined)?.['grant_type'] ?? '?');
      counts[g] = (counts[g] ?? 0) + 1;
    }
  });
  server.on('request', provider.callback());

  const sign = (key: CryptoKey, sub: string, extra: Record<string, unknown> = {}) =>
    new SignJWT({ ...extra, jti: randomBytes(8).toString('hex') })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
      .setIssuer(CI_ISSUER)
      .setAudience(CI_AUDIENCE)
      .setSubject(sub)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(key);

  return {
    issuer,
    tokenUrl: `${issuer}/token`,
    client,
    counts,
    seen,
    subjectJwt: (sub, extra) => sign(ci.privateKey, sub, extra),
    untrustedJwt: (sub) => sign(other.privateKey, sub),
    reset() {
      seen.length = 0;
      for (const k of Object.keys(counts)) delete counts[k];
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
