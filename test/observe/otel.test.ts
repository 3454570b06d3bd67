/**
 * `tokenward/otel` with the OpenTelemetry SDK's in-memory exporters, over the real stack (the generic
 * provider, the HTTP layer, the file store's lock, the loopback token server): the spans and metrics of
 * a flow with a cold start, coalesced callers, a memory hit, a refresh, a retried 500 and a failed
 * optional renewal. And the main entry loads with `@opentelemetry/api` missing, while `tokenward/otel`
 * does not. Time is the manager's injected clock.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { createTokenManager } from '../../src/front-door.js';
import { closeAgents } from '../../src/http/agent.js';
import { channels } from '../../src/observe/channels.js';
import { instrument, METRICS } from '../../src/otel/index.js';
import { FileStore } from '../../src/stores/file.js';
import { runProcess } from '../helpers/process.js';
import { profileFor, startTokenServer, TEST_CLIENT, type TokenServer } from '../helpers/token-server.js';

let server: TokenServer;
let dir: string;

before(async () => {
  server = await startTokenServer({ lifetime: 300, clients: { [TEST_CLIENT.id]: TEST_CLIENT.secret } });
  dir = await mkdtemp(join(tmpdir(), 'tw-otel-'));
});
after(async () => {
  server.close();
  await closeAgents();
  await rm(dir, { recursive: true, force: true });
});

function metric(all: MetricData[], name: string): MetricData {
  const m = all.find((x) => x.descriptor.name === name);
  assert.ok(m !== undefined, `metric ${name} recorded`);
  return m;
}

/** The sum of a counter's points whose attributes include `where`. */
function total(all: MetricData[], name: string, where: Record<string, unknown> = {}): number {
  const m = metric(all, name);
  assert.equal(m.dataPointType, DataPointType.SUM);
  let n = 0;
  for (const p of m.dataPoints) {
    if (Object.entries(where).every(([k, v]) => p.attributes[k] === v)) n += p.value as number;
  }
  return n;
}

describe('tokenward/otel', () => {
  it('records HTTP client spans, lock-wait spans and the metrics of a flow', async () => {
    const spans = new InMemorySpanExporter();
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const meterProvider = new MeterProvider({ readers: [reader] });
    let clockMs = Date.now();
    const clock = () => clockMs;
    const stop = instrument({ tracerProvider, meterProvider, clock });
    const store = new FileStore({ dir, key: randomBytes(32) });
    const m = await createTokenManager(
      { ...profileFor(server, { retries: 1 }), name: 'traced' },
      { store, clock, onWarning: () => {}, http: { retryBaseMs: 1, retryMaxMs: 5 } },
    );
    try {
      await Promise.all([m.getToken(), m.getToken(), m.getToken()]); // 1 miss, 2 coalesced
      await m.getToken(); // memory hit
      clockMs += 400_000;
      await m.getToken(); // expired: a refresh
      clockMs += 400_000;
      server.fault = { status: 503, body: '{"error":"temporarily_unavailable"}', times: 1 };
      await m.getToken(); // expired: a 503, then the retry succeeds
      clockMs += 200_000;
      server.fault = { status: 500, body: '{"error":"server_error"}' };
      await m.getToken({ minTtlMs: 150_000 }); // optional renewal: fails twice, the valid token is served
    } finally {
      server.fault = undefined;
      await m.close();
      await store.close();
    }
    await reader.forceFlush();
    stop();

    // Spans: one CLIENT span per attempt, with the HTTP semantic conventions' attributes.
    const finished = spans.getFinishedSpans();
    const http = finished.filter((s) => s.name === 'POST');
    assert.deepEqual(
      http.map((s) => [
        s.attributes['tokenward.grant'],
        s.attributes['http.response.status_code'],
        s.attributes['http.request.resend_count'],
        s.attributes['error.type'],
      ]),
      [
        ['client_credentials', 200, undefined, undefined],
        ['refresh_token', 200, undefined, undefined],
        ['refresh_token', 503, undefined, '503'],
        ['refresh_token', 200, 1, undefined],
        ['refresh_token', 500, undefined, '500'],
        ['refresh_token', 500, 1, '500'],
      ],
    );
    const url = new URL(server.tokenUrl);
    for (const s of http) {
      assert.equal(s.kind, 2); // SpanKind.CLIENT
      assert.equal(s.attributes['http.request.method'], 'POST');
      assert.equal(s.attributes['url.full'], server.tokenUrl);
      assert.equal(s.attributes['server.address'], url.hostname);
      assert.equal(s.attributes['server.port'], Number(url.port));
      assert.equal(s.attributes['tokenward.profile'], 'traced');
      assert.equal(s.attributes['tokenward.provider'], 'oauth2');
      assert.equal(s.status.code, s.attributes['error.type'] === undefined ? 0 : 2);
    }
    const waits = finished.filter((s) => s.name === 'tokenward lock wait');
    assert.equal(waits.length, 4);
    assert.ok(waits.every((s) => s.attributes['tokenward.lock.acquired'] === true));

    // Metrics.
    const all = exporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
    assert.equal(total(all, METRICS.cacheHits, { 'tokenward.cache.source': 'memory' }), 1);
    assert.equal(total(all, METRICS.cacheHits, { 'tokenward.cache.source': 'store' }), 0);
    assert.equal(total(all, METRICS.cacheMisses, { 'tokenward.profile': 'traced' }), 4);
    assert.equal(total(all, METRICS.coalesced), 2);
    assert.equal(total(all, METRICS.renewals, { 'tokenward.grant': 'client_credentials' }), 1);
    assert.equal(total(all, METRICS.renewals, { 'tokenward.grant': 'refresh_token' }), 2);
    assert.equal(total(all, METRICS.renewalsFailed, { 'tokenward.renewal.optional': true }), 1);
    assert.equal(total(all, METRICS.servedStale, { 'error.type': 'ERR_TOKEN_ENDPOINT' }), 1);
    const latency = metric(all, METRICS.requestDuration);
    assert.equal(latency.dataPointType, DataPointType.HISTOGRAM);
    assert.equal(latency.descriptor.unit, 's');
    const byStatus = new Map<unknown, number>();
    for (const p of latency.dataPoints) {
      assert.equal(p.attributes['url.full'], undefined);
      const status = p.attributes['http.response.status_code'];
      byStatus.set(status, (byStatus.get(status) ?? 0) + (p.value as { count: number }).count);
    }
    assert.deepEqual(
      [...byStatus].sort((a, b) => Number(a[0]) - Number(b[0])),
      [
        [200, 3],
        [500, 2],
        [503, 1],
      ],
    );
    const lock = metric(all, METRICS.lockWait);
    assert.equal(
      lock.dataPoints.reduce((n, p) => n + (p.value as { count: number }).count, 0),
      4,
    );
    // The token served stale expires 100 s after the last clock reading (300 s lifetime, 200 s on).
    const expiry = metric(all, METRICS.timeToExpiry);
    assert.equal(expiry.dataPoints.length, 1);
    assert.equal(expiry.dataPoints[0]?.value, 100);
    assert.equal(expiry.dataPoints[0]?.attributes['tokenward.profile'], 'traced');

    // Stopped: nothing listens any more.
    assert.equal(channels.served.hasSubscribers, false);
    assert.equal(channels.requestStart.hasSubscribers, false);
    await meterProvider.shutdown();
    await tracerProvider.shutdown();
  });

  it('the main entry loads without @opentelemetry/api; tokenward/otel needs it', async () => {
    const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
    const ran = await runProcess(
      process.execPath,
      ['--import', 'tsx', '--import', './no-otel.mjs', 'main-without-otel.ts'],
      { cwd: fixtures },
    );
    assert.equal(ran.code, 0, ran.stderr);
    const out = JSON.parse(ran.stdout) as { exports: number; viaNode: boolean; otel: string };
    assert.ok(out.exports >= 30, `the main entry has ${out.exports} names`);
    assert.equal(out.viaNode, true);
    assert.equal(out.otel, 'ERR_MODULE_NOT_FOUND');
  });
});
