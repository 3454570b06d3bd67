/**
 * The generic OAuth 2.0 token client that the `oauth2` and `oidc` providers build: client
 * authentication, the primary grant (client_credentials, password, or refresh_token from a given refresh
 * token), refresh and revocation, against endpoints resolved on first use.
 * @module
 */

import { type ClientAuthProfile, createClientAuth } from '../auth/index.js';
import type { ClientAuth } from '../auth/types.js';
import type { DiscoveryDocument } from '../discovery.js';
import { ConfigError, LoginRequiredError, TokenEndpointError, withEndpointMessage } from '../errors.js';
import { clientCredentials } from '../grants/client-credentials.js';
import { jwtBearer } from '../grants/jwt-bearer.js';
import { passwordGrant } from '../grants/password.js';
import { refreshTokenGrant, refreshWithToken } from '../grants/refresh-token.js';
import { tokenExchange } from '../grants/token-exchange.js';
import type { GrantContext } from '../grants/types.js';
import type { HttpOptions } from '../http/types.js';
import { assertSecureUrl } from '../http/url.js';
import type { IntrospectionContext } from '../introspection.js';
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
  refreshParamsFromProfile,
  resourceFromProfile,
  scopeFromProfile,
} from './values.js';

/** The endpoints a generic client talks to. */
export interface Endpoints {
  tokenUrl: string;
  revocationUrl?: string;
  /** RFC 7662 introspection endpoint. */
  introspectionUrl?: string;
  /** The `aud` for JWT client assertions (the token URL unless set). */
  assertionAudience?: string;
  /** The discovery document (for the interactive grants' endpoints and the ID token's issuer). */
  discovery?: DiscoveryDocument;
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
  const resource = resourceFromProfile(profile);
  const resend = refreshParamsFromProfile(profile);
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
  // authorization_code / device_code: a person signs in (`signIn`, `tokenward login`); never `fetchToken`.
  const interactive = grant === 'authorization_code' || grant === 'device_code';
  if (interactive && !profile.client_id) {
    throw new ConfigError(`is required for grant = "${grant}"`, { key: 'client_id' });
  }
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
    clientCert: httpOpts.clientCert,
    async fetchToken(ctx) {
      if (interactive) throw new LoginRequiredError(profile.name);
      const g = await grantContext(ctx);
      switch (grant) {
        case 'password':
          return passwordGrant(
            g,
            { username: profile.username!, password: profile.password!, scope, audience, resource, params },
            extrasOf(ctx),
          );
        case 'refresh_token':
          return refreshTokenGrant(
            g,
            { refreshToken: profile.refresh_token!, scope, audience, resource, params },
            extrasOf(ctx),
          );
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
      // `refresh_params`: what the primary grant sent that goes again (default nothing).
      const again: Parameters<typeof refreshWithToken>[4] = {};
      if (resend.has('scope')) again.scope = scope;
      if (resend.has('audience')) again.audience = audience;
      if (resend.has('resource')) again.resource = resource;
      const extra = resend.has('params') ? params : undefined;
      const g = await grantContext(ctx);
      const t = await refreshWithToken(g, token, extrasOf(ctx), extra, again);
      if (interactive && t.idToken !== undefined) {
        const { checkRefreshedIdToken } = await import('../signin/session.js');
        await checkRefreshedIdToken(
          { profile, grant: g, discovery: (await resolveEndpoints()).discovery },
          token,
          t,
        );
      }
      // A refresh answer without an ID token (OIDC Core §12.2 allows it; Google, Entra ID often send
      // none) keeps the sign-in's: it names who signed in (`status`), and the next one must name the same
      // `sub`. It is not validated again and may have expired: never a credential.
      if (interactive && t.idToken === undefined && token.idToken !== undefined)
        return { ...t, idToken: token.idToken };
      return t;
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
    async introspect(token, ctx, hint) {
      const ep = await resolveEndpoints(ctx.signal);
      const r: IntrospectionContext = { tokenUrl: ep.tokenUrl, clientAuth, http: httpOpts, now: ctx.now };
      if (ep.introspectionUrl !== undefined) r.introspectionUrl = ep.introspectionUrl;
      if (ep.assertionAudience !== undefined) r.assertionAudience = ep.assertionAudience;
      const { introspect } = await import('../introspection.js');
      return introspect(r, token, hint, ctx.signal);
    },
  };
  if (interactive) {
    client.signIn = async (ctx, options) => {
      const g = await grantContext(ctx);
      const { runSignIn } = await import('../signin/session.js');
      const discovery = (await resolveEndpoints(ctx.signal)).discovery;
      const signal = options.signal === undefined ? ctx.signal : options.signal;
      return runSignIn(
        { profile, grant: g, discovery },
        signal === undefined ? options : { ...options, signal },
      );
    };
  }
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
