/**
 * `tokenward/otel`: OpenTelemetry spans and metrics from tokenward's diagnostics channels. Opt-in:
 * nothing in the main entry imports this module or `@opentelemetry/api` (an optional peer dependency),
 * so an application without OpenTelemetry loads none of it.
 *
 * ```ts
 * import { instrument } from 'tokenward/otel';
 * const stop = instrument(); // the global tracer and meter providers; or pass your own
 * ```
 *
 * Spans: one HTTP client span per token-endpoint attempt (the semantic conventions' HTTP client
 * attributes: `http.request.method`, `url.full`, `server.address`, `server.port`,
 * `http.response.status_code`, `error.type`, `http.request.resend_count`), and one internal span per
 * wait for a store lock. Metrics: see {@link METRICS}. See docs/observability.md.
 * @module
 */

import diagnosticsChannel from 'node:diagnostics_channel';
import {
  type Attributes,
  type Context,
  context,
  type Meter,
  type MeterProvider,
  metrics,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import {
  CHANNELS,
  type FlightMessage,
  type LockWaitMessage,
  type ManagerEventBase,
  type RefreshMessage,
  type RenewalFailedMessage,
  type ServedStaleMessage,
  type TokenRequestEndMessage,
  type TokenRequestStartMessage,
  type TokenServedMessage,
} from '../observe/channels.js';

/** The instrumentation scope's name (tracer and meter). */
export const INSTRUMENTATION_NAME = 'tokenward';

/** The metrics `instrument()` records. Attributes: `tokenward.profile`, `tokenward.provider`, and as said. */
export const METRICS = {
  /** Counter, `{hit}`: tokens served with no token request; `tokenward.cache.source` = `memory` | `store`. */
  cacheHits: 'tokenward.cache.hits',
  /** Counter, `{miss}`: callers that found no usable token and started a flight (not background ones). */
  cacheMisses: 'tokenward.cache.misses',
  /** Counter, `{caller}`: callers that joined a flight already in progress instead of starting one. */
  coalesced: 'tokenward.flight.coalesced',
  /** Histogram, `s`: one token-endpoint attempt; HTTP client attributes and `tokenward.grant`. */
  requestDuration: 'tokenward.token.request.duration',
  /** Counter, `{token}`: new tokens obtained; `tokenward.grant`. */
  renewals: 'tokenward.renewals',
  /** Counter, `{renewal}`: failed renewals; `error.type` (the error code), `tokenward.renewal.optional`. */
  renewalsFailed: 'tokenward.renewals.failed',
  /** Counter, `{token}`: still-valid tokens served because a renewal failed or is backed off from; `error.type`. */
  servedStale: 'tokenward.served_stale',
  /** Histogram, `s`: waits for a store lock; `tokenward.store`, `tokenward.lock.acquired`, `tokenward.lock.served`. */
  lockWait: 'tokenward.lock.wait.duration',
  /** Gauge, `s`: time left before the last token seen per profile expires (negative once expired). */
  timeToExpiry: 'tokenward.token.time_to_expiry',
} as const;

/** The semantic conventions' bucket boundaries for HTTP durations, seconds. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** Options of {@link instrument}. */
export interface InstrumentOptions {
  /** Where spans go. Default: the global tracer provider (`trace.getTracerProvider()`). */
  tracerProvider?: TracerProvider;
  /** Where metrics go. Default: the global meter provider (`metrics.getMeterProvider()`). */
  meterProvider?: MeterProvider;
  /** Clock for the time-to-expiry gauge, ms since the epoch. Default `Date.now`. */
  clock?: () => number;
}

/** Stops an instrumentation: unsubscribes from every channel; spans still open are ended. */
export type StopInstrumentation = () => void;

/** The profile and provider attributes, and `extra` (assigned, not spread: spreads are slow on Node 20). */
function who(
  m: { profile: string | undefined; provider: string | undefined },
  extra?: Attributes,
): Attributes {
  const a: Attributes = {};
  if (m.profile !== undefined) a['tokenward.profile'] = m.profile;
  if (m.provider !== undefined) a['tokenward.provider'] = m.provider;
  return extra === undefined ? a : Object.assign(a, extra);
}

/**
 * The semantic conventions' HTTP client attributes of an attempt. `url.full` and
 * `http.request.resend_count` are span attributes only (not on metrics: cardinality, as the conventions say).
 */
function httpAttributes(m: TokenRequestStartMessage, forSpan: boolean): Attributes {
  const url = new URL(m.url);
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  const a = who(m, {
    'http.request.method': m.method,
    'server.address': url.hostname.replace(/^\[|\]$/g, ''),
    'server.port': port,
    'tokenward.grant': m.grant,
  });
  if (forSpan) {
    a['url.full'] = m.url;
    if (m.attempt > 1) a['http.request.resend_count'] = m.attempt - 1;
  }
  return a;
}

/** `error.type` of an attempt: the status code for an HTTP error, else what happened; undefined on success. */
function errorType(m: TokenRequestEndMessage): string | undefined {
  if (m.status !== undefined) return m.status >= 400 ? String(m.status) : undefined;
  return m.error ?? '_OTHER';
}

/**
 * Subscribes to tokenward's diagnostics channels and records OpenTelemetry spans and metrics. Call it
 * once at start-up (a second call records everything twice); the returned function stops it.
 */
export function instrument(options: InstrumentOptions = {}): StopInstrumentation {
  const tracer: Tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(
    INSTRUMENTATION_NAME,
  );
  const meter: Meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(INSTRUMENTATION_NAME);
  const clock = options.clock ?? Date.now;

  const counter = (name: string, description: string, unit: string) =>
    meter.createCounter(name, { description, unit });
  const seconds = (name: string, description: string) =>
    meter.createHistogram(name, {
      description,
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
  const hits = counter(METRICS.cacheHits, 'Tokens served without a token request', '{hit}');
  const misses = counter(
    METRICS.cacheMisses,
    'Callers that found no usable token and started a renewal',
    '{miss}',
  );
  const coalesced = counter(
    METRICS.coalesced,
    'Callers that joined a renewal already in progress',
    '{caller}',
  );
  const requestDuration = seconds(METRICS.requestDuration, 'Duration of one token-endpoint request attempt');
  const renewals = counter(METRICS.renewals, 'New tokens obtained', '{token}');
  const failed = counter(METRICS.renewalsFailed, 'Renewals that failed', '{renewal}');
  const stale = counter(METRICS.servedStale, 'Still-valid tokens served because a renewal failed', '{token}');
  const lockWait = seconds(METRICS.lockWait, 'Time spent waiting for a store lock');
  /** The last expiry seen per store key, with the attributes to report it under. */
  const expiries = new Map<string, { expiresAt: number; attributes: Attributes }>();
  const timeToExpiry = meter.createObservableGauge(METRICS.timeToExpiry, {
    description: 'Time left before the last token seen expires',
    unit: 's',
  });
  const observeExpiry = (result: { observe(value: number, attributes?: Attributes): void }): void => {
    const now = clock();
    for (const e of expiries.values()) result.observe((e.expiresAt - now) / 1000, e.attributes);
  };
  timeToExpiry.addCallback(observeExpiry);
  const seenExpiry = (m: ManagerEventBase & { expiresAt: number }): void => {
    expiries.set(m.key, { expiresAt: m.expiresAt, attributes: who(m) });
  };

  /** Open token-request spans by start message (the end message is the same object). */
  const open = new Map<TokenRequestStartMessage, Span>();

  const handlers: Array<[string, (message: never) => void]> = [
    [
      CHANNELS.served,
      (m: TokenServedMessage) => {
        hits.add(1, who(m, { 'tokenward.cache.source': m.source }));
        seenExpiry(m);
      },
    ],
    [
      CHANNELS.flight,
      (m: FlightMessage) => {
        if (m.coalesced) coalesced.add(1, who(m));
        else if (!m.background) misses.add(1, who(m));
      },
    ],
    [
      CHANNELS.requestStart,
      (m: TokenRequestStartMessage) => {
        const parent: Context = context.active();
        const span = tracer.startSpan(
          m.method,
          { kind: SpanKind.CLIENT, attributes: httpAttributes(m, true) },
          parent,
        );
        open.set(m, span);
      },
    ],
    [
      CHANNELS.requestEnd,
      (m: TokenRequestEndMessage) => {
        const attributes = httpAttributes(m, false);
        if (m.status !== undefined) attributes['http.response.status_code'] = m.status;
        const type = errorType(m);
        if (type !== undefined) attributes['error.type'] = type;
        requestDuration.record(m.durationMs / 1000, attributes);
        const span = open.get(m);
        if (span === undefined) return;
        open.delete(m);
        if (m.status !== undefined) span.setAttribute('http.response.status_code', m.status);
        if (type !== undefined) {
          span.setAttribute('error.type', type);
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
        span.end();
      },
    ],
    [
      CHANNELS.refresh,
      (m: RefreshMessage) => {
        renewals.add(1, who(m, { 'tokenward.grant': m.grant }));
        seenExpiry(m);
      },
    ],
    [
      CHANNELS.renewalFailed,
      (m: RenewalFailedMessage) => {
        failed.add(1, who(m, { 'error.type': m.errorCode, 'tokenward.renewal.optional': m.optional }));
      },
    ],
    [
      CHANNELS.servedStale,
      (m: ServedStaleMessage) => {
        stale.add(1, who(m, { 'error.type': m.errorCode }));
        seenExpiry(m);
      },
    ],
    [
      CHANNELS.lockWait,
      (m: LockWaitMessage) => {
        const attributes = who(m, {
          'tokenward.store': m.store,
          'tokenward.lock.acquired': m.acquired,
          'tokenward.lock.served': m.served === true,
        });
        lockWait.record(m.durationMs / 1000, attributes);
        const end = performance.timeOrigin + performance.now();
        const span = tracer.startSpan(
          'tokenward lock wait',
          { kind: SpanKind.INTERNAL, attributes, startTime: end - m.durationMs },
          context.active(),
        );
        // Served from the store without the lock is a success: the holder's token was there.
        if (!m.acquired && m.served !== true)
          span.setStatus({ code: SpanStatusCode.ERROR, message: 'lock not acquired' });
        span.end(end);
      },
    ],
  ];
  for (const [name, fn] of handlers) diagnosticsChannel.subscribe(name, fn as (m: unknown) => void);
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    for (const [name, fn] of handlers) diagnosticsChannel.unsubscribe(name, fn as (m: unknown) => void);
    timeToExpiry.removeCallback(observeExpiry);
    for (const span of open.values()) span.end();
    open.clear();
    expiries.clear();
  };
}
