/**
 * Checks the preset client modules share (not their descriptors: these load the HTTP layer's URL rules).
 * @module
 */

import { assertSecureUrl } from '../http/url.js';
import type { Profile } from '../profile.js';
import { optionalString, type StringProfileKey } from './values.js';

/**
 * Checks the URL a preset derives its token URL from (https, or http to a loopback host): `token_url`
 * when set, else the base URL in `baseKey`. A missing one is the descriptor's error to report.
 * @throws ConfigError or InsecureEndpointError naming the key.
 */
export function assertTokenUrlSource(profile: Profile, baseKey: StringProfileKey): void {
  const t = optionalString(profile, 'token_url');
  if (t !== undefined) {
    assertSecureUrl(t, 'token_url');
    return;
  }
  const base = optionalString(profile, baseKey);
  if (base !== undefined) assertSecureUrl(base, baseKey);
}
