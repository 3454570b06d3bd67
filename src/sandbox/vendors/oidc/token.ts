/**
 * The OpenID Connect server's back-channel endpoints: token (authorization_code with PKCE, device_code,
 * refresh_token with rotation), device authorization, userinfo and revocation, and client
 * authentication (`none` for the public client; `client_secret_basic` / `client_secret_post` for the
 * confidential one).
 * @module
 */

import {
  basicMatches,
  bearer,
  json,
  oauthError,
  parseBasic,
  parseForm,
  type Reply,
  type SandboxRequest,
} from '../../core/http.js';
import { opaqueToken, signJwt } from '../../core/tokens.js';
import type { VendorContext } from '../../core/vendor.js';
import {
  clients,
  DEVICE_CODE_SECONDS,
  DEVICE_GRANT,
  type Grant,
  handle,
  ISSUER_PATH,
  type OidcClient,
  type OidcStore,
  parseScopes,
  person,
  pkceShaped,
  s256,
  userCode,
} from './model.js';

const GRANT_TYPES = ['authorization_code', DEVICE_GRANT, 'refresh_token'];

/** The issuer URL of the server. */
export function issuerOf(ctx: VendorContext<'oidc'>): string {
  return `${ctx.origin()}${ISSUER_PATH}`;
}

/** The back-channel endpoints. */
export function backChannel(ctx: VendorContext<'oidc'>, store: OidcStore) {
  /** Authenticates the client of a form request; a Reply when it fails. */
  function authenticate(req: SandboxRequest, form: Map<string, string>): OidcClient | Reply {
    const all = clients(ctx.credentials());
    const challenge = { 'www-authenticate': 'Basic realm="oidc"' };
    const basic = parseBasic(req.headers);
    if (req.headers.authorization !== undefined && basic === undefined) {
      return oauthError(401, 'invalid_client', 'unsupported Authorization header', challenge);
    }
    // Some clients send a public client as Basic with an empty secret: the same as `none`.
    const publicBasic =
      basic !== undefined &&
      basic.secret === '' &&
      all.some((x) => x.secret === undefined && x.clientId === basic.id);
    if (basic !== undefined && !publicBasic) {
      if (form.has('client_secret'))
        return oauthError(400, 'invalid_request', 'more than one client authentication method');
      const c = all.find((x) => x.secret !== undefined && basicMatches(basic, x.clientId, x.secret));
      if (c === undefined)
        return oauthError(401, 'invalid_client', 'client authentication failed', challenge);
      if (form.has('client_id') && form.get('client_id') !== c.clientId)
        return oauthError(400, 'invalid_request', 'client_id does not match the authenticated client');
      return c;
    }
    if (publicBasic && form.has('client_id') && form.get('client_id') !== basic.id)
      return oauthError(400, 'invalid_request', 'client_id does not match the Authorization header');
    if (publicBasic && !form.has('client_id')) form.set('client_id', basic.id);
    const id = form.get('client_id');
    if (id === undefined || id === '') return oauthError(401, 'invalid_client', 'client_id is required');
    const c = all.find((x) => x.clientId === id);
    if (c === undefined) return oauthError(401, 'invalid_client', 'unknown client');
    const secret = form.get('client_secret');
    if (c.secret === undefined) {
      if (secret !== undefined)
        return oauthError(
          401,
          'invalid_client',
          'a public client has no secret (token_endpoint_auth_method none)',
        );
      return c;
    }
    if (secret !== c.secret)
      return oauthError(401, 'invalid_client', 'client authentication failed', challenge);
    return c;
  }

  /** Reads the form and authenticates the client. */
  function formAndClient(req: SandboxRequest): { form: Map<string, string>; client: OidcClient } | Reply {
    const parsed = parseForm(req);
    if (!parsed.ok) return oauthError(400, 'invalid_request', parsed.detail);
    const client = authenticate(req, parsed.value);
    if ('status' in client) return client;
    return { form: parsed.value, client };
  }

  /** Issues the tokens of a grant (and, when `openid` is in it, an ID token). */
  async function issue(
    grant: Grant,
    grantType: string,
    nonce: string | undefined,
    statsName: string,
  ): Promise<Reply> {
    const now = ctx.now();
    const lifetime = ctx.settings().tokenLifetimeSeconds;
    const who = person(ctx.credentials());
    const iss = issuerOf(ctx);
    const accessToken = await signJwt(
      ctx.key,
      { iss, sub: grant.sub, aud: iss, client_id: grant.clientId, scope: grant.scopes.join(' ') },
      now,
      lifetime,
    );
    store.access.add(accessToken, { grant }, now + lifetime * 1000, now);
    const body: Record<string, unknown> = {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: lifetime,
      scope: grant.scopes.join(' '),
    };
    if (grant.scopes.includes('offline_access')) {
      const rt = opaqueToken();
      store.refresh.add(rt, grant, grant.endsAt, now);
      body['refresh_token'] = rt;
      // When the sign-in ends (`sessionLifetimeSeconds` after it): what `tokenward status` shows.
      body['refresh_expires_in'] = Math.max(0, Math.floor((grant.endsAt - now) / 1000));
    }
    if (grant.scopes.includes('openid')) {
      body['id_token'] = await signJwt(
        ctx.key,
        {
          iss,
          sub: grant.sub,
          aud: grant.clientId,
          azp: grant.clientId,
          auth_time: grant.authTime,
          ...(nonce === undefined || grantType === 'refresh_token' ? {} : { nonce }),
          ...(grant.scopes.includes('email') ? { email: who.email, email_verified: true } : {}),
          ...(grant.scopes.includes('profile') ? { name: who.name, preferred_username: who.username } : {}),
        },
        now,
        lifetime,
      );
    }
    return { ...json(200, body), grant: statsName };
  }

  function newGrant(clientId: string, scopes: string[], authTime: number): Grant {
    return {
      id: handle(12),
      clientId,
      sub: person(ctx.credentials()).sub,
      scopes,
      authTime,
      endsAt: authTime * 1000 + ctx.settings().sessionLifetimeSeconds * 1000,
    };
  }

  async function authorizationCode(client: OidcClient, form: Map<string, string>): Promise<Reply> {
    const code = form.get('code');
    const redirectUri = form.get('redirect_uri');
    const verifier = form.get('code_verifier');
    if (!code) return oauthError(400, 'invalid_request', 'code is required');
    if (!redirectUri) return oauthError(400, 'invalid_request', 'redirect_uri is required');
    if (!verifier) return oauthError(400, 'invalid_request', 'code_verifier is required (PKCE)');
    const now = ctx.now();
    const entry = store.codes.get(code);
    if (entry === undefined || entry.clientId !== client.clientId)
      return oauthError(400, 'invalid_grant', 'unknown authorization code');
    if (entry.used !== undefined) {
      // A replayed code: refuse it and revoke what its first use issued (RFC 6749 §4.1.2).
      store.revokeGrant(entry.used);
      return oauthError(400, 'invalid_grant', 'authorization code already used');
    }
    // Any attempt by its client uses the code up: a wrong verifier cannot be retried.
    const grant = newGrant(client.clientId, entry.scopes, entry.authTime);
    entry.used = grant.id;
    if (now >= entry.expiresAt) return oauthError(400, 'invalid_grant', 'authorization code expired');
    if (redirectUri !== entry.redirectUri)
      return oauthError(400, 'invalid_grant', 'redirect_uri does not match the authorization request');
    if (!pkceShaped(verifier) || s256(verifier) !== entry.codeChallenge)
      return oauthError(400, 'invalid_grant', 'PKCE verification failed (code_verifier)');
    return issue(grant, 'authorization_code', entry.nonce, 'authorization_code');
  }

  async function deviceCode(client: OidcClient, form: Map<string, string>): Promise<Reply> {
    const dc = form.get('device_code');
    if (!dc) return oauthError(400, 'invalid_request', 'device_code is required');
    const now = ctx.now();
    const entry = store.devices.get(dc);
    if (entry === undefined || entry.clientId !== client.clientId || entry.status === 'used')
      return oauthError(400, 'invalid_grant', 'unknown device code');
    if (now >= entry.expiresAt) return oauthError(400, 'expired_token', 'the device code has expired');
    if (entry.status === 'denied') {
      entry.status = 'used';
      return oauthError(400, 'access_denied', 'the user denied the request');
    }
    if (entry.status === 'approved' && entry.authTime !== undefined) {
      entry.status = 'used';
      return issue(
        newGrant(client.clientId, entry.scopes, entry.authTime),
        DEVICE_GRANT,
        undefined,
        'device_code',
      );
    }
    const tooSoon = entry.lastPoll !== undefined && now - entry.lastPoll < entry.interval * 1000;
    entry.lastPoll = now;
    if (tooSoon) {
      entry.interval += 5;
      return oauthError(
        400,
        'slow_down',
        `polled too often; wait at least ${entry.interval} s between requests`,
      );
    }
    return oauthError(400, 'authorization_pending', 'the user has not yet approved the request');
  }

  async function refreshToken(client: OidcClient, form: Map<string, string>): Promise<Reply> {
    const rt = form.get('refresh_token');
    if (!rt) return oauthError(400, 'invalid_request', 'refresh_token is required');
    const found = store.refresh.lookup(rt, ctx.now());
    if (found.state === 'unknown' || found.entry.clientId !== client.clientId)
      return oauthError(400, 'invalid_grant', 'unknown refresh token');
    if (found.state === 'revoked')
      return oauthError(400, 'invalid_grant', 'refresh token already used or revoked');
    if (found.state === 'expired')
      return oauthError(400, 'invalid_grant', 'refresh token expired (the session ended)');
    const scopes = parseScopes(form.get('scope'), found.entry.scopes);
    if (scopes === undefined || scopes.some((s) => !found.entry.scopes.includes(s)))
      return oauthError(400, 'invalid_scope', 'scope must be a subset of the granted scope');
    // Rotation: the refresh token used is refused from now on; the new one keeps the session's end.
    store.refresh.revoke(rt);
    return issue({ ...found.entry, scopes }, 'refresh_token', undefined, 'refresh_token');
  }

  async function token(req: SandboxRequest): Promise<Reply> {
    const r = formAndClient(req);
    if ('status' in r) return r;
    const { form, client } = r;
    const grantType = form.get('grant_type');
    if (!grantType) return oauthError(400, 'invalid_request', 'grant_type is required');
    if (!GRANT_TYPES.includes(grantType))
      return oauthError(400, 'unsupported_grant_type', `grant_type ${grantType} is not supported`);
    if (grantType === 'authorization_code') return authorizationCode(client, form);
    if (grantType === DEVICE_GRANT) return deviceCode(client, form);
    return refreshToken(client, form);
  }

  function deviceAuthorization(req: SandboxRequest): Reply {
    const r = formAndClient(req);
    if ('status' in r) return r;
    const scopes = parseScopes(r.form.get('scope'), ['openid']);
    if (scopes === undefined) return oauthError(400, 'invalid_scope', 'unknown or empty scope');
    const now = ctx.now();
    const interval = ctx.settings().deviceIntervalSeconds;
    const deviceCode = handle();
    let code = userCode();
    // A user code is short: on the rare collision with a live one, draw again.
    for (let i = 0; i < 5 && (store.userCodes.get(code)?.expiresAt ?? 0) > now; i++) code = userCode();
    const expiresAt = now + DEVICE_CODE_SECONDS * 1000;
    const stored =
      store.devices.set(
        deviceCode,
        {
          clientId: r.client.clientId,
          scopes,
          userCode: code,
          expiresAt,
          interval,
          status: 'pending',
        },
        now,
      ) && store.userCodes.set(code, { deviceCode, expiresAt }, now);
    if (!stored) return oauthError(503, 'temporarily_unavailable', 'too many pending device authorizations');
    const verificationUri = `${issuerOf(ctx)}/device`;
    return json(200, {
      device_code: deviceCode,
      user_code: code,
      verification_uri: verificationUri,
      verification_uri_complete: `${verificationUri}?user_code=${encodeURIComponent(code)}`,
      expires_in: DEVICE_CODE_SECONDS,
      interval,
    });
  }

  function userinfo(req: SandboxRequest): Reply {
    const fail = (error: string, description: string, status = 401): Reply =>
      json(
        status,
        { error, error_description: description },
        { 'www-authenticate': `Bearer realm="oidc", error="${error}", error_description="${description}"` },
      );
    const t = bearer(req.headers);
    if (t === undefined) return { status: 401, headers: { 'www-authenticate': 'Bearer realm="oidc"' } };
    const found = store.access.lookup(t, ctx.now());
    if (found.state !== 'valid') return fail('invalid_token', `the access token is ${found.state}`);
    const { scopes, sub } = found.entry.grant;
    if (!scopes.includes('openid')) return fail('insufficient_scope', 'the openid scope is required', 403);
    const who = person(ctx.credentials());
    return json(200, {
      sub,
      ...(scopes.includes('profile') ? { name: who.name, preferred_username: who.username } : {}),
      ...(scopes.includes('email') ? { email: who.email, email_verified: true } : {}),
    });
  }

  /** RFC 7009 revocation: 200 also for a token that is unknown or another client's (nothing is revealed). */
  function revoke(req: SandboxRequest): Reply {
    const r = formAndClient(req);
    if ('status' in r) return r;
    const t = r.form.get('token');
    if (!t) return oauthError(400, 'invalid_request', 'token is required');
    // token_type_hint only speeds up a search; both kinds are searched anyway (RFC 7009 §2.1).
    const now = ctx.now();
    const asRefresh = store.refresh.lookup(t, now);
    if (asRefresh.state !== 'unknown') {
      // An already used or revoked one changes nothing; another client's is left alone.
      if (asRefresh.state !== 'revoked' && asRefresh.entry.clientId === r.client.clientId)
        // Revoking a refresh token ends the grant: its access tokens go too (RFC 7009 §2.1).
        store.revokeGrant(asRefresh.entry.id);
    } else {
      const asAccess = store.access.lookup(t, now);
      if (asAccess.state !== 'unknown' && asAccess.entry.grant.clientId === r.client.clientId)
        store.access.revoke(t);
    }
    return { status: 200 };
  }

  return { token, deviceAuthorization, userinfo, revoke };
}
