/**
 * Typed events through `node:diagnostics_channel`, as undici publishes its own: what the token manager
 * and the HTTP layer do, for logs, metrics and traces (`tokenward/otel` turns them into OpenTelemetry
 * spans and metrics). Subscribe with `diagnostics_channel.subscribe(CHANNELS.served, fn)` or through
 * {@link channels}.
 *
 * Messages carry the profile name, the store key (itself a hash, see `storeKey`), the provider, times,
 * statuses and error codes — never a secret, a token or a request body. Publishing costs one
 * `hasSubscribers` check when nobody listens: no message is built.
 *
 * `node:diagnostics_channel` is loaded on first use, not on import (a warm `tokenward token` publishes
 * to nobody): a publisher loads it only once some code in the process has loaded it — nobody can have
 * subscribed before that — and {@link channels} loads it when read. Channels are global by name, so a
 * subscriber that subscribed before tokenward's first publish (`diagnostics_channel.subscribe(name, fn)`
 * or `diagnostics_channel.channel(name).subscribe(fn)`) gets the events: tokenward then asks for the
 * same channel objects.
 *
 * See docs/observability.md for the channels and their fields.
 * @module
 */

import { AsyncLocalStorage } from 'node:async_hooks';
import type { TokenwardError } from '../errors.js';
import type { Token } from '../token.js';

/** The names of tokenward's diagnostics channels. */
export const CHANNELS = {
  /** A token was served without a flight: from the manager's memory or, after a miss there, from the store. */
  served: 'tokenward:token:served',
  /** A caller started a flight or joined the one in progress (single flight). */
  flight: 'tokenward:flight',
  /** One HTTP attempt to a token endpoint begins. */
  requestStart: 'tokenward:token:request:start',
  /** That attempt ended (an answer, or none); the message is the start message with fields added. */
  requestEnd: 'tokenward:token:request:end',
  /** A token grant (refresh or primary) gave a new token. */
  refresh: 'tokenward:refresh',
  /** A renewal failed (after the HTTP layer's retries); recorded in the store as `lastError`. */
  renewalFailed: 'tokenward:renewal:failed',
  /** A still-valid token was served instead of a new one: the renewal failed or is being backed off from. */
  servedStale: 'tokenward:served-stale',
  /** A caller waited for the store's cross-process lock (taken, or given up on). */
  lockWait: 'tokenward:lock:wait',
  /** An API rejected a token (a 401): it is invalidated and the request sent once more with a new one. */
  retry401: 'tokenward:401-retry',
} as const;

/** What every manager event says about whose token it is. No secret. */
export interface ManagerEventBase {
  /** The profile name, when the manager has one. */
  profile: string | undefined;
  /** The store key: `v1-` and a SHA-256 hex of the profile and identity (not reversible to anything secret). */
  key: string;
  /** The provider (`oauth2`, `oidc`, `cylance`, `msx`, `acronis`, `rdp`…), from the client's identity. */
  provider: string | undefined;
}

/** `tokenward:token:served`. */
export interface TokenServedMessage extends ManagerEventBase {
  /** `memory`: the manager's own copy, no I/O; `store`: read from the store after a miss in memory. */
  source: 'memory' | 'store';
  /** When the token expires, ms since the epoch. */
  expiresAt: number;
  /** The manager clock's time of serving, ms since the epoch. */
  at: number;
}

/** `tokenward:flight`. */
export interface FlightMessage extends ManagerEventBase {
  /** True when the caller joined a flight already in progress instead of starting one. */
  coalesced: boolean;
  /** True for a background (eager) refresh. */
  background: boolean;
  /** True for `getToken({ force: true })`. */
  force: boolean;
}

/** `tokenward:token:request:start`: one HTTP attempt to a token endpoint. */
export interface TokenRequestStartMessage {
  /** The profile of the manager whose flight sent it, when the request was made inside one. */
  profile: string | undefined;
  /** The store key of that manager, when inside a flight. */
  key: string | undefined;
  /** The provider of that manager, when inside a flight. */
  provider: string | undefined;
  /** The form's `grant_type` (`client_credentials`, `refresh_token`…), or `json` for a JSON body (vendor exchanges). */
  grant: string;
  /** What the endpoint is (`token endpoint`, `revocation endpoint`…). */
  what: string;
  /** `POST`. */
  method: string;
  /** The endpoint, without query string or credentials. */
  url: string;
  /** 1 for the first attempt, 2 for the first retry… */
  attempt: number;
  /** `performance.now()` at the start. */
  startedAt: number;
}

/** `tokenward:token:request:end`: the same object as the start message, with the outcome. */
export interface TokenRequestEndMessage extends TokenRequestStartMessage {
  /** How long the attempt took, ms. */
  durationMs: number;
  /** The HTTP status of the answer; absent when none came (network error, timeout). */
  status?: number;
  /** What went wrong when no answer came: `timeout`, `aborted` or `network`. */
  error?: 'timeout' | 'aborted' | 'network';
}

/** `tokenward:refresh`: a grant gave a new token. */
export interface RefreshMessage extends ManagerEventBase {
  /** `refresh_token` when a refresh token was used, else the primary grant (the identity's `grant`, or `primary`). */
  grant: string;
  /** When the new token expires, ms since the epoch. */
  expiresAt: number;
  /** When it was obtained (the manager's clock), ms since the epoch. */
  obtainedAt: number;
}

/** `tokenward:renewal:failed`. */
export interface RenewalFailedMessage extends ManagerEventBase {
  /**
   * The error's `code` (`ERR_TOKEN_ENDPOINT`, `ERR_TIMEOUT`…). Not named `code`, which is also the
   * OAuth authorization code's field name: redaction would mask it in a logged message.
   */
  errorCode: string;
  /** The HTTP status of the token endpoint's answer, when it answered. */
  status: number | undefined;
  /** True when a still-valid token was at hand (a background or `minTtlMs` renewal). */
  optional: boolean;
}

/** `tokenward:served-stale`. */
export interface ServedStaleMessage extends ManagerEventBase {
  /** The error code of the failure behind it (a renewal that just failed, or one recorded in the store). */
  errorCode: string;
  /** When the served token expires, ms since the epoch. */
  expiresAt: number;
}

/** `tokenward:lock:wait`. */
export interface LockWaitMessage extends ManagerEventBase {
  /** The store's kind (`file`, `postgres`, `redis`…). */
  store: string;
  /** How long the caller waited, ms. */
  durationMs: number;
  /** True when the lock was taken; false when the wait ended without it (`served`, a timeout, a store error). */
  acquired: boolean;
  /**
   * True when the wait ended without the lock because the store, re-read while waiting, already held a
   * token that fits (stored by the lock's holder): the caller was served from the store (`acquired` is
   * false, and a `tokenward:token:served` event with `source: 'store'` follows).
   */
  served: boolean;
}

/** `tokenward:401-retry`. */
export interface Retry401Message extends ManagerEventBase {
  /** When the rejected token would have expired, ms since the epoch. */
  expiresAt: number | undefined;
}

/** Every channel with its message type. */
export interface ChannelMessages {
  served: TokenServedMessage;
  flight: FlightMessage;
  requestStart: TokenRequestStartMessage;
  requestEnd: TokenRequestEndMessage;
  refresh: RefreshMessage;
  renewalFailed: RenewalFailedMessage;
  servedStale: ServedStaleMessage;
  lockWait: LockWaitMessage;
  retry401: Retry401Message;
}

/** A channel whose messages are of type `T`. */
export interface TypedChannel<T> {
  readonly name: string;
  readonly hasSubscribers: boolean;
  publish(message: T): void;
  subscribe(onMessage: (message: T, name: string | symbol) => void): void;
  unsubscribe(onMessage: (message: T, name: string | symbol) => void): boolean;
}

/** tokenward's channels, typed. */
type Channels = { readonly [K in keyof ChannelMessages]: TypedChannel<ChannelMessages[K]> };

type DiagnosticsChannelModule = typeof import('node:diagnostics_channel');

let made: Channels | undefined;

/** Loads `node:diagnostics_channel` and gets tokenward's channels (each the object a subscriber gets by name). */
function make(): Channels {
  if (made !== undefined) return made;
  const dc = process.getBuiltinModule('node:diagnostics_channel') as DiagnosticsChannelModule;
  const typed = <T>(name: string) => dc.channel(name) as unknown as TypedChannel<T>;
  made = {
    served: typed(CHANNELS.served),
    flight: typed(CHANNELS.flight),
    requestStart: typed(CHANNELS.requestStart),
    requestEnd: typed(CHANNELS.requestEnd),
    refresh: typed(CHANNELS.refresh),
    renewalFailed: typed(CHANNELS.renewalFailed),
    servedStale: typed(CHANNELS.servedStale),
    lockWait: typed(CHANNELS.lockWait),
    retry401: typed(CHANNELS.retry401),
  };
  return made;
}

/**
 * Node's list of the builtin modules loaded so far (one array, which only grows), when there is one and
 * it names them as Node 20–24 do (`NativeModule <name>`; `node:path` is loaded before any user code).
 * Anything else — the list gone or renamed in a later Node — counts as no list: the module is loaded at
 * once, so that a subscriber is never missed.
 */
const loadList: unknown = ((list: unknown) =>
  Array.isArray(list) && list.includes('NativeModule path') ? list : undefined)(
  (process as { moduleLoadList?: unknown }).moduleLoadList,
);
/** How far {@link loadList} was read. */
let scanned = 0;

/**
 * The channels, or undefined while `node:diagnostics_channel` has not been loaded in this process (by
 * anyone: Node lists every builtin module it loads, whoever asked, in `process.moduleLoadList`): then no
 * channel can have a subscriber. Where that list is missing, the module is loaded at once. While nothing
 * is loaded, a publish costs a length comparison.
 */
function live(): Channels | undefined {
  if (made !== undefined) return made;
  if (!Array.isArray(loadList)) return make();
  for (; scanned < loadList.length; scanned++)
    if (loadList[scanned] === 'NativeModule diagnostics_channel') return make();
  return undefined;
}

/**
 * tokenward's channels, typed. `diagnostics_channel.channel(CHANNELS.x)` returns the same objects.
 * Reading one loads `node:diagnostics_channel`.
 */
export const channels: Channels = Object.defineProperties(
  {},
  Object.fromEntries(
    Object.keys(CHANNELS).map((k) => [
      k,
      { enumerable: true, get: () => make()[k as keyof Channels] } satisfies PropertyDescriptor,
    ]),
  ),
) as Channels;

/** What a publisher knows about the manager: its public fields. */
interface ManagerLike {
  readonly profile: string | undefined;
  readonly key: string;
  readonly identity: Readonly<Record<string, string | undefined>>;
}

// Messages are object literals, never spreads: on Node 20's V8 a spread into a literal costs
// microseconds, a literal of the same fields a few nanoseconds.
function base(m: ManagerLike): ManagerEventBase {
  return { profile: m.profile, key: m.key, provider: m.identity['provider'] };
}

/** The flight a token request belongs to; set only while someone listens to the request channels. */
const flightScope = new AsyncLocalStorage<ManagerEventBase>();

/** Runs a flight's work so that the token requests it makes are attributed to its manager (only when listened to). */
export function inFlight<T>(m: ManagerLike, work: () => Promise<T>): Promise<T> {
  const c = live();
  if (c === undefined || (!c.requestStart.hasSubscribers && !c.requestEnd.hasSubscribers)) return work();
  return flightScope.run(base(m), work);
}

/** Publishes `tokenward:token:served`. */
export function publishServed(m: ManagerLike, source: 'memory' | 'store', token: Token, at: number): void {
  const c = live();
  if (c === undefined || !c.served.hasSubscribers) return;
  c.served.publish({
    profile: m.profile,
    key: m.key,
    provider: m.identity['provider'],
    source,
    expiresAt: token.expiresAt,
    at,
  });
}

/** Publishes `tokenward:flight`. */
export function publishFlight(
  m: ManagerLike,
  coalesced: boolean,
  flight: { eager: boolean; force: boolean },
): void {
  const c = live();
  if (c === undefined || !c.flight.hasSubscribers) return;
  c.flight.publish({
    profile: m.profile,
    key: m.key,
    provider: m.identity['provider'],
    coalesced,
    background: flight.eager,
    force: flight.force,
  });
}

/** Publishes `tokenward:refresh`. */
export function publishRefresh(m: ManagerLike, refreshed: boolean, token: Token): void {
  const c = live();
  if (c === undefined || !c.refresh.hasSubscribers) return;
  c.refresh.publish({
    profile: m.profile,
    key: m.key,
    provider: m.identity['provider'],
    grant: refreshed ? 'refresh_token' : (m.identity['grant'] ?? 'primary'),
    expiresAt: token.expiresAt,
    obtainedAt: token.obtainedAt,
  });
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : 'ERR_UNKNOWN';
}

/** Publishes `tokenward:renewal:failed`. */
export function publishRenewalFailed(m: ManagerLike, err: unknown, optional: boolean): void {
  const c = live();
  if (c === undefined || !c.renewalFailed.hasSubscribers) return;
  const status = (err as { status?: unknown } | undefined)?.status;
  c.renewalFailed.publish({
    profile: m.profile,
    key: m.key,
    provider: m.identity['provider'],
    errorCode: codeOf(err),
    status: typeof status === 'number' ? status : undefined,
    optional,
  });
}

/** Publishes `tokenward:served-stale`. */
export function publishServedStale(m: ManagerLike, token: Token, err: TokenwardError | unknown): void {
  const c = live();
  if (c === undefined || !c.servedStale.hasSubscribers) return;
  c.servedStale.publish({
    profile: m.profile,
    key: m.key,
    provider: m.identity['provider'],
    errorCode: codeOf(err),
    expiresAt: token.expiresAt,
  });
}

/**
 * Publishes `tokenward:lock:wait` for a wait that began at `startedAt` (`performance.now()`), which
 * ended with the lock (`acquired`), with a token served from the store instead (`served`), or neither.
 */
export function publishLockWait(
  m: ManagerLike & { store: { kind: string } },
  startedAt: number,
  acquired: boolean,
  served = false,
): void {
  const c = live();
  if (c === undefined || !c.lockWait.hasSubscribers) return;
  c.lockWait.publish({
    profile: m.profile,
    key: m.key,
    provider: m.identity['provider'],
    store: m.store.kind,
    durationMs: performance.now() - startedAt,
    acquired,
    served,
  });
}

/** Publishes `tokenward:401-retry`. */
export function publishRetry401(m: ManagerLike, token: Token | undefined): void {
  const c = live();
  if (c === undefined || !c.retry401.hasSubscribers) return;
  c.retry401.publish({
    profile: m.profile,
    key: m.key,
    provider: m.identity['provider'],
    expiresAt: token?.expiresAt,
  });
}

/**
 * Publishes `tokenward:token:request:start` and returns the message to end, or undefined when nobody
 * listens (then {@link publishRequestEnd} does nothing).
 */
export function publishRequestStart(
  what: string,
  method: string,
  url: string,
  grant: string,
  attempt: number,
): TokenRequestStartMessage | undefined {
  const c = live();
  if (c === undefined || (!c.requestStart.hasSubscribers && !c.requestEnd.hasSubscribers)) return undefined;
  const scope = flightScope.getStore();
  const message: TokenRequestStartMessage = {
    profile: scope?.profile,
    key: scope?.key,
    provider: scope?.provider,
    grant,
    what,
    method,
    url,
    attempt,
    startedAt: performance.now(),
  };
  if (c.requestStart.hasSubscribers) c.requestStart.publish(message);
  return message;
}

/** Publishes `tokenward:token:request:end` for a message from {@link publishRequestStart}. */
export function publishRequestEnd(
  start: TokenRequestStartMessage | undefined,
  outcome: { status: number } | { error: 'timeout' | 'aborted' | 'network' },
): void {
  if (start === undefined) return;
  const end = start as TokenRequestEndMessage;
  end.durationMs = performance.now() - start.startedAt;
  if ('status' in outcome) end.status = outcome.status;
  else end.error = outcome.error;
  const c = live();
  if (c?.requestEnd.hasSubscribers === true) c.requestEnd.publish(end);
}
