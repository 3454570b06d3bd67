/**
 * The profile keys of interactive sign-in (`grant = "authorization_code"` or `"device_code"`), shared by
 * the `oauth2` and `oidc` descriptors. Import-light: valibot only.
 * @module
 */

import * as v from 'valibot';
import type { KeysOf, ProfileKeySpecs } from './descriptor.js';

/** True for an `http://` URL to a literal loopback address (`127.0.0.1`, `[::1]`) or `localhost`. */
export function isLoopbackRedirect(uri: string): boolean {
  try {
    const u = new URL(uri);
    return (
      u.protocol === 'http:' &&
      (u.hostname === '127.0.0.1' || u.hostname === '[::1]' || u.hostname === 'localhost') &&
      u.search === '' &&
      u.hash === ''
    );
  } catch {
    return false;
  }
}

const text = v.optional(v.pipe(v.string(), v.minLength(1, 'expected a non-empty string')));

/** The interactive sign-in keys. */
export const interactiveKeys = {
  authorization_url: {
    schema: v.optional(v.string()),
    doc: 'authorization endpoint for grant = "authorization_code" (else discovered from issuer)',
    endpoint: true,
  },
  device_authorization_url: {
    schema: v.optional(v.string()),
    doc: 'device authorization endpoint for grant = "device_code" (else discovered from issuer)',
    endpoint: true,
  },
  jwks_url: {
    schema: v.optional(v.string()),
    doc: 'JWKS that signs ID tokens (else jwks_uri discovered from issuer)',
    endpoint: true,
  },
  userinfo_url: {
    schema: v.optional(v.string()),
    doc: 'userinfo endpoint (else discovered); asked at sign-in when userinfo = true',
    endpoint: true,
  },
  redirect_uri: {
    schema: v.optional(
      v.pipe(
        v.string(),
        v.check(
          isLoopbackRedirect,
          'expected an http:// loopback redirect such as "http://127.0.0.1:8765/callback" (no query)',
        ),
      ),
    ),
    doc: 'fixed loopback redirect for the code flow, e.g. http://127.0.0.1:8765/callback (default: 127.0.0.1, a free port)',
  },
  interactive: {
    schema: v.optional(v.picklist(['auto', 'never'] as const, 'expected "auto" or "never"')),
    doc: '"auto": token/request/exec sign in by themselves on a terminal when needed; "never" (default): they fail with LoginRequiredError',
  },
  prompt: { schema: text, doc: 'authorize parameter prompt (login, consent, select_account, none)' },
  login_hint: { schema: text, doc: 'authorize parameter login_hint (the account to sign in as)' },
  acr_values: { schema: text, doc: 'authorize parameter acr_values' },
  max_age: {
    schema: v.optional(
      v.pipe(
        v.number(),
        v.integer('expected whole seconds of at least 0'),
        v.minValue(0, 'expected whole seconds of at least 0'),
      ),
    ),
    doc: 'authorize parameter max_age, seconds (the ID token must then carry auth_time)',
  },
  authorize_params: {
    schema: v.optional(
      v.pipe(
        v.unknown(),
        v.check((x) => !Array.isArray(x), 'expected a table, got a list'),
        v.record(v.string(), v.string()),
      ),
    ),
    doc: 'extra authorize parameters (a table of strings)',
  },
  userinfo: {
    schema: v.optional(v.boolean()),
    doc: 'ask the userinfo endpoint at sign-in (its sub must match the ID token); default false',
  },
  login_timeout: {
    schema: v.optional(
      v.pipe(
        v.number(),
        v.minValue(1, 'expected seconds from 1 to 3600'),
        v.maxValue(3600, 'expected seconds from 1 to 3600'),
      ),
    ),
    doc: 'how long a sign-in waits for the browser redirect, seconds (default 300; the device flow uses the code lifetime)',
  },
} as const satisfies ProfileKeySpecs;

/** The interactive sign-in keys of {@link Profile}. */
export type InteractiveKeys = KeysOf<typeof interactiveKeys>;
