/**
 * Reads the claims of a stored ID token for display (`tokenward status`): who is signed in. No
 * verification here — the token was validated when it was received — and no jose, so `status` stays light.
 * @module
 */

/** Who is signed in, from an ID token. */
export interface SignedInUser {
  sub?: string;
  email?: string;
  name?: string;
}

/** The `sub`, `email` and `name` of an ID token, or undefined when it cannot be read. */
export function signedInUser(idToken: string | undefined): SignedInUser | undefined {
  if (idToken === undefined) return undefined;
  const part = idToken.split('.')[1];
  if (part === undefined || part.length > 64 * 1024) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
    const out: SignedInUser = {};
    for (const k of ['sub', 'email', 'name'] as const) {
      const v = claims[k];
      // Shown on a terminal: control characters (escape sequences) are dropped.
      if (typeof v === 'string' && v !== '')
        out[k] = [...v].filter((c) => c >= ' ' && c !== '\u007f').join('');
    }
    return out;
  } catch {
    return undefined;
  }
}
