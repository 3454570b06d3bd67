/**
 * The in-memory store: one process, no persistence. Its lock is a per-key async mutex.
 *
 * Entries are kept compact, because a multi-tenant process may hold a token for each of many thousands
 * of tenants: one flat record per key ({@link Slot}) instead of the entry, its `Token` and the token's
 * `raw` response object. The strings (tokens, scope, profile name) and the identity object are kept by
 * reference, never copied; `raw` is not kept as an object: its standard fields are the `Token`'s own
 * (`access_token` is `accessToken`, and so on) and only the others (a vendor's `tenantId`, say) are
 * kept. {@link MemoryStore.get} rebuilds an entry equal to the one written, `raw` included.
 * @module
 */

import { LockTimeoutError } from '../errors.js';
import { RAW_FIELDS, rawBit, rebuildRaw } from '../raw-fields.js';
import type { ExpirySource, Token } from '../token.js';
import type { LastError, LockOnlyOptions, LockOptions, StoredEntry, StoreLock, TokenStore } from './types.js';
import { handOverWonLock, lockWaitSatisfied } from './util.js';

/** `obtainedAt` / `updatedAt` did not fit the slot's small-integer offsets: they are in `more`. */
const TIMES_IN_MORE = 64;
/** The entry had no `raw` on its token (a custom writer): none is rebuilt. */
const NO_RAW = 128;

/** Offsets kept in the slot are small integers (V8 keeps them unboxed); anything else goes to `more`. */
const SMALL = 2 ** 30;

/** The few strings every token has, shared instead of kept per entry. */
const EXPIRY_SOURCES: Record<ExpirySource, ExpirySource> = {
  expires_in: 'expires_in',
  expires_on: 'expires_on',
  jwt_exp: 'jwt_exp',
  default: 'default',
};

/** Token kinds (type, scope, expiry source, `raw` flags) repeat across tenants: up to this many are shared. */
const MAX_SHARED_KINDS = 1_000;

/**
 * What entries have in common across tenants: the token type, the expiry source, the scope and the
 * flags. One object per distinct combination (bounded), referenced from each slot, instead of four
 * fields per slot.
 */
class Kind {
  constructor(
    readonly tokenType: string,
    readonly expirySource: ExpirySource,
    readonly scope: string | undefined,
    readonly flags: number,
  ) {}
}

/** What is rare in an entry: kept aside, so the common entry pays one field for all of it. */
interface More {
  refreshToken?: string;
  refreshExpiresAt?: number;
  idToken?: string;
  /** The `raw` fields the Token does not carry. */
  rawRest?: Record<string, unknown>;
  lastError?: LastError;
  obtainedAt?: number;
  updatedAt?: number;
}

/**
 * One entry, flat: the access token and its expiry inline, the lifetime and the write time as small
 * integer offsets from the expiry, what tenants share in a {@link Kind}, rare fields in `more`.
 */
class Slot {
  constructor(
    readonly accessToken: string,
    readonly expiresAt: number,
    /** `expiresAt - obtainedAt` (when it fits; see {@link TIMES_IN_MORE}). */
    readonly life: number,
    /** `updatedAt - expiresAt` (when it fits). */
    readonly updated: number,
    readonly kind: Kind,
    readonly profile: string | undefined,
    readonly identity: Readonly<Record<string, string | undefined>> | undefined,
    readonly more: More | undefined,
  ) {}
}

/** An in-process {@link TokenStore}. Nothing is encrypted or copied; entries are kept compact (see the module). */
export class MemoryStore implements TokenStore {
  readonly kind = 'memory';
  readonly shared = false;
  /** A {@link Slot} per key, or the entry itself when it holds no token (only a failure record). */
  readonly #entries = new Map<string, Slot | StoredEntry>();
  readonly #locks = new Map<string, Promise<void>>();
  readonly #kinds = new Map<string, Kind>();

  async get(key: string): Promise<StoredEntry | undefined> {
    const e = this.#entries.get(key);
    return e instanceof Slot ? unpack(key, e) : e;
  }

  async set(entry: StoredEntry): Promise<void> {
    this.#entries.set(entry.key, entry.token === undefined ? entry : this.#pack(entry, entry.token));
  }

  async delete(key: string): Promise<void> {
    this.#entries.delete(key);
  }

  async list(): Promise<StoredEntry[]> {
    return [...this.#entries].map(([key, e]) => (e instanceof Slot ? unpack(key, e) : e));
  }

  /** Number of entries held. */
  get size(): number {
    return this.#entries.size;
  }

  /** A {@link Kind} of these values: an equal one already held, else a new one (kept for sharing, up to a bound). */
  #kind(tokenType: string, expirySource: ExpirySource, scope: string | undefined, flags: number): Kind {
    // Lengths first: no value can make two different combinations give the same name.
    const name = `${tokenType.length}:${tokenType}${expirySource.length}:${expirySource}${flags}:${scope === undefined ? '-' : `+${scope}`}`;
    const known = this.#kinds.get(name);
    if (known !== undefined) return known;
    const kind = new Kind(tokenType, EXPIRY_SOURCES[expirySource] ?? expirySource, scope, flags);
    if (this.#kinds.size < MAX_SHARED_KINDS) this.#kinds.set(name, kind);
    return kind;
  }

  #pack(entry: StoredEntry, t: Token): Slot {
    const more: More = {};
    let flags = 0;
    const life = t.expiresAt - t.obtainedAt;
    const updated = entry.updatedAt - t.expiresAt;
    // Kept as offsets only when they are small integers that give the times back exactly.
    const small = (x: number) => Number.isInteger(x) && Math.abs(x) < SMALL;
    if (
      !small(life) ||
      !small(updated) ||
      t.expiresAt - life !== t.obtainedAt ||
      t.expiresAt + updated !== entry.updatedAt
    ) {
      flags |= TIMES_IN_MORE;
      more.obtainedAt = t.obtainedAt;
      more.updatedAt = entry.updatedAt;
    }
    if (t.refreshToken !== undefined) more.refreshToken = t.refreshToken;
    if (t.refreshExpiresAt !== undefined) more.refreshExpiresAt = t.refreshExpiresAt;
    if (t.idToken !== undefined) more.idToken = t.idToken;
    if (entry.lastError !== undefined) more.lastError = entry.lastError;
    const raw = t.raw as Record<string, unknown> | undefined;
    if (raw === undefined) flags |= NO_RAW;
    else {
      let rest: Record<string, unknown> | undefined;
      for (const name of Object.keys(raw)) {
        const v = raw[name];
        const bit = rawBit(name, v, t);
        if (bit !== 0) flags |= bit;
        else {
          rest ??= {};
          rest[name] = v;
        }
      }
      if (rest !== undefined) more.rawRest = rest;
    }
    return new Slot(
      t.accessToken,
      t.expiresAt,
      flags & TIMES_IN_MORE ? 0 : life,
      flags & TIMES_IN_MORE ? 0 : updated,
      this.#kind(t.tokenType, t.expirySource, t.scope, flags),
      entry.profile,
      entry.identity,
      Object.keys(more).length === 0 ? undefined : more,
    );
  }

  lock(key: string, options: LockOnlyOptions): Promise<StoreLock>;
  lock(key: string, options: LockOptions): Promise<StoreLock | undefined>;
  async lock(key: string, options: LockOptions): Promise<StoreLock | undefined> {
    const started = Date.now();
    let waited = false;
    for (;;) {
      const held = this.#locks.get(key);
      if (held === undefined) break;
      waited = true;
      const remaining = options.timeoutMs - (Date.now() - started);
      if (remaining <= 0) throw new LockTimeoutError(this.kind, options.timeoutMs);
      let timer: NodeJS.Timeout | undefined;
      const released = await Promise.race([
        held.then(() => true),
        new Promise<false>((r) => (timer = setTimeout(() => r(false), remaining))),
      ]);
      clearTimeout(timer);
      // Released: the holder may have stored what this caller waits for.
      if (released && (await lockWaitSatisfied(options))) return undefined;
    }
    let release!: () => void;
    const p = new Promise<void>((r) => (release = r));
    this.#locks.set(key, p);
    let released = false;
    const lock: StoreLock = {
      // In one process nothing can take the lock away from its holder.
      lost: false,
      release: async () => {
        if (released) return;
        released = true;
        if (this.#locks.get(key) === p) this.#locks.delete(key);
        release();
      },
    };
    return handOverWonLock(lock, options, waited);
  }

  async close(): Promise<void> {}
}

/** The entry a {@link Slot} was packed from. */
function unpack(key: string, s: Slot): StoredEntry {
  const m = s.more;
  const k = s.kind;
  const timesInMore = (k.flags & TIMES_IN_MORE) !== 0;
  const obtainedAt = timesInMore ? (m?.obtainedAt as number) : s.expiresAt - s.life;
  const updatedAt = timesInMore ? (m?.updatedAt as number) : s.expiresAt + s.updated;
  const token: { -readonly [K in keyof Token]: Token[K] } = {
    accessToken: s.accessToken,
    tokenType: k.tokenType,
    expiresAt: s.expiresAt,
    obtainedAt,
    expirySource: k.expirySource,
    raw: {},
  };
  if (m?.refreshToken !== undefined) token.refreshToken = m.refreshToken;
  if (m?.refreshExpiresAt !== undefined) token.refreshExpiresAt = m.refreshExpiresAt;
  if (k.scope !== undefined) token.scope = k.scope;
  if (m?.idToken !== undefined) token.idToken = m.idToken;
  if ((k.flags & NO_RAW) !== 0) {
    delete (token as { raw?: unknown }).raw;
  } else {
    const raw = rebuildRaw(k.flags & RAW_FIELDS, token);
    if (m?.rawRest !== undefined) Object.assign(raw, m.rawRest);
    token.raw = raw;
  }
  const entry: StoredEntry = { v: 1, key, updatedAt, token };
  if (s.profile !== undefined) entry.profile = s.profile;
  if (s.identity !== undefined) entry.identity = s.identity;
  if (m?.lastError !== undefined) entry.lastError = m.lastError;
  return entry;
}
