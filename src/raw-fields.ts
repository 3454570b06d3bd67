/**
 * The standard fields of a token response that a {@link Token} carries itself (`access_token` is
 * `accessToken`, and so on): a response made only of those need not be kept as an object, since an
 * equal one can be rebuilt from the token. Used by `parseTokenResponse` (a token's `raw` then is an
 * accessor) and by the `MemoryStore` (which keeps only the other fields). Pure; no imports beyond types.
 * @module
 */

import type { Token } from './token-state.js';

/** `raw` fields the Token carries itself, with the flag saying the response had them (bits 0–5). */
export const RAW_ACCESS = 1;
export const RAW_TYPE = 2;
export const RAW_EXPIRES_IN = 4;
export const RAW_REFRESH = 8;
export const RAW_SCOPE = 16;
export const RAW_ID = 32;
/** The bits {@link rawBit} can give. */
export const RAW_FIELDS = 63;

/** The fields of a token that `raw` can be rebuilt from. */
export type RawSource = Pick<
  Token,
  'accessToken' | 'tokenType' | 'expiresAt' | 'obtainedAt' | 'refreshToken' | 'scope' | 'idToken'
>;

/**
 * The flag of a `raw` field the token carries exactly (so it need not be kept), else 0. `expires_in`
 * counts only as a whole number of seconds that is exactly the token's lifetime.
 */
export function rawBit(name: string, v: unknown, t: RawSource): number {
  switch (name) {
    case 'access_token':
      return v === t.accessToken ? RAW_ACCESS : 0;
    case 'token_type':
      return v === t.tokenType ? RAW_TYPE : 0;
    case 'expires_in':
      return typeof v === 'number' &&
        Number.isInteger(v) &&
        v * 1000 === t.expiresAt - t.obtainedAt &&
        (t.expiresAt - t.obtainedAt) / 1000 === v
        ? RAW_EXPIRES_IN
        : 0;
    case 'refresh_token':
      return v === t.refreshToken && v !== undefined ? RAW_REFRESH : 0;
    case 'scope':
      return v === t.scope && v !== undefined ? RAW_SCOPE : 0;
    case 'id_token':
      return v === t.idToken && v !== undefined ? RAW_ID : 0;
    default:
      return 0;
  }
}

/** The response fields named by `flags`, rebuilt from the token (into `into`, a new object by default). */
export function rebuildRaw(
  flags: number,
  t: RawSource,
  into: Record<string, unknown> = {},
): Record<string, unknown> {
  if (flags & RAW_ACCESS) into['access_token'] = t.accessToken;
  if (flags & RAW_TYPE) into['token_type'] = t.tokenType;
  if (flags & RAW_EXPIRES_IN) into['expires_in'] = (t.expiresAt - t.obtainedAt) / 1000;
  if (flags & RAW_REFRESH) into['refresh_token'] = t.refreshToken;
  if (flags & RAW_SCOPE) into['scope'] = t.scope;
  if (flags & RAW_ID) into['id_token'] = t.idToken;
  return into;
}

/** One getter per combination of flags (at most 64). */
const getters = new Map<number, (this: RawSource) => Record<string, unknown>>();

/**
 * The flags of the tokens made lazy so far, per shape (which optional fields a token has: each shape is
 * one hidden class in V8). Two tokens of one shape with different getters would push V8 to a slow
 * dictionary object, so a shape takes the first combination it sees; a token of that shape whose
 * response has other fields keeps its `raw` as a plain object.
 */
const flagsOfShape = new Map<number, number>();

/**
 * A copy of `token` whose `raw` is an accessor that rebuilds the response from the token's own fields,
 * or undefined when `raw` has anything else (a vendor's `tenantId`, an `expires_in` sent as a string, …):
 * the response object is not kept then. The accessor is enumerable, so spreading, `JSON.stringify`,
 * `structuredClone` and deep equality see a `raw` equal to the response; each read gives a new object.
 */
export function withLazyRaw(token: Token): Token | undefined {
  const raw = token.raw;
  let flags = 0;
  for (const name of Object.keys(raw)) {
    const bit = rawBit(name, raw[name], token);
    if (bit === 0) return undefined;
    flags |= bit;
  }
  const t = token;
  // A literal (with `scope`, which most responses have, inside it), so that V8 keeps the fields in the
  // object itself.
  const out: { -readonly [K in keyof Token]?: Token[K] } =
    t.scope === undefined
      ? {
          accessToken: t.accessToken,
          tokenType: t.tokenType,
          expiresAt: t.expiresAt,
          obtainedAt: t.obtainedAt,
          expirySource: t.expirySource,
        }
      : {
          accessToken: t.accessToken,
          tokenType: t.tokenType,
          expiresAt: t.expiresAt,
          obtainedAt: t.obtainedAt,
          expirySource: t.expirySource,
          scope: t.scope,
        };
  if (t.refreshToken !== undefined) out.refreshToken = t.refreshToken;
  if (t.refreshExpiresAt !== undefined) out.refreshExpiresAt = t.refreshExpiresAt;
  if (t.idToken !== undefined) out.idToken = t.idToken;
  const shape =
    (t.scope === undefined ? 0 : 1) |
    (t.refreshToken === undefined ? 0 : 2) |
    (t.refreshExpiresAt === undefined ? 0 : 4) |
    (t.idToken === undefined ? 0 : 8);
  const known = flagsOfShape.get(shape);
  if (known === undefined) flagsOfShape.set(shape, flags);
  else if (known !== flags) return undefined;
  let get = getters.get(flags);
  if (get === undefined) {
    const f = flags;
    get = function raw(this: RawSource) {
      return rebuildRaw(f, this);
    };
    getters.set(flags, get);
  }
  Object.defineProperty(out, 'raw', { get, enumerable: true, configurable: true });
  return out as Token;
}
