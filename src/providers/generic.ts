/**
 * The generic OAuth 2.0 token client that the `oauth2` and `oidc` providers build: client
 * authentication, the primary grant (client_credentials, password, or refresh_token from a given refresh
 * token), refresh and revocation, against endpoints resolved on first use.
 * @module
 */

import { type ClientAuthProfile, createClientAuth } from '../auth/index.js';
import type { ClientAuth } from '../auth/types.js';
import { ConfigError, TokenEndpointError, withEndpointMessage } from '../errors.js';
import { clientCredentials } from '../grants/client-credentials.js';
import { jwtBearer } from '../grants/jwt-bearer.js';
import { passwordGrant } from '../grants/password.js';
import { refreshTokenGrant, refreshWithToken } from '../grants/refresh-token.js';
import { tokenExchange } from '../grants/token-exchange.js';
import type { GrantContext } from '../grants/types.js';
import type { HttpOptions } from '../http/types.js';
import { assertSecureUrl } from '../http/url.js';
import type { Profile } from '../profile.js';
import { revokeToken } from '../revocation.js';
import {
  readSubject,
  type SubjectContext,
  type SubjectSpec,
  subjectSpec,
  subjectTokenType,
} from '../subject/index.js';
import type { Token } from '../token.js';
import {
  httpBudgetMs,
  type TokenClient,
  type TokenIdentity,
  type TokenRequestContext,
} from '../token-client.js';
import type { ClientLinks } from './descriptor.js';
import {
  grantFromProfile,
  httpOptionsFromProfile,
  optionalString,
  parseOptionsFromProfile,
  scopeFromProfile,
} from './values.js';

/** The endpoints a generic client talks to. */
export interface Endpoints {
  tokenUrl: string;
  revocationUrl?: string;
  /** The `aud` for JWT client assertions (the token URL unless set). */
  assertionAudience?: string;
}

/** Options for {@link createGenericClient}. */
export interface GenericClientOptions {
  /** Resolves the endpoints (on first use, e.g. by discovery). */
  endpoints(http: HttpOptions): Promise<Endpoints>;
  /** The identity, from the provider's descriptor. */
  identity: TokenIdentity;
  /** The front door's links (other profiles, environment, subject identity facts). */
  links?: ClientLinks | undefined;
}

/** Builds a generic token client; the endpoints are resolved lazily, on the first network call. */
export async function createGenericClient(
  profile: Profile,
  http: HttpOptions,
  opts: GenericClientOptions,
): Promise<TokenClient> {
  const grant = grantFromProfile(profile);
  const scope = scopeFromProfile(profile);
  const audience = optionalString(profile, 'audience');
  const resource = optionalString(profile, 'resource');
  const params = profile.params;
  const parse = parseOptionsFromProfile(profile);
  const httpOpts = await httpOptionsFromProfile(profile, http);
  optionalString(profile, 'client_id'); // an empty client_id is refused
  const clientAuth: ClientAuth = createClientAuth(profile as ClientAuthProfile);
  if (grant === 'client_credentials' && clientAuth.method === 'none') {
    throw new ConfigError(
      'the client_credentials grant needs a confidential client: set client_secret or private_key',
      { key: 'client_secret' },
    );
  }
  if (grant === 'password') {
    if (!profile.username) throw new ConfigError('is required for grant = "password"', { key: 'username' });
    if (!profile.password) throw new ConfigError('is required for grant = "password"', { key: 'password' });
  }
  if (grant === 'refresh_token') {
    if (!profile.refresh_token) {
      throw new ConfigError('is required for grant = "refresh_token"', { key: 'refresh_token' });
    }
  }
  if (profile.revocation_url !== undefined) assertSecureUrl(profile.revocation_url, 'revocation_url');
  const links = opts.links ?? {};
  const delegation =
    grant === 'token_exchange' || grant === 'jwt_bearer'
      ? delegationOf(profile, grant, links.where)
      : undefined;

  let endpoints: Promise<Endpoints> | undefined;
  const resolveEndpoints = (signal?: AbortSignal): Promise<Endpoints> => {
    if (endpoints === undefined) {
      // The first caller's signal bounds discovery too; an aborted discovery is not remembered.
      endpoints = opts.endpoints(signal === undefined ? httpOpts : { ...httpOpts, signal });
      endpoints.catch(() => {
        endpoints = undefined; // a failure is not remembered
      });
    }
    return endpoints;
  };
  const grantContext = async (ctx: TokenRequestContext): Promise<GrantContext> => {
    const ep = await resolveEndpoints(ctx.signal);
    const g: GrantContext = { tokenUrl: ep.tokenUrl, clientAuth, http: httpOpts, parse, now: ctx.now };
    if (ep.assertionAudience !== undefined) g.assertionAudience = ep.assertionAudience;
    return g;
  };
  const extrasOf = (ctx: TokenRequestContext) => (ctx.signal ? { signal: ctx.signal } : {});

  const client: TokenClient = {
    identity: links.identity === undefined ? opts.identity : { ...opts.identity, ...links.identity },
    budgetMs: httpBudgetMs(httpOpts),
    async fetchToken(ctx) {
      const g = await grantContext(ctx);
      switch (grant) {
        case 'password':
          return passwordGrant(
            g,
            { username: profile.username!, password: profile.password!, scope, audience, resource, params },
            extrasOf(ctx),
          );
        case 'refresh_token':
          return refreshTokenGrant(g, { refreshToken: profile.refresh_token!, scope, params }, extrasOf(ctx));
        case 'token_exchange':
        case 'jwt_bearer': {
          const d = delegation!;
          const sctx: SubjectContext = { ...links, http: httpOpts };
          if (ctx.signal !== undefined) sctx.signal = ctx.signal;
          const [subjectToken, actorToken] = await Promise.all([
            readSubject(d.subject, sctx),
            d.actor === undefined ? undefined : readSubject(d.actor, sctx),
          ]);
          return explainRefusal(
            d.subject,
            grant === 'jwt_bearer'
              ? jwtBearer(g, { assertion: subjectToken, scope, audience, resource, params }, extrasOf(ctx))
              : tokenExchange(
                  g,
                  {
                    subjectToken,
                    subjectTokenType: subjectTokenType(profile, 'subject'),
                    actorToken,
                    actorTokenType: d.actor === undefined ? undefined : subjectTokenType(profile, 'actor'),
                    requestedTokenType: profile.requested_token_type,
                    scope,
                    audience,
                    resource,
                    params,
                  },
                  extrasOf(ctx),
                ),
          );
        }
        default:
          return clientCredentials(g, { scope, audience, resource, params }, extrasOf(ctx));
      }
    },
    async refresh(token, ctx) {
      return refreshWithToken(await grantContext(ctx), token, extrasOf(ctx));
    },
    async revoke(token, ctx) {
      const ep = await resolveEndpoints();
      const r: Parameters<typeof revokeToken>[0] = {
        tokenUrl: ep.tokenUrl,
        clientAuth,
        http: httpOpts,
        now: ctx.now,
      };
      if (ep.revocationUrl !== undefined) r.revocationUrl = ep.revocationUrl;
      if (ep.assertionAudience !== undefined) r.assertionAudience = ep.assertionAudience;
      await revokeToken(r, token, ctx.signal);
    },
  };
  return client;
}

/** The subject (and actor) sources of a delegated grant, checked. */
function delegationOf(
  profile: Profile,
  grant: 'token_exchange' | 'jwt_bearer',
  where: ClientLinks['where'],
): { subject: SubjectSpec; actor: SubjectSpec | undefined } {
  const at = (key: string) => where?.(key) ?? { key };
  const subject = subjectSpec(profile, 'subject', where);
  if (subject === undefined) {
    throw new ConfigError(
      `grant "${grant}" needs a subject token: set subject_token, subject_token_file, subject_profile or subject_source`,
      at('grant'),
    );
  }
  const actor = subjectSpec(profile, 'actor', where);
  if (actor !== undefined && grant === 'jwt_bearer') {
    throw new ConfigError(
      'is for grant = "token_exchange" only (grant = "jwt_bearer" takes no actor)',
      at(actor.key),
    );
  }
  return { subject, actor };
}

/**
 * A refused exchange (a 4xx answer) as the same {@link TokenEndpointError}, its message naming the
 * profile key the subject came from (the server's `error` and status kept; never the token).
 */
async function explainRefusal(subject: SubjectSpec, request: Promise<Token>): Promise<Token> {
  try {
    return await request;
  } catch (err) {
    if (!(err instanceof TokenEndpointError) || err.code !== 'ERR_TOKEN_ENDPOINT' || err.status >= 500)
      throw err;
    const detail = [err.error, err.errorDescription].filter(Boolean).join(': ');
    throw withEndpointMessage(
      err,
      `token endpoint ${err.url} refused the subject token of ${subject.key}: HTTP ${err.status}${detail ? ` (${detail})` : ''}`,
    );
  }
}
