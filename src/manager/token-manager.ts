/**
 * The TokenManager: cache → single flight → store lock → re-read → refresh → primary grant.
 *
 * One manager serves one token identity (one cache key). A fresh token in memory is returned with no I/O.
 * Otherwise one flight per manager does the work; with a shared store it takes the store's lock and
 * re-reads first, because another process may have refreshed meanwhile. Failures never destroy what is
 * cached: a malformed response is not written, a failed refresh keeps the refresh token, and a token
 * that is still valid keeps being served while the token endpoint is down.
 * @module
 */

import type { TokenClient, TokenRequestContext } from '../client.js';
import { TokenEndpointError, TokenwardError } from '../errors.js';
import type { StoredEntry, TokenStore } from '../stores/types.js';
import { DEFAULT_FRESHNESS, isPastEagerPoint, isUsable, refreshTokenExpired, type Token } from '../token.js';

/** A non-fatal problem reported through {@link TokenManagerOptions.onWarning}. */
export interface TokenwardWarning {
  /** Stable code: `EAGER_REFRESH_FAILED`, `REFRESH_REJECTED`, `STORE_WRITE_FAILED`, `STORE_READ_FAILED`, `SERVED_STALE_MARGIN`; from `createTokenManager` also `TLS_VERIFY_DISABLED` (once per origin), `HTTP` and `STORE`. */
  code: string;
  message: string;
  /** The error behind the warning, already redacted. */
  cause?: unknown;
}

/** Options of a {@link TokenManager}. */
export interface TokenManagerOptions {
  /** Talks to the token endpoint. */
  client: TokenClient;
  /** The store key. Computed by the caller from the profile and the client's identity. */
  key: string;
  /** Where tokens are kept. Default: a new in-memory store. */
  store: TokenStore;
  /** Profile name, kept with stored entries for `status`. */
  profile?: string;
  /** Safety margin before expiry in ms. Default 10,000. */
  skewMs?: number;
  /** Fraction of the lifetime after which a background refresh starts. Default 0.8; 1 disables. */
  eagerRefreshFraction?: number;
  /** Least time between two background refresh attempts in ms. Default 5,000. */
  eagerRetryGapMs?: number;
  /** Lifetime of the store lock if its holder dies, ms. Default 60,000. */
  lockTtlMs?: number;
  /** How long to wait for the store lock, ms. Default 65,000. */
  lockTimeoutMs?: number;
  /** Clock in ms since the epoch. Default `Date.now`. */
  clock?: () => number;
  /** Receives non-fatal problems. Default: ignored. */
  onWarning?: (warning: TokenwardWarning) => void;
  /** Close the store when the manager is closed. Default false. */
  ownsStore?: boolean;
}

/** Options of {@link TokenManager.getToken}. */
export interface GetTokenOptions {
  /** Treat a token with less than this much life left (beyond the safety margin) as stale, ms. */
  minTtlMs?: number;
  /** Ignore cached tokens: obtain a new one from the server (a refresh grant when possible). */
  force?: boolean;
  /** Stops waiting (the shared flight goes on for the other callers). */
  signal?: AbortSignal;
}

interface Flight {
  force: boolean;
  eager: boolean;
  minTtlMs: number;
}

/** Gets, caches and renews tokens for one identity. See the module documentation for the flow. */
export class TokenManager {
  /** The store key of this manager's token. */
  readonly key: string;
  /** The store in use. */
  readonly store: TokenStore;
  /** The profile name, if any. */
  readonly profile: string | undefined;
  readonly #client: TokenClient;
  readonly #skewMs: number;
  readonly #eagerFraction: number;
  readonly #eagerGapMs: number;
  readonly #lockTtlMs: number;
  readonly #lockTimeoutMs: number;
  readonly #clock: () => number;
  readonly #onWarning: (w: TokenwardWarning) => void;
  readonly #ownsStore: boolean;
  readonly #ctx: TokenRequestContext;
  #current: Token | undefined;
  #invalidated: string | undefined;
  #inflight: Promise<Token> | undefined;
  #lastEagerAttempt = Number.NEGATIVE_INFINITY;
  #lastError: TokenwardError | undefined;
  #counts = { grants: 0, refreshes: 0, storeHits: 0 };

  constructor(options: TokenManagerOptions) {
    this.#client = options.client;
    this.key = options.key;
    this.store = options.store;
    this.profile = options.profile;
    this.#skewMs = options.skewMs ?? DEFAULT_FRESHNESS.skewMs;
    this.#eagerFraction = options.eagerRefreshFraction ?? DEFAULT_FRESHNESS.eagerRefreshFraction;
    this.#eagerGapMs = options.eagerRetryGapMs ?? 5_000;
    this.#lockTtlMs = options.lockTtlMs ?? 60_000;
    this.#lockTimeoutMs = options.lockTimeoutMs ?? 65_000;
    this.#clock = options.clock ?? Date.now;
    this.#onWarning = options.onWarning ?? (() => {});
    this.#ownsStore = options.ownsStore ?? false;
    this.#ctx = { now: this.#clock };
    if (!(this.#eagerFraction > 0 && this.#eagerFraction <= 1)) {
      throw new RangeError('eagerRefreshFraction must be in (0, 1]');
    }
  }

  /** The non-secret identity of the tokens this manager obtains. */
  get identity(): Readonly<Record<string, string | undefined>> {
    return this.#client.identity;
  }

  /** How many primary grants and refresh grants this manager made, and how often the store answered. */
  get counts(): Readonly<{ grants: number; refreshes: number; storeHits: number }> {
    return { ...this.#counts };
  }

  /** The last error of a flight, if the last flight failed. */
  get lastError(): TokenwardError | undefined {
    return this.#lastError;
  }

  /** The token held in memory, without any I/O or validity check. */
  peek(): Token | undefined {
    return this.#current;
  }

  /**
   * Returns a valid token: from memory when fresh (no I/O), else from the store, else by refreshing,
   * else by the primary grant. Concurrent callers share one flight.
   */
  getToken(options: GetTokenOptions = {}): Promise<Token> {
    const cur = this.#current;
    if (cur !== undefined && options.force !== true) {
      const now = this.#clock();
      if (cur.accessToken !== this.#invalidated && isUsable(cur, now, this.#skewMs, options.minTtlMs)) {
        if (
          this.#inflight === undefined &&
          isPastEagerPoint(cur, now, this.#eagerFraction) &&
          now - this.#lastEagerAttempt >= this.#eagerGapMs
        ) {
          this.#lastEagerAttempt = now;
          this.#startEager();
        }
        return Promise.resolve(cur);
      }
    }
    // An already-aborted caller starts nothing (and leaves no unobserved flight behind).
    if (options.signal?.aborted === true) return Promise.reject(options.signal.reason);
    const flight = this.#join({
      force: options.force === true,
      eager: false,
      minTtlMs: options.minTtlMs ?? 0,
    });
    return options.signal === undefined ? flight : raceAbort(flight, options.signal);
  }

  /** Like {@link getToken}, but only the access token string. */
  async getAccessToken(options?: GetTokenOptions): Promise<string> {
    return (await this.getToken(options)).accessToken;
  }

  /**
   * Marks a token as rejected (an API answered 401), so the next call obtains a new one — once: a token
   * that was already replaced is ignored, so concurrent 401s for the same token cause one renewal.
   * Without an argument, invalidates the current token.
   */
  invalidate(accessToken?: string): void {
    const cur = this.#current;
    const target = accessToken ?? cur?.accessToken;
    if (target === undefined) return;
    if (cur !== undefined && cur.accessToken !== target) return;
    this.#invalidated = target;
  }

  /**
   * Logs out: revokes the token where the server supports it (refresh token first, then the access
   * token) and deletes it from memory and the store. Revocation failures are reported, not thrown.
   */
  async logout(): Promise<{ revoked: boolean; deleted: boolean }> {
    const entry = await this.#read();
    const token = entry?.token ?? this.#current;
    let revoked = false;
    if (token !== undefined && this.#client.revoke !== undefined) {
      try {
        await this.#client.revoke(token, this.#ctx);
        revoked = true;
      } catch (err) {
        this.#warn('REVOKE_FAILED', 'revoking the token failed; it is deleted locally anyway', err);
      }
    }
    this.#current = undefined;
    this.#invalidated = undefined;
    await this.store.delete(this.key);
    return { revoked, deleted: entry !== undefined };
  }

  /**
   * Waits for a token request still in flight (a background refresh included: with rotating refresh
   * tokens, abandoning one would lose the new refresh token), then releases the store if this manager
   * owns it.
   */
  async close(): Promise<void> {
    while (this.#inflight !== undefined) await this.#inflight.catch(() => {});
    if (this.#ownsStore) await this.store.close();
  }

  #join(flight: Flight): Promise<Token> {
    if (this.#inflight !== undefined) return this.#inflight;
    const p = this.#fly(flight).finally(() => {
      if (this.#inflight === p) this.#inflight = undefined;
    });
    this.#inflight = p;
    return p;
  }

  #startEager(): void {
    this.#join({ force: false, eager: true, minTtlMs: 0 }).catch((err: unknown) => {
      this.#warn('EAGER_REFRESH_FAILED', 'background refresh failed; the current token is still served', err);
    });
  }

  #usable(token: Token | undefined, flight: Flight): token is Token {
    if (token === undefined || flight.force || token.accessToken === this.#invalidated) return false;
    const now = this.#clock();
    if (!isUsable(token, now, this.#skewMs, flight.minTtlMs)) return false;
    return !(flight.eager && isPastEagerPoint(token, now, this.#eagerFraction));
  }

  async #fly(flight: Flight): Promise<Token> {
    try {
      const token = await this.#acquire(flight);
      this.#lastError = undefined;
      return token;
    } catch (err) {
      this.#lastError =
        err instanceof TokenwardError
          ? err
          : new TokenwardError('ERR_NETWORK', err instanceof Error ? err.message : String(err), {
              cause: err,
            });
      // A token that is still valid keeps being served through an outage (not a rejected one).
      const cur = this.#current;
      if (!flight.eager && cur !== undefined && cur.accessToken !== this.#invalidated && !flight.force) {
        if (isUsable(cur, this.#clock(), this.#skewMs)) {
          this.#warn(
            'SERVED_STALE_MARGIN',
            'renewal failed; serving the current token, which is still valid',
            err,
          );
          return cur;
        }
      }
      if (err instanceof TokenwardError) throw err;
      throw this.#lastError;
    }
  }

  async #acquire(flight: Flight): Promise<Token> {
    let entry = await this.#read();
    if (this.#usable(entry?.token, flight)) {
      this.#counts.storeHits++;
      return this.#adopt(entry.token);
    }
    const lock = this.store.shared
      ? await this.store.lock(this.key, { ttlMs: this.#lockTtlMs, timeoutMs: this.#lockTimeoutMs })
      : undefined;
    try {
      if (lock !== undefined) {
        entry = await this.#read();
        if (this.#usable(entry?.token, flight)) {
          this.#counts.storeHits++;
          return this.#adopt(entry.token);
        }
      }
      const base = newest(entry?.token, this.#current);
      let token: Token;
      try {
        token = await this.#obtain(base);
      } catch (err) {
        // Re-read: another process may have rotated the refresh token since `entry` was read.
        await this.#recordError((await this.#read().catch(() => entry)) ?? entry, err);
        throw err;
      }
      await this.#write(token);
      // A token the server just issued is not the rejected one, even when the server handed back the
      // same string (many do while it is valid): clear the mark so the cache works again.
      this.#invalidated = undefined;
      return this.#adopt(token);
    } finally {
      await lock?.release();
    }
  }

  async #obtain(base: Token | undefined): Promise<Token> {
    const client = this.#client;
    if (
      base?.refreshToken !== undefined &&
      client.refresh !== undefined &&
      !refreshTokenExpired(base, this.#clock())
    ) {
      try {
        const t = await client.refresh(base, this.#ctx);
        this.#counts.refreshes++;
        return t;
      } catch (err) {
        if (!isRejectedRefresh(err)) throw err;
        // Another process may have rotated the refresh token (a lost lock): look once more.
        if (this.store.shared) {
          const again = (await this.#read())?.token;
          if (again?.refreshToken !== undefined && again.refreshToken !== base.refreshToken) {
            if (isUsable(again, this.#clock(), this.#skewMs) && again.accessToken !== this.#invalidated)
              return again;
            try {
              const t = await client.refresh(again, this.#ctx);
              this.#counts.refreshes++;
              return t;
            } catch (err2) {
              if (!isRejectedRefresh(err2)) throw err2;
            }
          }
        }
        this.#warn('REFRESH_REJECTED', 'the refresh token was rejected; using the primary grant', err);
      }
    }
    const t = await client.fetchToken(this.#ctx);
    this.#counts.grants++;
    return t;
  }

  #adopt(token: Token): Token {
    this.#current = token;
    if (this.#invalidated !== undefined && this.#invalidated !== token.accessToken)
      this.#invalidated = undefined;
    return token;
  }

  async #read(): Promise<StoredEntry | undefined> {
    const entry = await this.store.get(this.key);
    return entry;
  }

  async #write(token: Token): Promise<void> {
    const entry: StoredEntry = { v: 1, key: this.key, token, updatedAt: this.#clock() };
    if (this.profile !== undefined) entry.profile = this.profile;
    entry.identity = this.#client.identity;
    try {
      await this.store.set(entry);
    } catch (err) {
      this.#warn('STORE_WRITE_FAILED', `could not write the token to the ${this.store.kind} store`, err);
    }
  }

  async #recordError(entry: StoredEntry | undefined, err: unknown): Promise<void> {
    const e = err instanceof TokenwardError ? err : undefined;
    const record: StoredEntry = {
      ...(entry ?? { v: 1, key: this.key }),
      v: 1,
      key: this.key,
      lastError: {
        code: e?.code ?? 'ERR_UNKNOWN',
        message: e?.message ?? 'unknown error',
        at: this.#clock(),
      },
      updatedAt: this.#clock(),
    };
    if (this.profile !== undefined) record.profile = this.profile;
    record.identity = this.#client.identity;
    try {
      await this.store.set(record);
    } catch {
      // The error being reported matters more than the bookkeeping.
    }
  }

  #warn(code: string, message: string, cause?: unknown): void {
    try {
      this.#onWarning(cause === undefined ? { code, message } : { code, message, cause });
    } catch {
      // A throwing warning hook must not break token acquisition.
    }
  }
}

/** The token obtained last of two (by `obtainedAt`). */
function newest(a: Token | undefined, b: Token | undefined): Token | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return b.obtainedAt > a.obtainedAt ? b : a;
}

/** True when the server rejected a refresh token (so the primary grant should be tried). */
function isRejectedRefresh(err: unknown): boolean {
  return (
    err instanceof TokenEndpointError &&
    (err.error === 'invalid_grant' ||
      err.error === 'invalid_token' ||
      (err.error === undefined && err.status === 401))
  );
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  // The flight may fail after this caller gave up: that rejection is the other waiters' to see.
  p.catch(() => {});
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
