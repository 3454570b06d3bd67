/**
 * The TokenManager: cache → single flight → store lock → re-read → refresh → primary grant.
 *
 * One manager serves one token identity (one cache key). A fresh token in memory is returned with no I/O.
 * Otherwise one flight per manager does the work; with a shared store it takes the store's lock and
 * re-reads first, because another process may have refreshed meanwhile. Failures never destroy what is
 * cached: a malformed response is not written, a failed refresh keeps the refresh token (a refresh token
 * the server rejected is dropped), and a token that is still valid keeps being served while the token
 * endpoint is down.
 *
 * Outages do not serialise callers: a renewal while a still-valid token is at hand (eager, or asked for
 * by `minTtlMs`) is *optional* and gets a short time budget; a failed renewal is recorded in the store
 * entry (`lastError`, with `notBefore` when the server sent `Retry-After`), and every caller sharing the
 * store backs off from it; a caller that waited for the lock while its holder failed takes that failure
 * as the answer instead of repeating the whole retry cycle. See docs/architecture.md, "Renewal under
 * outages".
 * @module
 */

import type { DpopSigner } from '../dpop/signer.js';
import {
  ClientSetupError,
  InvalidTokenResponseError,
  LockTimeoutError,
  LoginRequiredError,
  NetworkError,
  StoreError,
  TokenEndpointError,
  TokenwardError,
  type TokenwardErrorCode,
  type TokenwardWarningCode,
  UnsupportedError,
  UpstreamUnavailableError,
  type WarningHandler,
} from '../errors.js';
import type { ClientCertificate } from '../http/client-cert.js';
import type { IntrospectionResult } from '../introspection.js';
import {
  inFlight,
  publishFlight,
  publishLockWait,
  publishRefresh,
  publishRenewalFailed,
  publishRetry401,
  publishServed,
  publishServedStale,
} from '../observe/channels.js';
import { countFailure, countRenewal } from '../observe/counts.js';
import type { TokenTypeHint } from '../revocation.js';
import type { SignInOptions } from '../signin/types.js';
import type { LastError, LockWaitRead, StoredEntry, StoreLock, TokenStore } from '../stores/types.js';
import {
  httpBudgetMs,
  type TokenClient,
  type TokenIdentity,
  type TokenRequestContext,
} from '../token-client.js';
import {
  DEFAULT_FRESHNESS,
  isPastEagerPoint,
  isUsable,
  refreshTokenExpired,
  type Token,
} from '../token-state.js';

/** Default lease of the store lock, ms: the store renews it while its holder works (about every third of it). */
export const DEFAULT_LOCK_LEASE_MS = 10_000;
/** Default time budget of an optional renewal (eager, or for `minTtlMs` while the token is valid), ms. */
export const DEFAULT_OPTIONAL_BUDGET_MS = 10_000;
/** Default least time between a failed renewal and the next optional one, for every caller of the store, ms. */
export const DEFAULT_RETRY_GAP_MS = 5_000;
/** The longest `Retry-After` remembered in the store (as `notBefore`), ms: one hour. */
export const MAX_REMEMBERED_RETRY_AFTER_MS = 3_600_000;

/**
 * How long a caller waits for another caller's lock by default: two token requests at their worst
 * (`budgetMs` each — a rejected refresh and then the primary grant can both run under one lock) plus one
 * lease (a holder that died just before releasing).
 */
export function defaultLockWaitMs(budgetMs: number, leaseMs: number): number {
  return 2 * budgetMs + leaseMs;
}

export type { TokenwardWarning } from '../errors.js';

/**
 * A token client built on first use: the manager calls `create` once (shared by concurrent callers) on
 * its first grant, refresh or revocation, so a manager that finds its token in the store never builds
 * the client nor resolves its secrets. A failure of `create` is thrown to the caller (a
 * {@link TokenwardError} as it is, anything else as a {@link ClientSetupError}) and changes nothing
 * cached; the next call tries again.
 */
export interface LazyTokenClient {
  /** The identity of the client `create` builds (it must be the same: checked when it is built). */
  readonly identity: TokenIdentity;
  /** The client's `budgetMs`, needed before it is built (lock wait, renewal budget). Default: the HTTP defaults'. */
  readonly budgetMs?: number;
  /** Builds the client (resolves secrets, loads the grant's modules). */
  create(): Promise<TokenClient>;
  /**
   * True when the client `create` builds presents a client certificate (the profile has `tls_cert` /
   * `tls_key`): {@link TokenManager.clientCertificate} then builds the client to hand its certificate
   * on. Absent or false: the manager answers `undefined` without building it.
   */
  readonly hasClientCert?: boolean;
}

/**
 * When a renewal before expiry (past the eager-refresh point) runs:
 * - `background` (default, for long-lived processes): the caller gets the current token at once and
 *   the renewal runs behind it;
 * - `foreground` (for short-lived processes such as the CLI): the renewal runs in the caller's flight
 *   and is awaited before `getToken` returns (if it fails, the still-valid token is served with an
 *   `EAGER_REFRESH_FAILED` warning), so no renewal is ever left running when the process exits — one
 *   that died with the process could use up a rotating refresh token without storing its successor.
 */
export type RefreshMode = 'background' | 'foreground';

/**
 * Options of a {@link TokenManager}.
 *
 * `skewMs` and `eagerRefreshFraction` come from a profile's `skew_seconds` and `eager_refresh`, which
 * `createTokenManager` has validated with the profile schema: the manager trusts them. The manager's own
 * settings (lock, budget and back-off, in ms) are checked here and throw a `RangeError` naming the
 * option.
 */
export interface TokenManagerOptions {
  /** Talks to the token endpoint: a built client, or one built on first use ({@link LazyTokenClient}). */
  client: TokenClient | LazyTokenClient;
  /** The store key. Computed by the caller from the profile and the client's identity. */
  key: string;
  /** Where tokens are kept. Default: a new in-memory store. */
  store: TokenStore;
  /**
   * The DPoP signer of the tokens (a profile with `dpop`; `createTokenManager` makes it): the request
   * integrations send its proofs with the tokens.
   */
  dpop?: DpopSigner;
  /** Profile name, kept with stored entries for `status`. */
  profile?: string;
  /** The key changes with the identity (a rotating subject token): see {@link Rekey}. */
  rekey?: Rekey;
  /** Safety margin before expiry in ms. Default 10,000. */
  skewMs?: number;
  /** Fraction of the lifetime, in (0, 1], after which a renewal before expiry is due. Default 0.8; 1 disables. */
  eagerRefreshFraction?: number;
  /** Whether that renewal runs behind the caller or is awaited by it. Default `background`. */
  refreshMode?: RefreshMode;
  /**
   * Least time between two optional renewal attempts, ms: between two background refreshes of this
   * manager, and after a failed renewal recorded in the store, for every caller sharing it (other
   * processes too). Default 5,000.
   */
  eagerRetryGapMs?: number;
  /**
   * Time budget of an optional renewal, ms: one made while a still-valid token is at hand (a background
   * refresh, or a `minTtlMs` the current token does not meet). Waiting for the lock and the token
   * requests share it; when it runs out the renewal is abandoned and the valid token served.
   * Default 10,000 (never more than the client's `budgetMs`).
   */
  optionalBudgetMs?: number;
  /** Lease of the store lock, ms: the store renews it while the holder works; a dead holder frees the key within one lease. Default 10,000. */
  lockLeaseMs?: number;
  /**
   * How long to wait for another caller's lock, ms. Default {@link defaultLockWaitMs} of the client's
   * `budgetMs` (50 s with the HTTP defaults) and the lease: 110 s.
   */
  lockTimeoutMs?: number;
  /**
   * How long {@link TokenManager.close} waits for a flight still running before it aborts its HTTP
   * request and stops waiting, ms. Default: the lock wait ({@link TokenManagerOptions.lockTimeoutMs}).
   */
  closeTimeoutMs?: number;
  /** Clock in ms since the epoch. Default `Date.now`. */
  clock?: () => number;
  /** Receives non-fatal problems. Default: ignored. */
  onWarning?: WarningHandler;
  /** Close the store when the manager is closed. Default false. */
  ownsStore?: boolean;
}

/** Default least time between two checks of a {@link Rekey}, ms. */
export const DEFAULT_REKEY_INTERVAL_MS = 1_000;

/**
 * An identity that can change while the manager lives: the subject token of a delegated grant
 * (`token_exchange`, `jwt_bearer`) rotates, and the exchanged token is cached under the subject's
 * identity. The manager asks {@link Rekey.current} at most once per {@link Rekey.intervalMs} (of its
 * clock) when it is asked for a token; when the key differs, it lets go of the token in memory (it was
 * obtained for the earlier subject, which stays stored under its own key) and carries on under the new
 * key: a token another process stored there, else a new one.
 */
export interface Rekey {
  /**
   * The store key and identity of the tokens as things are now. A failure leaves the key as it is (the
   * token request, if one is needed, reports the problem).
   */
  current(): Promise<{ key: string; identity: TokenIdentity }>;
  /** Least time between two checks, ms. Default {@link DEFAULT_REKEY_INTERVAL_MS}. */
  intervalMs?: number;
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

/** What one flight learnt while it worked. */
interface FlightState {
  /** A still-valid token that may be served if the renewal fails (none for force or a rejected token). */
  valid?: Token | undefined;
  /** The error behind a token served without renewing (a recorded failure still in force). */
  served?: TokenwardError | undefined;
  /** Refresh tokens the server rejected in this flight (and no newer one was found). */
  dead: Set<string>;
}

/** What to do after reading the store: go to the network, serve a valid token, or fail with a recorded error. */
type Plan =
  | { kind: 'go'; valid: Token | undefined }
  | { kind: 'serve'; token: Token; error?: TokenwardError }
  | { kind: 'fail'; error: TokenwardError };

/** The effective parameters of a manager (after defaults and derivation), ms. */
export interface TokenManagerParameters {
  /** The client's HTTP budget for one token request. */
  budgetMs: number;
  /** Budget of an optional renewal. */
  optionalBudgetMs: number;
  /** Least time between optional renewal attempts after a failure. */
  retryGapMs: number;
  /** Lease of the store lock. */
  lockLeaseMs: number;
  /** How long a caller waits for the store lock. */
  lockTimeoutMs: number;
  /** How long `close()` waits for a flight. */
  closeTimeoutMs: number;
}

/** Gets, caches and renews tokens for one identity. See the module documentation for the flow. */
export class TokenManager {
  /** The store key of this manager's token (the key of its identity now: see {@link Rekey}). */
  #key: string;
  /** The profile name, if any. */
  readonly profile: string | undefined;
  // Fields are few on purpose: a multi-tenant process holds a manager per tenant, most of them idle on a
  // cached token. What only a request in progress needs is in #busy, what is rare in #rare, and what
  // managers configured alike share (the store included) in #s; each costs a field only when made.
  /** The manager's settings, store and DPoP signer (shared with other managers that have the same ones). */
  readonly #s: Settings;
  /**
   * The client: as given (built, or a {@link LazyTokenClient} until its first use, then the client it
   * built, whose identity was checked equal). Its identity is this manager's.
   */
  #client: TokenClient | LazyTokenClient;
  #current: Token | undefined;
  #inflight: Promise<Token> | undefined;
  #grants = 0;
  #refreshes = 0;
  #storeHits = 0;
  /** What a token request or a client build in progress needs; dropped when none is (see {@link Busy}). */
  #busy: Busy | undefined;
  /** The manager's rarely set state (see {@link Rare}), made when first set. */
  #rare: Rare | undefined;

  constructor(options: TokenManagerOptions) {
    const c = options.client;
    this.#client = c;
    this.#key = options.key;
    this.profile = options.profile;
    const skewMs = options.skewMs ?? DEFAULT_FRESHNESS.skewMs;
    const eagerFraction = options.eagerRefreshFraction ?? DEFAULT_FRESHNESS.eagerRefreshFraction;
    const foreground = options.refreshMode === 'foreground';
    const eagerGapMs = nonNegative(options.eagerRetryGapMs, DEFAULT_RETRY_GAP_MS, 'eagerRetryGapMs');
    const clientBudget = c.budgetMs;
    const budgetMs =
      typeof clientBudget === 'number' && Number.isFinite(clientBudget) && clientBudget > 0
        ? clientBudget
        : httpBudgetMs();
    const optionalBudgetMs = positive(
      options.optionalBudgetMs,
      Math.min(DEFAULT_OPTIONAL_BUDGET_MS, budgetMs),
      'optionalBudgetMs',
    );
    const lockLeaseMs = positive(options.lockLeaseMs, DEFAULT_LOCK_LEASE_MS, 'lockLeaseMs');
    const lockTimeoutMs = nonNegative(
      options.lockTimeoutMs,
      defaultLockWaitMs(budgetMs, lockLeaseMs),
      'lockTimeoutMs',
    );
    const closeTimeoutMs = nonNegative(options.closeTimeoutMs, lockTimeoutMs, 'closeTimeoutMs');
    const clock = options.clock ?? Date.now;
    const onWarning = options.onWarning ?? ignoreWarning;
    const ownsStore = options.ownsStore ?? false;
    this.#s = shareSettings({
      foreground,
      skewMs,
      eagerFraction,
      eagerGapMs,
      budgetMs,
      optionalBudgetMs,
      lockLeaseMs,
      lockTimeoutMs,
      closeTimeoutMs,
      clock,
      onWarning,
      ownsStore,
      store: options.store,
      dpop: options.dpop,
    });
    if (options.rekey !== undefined) {
      const rare = this.#more();
      rare.rekey = options.rekey;
      rare.rekeyIntervalMs = nonNegative(
        options.rekey.intervalMs,
        DEFAULT_REKEY_INTERVAL_MS,
        'rekey.intervalMs',
      );
      // The caller computed `key` just now.
      rare.checkedAt = clock();
    }
  }

  /** The store key of this manager's token: the key of its identity now (see {@link Rekey}). */
  get key(): string {
    return this.#key;
  }

  /** The store in use. */
  get store(): TokenStore {
    return this.#s.store;
  }

  /** The DPoP signer of the tokens (a profile with `dpop`), else undefined: bearer tokens. */
  get dpop(): DpopSigner | undefined {
    return this.#s.dpop;
  }

  /**
   * The client certificate of the profile (mutual TLS, RFC 8705: `tls_cert` / `tls_key`), as the token
   * client loaded and checked it, else `undefined`. The request integrations present it to the allowed
   * origins when they are given no `clientCert` of their own, so that certificate-bound tokens reach the
   * API over the certificate they are bound to.
   *
   * Asynchronous because the certificate is the token client's: a manager that found its token in the
   * store has not built its client yet, and builds it here (once, shared with the token requests; the
   * secrets are resolved once). A profile without a certificate answers at once, building nothing.
   * @throws what building the client throws (a `ConfigError` naming `tls_cert` / `tls_key`…).
   */
  async clientCertificate(): Promise<ClientCertificate | undefined> {
    const c = this.#client;
    if (isLazy(c) && c.hasClientCert !== true) return undefined;
    return (await this.#loadClient()).clientCert;
  }

  /** The rare state, made on first use. */
  #more(): Rare {
    this.#rare ??= new Rare();
    return this.#rare;
  }

  /** The state of work in progress, made on first use. */
  #busyNow(): Busy {
    this.#busy ??= new Busy();
    return this.#busy;
  }

  /** The access token an API rejected (see {@link invalidate}), if any. */
  get #invalidated(): string | undefined {
    return this.#rare?.invalidated;
  }

  set #invalidated(v: string | undefined) {
    if (v !== undefined || this.#rare !== undefined) this.#more().invalidated = v;
  }

  /** Drops {@link #busy} once nothing uses it (an aborted `close()` controller is kept: see {@link Busy}). */
  #idle(b: Busy): void {
    if (
      b.requests === 0 &&
      b.building === undefined &&
      b.closing?.signal.aborted !== true &&
      this.#busy === b
    )
      this.#busy = undefined;
  }

  /** The non-secret identity of the tokens this manager obtains. */
  get identity(): TokenIdentity {
    return this.#rare?.identity ?? this.#client.identity;
  }

  /**
   * The token client: built on the first call for a {@link LazyTokenClient} (once, shared by concurrent
   * callers; a failure is not remembered).
   */
  #loadClient(): Promise<TokenClient> {
    const given = this.#client;
    if (!isLazy(given)) return Promise.resolve(given);
    const busy = this.#busyNow();
    busy.building ??= (async () => {
      try {
        let built: TokenClient;
        try {
          built = await given.create();
        } catch (err) {
          if (err instanceof TokenwardError) throw err;
          throw new ClientSetupError(
            `the token client could not be built: ${err instanceof Error ? err.message : String(err)}`,
            { cause: err },
          );
        }
        if (!sameIdentity(built.identity, given.identity)) {
          throw new ClientSetupError(
            'the token client that was built has another identity than the one the manager was given; its tokens would be cached under the wrong key',
          );
        }
        this.#client = built;
        return built;
      } finally {
        busy.building = undefined;
        this.#idle(busy);
      }
    })();
    return busy.building;
  }

  /** How many primary grants and refresh grants this manager made, and how often the store answered. */
  get counts(): Readonly<{ grants: number; refreshes: number; storeHits: number }> {
    return { grants: this.#grants, refreshes: this.#refreshes, storeHits: this.#storeHits };
  }

  /** The effective lock, budget and back-off parameters (defaults applied and derived), ms. */
  get parameters(): Readonly<TokenManagerParameters> {
    return {
      budgetMs: this.#s.budgetMs,
      optionalBudgetMs: this.#s.optionalBudgetMs,
      retryGapMs: this.#s.eagerGapMs,
      lockLeaseMs: this.#s.lockLeaseMs,
      lockTimeoutMs: this.#s.lockTimeoutMs,
      closeTimeoutMs: this.#s.closeTimeoutMs,
    };
  }

  /**
   * The last error of a flight: the error of the last flight if it failed, or the failure behind a
   * token it served instead of a new one (a renewal that failed, or one recorded in the store that is
   * still being backed off from).
   */
  get lastError(): TokenwardError | undefined {
    return this.#rare?.lastError;
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
    return this.#s.foreground ? this.#getForeground(options) : this.#get(options);
  }

  #get(options: GetTokenOptions): Promise<Token> {
    const rare = this.#rare;
    if (
      rare?.rekey !== undefined &&
      this.#inflight === undefined &&
      this.#s.clock() - (rare.checkedAt ?? Number.NEGATIVE_INFINITY) >= rare.rekeyIntervalMs
    ) {
      if (options.signal?.aborted === true) return Promise.reject(options.signal.reason);
      const p = this.#recheck(rare).then(() => this.#serve(options));
      return options.signal === undefined ? p : raceAbort(p, options.signal);
    }
    return this.#serve(options);
  }

  /**
   * Asks the {@link Rekey} for the key of the identity now (one check shared by concurrent callers) and,
   * when it changed, moves to it once no flight is running: the token in memory was the earlier
   * identity's (it stays stored under that key) and is let go.
   */
  #recheck(rare: Rare): Promise<void> {
    const rekey = rare.rekey;
    if (rekey === undefined) return Promise.resolve();
    rare.checking ??= (async () => {
      try {
        rare.checkedAt = this.#s.clock();
        let next: { key: string; identity: TokenIdentity };
        try {
          next = await rekey.current();
        } catch {
          return; // the token request, if one is needed, reports it
        }
        if (next.key === this.#key) return;
        // A flight writes under the key it started with: wait for it (its token is the old identity's).
        while (this.#inflight !== undefined) await this.#inflight.catch(() => {});
        this.#key = next.key;
        rare.identity = next.identity;
        this.#current = undefined;
        this.#invalidated = undefined;
      } finally {
        rare.checking = undefined;
      }
    })();
    return rare.checking;
  }

  #serve(options: GetTokenOptions): Promise<Token> {
    const cur = this.#current;
    if (cur !== undefined && options.force !== true) {
      const now = this.#s.clock();
      if (cur.accessToken !== this.#invalidated && this.#fits(cur, now, options.minTtlMs ?? 0)) {
        if (!this.#s.foreground && this.#inflight === undefined && this.#eagerDue(cur, now)) {
          this.#more().lastEagerAttempt = now;
          this.#startEager();
        }
        publishServed(this, 'memory', cur, now);
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

  /**
   * Foreground mode: a token past its eager-refresh point is renewed in the caller's flight, and the
   * renewal is awaited; when it fails, the still-valid token is served with a warning.
   */
  async #getForeground(options: GetTokenOptions): Promise<Token> {
    const asked = this.#s.clock();
    const obtained = this.#grants + this.#refreshes;
    const token = await this.#get(options);
    const now = this.#s.clock();
    if (options.force === true || !isPastEagerPoint(token, now, this.#s.eagerFraction)) return token;
    // A token obtained after this call began (by this manager, or by another process that wrote it to
    // the store meanwhile) is as new as a renewal would be: it is not renewed again in the same call,
    // however long that call took (a short lifetime, a slow machine).
    if (this.#grants + this.#refreshes !== obtained || token.obtainedAt > asked) return token;
    // A renewal under way is joined (concurrent callers wait for the same one); a new one is started
    // unless one was tried within the retry gap.
    if (this.#inflight === undefined) {
      if (!this.#eagerDue(token, now)) return token;
      this.#more().lastEagerAttempt = now;
    }
    const renewal = this.#join({ force: false, eager: true, minTtlMs: 0 });
    try {
      return await (options.signal === undefined ? renewal : raceAbort(renewal, options.signal));
    } catch (err) {
      if (options.signal?.aborted === true) throw err;
      // Said once per failed renewal, however many callers waited for it.
      const rare = this.#more();
      rare.warnedFlights ??= new WeakSet();
      if (!rare.warnedFlights.has(renewal)) {
        rare.warnedFlights.add(renewal);
        this.#warn(
          'EAGER_REFRESH_FAILED',
          'renewal before expiry failed; the current token is still served',
          err,
        );
      }
      return token;
    }
  }

  /** True when `token` is past its eager-refresh point and no optional renewal was tried within the gap. */
  #eagerDue(token: Token, now: number): boolean {
    return (
      isPastEagerPoint(token, now, this.#s.eagerFraction) &&
      (this.#rare?.lastEagerAttempt === undefined || now - this.#rare.lastEagerAttempt >= this.#s.eagerGapMs)
    );
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
    if (this.#invalidated !== target) publishRetry401(this, cur);
    this.#invalidated = target;
  }

  /**
   * Signs a person in with the profile's interactive grant (see `login()`) and stores the token. The
   * sign-in runs under the store's lock, so a concurrent `getToken()` in another process waits for it
   * and then reads the new token instead of failing. With `reuse`, a token another caller stored while
   * this one waited for the lock is taken instead of signing in again. `getToken()` itself never signs
   * in: for an interactive profile it throws `LoginRequiredError` when no refresh token works.
   *
   * @throws UnsupportedError when the profile's grant is not interactive; the sign-in's errors (nothing
   * is stored then).
   */
  async signIn(options: SignInOptions & { reuse?: boolean } = {}): Promise<Token> {
    const client = await this.#loadClient();
    if (client.signIn === undefined) {
      throw new UnsupportedError(
        'this profile has no interactive grant: set grant = "authorization_code" or "device_code" to sign in',
      );
    }
    let lock: StoreLock | undefined;
    if (this.store.shared) {
      lock = await this.store.lock(this.key, {
        ttlMs: this.#s.lockLeaseMs,
        timeoutMs: this.#s.lockTimeoutMs,
      });
    }
    try {
      const entry = await this.#read();
      if (options.reuse === true && entry?.token !== undefined) {
        const t = entry.token;
        if (isUsable(t, this.#s.clock(), this.#s.skewMs) && t.accessToken !== this.#invalidated)
          return this.#adopt(t);
      }
      const { reuse: _reuse, ...signInOptions } = options;
      const signal = this.#requestStarted();
      let token: Token;
      try {
        token = await client.signIn(
          { now: this.#s.clock, signal: options.signal ? AbortSignal.any([signal, options.signal]) : signal },
          signInOptions,
        );
      } finally {
        this.#requestEnded();
      }
      this.#grants++;
      publishRefresh(this, false, token);
      await this.#write(token, entry);
      this.#invalidated = undefined;
      return this.#adopt(token);
    } finally {
      await lock?.release();
    }
  }

  /**
   * Introspects a token (RFC 7662) with the profile's client authentication: `token`, or by default the
   * current access token (the cached one, or a new one when none is usable).
   * @throws UnsupportedError when the provider or server has no introspection.
   * @throws TokenEndpointError / NetworkError / InvalidTokenResponseError from the introspection request.
   */
  async introspect(token?: string, tokenTypeHint?: TokenTypeHint): Promise<IntrospectionResult> {
    const client = await this.#loadClient();
    if (client.introspect === undefined) {
      throw new UnsupportedError('this provider has no token introspection (RFC 7662)');
    }
    const t = token ?? (await this.getToken()).accessToken;
    const signal = this.#requestStarted();
    try {
      return await client.introspect(t, { now: this.#s.clock, signal }, tokenTypeHint);
    } finally {
      this.#requestEnded();
    }
  }

  /**
   * Logs out: revokes the token where the server supports it (refresh token first, then the access
   * token; with a DPoP proof for a profile with `dpop`) and deletes it from memory and the store, with
   * the profile's DPoP key pair. Revocation failures are reported, not thrown.
   */
  async logout(): Promise<{ revoked: boolean; deleted: boolean }> {
    const entry = await this.#read();
    const token = entry?.token ?? this.#current;
    let revoked = false;
    if (token !== undefined) {
      try {
        const client = await this.#loadClient();
        if (client.revoke !== undefined) {
          const signal = this.#requestStarted();
          try {
            await client.revoke(token, { now: this.#s.clock, signal });
          } finally {
            this.#requestEnded();
          }
          revoked = true;
        }
      } catch (err) {
        this.#warn('REVOKE_FAILED', 'revoking the token failed; it is deleted locally anyway', err);
      }
    }
    this.#current = undefined;
    this.#invalidated = undefined;
    await this.store.delete(this.key);
    // The key pair the revoked tokens were bound to goes too (a new one is made by the next sign-in).
    await this.#s.dpop?.forget();
    return { revoked, deleted: entry !== undefined };
  }

  /**
   * Waits for a token request still in flight (a background refresh included: with rotating refresh
   * tokens, abandoning one would lose the new refresh token), then releases the store if this manager
   * owns it. Bounded: after `closeTimeoutMs` a flight still running (stuck on a store that stopped
   * answering, say) has its token request aborted and is left behind with a `CLOSE_TIMEOUT` warning;
   * closing the store gets what is left of that time (at least a second).
   */
  async close(): Promise<void> {
    const deadline = Date.now() + this.#s.closeTimeoutMs;
    while (this.#inflight !== undefined) {
      const flight = this.#inflight;
      if (!(await settlesWithin(flight, deadline - Date.now()))) {
        // Stuck (a store that stopped answering, say): stop its token request and stop waiting.
        const busy = this.#busyNow();
        busy.closing ??= new AbortController();
        busy.closing.abort(new Error('the token manager was closed'));
        this.#warn(
          'CLOSE_TIMEOUT',
          `close() waited ${this.#s.closeTimeoutMs} ms for a token request still in flight and gave up on it`,
        );
        break;
      }
    }
    if (this.#s.ownsStore) {
      const closing = this.store.close();
      // At least a second for the store, even when the flight used up the whole wait.
      if (!(await settlesWithin(closing, Math.max(1_000, deadline - Date.now()), true))) {
        closing.catch(() => {});
        this.#warn(
          'CLOSE_TIMEOUT',
          `closing the ${this.store.kind} store did not finish in time; left behind`,
        );
      }
    }
  }

  #join(flight: Flight): Promise<Token> {
    publishFlight(this, this.#inflight !== undefined, flight);
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

  /**
   * True when `token` may be used now with `minTtlMs` of life left. A `minTtlMs` that even a new token
   * could not meet (at least the token's usable lifetime: its lifetime less the safety margin) would
   * renew on every call; it is cut to half that lifetime instead, with a warning once per manager.
   */
  #fits(token: Token, now: number, minTtlMs: number): boolean {
    let min = minTtlMs;
    if (min > 0) {
      const usableLife = token.expiresAt - token.obtainedAt - this.#s.skewMs;
      if (min >= usableLife) {
        min = Math.max(0, usableLife / 2);
        if (this.#rare?.minTtlWarned !== true) {
          this.#more().minTtlWarned = true;
          this.#warn(
            'MIN_TTL_EXCEEDS_LIFETIME',
            `the minimum TTL asked for (${seconds(minTtlMs)}) is not shorter than the token lifetime the server gives (${seconds(usableLife)} after the safety margin), so no new token could meet it; tokens are renewed once half their lifetime is left instead`,
          );
        }
      }
    }
    return isUsable(token, now, this.#s.skewMs, min);
  }

  #usable(token: Token | undefined, flight: Flight): token is Token {
    if (token === undefined || flight.force || token.accessToken === this.#invalidated) return false;
    const now = this.#s.clock();
    if (!this.#fits(token, now, flight.minTtlMs)) return false;
    return !(flight.eager && isPastEagerPoint(token, now, this.#s.eagerFraction));
  }

  /** The still-valid token a renewal may fall back to (none for force or a token an API rejected). */
  #servable(entry: StoredEntry | undefined, flight: Flight): Token | undefined {
    if (flight.force) return undefined;
    const t = newest(entry?.token, this.#current);
    if (t === undefined || t.accessToken === this.#invalidated) return undefined;
    return isUsable(t, this.#s.clock(), this.#s.skewMs) ? t : undefined;
  }

  /**
   * Decides from a store entry whether to go to the network. A failure recorded with `notBefore` in the
   * future (the server's `Retry-After`) stops every caller; a failure within the retry gap stops optional
   * renewals; a failure recorded while this caller waited for the lock (`before` is the entry read
   * before waiting: its record differs) is the holder's answer — unless it was an optional renewal cut
   * short and this caller needs a token.
   */
  #plan(entry: StoredEntry | undefined, flight: Flight, before?: { entry: StoredEntry | undefined }): Plan {
    const valid = this.#servable(entry, flight);
    const last = entry?.lastError;
    if (last !== undefined) {
      const now = this.#s.clock();
      const settle = (): Plan => {
        const error = rebuildError(last, now, this.profile);
        return valid === undefined ? { kind: 'fail', error } : { kind: 'serve', token: valid, error };
      };
      if (last.notBefore !== undefined && last.notBefore > now) return settle();
      if (valid !== undefined && now - last.at < this.#s.eagerGapMs) return settle();
      if (
        before !== undefined &&
        recordedSince(before.entry, entry) &&
        (valid !== undefined || last.optional !== true)
      )
        return settle();
    }
    return { kind: 'go', valid };
  }

  async #fly(flight: Flight): Promise<Token> {
    const state: FlightState = { dead: new Set() };
    try {
      const token = await inFlight(this, () => this.#acquire(flight, state));
      if (state.served !== undefined || this.#rare !== undefined) this.#more().lastError = state.served;
      return token;
    } catch (err) {
      const error =
        err instanceof TokenwardError
          ? err
          : new TokenwardError('ERR_NETWORK', err instanceof Error ? err.message : String(err), {
              cause: err,
            });
      this.#more().lastError = error;
      // A token that is still valid keeps being served through an outage (not a rejected one).
      const cur = state.valid ?? this.#current;
      if (!flight.eager && cur !== undefined && cur.accessToken !== this.#invalidated && !flight.force) {
        if (isUsable(cur, this.#s.clock(), this.#s.skewMs)) {
          this.#warn(
            'SERVED_STALE_MARGIN',
            'renewal failed; serving the current token, which is still valid',
            err,
          );
          publishServedStale(this, cur, err);
          return this.#adopt(this.#withoutDead(cur, state));
        }
      }
      if (err instanceof TokenwardError) throw err;
      throw error;
    }
  }

  #settle(plan: Exclude<Plan, { kind: 'go' }>, state: FlightState): Token {
    if (plan.kind === 'fail') throw plan.error;
    state.served = plan.error;
    if (plan.error !== undefined) publishServedStale(this, plan.token, plan.error);
    return this.#adopt(plan.token);
  }

  async #acquire(flight: Flight, state: FlightState): Promise<Token> {
    let entry = await this.#read();
    if (this.#usable(entry?.token, flight)) {
      this.#storeHits++;
      publishServed(this, 'store', entry.token, this.#s.clock());
      return this.#adopt(entry.token);
    }
    let plan = this.#plan(entry, flight);
    if (plan.kind !== 'go') return this.#settle(plan, state);
    state.valid = plan.valid;
    // An optional renewal has one deadline for the lock wait and the token requests together.
    const deadline = plan.valid === undefined ? undefined : Date.now() + this.#s.optionalBudgetMs;
    let lock: StoreLock | undefined;
    const before = { entry };
    if (this.store.shared) {
      const timeoutMs =
        deadline === undefined
          ? this.#s.lockTimeoutMs
          : Math.max(1, Math.min(this.#s.lockTimeoutMs, deadline - Date.now()));
      const lockWaitStart = performance.now();
      // While waiting, the entry is looked at again after each wake-up or poll: a token the holder stored
      // that passes the same test as under the lock (#usable, the #invalidated mark) is served at once,
      // without the lock (the stores write atomically, so reading needs none).
      let found: Token | undefined;
      // A store that read the entry with the wake-up hands it over (LockWaitRead): no second read.
      const satisfied = async (read?: LockWaitRead): Promise<boolean> => {
        const e = read === undefined ? await this.#read() : read.entry;
        if (!this.#usable(e?.token, flight)) return false;
        found = e.token;
        return true;
      };
      try {
        lock = await this.store.lock(this.key, { ttlMs: this.#s.lockLeaseMs, timeoutMs, satisfied });
      } catch (err) {
        publishLockWait(this, lockWaitStart, false);
        // Another caller is renewing and the token in hand is still valid: serve it, quietly.
        if (deadline !== undefined && plan.valid !== undefined && err instanceof LockTimeoutError)
          return this.#adopt(plan.valid);
        throw err;
      }
      if (lock === undefined) {
        if (found === undefined) {
          // A store that ended the wait without being told to: nothing was taken, nothing is known.
          publishLockWait(this, lockWaitStart, false);
          throw new StoreError(
            this.store.kind,
            `the ${this.store.kind} store's lock() resolved without a lock while the caller still needed it`,
          );
        }
        publishLockWait(this, lockWaitStart, false, true);
        this.#storeHits++;
        publishServed(this, 'store', found, this.#s.clock());
        return this.#adopt(found);
      }
      publishLockWait(this, lockWaitStart, true);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    // From here on the lock, if any, is released on every path: a token found in the store, a failure
    // recorded by the holder we waited for, a new token, an error.
    try {
      if (lock !== undefined) {
        entry = await this.#read();
        if (this.#usable(entry?.token, flight)) {
          this.#storeHits++;
          publishServed(this, 'store', entry.token, this.#s.clock());
          return this.#adopt(entry.token);
        }
        plan = this.#plan(entry, flight, before);
        if (plan.kind !== 'go') return this.#settle(plan, state);
        state.valid = plan.valid;
      }
      const budget = new AbortController();
      if (deadline !== undefined && plan.valid !== undefined) {
        timer = setTimeout(
          () => budget.abort(new Error('optional renewal budget used up')),
          Math.max(1, deadline - Date.now()),
        );
        timer.unref();
      }
      const optional = timer !== undefined;
      const base = newest(entry?.token, this.#current);
      // Built (a lazy client) before the token request, outside it: a failure to build the client is
      // not the token endpoint's and is not recorded in the store.
      const client = await this.#loadClient();
      let token: Token;
      try {
        const ctx: TokenRequestContext = {
          now: this.#s.clock,
          signal: AbortSignal.any([this.#requestStarted(), budget.signal]),
        };
        try {
          token = await this.#obtain(client, base, ctx, state);
        } finally {
          this.#requestEnded();
        }
      } catch (err) {
        const failure = budget.signal.aborted ? this.#budgetError(err) : err;
        publishRenewalFailed(this, failure, optional);
        // Re-read: another process may have rotated the refresh token since `entry` was read.
        // Stryker disable next-line ArrowFunction: `() => undefined` falls back to `entry` too, through `?? entry`
        await this.#recordError((await this.#read().catch(() => entry)) ?? entry, failure, state, optional);
        throw failure;
      }
      await this.#write(token, entry);
      // A minimum TTL that even this brand-new token does not meet is said so now (once).
      if (flight.minTtlMs > 0) this.#fits(token, this.#s.clock(), flight.minTtlMs);
      // A token the server just issued is not the rejected one, even when the server handed back the
      // same string (many do while it is valid): clear the mark so the cache works again.
      this.#invalidated = undefined;
      return this.#adopt(token);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      await lock?.release();
    }
  }

  /** Counts a token request in and returns the signal `close()` aborts when it gives up waiting for it. */
  #requestStarted(): AbortSignal {
    const busy = this.#busyNow();
    busy.requests++;
    busy.closing ??= new AbortController();
    return busy.closing.signal;
  }

  /** Counts a token request out: the last one drops the closing controller (unless `close()` aborted it). */
  #requestEnded(): void {
    const busy = this.#busy;
    if (busy === undefined) return;
    if (--busy.requests === 0 && busy.closing?.signal.aborted === false) busy.closing = undefined;
    this.#idle(busy);
  }

  /** The error of an optional renewal that ran out of its budget. */
  #budgetError(err: unknown): TokenwardError {
    const message = `an optional renewal did not finish within ${this.#s.optionalBudgetMs} ms and was abandoned; the current token is still valid`;
    if (err instanceof NetworkError) return new NetworkError(err.url, message, { timeout: true, cause: err });
    return new TokenwardError('ERR_TIMEOUT', message, { cause: err });
  }

  async #obtain(
    client: TokenClient,
    base: Token | undefined,
    ctx: TokenRequestContext,
    state: FlightState,
  ): Promise<Token> {
    if (
      base?.refreshToken !== undefined &&
      client.refresh !== undefined &&
      !refreshTokenExpired(base, this.#s.clock())
    ) {
      try {
        const t = await client.refresh(base, ctx);
        this.#refreshes++;
        publishRefresh(this, true, t);
        return t;
      } catch (err) {
        if (!isRejectedRefresh(err)) throw err;
        // Another process may have rotated the refresh token (a lost lock): look once more.
        let rejected = base.refreshToken;
        if (this.store.shared) {
          const again = (await this.#read())?.token;
          if (again?.refreshToken !== undefined && again.refreshToken !== base.refreshToken) {
            if (isUsable(again, this.#s.clock(), this.#s.skewMs) && again.accessToken !== this.#invalidated)
              return again;
            try {
              const t = await client.refresh(again, ctx);
              this.#refreshes++;
              publishRefresh(this, true, t);
              return t;
            } catch (err2) {
              if (!isRejectedRefresh(err2)) throw err2;
              rejected = again.refreshToken;
            }
          }
        }
        state.dead.add(rejected);
        this.#warn(
          'REFRESH_REJECTED',
          client.signIn === undefined
            ? 'the refresh token was rejected; using the primary grant'
            : 'the refresh token was rejected (the sign-in ended at the server); a person must sign in again',
          err,
        );
      }
    }
    const t = await client.fetchToken(ctx);
    this.#grants++;
    publishRefresh(this, false, t);
    return t;
  }

  #adopt(token: Token): Token {
    this.#current = token;
    if (this.#invalidated !== undefined && this.#invalidated !== token.accessToken)
      this.#invalidated = undefined;
    return token;
  }

  /** The token without its refresh token when the server rejected that one in this flight. */
  #withoutDead(token: Token, state: FlightState): Token {
    if (token.refreshToken === undefined || !state.dead.has(token.refreshToken)) return token;
    const { refreshToken: _dead, refreshExpiresAt: _until, ...rest } = token;
    return rest;
  }

  async #read(): Promise<StoredEntry | undefined> {
    const entry = await this.store.get(this.key);
    return entry;
  }

  async #write(token: Token, previous?: StoredEntry): Promise<void> {
    const entry: StoredEntry = { v: 1, key: this.key, token, updatedAt: this.#s.clock() };
    countRenewal(entry, previous);
    if (this.profile !== undefined) entry.profile = this.profile;
    entry.identity = this.identity;
    try {
      await this.store.set(entry);
    } catch (err) {
      this.#warn('STORE_WRITE_FAILED', `could not write the token to the ${this.store.kind} store`, err);
    }
  }

  async #recordError(
    entry: StoredEntry | undefined,
    err: unknown,
    state: FlightState,
    optional: boolean,
  ): Promise<void> {
    const at = this.#s.clock();
    const record: StoredEntry = {
      ...(entry ?? { v: 1, key: this.key }),
      v: 1,
      key: this.key,
      lastError: lastErrorOf(err, at, optional),
      updatedAt: at,
    };
    countFailure(record, entry);
    // A refresh token the server rejected is not kept: every later renewal would start with it again.
    if (record.token !== undefined) {
      const kept = this.#withoutDead(record.token, state);
      if (kept !== record.token) record.token = kept;
    }
    if (this.#current !== undefined) this.#current = this.#withoutDead(this.#current, state);
    if (this.profile !== undefined) record.profile = this.profile;
    record.identity = this.identity;
    try {
      await this.store.set(record);
    } catch {
      // The error being reported matters more than the bookkeeping.
    }
  }

  #warn(code: TokenwardWarningCode, message: string, cause?: unknown): void {
    try {
      this.#s.onWarning(cause === undefined ? { code, message } : { code, message, cause });
    } catch {
      // A throwing warning hook must not break token acquisition.
    }
  }
}

/** A manager's settings after defaults: equal ones are shared between managers ({@link shareSettings}). */
interface Settings {
  readonly foreground: boolean;
  readonly skewMs: number;
  readonly eagerFraction: number;
  readonly eagerGapMs: number;
  readonly budgetMs: number;
  readonly optionalBudgetMs: number;
  readonly lockLeaseMs: number;
  readonly lockTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly clock: () => number;
  readonly onWarning: WarningHandler;
  readonly ownsStore: boolean;
  readonly store: TokenStore;
  readonly dpop: DpopSigner | undefined;
}

/**
 * What only a token request or a client build in progress needs; dropped by the manager when neither
 * runs, unless `close()` aborted its controller (kept then, so a request started later is refused at once).
 */
class Busy {
  /** Token requests running now (the users of {@link Busy.closing}). */
  requests = 0;
  /**
   * Aborts the token requests still running when `close()` gives up waiting. Made with the first of
   * them (or by `close()`) and dropped with the last unless aborted: a controller costs more than the
   * rest of an idle manager.
   */
  closing: AbortController | undefined = undefined;
  /** The build of a lazy client under way (shared by concurrent callers), or undefined. */
  building: Promise<TokenClient> | undefined = undefined;
}

/** A manager's rarely set state (one object, so an idle manager pays a field for all of it). */
class Rare {
  /** The access token an API rejected (see `invalidate`); cleared by a new token. */
  invalidated: string | undefined = undefined;
  /** When the last optional renewal was tried (none yet: undefined). */
  lastEagerAttempt: number | undefined = undefined;
  /** See `TokenManager.lastError`. */
  lastError: TokenwardError | undefined = undefined;
  /** Whether the `MIN_TTL_EXCEEDS_LIFETIME` warning was given. */
  minTtlWarned = false;
  /** Foreground renewals whose failure was already warned about (made on the first such failure). */
  warnedFlights: WeakSet<Promise<Token>> | undefined = undefined;
  /** The identity check of a manager whose key follows its identity (see `Rekey`). */
  rekey: Rekey | undefined = undefined;
  rekeyIntervalMs = DEFAULT_REKEY_INTERVAL_MS;
  /** When the identity was last checked (clock ms). */
  checkedAt: number | undefined = undefined;
  /** The check under way, shared by concurrent callers. */
  checking: Promise<void> | undefined = undefined;
  /** The identity after a change of key (before one: the client's). */
  identity: TokenIdentity | undefined = undefined;
}

/**
 * The settings made last, reused by the next manager when equal (a tenant per manager: all alike). Held
 * weakly: they may reference a warning handler and a clock that must not outlive their managers.
 */
let lastSettings: WeakRef<Settings> | undefined;

/**
 * `s`, or equal settings made before: a process with a manager per tenant, all configured alike, keeps
 * one settings object instead of one per manager.
 */
function shareSettings(s: Settings): Settings {
  const last = lastSettings?.deref();
  if (last !== undefined && (Object.keys(s) as Array<keyof Settings>).every((k) => Object.is(s[k], last[k])))
    return last;
  lastSettings = new WeakRef(Object.freeze(s));
  return s;
}

/** The default warning handler: one function for every manager. */
function ignoreWarning(): void {}

/** True for a {@link LazyTokenClient} (a built client has `fetchToken`, a lazy one `create`). */
function isLazy(c: TokenClient | LazyTokenClient): c is LazyTokenClient {
  return typeof (c as Partial<TokenClient>).fetchToken !== 'function';
}

/** True when two identities have the same entries (order aside; an undefined value counts as absent). */
function sameIdentity(a: TokenIdentity, b: TokenIdentity): boolean {
  const entries = (x: TokenIdentity) =>
    Object.entries(x)
      .filter(([, v]) => v !== undefined)
      .sort(([k1], [k2]) => (k1 < k2 ? -1 : k1 > k2 ? 1 : 0));
  return JSON.stringify(entries(a)) === JSON.stringify(entries(b));
}

/** True when `after` carries a failure record that `before` did not (written in between, by the lock holder). */
function recordedSince(before: StoredEntry | undefined, after: StoredEntry | undefined): boolean {
  const a = after?.lastError;
  if (a === undefined) return false;
  const b = before?.lastError;
  return (
    b === undefined || b.at !== a.at || b.message !== a.message || before?.updatedAt !== after?.updatedAt
  );
}

/** The token obtained last of two (by `obtainedAt`). */
function newest(a: Token | undefined, b: Token | undefined): Token | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return b.obtainedAt > a.obtainedAt ? b : a;
}

/**
 * True when the server rejected a refresh token (so the primary grant should be tried, and the refresh
 * token is not kept): `invalid_grant` or `invalid_token`, or a 400 or 401 with no OAuth `error` (an
 * empty body, say — some servers answer every error so).
 */
export function isRejectedRefresh(err: unknown): boolean {
  return (
    err instanceof TokenEndpointError &&
    (err.error === 'invalid_grant' ||
      err.error === 'invalid_token' ||
      (err.error === undefined && (err.status === 400 || err.status === 401)))
  );
}

/** The store's record of a failed renewal: the error's non-secret facts and, for `Retry-After`, `notBefore`. */
function lastErrorOf(err: unknown, at: number, optional: boolean): LastError {
  const e = err instanceof TokenwardError ? err : undefined;
  const out: LastError = {
    code: e?.code ?? 'ERR_UNKNOWN',
    message: e?.message ?? 'unknown error',
    at,
  };
  if (err instanceof TokenEndpointError) {
    out.status = err.status;
    out.url = err.url;
    if (err.error !== undefined) out.error = err.error;
    if (err.retryAfter !== undefined && Number.isFinite(err.retryAfter) && err.retryAfter > 0) {
      out.retryAfter = err.retryAfter;
      out.notBefore = at + Math.min(err.retryAfter * 1000, MAX_REMEMBERED_RETRY_AFTER_MS);
    }
  } else if (err instanceof InvalidTokenResponseError) {
    out.status = err.status;
    out.url = err.url;
  } else if (err instanceof NetworkError) {
    out.url = err.url;
  }
  if (optional) out.optional = true;
  return out;
}

const CODES: ReadonlySet<string> = new Set<TokenwardErrorCode>([
  'ERR_CONFIG',
  'ERR_INSECURE_ENDPOINT',
  'ERR_NETWORK',
  'ERR_TIMEOUT',
  'ERR_TOKEN_ENDPOINT',
  'ERR_INVALID_TOKEN_RESPONSE',
  'ERR_STORE',
  'ERR_LOCK_TIMEOUT',
  'ERR_UNSUPPORTED',
  'ERR_LOGIN_REQUIRED',
]);

/**
 * The typed error of a failure recorded in the store (by this process or another): a
 * {@link TokenEndpointError} (with the time left of `Retry-After`), {@link InvalidTokenResponseError},
 * {@link NetworkError}, {@link LoginRequiredError} (naming `profile`) or a plain {@link TokenwardError}
 * with the recorded code.
 */
export function rebuildError(last: LastError, now: number, profile?: string): TokenwardError {
  const ago = Math.max(0, Math.round((now - last.at) / 1000));
  const wait =
    last.notBefore !== undefined && last.notBefore > now
      ? Math.ceil((last.notBefore - now) / 1000)
      : undefined;
  if (last.code === 'ERR_LOGIN_REQUIRED') {
    // The same class as the holder's, so that `instanceof LoginRequiredError` (and its `profile`) holds
    // for every caller that shared the answer; its message ends with the command, as the holder's does.
    const reason = last.message.replace(/; sign in with `[^`]*`$/, '');
    return new LoginRequiredError(profile, `${reason} [found ${ago} s ago by another caller]`);
  }
  const message = `${last.message} [a renewal ${ago} s ago failed so; ${
    wait === undefined ? 'not retried at once' : `the server asked for no retry for ${wait} s more`
  }]`;
  const url = last.url ?? '';
  if (
    last.status !== undefined &&
    (last.code === 'ERR_INVALID_TOKEN_RESPONSE' || last.status < 200 || last.status >= 300)
  ) {
    if (last.code === 'ERR_INVALID_TOKEN_RESPONSE')
      return new InvalidTokenResponseError(url, last.status, message);
    const body: { error?: string; retryAfter?: number } = {};
    if (last.error !== undefined) body.error = last.error;
    const retryAfter = wait ?? last.retryAfter;
    if (retryAfter !== undefined) body.retryAfter = retryAfter;
    return last.code === 'ERR_UPSTREAM_UNAVAILABLE'
      ? new UpstreamUnavailableError(url, last.status, body, message)
      : new TokenEndpointError(url, last.status, body, message);
  }
  if ((last.code === 'ERR_NETWORK' || last.code === 'ERR_TIMEOUT') && last.url !== undefined) {
    return new NetworkError(last.url, message, { timeout: last.code === 'ERR_TIMEOUT' });
  }
  return new TokenwardError(
    CODES.has(last.code) ? (last.code as TokenwardErrorCode) : 'ERR_NETWORK',
    message,
  );
}

/**
 * Resolves true when `p` settles within `ms`, false otherwise. With `rethrow`, a rejection of `p` is
 * passed on; without, it counts as settled.
 */
async function settlesWithin(p: Promise<unknown>, ms: number, rethrow = false): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, ms));
  });
  try {
    return await Promise.race([
      rethrow
        ? p.then(() => true as const)
        : p.then(
            () => true as const,
            () => true as const,
          ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function positive(v: number | undefined, d: number, name: string): number {
  if (v === undefined) return d;
  if (!(typeof v === 'number' && Number.isFinite(v) && v > 0))
    throw new RangeError(`${name} must be a positive number`);
  return v;
}

function nonNegative(v: number | undefined, d: number, name: string): number {
  if (v === undefined) return d;
  if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0))
    throw new RangeError(`${name} must be a non-negative number`);
  return v;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  // The flight may fail after this caller gave up: that rejection is the other waiters' to see.
  p.catch(() => {});
  // Aborted already (foreground mode awaits before it races the renewal): an abort event will not come.
  if (signal.aborted) return Promise.reject(signal.reason);
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
