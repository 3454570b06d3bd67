/**
 * An interactive sign-in for a generic (`oauth2` / `oidc`) profile: picks the grant (the code flow, or
 * the device flow for `grant = "device_code"` or `device: true`), finds its endpoints (the profile's
 * keys, else the discovery document), shows and opens the URL, and validates the ID token (and, when
 * asked, userinfo) before the token is handed back to be stored. Loaded only when someone signs in.
 * @module
 */

import type { DiscoveryDocument } from '../discovery.js';
import { ConfigError, IdTokenError } from '../errors.js';
import { authorizationCodeGrant } from '../grants/authorization-code.js';
import { deviceCodeGrant } from '../grants/device-code.js';
import type { GrantContext } from '../grants/types.js';
import { getJson } from '../http/token-endpoint.js';
import { assertSecureUrl } from '../http/url.js';
import type { Profile } from '../profile.js';
import { resourceFromProfile, scopeFromProfile } from '../providers/values.js';
import type { Token } from '../token.js';
import { openInBrowser } from './browser.js';
import { signedInUser } from './claims.js';
import { DEFAULT_ID_TOKEN_ALGORITHMS, validateIdToken } from './id-token.js';
import type { DeviceCodeInfo, SignInOptions } from './types.js';

/** Default wait for the browser's redirect, ms. */
export const DEFAULT_REDIRECT_TIMEOUT_MS = 300_000;

/** What the generic client hands over. */
export interface SessionContext {
  profile: Profile;
  grant: GrantContext;
  /** The discovery document, when the profile has an issuer. */
  discovery?: DiscoveryDocument | undefined;
}

function endpoint(
  profile: Profile,
  doc: DiscoveryDocument | undefined,
  key: 'authorization_url' | 'device_authorization_url' | 'jwks_url' | 'userinfo_url',
  field: string,
): string | undefined {
  const own = profile[key];
  if (own !== undefined) return assertSecureUrl(own, key).href;
  const found = doc?.[field];
  if (typeof found !== 'string' || found === '') return undefined;
  return assertSecureUrl(found, field).href;
}

/** The ID-token checks of a profile (undefined when neither issuer nor JWKS is known). */
function idTokenChecker(s: SessionContext) {
  const { profile, discovery } = s;
  const issuer = discovery?.issuer ?? profile.issuer;
  const jwksUrl = endpoint(profile, discovery, 'jwks_url', 'jwks_uri');
  const skewMs = (profile.skew_seconds ?? 10) * 1000;
  const supported = discovery?.['id_token_signing_alg_values_supported'];
  const algorithms = Array.isArray(supported)
    ? DEFAULT_ID_TOKEN_ALGORITHMS.filter((a) => supported.includes(a))
    : DEFAULT_ID_TOKEN_ALGORITHMS;
  const now = s.grant.now ?? Date.now;
  return async (idToken: string, extra: { nonce?: string; sub?: string; maxAge?: number }) => {
    if (issuer === undefined || jwksUrl === undefined) {
      throw new ConfigError(
        'the server sent an ID token, and validating it needs issuer (discovery) or jwks_url with issuer',
        { key: issuer === undefined ? 'issuer' : 'jwks_url' },
      );
    }
    const clientId = profile.client_id;
    if (clientId === undefined)
      throw new ConfigError('is required to validate an ID token', { key: 'client_id' });
    return validateIdToken(idToken, {
      issuer,
      clientId,
      jwksUrl,
      skewMs,
      now: now(),
      algorithms,
      http: s.grant.http,
      ...extra,
    });
  };
}

/** Asks userinfo with the new access token; its `sub` must be the ID token's (OIDC Core §5.3.2). */
async function checkUserinfo(s: SessionContext, token: Token, sub: string): Promise<void> {
  const url = endpoint(s.profile, s.discovery, 'userinfo_url', 'userinfo_endpoint');
  if (url === undefined)
    throw new ConfigError('userinfo = true needs userinfo_url or a discovered userinfo_endpoint', {
      key: 'userinfo',
    });
  const res = await getJson(url, {
    ...s.grant.http,
    what: 'userinfo endpoint',
    headers: { authorization: `${token.tokenType} ${token.accessToken}` },
  });
  const body = res.body as Record<string, unknown> | null;
  if (body === null || typeof body !== 'object' || body['sub'] !== sub) {
    throw new IdTokenError(
      'sub',
      'the userinfo endpoint answered for another user than the ID token; nothing was stored',
    );
  }
}

function defaultDeviceCode(info: DeviceCodeInfo): void {
  const lines = [
    `To sign in, open ${info.verificationUri} and enter the code ${info.userCode}`,
    ...(info.verificationUriComplete !== undefined ? [`(or open ${info.verificationUriComplete})`] : []),
  ];
  process.stderr.write(`${lines.join('\n')}\n`);
}

/**
 * Runs the profile's interactive grant and returns the validated token (not stored: the manager does
 * that under its lock).
 */
export async function runSignIn(s: SessionContext, options: SignInOptions = {}): Promise<Token> {
  const { profile, discovery } = s;
  const clientId = profile.client_id;
  if (clientId === undefined || clientId === '')
    throw new ConfigError('is required to sign in', { key: 'client_id' });
  const scope = scopeFromProfile(profile);
  const resource = resourceFromProfile(profile);
  const wantsOidc = scope?.split(' ').includes('openid') === true;
  const check = idTokenChecker(s);
  const maxAge = profile.max_age;
  const accept = async (token: Token, nonce?: string) => {
    if (token.idToken === undefined) {
      if (wantsOidc)
        throw new IdTokenError(
          'missing',
          'the server answered scope "openid" without an ID token; nothing was stored',
        );
      return;
    }
    const claims = await check(token.idToken, {
      ...(nonce !== undefined ? { nonce } : {}),
      ...(maxAge !== undefined ? { maxAge } : {}),
    });
    if (profile.userinfo === true) await checkUserinfo(s, token, claims.sub);
  };
  const useDevice = options.device === true || profile.grant === 'device_code';
  if (useDevice) {
    const url = endpoint(profile, discovery, 'device_authorization_url', 'device_authorization_endpoint');
    if (url === undefined)
      throw new ConfigError(
        'is required for the device flow (the server advertises no device_authorization_endpoint)',
        {
          key: 'device_authorization_url',
        },
      );
    return deviceCodeGrant(s.grant, {
      deviceAuthorizationUrl: url,
      scope,
      resource,
      ...(profile.authorize_params !== undefined ? { extraParams: profile.authorize_params } : {}),
      onDeviceCode: options.onDeviceCode ?? defaultDeviceCode,
      onPoll: options.onDevicePoll,
      sleep: options.sleep,
      signal: options.signal,
      accept: (t) => accept(t),
    });
  }
  const authorizationUrl = endpoint(profile, discovery, 'authorization_url', 'authorization_endpoint');
  if (authorizationUrl === undefined)
    throw new ConfigError('is required for the code flow (else discovered from issuer)', {
      key: 'authorization_url',
    });
  const extra: Record<string, string> = { ...(profile.authorize_params ?? {}) };
  if (profile.prompt !== undefined) extra['prompt'] = profile.prompt;
  if (profile.login_hint !== undefined) extra['login_hint'] = profile.login_hint;
  if (profile.acr_values !== undefined) extra['acr_values'] = profile.acr_values;
  if (maxAge !== undefined) extra['max_age'] = String(maxAge);
  // PAR (RFC 9126) when the server requires it: the request goes to its PAR endpoint first.
  const parEndpoint = discovery?.['pushed_authorization_request_endpoint'];
  const parUrl =
    discovery?.['require_pushed_authorization_requests'] === true && typeof parEndpoint === 'string'
      ? assertSecureUrl(parEndpoint, 'pushed_authorization_request_endpoint').href
      : undefined;
  const issuer = discovery?.issuer ?? profile.issuer;
  return authorizationCodeGrant(s.grant, {
    authorizationUrl,
    clientId,
    ...(issuer !== undefined ? { issuer } : {}),
    scope,
    resource,
    redirectUri: profile.redirect_uri,
    extraParams: extra,
    parUrl,
    timeoutMs:
      options.redirectTimeoutMs ??
      (profile.login_timeout !== undefined ? profile.login_timeout * 1000 : DEFAULT_REDIRECT_TIMEOUT_MS),
    signal: options.signal,
    async present(url) {
      (
        options.onAuthorizationUrl ??
        ((u: string) => process.stderr.write(`Open this URL to sign in: ${u}\n`))
      )(url);
      if (options.openBrowser === false) return;
      if (typeof options.openBrowser === 'function') await options.openBrowser(url);
      else await openInBrowser(url);
    },
    accept,
  });
}

/**
 * Checks the ID token of a refresh answer (OIDC Core §12.2): when the server sent a new one, it must
 * validate and name the same `sub`; no nonce is expected.
 */
export async function checkRefreshedIdToken(s: SessionContext, previous: Token, token: Token): Promise<void> {
  if (token.idToken === undefined || token.idToken === previous.idToken) return;
  const sub = signedInUser(previous.idToken)?.sub;
  await idTokenChecker(s)(token.idToken, sub !== undefined ? { sub } : {});
}
