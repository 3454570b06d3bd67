/**
 * The `rdp` preset: Refinitiv / LSEG Data Platform, v1 authentication (seed 004).
 *
 * `POST {base_url}/auth/oauth2/v1/token`, form body.
 * - Password grant: `grant_type=password`, `username`, `password`, `client_id` (the app key), `scope`
 *   (default `trapi`), `takeExclusiveSignOnControl` (`"true"` unless `take_exclusive_sign_on = false`).
 *   With `client_id_in_basic = true` the app key goes in `Authorization: Basic base64(app_key:)` (an
 *   empty secret, or `client_secret` when one is set) instead of the body — what the seed does.
 * - Refresh grant: `grant_type=refresh_token`, `refresh_token`, `username`, `client_id`. Every refresh
 *   answer carries a new refresh token (rotation); it replaces the old one.
 * - `expires_in` arrives as a string (`"300"`); it is read as seconds.
 *
 * **A shrinking refresh chain.** The server shortens `expires_in` on a refresh when the session behind
 * the refresh token is about to end. When a refresh answer's `expires_in` is shorter than the previous
 * token's, this preset marks the new refresh token as spent (`refreshExpiresAt` = the moment of the
 * answer). The new access token is used for as long as it lives, and the next renewal — eager or on
 * expiry — is a password grant that opens a new session, instead of more and more refreshes that each
 * buy less time and end in a rejected refresh at the worst moment.
 *
 * Password change: {@link changePassword} runs the password grant with `newPassword`, after checking
 * the vendor's rule ({@link checkNewPassword}).
 *
 * Profile keys: `base_url` (or `token_url`), `client_id` (app key), `username`, `password`, `scope`,
 * `take_exclusive_sign_on`, `client_id_in_basic`, `client_secret` (only with `client_id_in_basic`),
 * `api_base_url` (default `base_url`).
 * @module
 */

import { clientSecretBasic } from '../auth/basic.js';
import { noneAuth } from '../auth/none.js';
import type { ClientAuth } from '../auth/types.js';
import { ConfigError, TokenEndpointError, withEndpointMessage } from '../errors.js';
import { passwordGrant } from '../grants/password.js';
import { refreshWithToken } from '../grants/refresh-token.js';
import type { GrantContext } from '../grants/types.js';
import type { HttpOptions } from '../http/types.js';
import { assertSecureUrl } from '../http/url.js';
import type { Profile } from '../profile.js';
import type { Token } from '../token.js';
import {
  httpBudgetMs,
  type TokenClient,
  type TokenIdentity,
  type TokenRequestContext,
} from '../token-client.js';
import { assertTokenUrlSource } from './checks.js';
import { RDP_DEFAULT_SCOPE, rdp, rdpTokenUrlFrom } from './rdp.descriptor.js';
import {
  httpOptionsFromProfile,
  optionalString,
  parseOptionsFromProfile,
  requiredString,
  scopeFromProfile,
} from './values.js';

export { apiBaseUrl, RDP_DEFAULT_SCOPE, RDP_TOKEN_PATH } from './rdp.descriptor.js';

/** Shortest new password the vendor accepts. */
export const RDP_MIN_PASSWORD_LENGTH = 30;

/** The token URL of a profile, checked: `token_url`, else `{base_url}/auth/oauth2/v1/token`. */
export function rdpTokenUrlOf(profile: Profile): string {
  assertTokenUrlSource(profile, 'base_url');
  return rdpTokenUrlFrom(profile);
}

/**
 * Checks a new password against the vendor's rule: at least 30 characters, from at least 3 of the 4
 * classes lower case, upper case, digits, other characters. Returns what is wrong (empty when it is
 * acceptable); never quotes the password.
 */
export function checkNewPassword(newPassword: string): string[] {
  const problems: string[] = [];
  if (typeof newPassword !== 'string' || newPassword === '') return ['the new password is empty'];
  const length = [...newPassword].length;
  if (length < RDP_MIN_PASSWORD_LENGTH) {
    problems.push(`it has ${length} characters; at least ${RDP_MIN_PASSWORD_LENGTH} are needed`);
  }
  const classes = [/\p{Ll}/u, /\p{Lu}/u, /\p{Nd}/u, /[^\p{Ll}\p{Lu}\p{Nd}]/u].filter((re) =>
    re.test(newPassword),
  ).length;
  if (classes < 3) {
    problems.push(
      `it uses ${classes} of the 4 character classes (lower case, upper case, digits, other); at least 3 are needed`,
    );
  }
  return problems;
}

/**
 * Throws a {@link ConfigError} (that never quotes a password) when `newPassword` breaks the vendor's
 * rule or equals `current`.
 */
function assertNewPassword(newPassword: string, current?: string): void {
  const problems = checkNewPassword(newPassword);
  if (problems.length > 0) {
    throw new ConfigError(`the new password is not acceptable to RDP (${problems.join('; ')})`);
  }
  if (current !== undefined && newPassword === current) {
    throw new ConfigError('the new password must differ from the current one');
  }
}

/** The lifetime in seconds a token's answer gave (`expires_in`), else what its expiry implies. */
function lifetimeSeconds(token: Token): number {
  const raw = token.raw?.['expires_in'];
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw) : Number.NaN;
  if (Number.isFinite(n) && n > 0) return n;
  return (token.expiresAt - token.obtainedAt) / 1000;
}

/**
 * The refresh-chain rule: when a refresh answer's lifetime is shorter than the previous token's, the
 * session is ending, so the new refresh token is marked spent (`refreshExpiresAt` = `obtainedAt`) and
 * the next renewal is a password grant. Otherwise the token is returned as is.
 */
export function applyRefreshChainRule(previous: Token, next: Token): Token {
  if (next.refreshToken === undefined) return next;
  if (lifetimeSeconds(next) >= lifetimeSeconds(previous)) return next;
  return { ...next, refreshExpiresAt: next.obtainedAt };
}

/** Adds the hint for RDP's "Session quota is reached." answer. Never adds a secret. */
function rdpError(err: unknown): unknown {
  if (!(err instanceof TokenEndpointError)) return err;
  if (!/session quota/i.test(err.errorDescription ?? '')) return err;
  return withEndpointMessage(
    err,
    `${err.message}; another session holds this user's sign-on: close it, or set take_exclusive_sign_on = true to take it over`,
  );
}

/** The RDP token client: the {@link TokenClient} contract plus the password change. */
export interface RdpTokenClient extends TokenClient {
  /**
   * Runs the password grant with `newPassword` (checked first with {@link checkNewPassword}) and returns
   * the token of the new session. Update the stored password afterwards: this client keeps the old one.
   */
  changePassword(newPassword: string, ctx?: Partial<TokenRequestContext>): Promise<Token>;
}

/**
 * Creates the RDP token client. No network I/O.
 *
 * @throws ConfigError naming the missing or invalid key.
 */
export async function createClient(profile: Profile, http: HttpOptions = {}): Promise<RdpTokenClient> {
  const tokenUrl = rdpTokenUrlOf(profile);
  const clientId = requiredString(profile, 'client_id', 'rdp', 'the app key');
  const username = requiredString(profile, 'username', 'rdp');
  const password = requiredString(profile, 'password', 'rdp');
  const clientSecret = optionalString(profile, 'client_secret');
  const inBasic = profile.client_id_in_basic ?? false;
  const exclusive = profile.take_exclusive_sign_on ?? true;
  const scope = scopeFromProfile(profile) ?? RDP_DEFAULT_SCOPE;
  if (profile.api_base_url !== undefined) assertSecureUrl(profile.api_base_url, 'api_base_url');
  if (clientSecret !== undefined && !inBasic) {
    throw new ConfigError(
      'is only sent with client_id_in_basic = true (RDP v1 app keys have no secret); remove it or set client_id_in_basic',
      { key: 'client_secret' },
    );
  }
  const clientAuth: ClientAuth = inBasic
    ? clientSecretBasic({ clientId, clientSecret: clientSecret ?? '', encoding: 'raw' })
    : noneAuth({ clientId });
  const parse = parseOptionsFromProfile(profile);
  const httpOpts = await httpOptionsFromProfile(profile, http);
  const grantContext = (now?: () => number): GrantContext => ({
    tokenUrl,
    clientAuth,
    http: httpOpts,
    parse,
    now: now ?? Date.now,
  });
  const extrasOf = (ctx?: Partial<TokenRequestContext>) => (ctx?.signal ? { signal: ctx.signal } : {});
  const signOn = { takeExclusiveSignOnControl: exclusive ? 'true' : 'false' };

  const identity: TokenIdentity = rdp.identity(profile);

  const run = async <T>(p: Promise<T>): Promise<T> => {
    try {
      return await p;
    } catch (err) {
      throw rdpError(err);
    }
  };

  return {
    identity,
    budgetMs: httpBudgetMs(httpOpts),
    clientCert: httpOpts.clientCert,
    fetchToken(ctx) {
      return run(
        passwordGrant(grantContext(ctx.now), { username, password, scope, params: signOn }, extrasOf(ctx)),
      );
    },
    async refresh(token, ctx) {
      const next = await run(refreshWithToken(grantContext(ctx.now), token, extrasOf(ctx), { username }));
      return applyRefreshChainRule(token, next);
    },
    async changePassword(newPassword, ctx) {
      assertNewPassword(newPassword, password);
      return run(
        passwordGrant(
          grantContext(ctx?.now),
          { username, password, scope, params: { ...signOn, newPassword } },
          extrasOf(ctx),
        ),
      );
    },
  };
}

/** Options of {@link changePassword}. */
export interface RdpChangePasswordOptions {
  /** HTTP settings over the profile's. */
  http?: HttpOptions;
  /** Environment for the profile's secret references. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Aborts the request. */
  signal?: AbortSignal;
}

/**
 * Changes the RDP password of a profile's user: checks `newPassword` against the vendor's rule (at
 * least 30 characters from at least 3 of 4 character classes) before anything is sent, then runs the
 * password grant with the current password and `newPassword`, and returns the new session's token.
 * Afterwards, store the new password where the profile's `password` reference points.
 *
 * @param source - The RDP profile (secret references are resolved) or a client from {@link createClient}.
 * @throws ConfigError when the new password breaks the rule (the message never quotes it).
 * @throws TokenEndpointError when the server refuses the change.
 */
export async function changePassword(
  source: Profile | RdpTokenClient,
  newPassword: string,
  options: RdpChangePasswordOptions = {},
): Promise<Token> {
  let client: RdpTokenClient;
  if (typeof (source as RdpTokenClient).changePassword === 'function') client = source as RdpTokenClient;
  else {
    assertNewPassword(newPassword);
    const { resolveProfileSecrets } = await import('../config/secrets.js');
    const resolved = await resolveProfileSecrets(
      source as Profile,
      options.env !== undefined ? { env: options.env } : {},
    );
    client = await createClient(resolved, options.http ?? {});
  }
  return client.changePassword(newPassword, options.signal ? { signal: options.signal } : {});
}
