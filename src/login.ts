/**
 * `login()`: a person signs in with a profile's interactive grant — the authorization code flow with
 * PKCE in the system browser, or the device flow — and the token is stored in the profile's store, under
 * its lock, for `getToken()` and the CLI to serve and refresh as for any other profile.
 * @module
 */

import { createTokenManager, type OpenProfileOptions, openProfile } from './front-door.js';
import { TokenManager } from './manager/token-manager.js';
import type { Profile } from './profile.js';
import type { SignInOptions } from './signin/types.js';
import type { Token } from './token-state.js';

/** Options of {@link login}: how the sign-in is shown, and (for a profile name) where its config is. */
export interface LoginOptions extends SignInOptions, OpenProfileOptions {}

/**
 * Signs in with the profile's interactive grant (`grant = "authorization_code"` or `"device_code"`) and
 * stores the token. `profileOrManager` is a profile name of the config file (its process-wide manager,
 * as {@link openProfile}), a profile object (a manager made and closed for the call) or a
 * {@link TokenManager}.
 *
 * The authorization URL is always given to `onAuthorizationUrl` (default: printed on stderr) and opened
 * in the system browser unless `openBrowser` is `false` or a function of yours. The device flow's code
 * goes to `onDeviceCode` (default: printed on stderr).
 *
 * @example
 * ```ts
 * import { getToken, login } from 'tokenward';
 *
 * await login('me', { onDeviceCode: (c) => console.log(`open ${c.verificationUri}, code ${c.userCode}`), device: true });
 * const { accessToken } = await getToken('me'); // later calls refresh without a person
 * ```
 * @throws LoginTimeoutError, AuthorizationError, IdTokenError, ConfigError (a fixed redirect port in
 * use, a missing endpoint), and the token endpoint's errors. Nothing is stored when it throws.
 */
export async function login(
  profileOrManager: string | Profile | TokenManager,
  options: LoginOptions = {},
): Promise<Token> {
  const signInOptions = pick(options);
  if (profileOrManager instanceof TokenManager) return profileOrManager.signIn(signInOptions);
  if (typeof profileOrManager === 'string') {
    return (await openProfile(profileOrManager, options)).signIn(signInOptions);
  }
  const manager = await createTokenManager(profileOrManager, options);
  try {
    return await manager.signIn(signInOptions);
  } finally {
    await manager.close();
  }
}

function pick(o: LoginOptions): SignInOptions {
  const out: SignInOptions = {};
  if (o.openBrowser !== undefined) out.openBrowser = o.openBrowser;
  if (o.onAuthorizationUrl !== undefined) out.onAuthorizationUrl = o.onAuthorizationUrl;
  if (o.onDeviceCode !== undefined) out.onDeviceCode = o.onDeviceCode;
  if (o.onDevicePoll !== undefined) out.onDevicePoll = o.onDevicePoll;
  if (o.device !== undefined) out.device = o.device;
  if (o.signal !== undefined) out.signal = o.signal;
  if (o.redirectTimeoutMs !== undefined) out.redirectTimeoutMs = o.redirectTimeoutMs;
  if (o.sleep !== undefined) out.sleep = o.sleep;
  return out;
}
