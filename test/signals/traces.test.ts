// Spans over the OTLP/HTTP protobuf wire (docs/architecture.md#spans), received and decoded by a receiver the
// test starts; and what happens to the pipeline when that receiver is slow or down.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type Attributes } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type IdGenerator } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMetricsRegistry } from '../../src/sinks/exposition.ts';
import { createMetricsSink } from '../../src/sinks/metrics.ts';
import { parseTraceparent, randomTraceId, traceIdFraction, traceIdFromKey } from '../../src/sinks/trace-identity.ts';
import { createTraceSink, otlpTracesProtocol, type TraceSink } from '../../src/sinks/traces.ts';
import type { CorrelationFacts, ProcessedEvent } from '../../src/pipeline/types.ts';
import { freePort } from '../support/ports.ts';
import { waitFor } from '../support/processes.ts';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.ts';
import { event, MERCHANT_INACTIVE, processed, T0 } from './fixtures.ts';
import { DEFAULT_CONFIG } from '../support/config.ts';

const NS_PER_MS = 1_000_000n;
const CLIENT = 3;
const STATUS_ERROR = 2;

let receiver: OtlpReceiver;
const sinks: TraceSink[] = [];

beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await receiver.close();
});
afterEach(async () => {
  for (const s of sinks.splice(0)) await s.close();
  receiver.setMode({ kind: 'ok' });
  receiver.spans.length = 0;
});

function traceSink(options: Parameters<typeof createTraceSink>[0] = {}): TraceSink {
  const sink = createTraceSink({ otlp: { url: receiver.tracesUrl }, scheduledDelayMillis: 50, ...options });
  sinks.push(sink);
  return sink;
}

const attempt = (n: number, violationOf: CorrelationFacts['violationOf'] = null): CorrelationFacts => ({
  key: 'idem-7',
  attemptNumber: n,
  isRetry: n > 1,
  isStorm: false,
  violationOf,
  unmatchedRetry: false,
});

async function spansNamed(name: string, count: number): Promise<ReceivedSpan[]> {
  return await waitFor(`${count} span(s) named ${name}`, () => {
    const found = receiver.spans.filter((s) => s.name === name);
    return found.length >= count ? found : undefined;
  });
}

describe('span per call', () => {
  it('an error call becomes a CLIENT span with HTTP and payment attributes, event timing, and ERROR status', async () => {
    const sink = traceSink();
    const e = event({
      provider: 'kustom',
      operation: 'create_order',
      method: 'post',
      route: '/checkout/v3/orders',
      statusCode: 403,
      durationMs: 250,
      timestampMs: T0,
      correlationId: 'corr-1',
      idempotencyKey: 'idem-7',
      merchantId: 'merchant-42',
    });
    sink.onEvent(processed(e, MERCHANT_INACTIVE, attempt(1)));
    await sink.forceFlush();
    const [span] = await spansNamed('kustom create_order', 1);
    expect(span!.kind).toBe(CLIENT);
    expect(span!.statusCode).toBe(STATUS_ERROR);
    expect(span!.startTimeUnixNano).toBe(BigInt(T0 - 250) * NS_PER_MS);
    expect(span!.endTimeUnixNano).toBe(BigInt(T0) * NS_PER_MS);
    expect(span!.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.response.status_code': 403,
      'url.template': '/checkout/v3/orders',
      'error.type': 'MERCHANT_INACTIVE',
      'payment.provider': 'kustom',
      'payment.operation': 'create_order',
      'payment.error.code': 'MERCHANT_INACTIVE',
      'payment.error.category': 'merchant_config',
      'payment.error.retry': 'contact_provider',
      'payment.correlation_id': 'corr-1',
      'payment.attempt': 1,
      'payment.merchant_id': 'merchant-42',
    });
    expect(span!.traceId).toBe(traceIdFromKey('corr-1'));
    expect(span!.parentSpanId).toBe('');
    expect(span!.resource['service.name']).toBe('paysignal');
  });

  it('a success span has no error attributes and an unset status', async () => {
    const sink = traceSink();
    sink.onEvent(processed(event({ provider: 'setel', operation: 'authorize', statusCode: 200, correlationId: 'ok-1' })));
    await sink.forceFlush();
    const [span] = await spansNamed('setel authorize', 1);
    expect(span!.statusCode).toBe(0);
    expect(Object.keys(span!.attributes).filter((k) => k.startsWith('payment.error') || k === 'error.type')).toEqual([]);
  });

  it('all attempts of one payment share one trace id derived from its correlation id', async () => {
    const sink = traceSink();
    for (let n = 1; n <= 3; n++) {
      const e = event({ provider: 'mercadopago', operation: 'refund_order', statusCode: n < 3 ? 423 : 201, correlationId: 'pay-123', timestampMs: T0 + n * 1000 });
      sink.onEvent(n < 3 ? processed(e, { code: 'resource_locked', category: 'idempotency', retry: 'retry_same_key_later' }, attempt(n)) : processed(e, null, attempt(n)));
    }
    await sink.forceFlush();
    const spans = await spansNamed('mercadopago refund_order', 3);
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([traceIdFromKey('pay-123')]));
    expect(new Set(spans.map((s) => s.spanId)).size).toBe(3);
    expect(spans.map((s) => s.attributes['payment.attempt']).sort()).toEqual([1, 2, 3]);
  });

  it('without a correlation id, the idempotency key ties the attempts', async () => {
    const sink = traceSink();
    for (let n = 1; n <= 2; n++) sink.onEvent(processed(event({ provider: 'stablegenius', operation: 'create_payment_intent', statusCode: 403, idempotencyKey: 'idem-sg', timestampMs: T0 + n }), MERCHANT_INACTIVE));
    await sink.forceFlush();
    const spans = await spansNamed('stablegenius create_payment_intent', 2);
    expect(spans.map((s) => s.traceId)).toEqual([traceIdFromKey('idem-sg'), traceIdFromKey('idem-sg')]);
  });

  it('a call with nothing to derive a trace from gets a random trace id of its own, also across refills of the random pool', () => {
    const ids = Array.from({ length: 1000 }, () => randomTraceId());
    for (const id of ids) expect(id).toMatch(/^(?!0{32})[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(1000);
  });

  it('a valid traceparent puts the span into that trace, as a child of the caller span', async () => {
    const sink = traceSink();
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    sink.onEvent(processed(event({ provider: 'digitalriver', operation: 'create_order', statusCode: 201, correlationId: 'ignored-for-trace', traceparent })));
    await sink.forceFlush();
    const [span] = await spansNamed('digitalriver create_order', 1);
    expect(span!.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(span!.parentSpanId).toBe('00f067aa0ba902b7');
  });

  it.each([
    ['00-00000000000000000000000000000000-00f067aa0ba902b7-01'],
    ['00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01'],
    ['ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
    ['00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01'],
    ['garbage'],
  ])('an invalid traceparent %j is ignored', (tp) => {
    expect(parseTraceparent(tp)).toBeNull();
  });

  it('OTEL_* variables configure the export: endpoint, headers, service name', async () => {
    const saved = { ...process.env };
    try {
      process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
      process.env.OTEL_EXPORTER_OTLP_HEADERS = 'x-tenant=payments-team';
      process.env.OTEL_SERVICE_NAME = 'paysignal-eu';
      process.env.OTEL_RESOURCE_ATTRIBUTES = 'deployment.environment.name=staging';
      const sink = createTraceSink({ scheduledDelayMillis: 50 });
      sinks.push(sink);
      sink.onEvent(processed(event({ provider: 'envtest', operation: 'authorize', statusCode: 500 }), { code: null, category: 'provider_error', retry: 'retry_with_backoff' }));
      await sink.forceFlush();
      const [span] = await spansNamed('envtest authorize', 1);
      expect(span!.resource['service.name']).toBe('paysignal-eu');
      expect(span!.resource['deployment.environment.name']).toBe('staging');
      expect(receiver.lastHeaders['x-tenant']).toBe('payments-team');
      expect(receiver.lastHeaders['content-type']).toBe('application/x-protobuf');
    } finally {
      process.env = saved;
    }
  });

  it('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json exports OTLP/JSON with the same spans', async () => {
    const sink = traceSink({ env: { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' } });
    sink.onEvent(processed(event({ provider: 'jsontest', operation: 'capture', statusCode: 403, correlationId: 'corr-json', timestampMs: T0 }), MERCHANT_INACTIVE));
    await sink.forceFlush();
    const [span] = await spansNamed('jsontest capture', 1);
    expect(receiver.lastHeaders['content-type']).toBe('application/json');
    expect(span!.traceId).toBe(traceIdFromKey('corr-json'));
    expect(span!.kind).toBe(CLIENT);
    expect(span!.statusCode).toBe(STATUS_ERROR);
    expect(span!.attributes['payment.error.code']).toBe('MERCHANT_INACTIVE');
    expect(span!.endTimeUnixNano).toBe(BigInt(T0) * NS_PER_MS);
  });

  it('OTEL_EXPORTER_OTLP_PROTOCOL applies when the traces-specific variable is not set', () => {
    expect(otlpTracesProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' })).toBe('http/json');
    expect(otlpTracesProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' })).toBe('http/protobuf');
    expect(otlpTracesProtocol({})).toBe('http/protobuf');
  });

  it.each([
    ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'grpc'],
    ['OTEL_EXPORTER_OTLP_PROTOCOL', 'http/thrift'],
  ])('%s=%s stops startup with an error that names the variable and the fix', (name, value) => {
    expect(() => createTraceSink({ env: { [name]: value }, otlp: { url: receiver.tracesUrl } })).toThrow(
      expect.objectContaining({ code: 'OTLP_PROTOCOL_UNSUPPORTED', field: name, message: expect.stringMatching(new RegExp(`${name}="${value}" is not supported.*http/protobuf.*http/json.*4318`)) }),
    );
  });

  it('a span record reaches the receiver exactly as the SDK tracer would have sent it (span id aside)', async () => {
    const sink = traceSink();
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const failed = processed(event({ provider: 'wire', operation: 'root', statusCode: 403, durationMs: 12.5, correlationId: 'wire-1', timestampMs: T0 + 0.25 }), MERCHANT_INACTIVE, attempt(2));
    const child = processed(event({ provider: 'wire', operation: 'child', statusCode: 200, durationMs: 0, traceparent }));
    sink.onEvent(failed);
    sink.onEvent(child);
    await sink.forceFlush();
    const ours = await spansNamed('wire root', 1).then(async (r) => [...r, ...(await spansNamed('wire child', 1))]);
    receiver.spans.length = 0;

    // The reference: the SDK's tracer, given the same ids, times, attributes and status.
    let nextTraceId = '';
    const ids: IdGenerator = { generateTraceId: () => nextTraceId, generateSpanId: () => 'aaaaaaaaaaaaaaaa' };
    const provider = new BasicTracerProvider({
      resource: defaultResource().merge(resourceFromAttributes({ 'service.name': 'paysignal' })),
      idGenerator: ids,
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: receiver.tracesUrl }))],
    });
    const tracer = provider.getTracer('paysignal');
    for (const span of ours) {
      const { 'payment.sample_weight': weight, ...rest } = span.attributes;
      expect(weight).toBe(1);
      nextTraceId = span.traceId;
      const context = span.parentSpanId === '' ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, { traceId: span.traceId, spanId: span.parentSpanId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
      const reference = tracer.startSpan(span.name, { kind: SpanKind.CLIENT, startTime: millisToHrTime(Number(span.startTimeUnixNano) / 1e6), attributes: { ...(rest as Attributes), 'payment.sample_weight': 1 } }, context);
      if (span.statusCode === STATUS_ERROR) reference.setStatus({ code: SpanStatusCode.ERROR, message: span.statusMessage });
      reference.end(millisToHrTime(Number(span.endTimeUnixNano) / 1e6));
    }
    await provider.forceFlush();
    await provider.shutdown();
    const theirs = await spansNamed('wire root', 1).then(async (r) => [...r, ...(await spansNamed('wire child', 1))]);
    const withoutSpanId = (spans: typeof ours) => spans.map(({ spanId, ...rest }) => ({ ...rest, spanIdLength: spanId.length }));
    expect(withoutSpanId(ours)).toEqual(withoutSpanId(theirs));
    expect(ours.map((s) => s.flags)).toEqual([0x101, 0x301]);
    expect(ours[0]!.endTimeUnixNano - ours[0]!.startTimeUnixNano).toBe(12_500_000n);
  });

  it('OTEL_TRACES_EXPORTER=none turns the sink off', () => {
    const sink = createTraceSink({ env: { OTEL_TRACES_EXPORTER: 'none' }, otlp: { url: receiver.tracesUrl } });
    sinks.push(sink);
    sink.onEvent(processed(event()));
    expect(sink.enabled).toBe(false);
    expect(sink.stats().started).toBe(0);
  });
});

describe('sampling', () => {
  it('keeps every error span and samples successes by ratio, deterministically per trace', async () => {
    const sink = traceSink({ successSampleRatio: 0.25 });
    const events: ProcessedEvent[] = [];
    for (let i = 0; i < 400; i++) {
      events.push(processed(event({ provider: 'sampling', operation: 'ok', statusCode: 200, correlationId: `pay-${i}` })));
      events.push(processed(event({ provider: 'sampling', operation: 'err', statusCode: 403, correlationId: `pay-${i}` }), MERCHANT_INACTIVE));
    }
    for (const p of events) sink.onEvent(p);
    await sink.forceFlush();
    await spansNamed('sampling err', 400);
    const kept = receiver.spans.filter((s) => s.name === 'sampling ok');
    const keptKeys = [...Array(400).keys()].filter((i) => traceIdFraction(traceIdFromKey(`pay-${i}`)) < 0.25);
    const expected = keptKeys.length;
    expect(kept.length).toBe(expected);
    expect(new Set(kept.map((s) => s.traceId))).toEqual(new Set(keptKeys.map((i) => traceIdFromKey(`pay-${i}`))));
    expect(expected).toBeGreaterThan(60);
    expect(expected).toBeLessThan(140);
    // The decision is the trace's: an exemplar is offered exactly for the kept spans.
    const offered = events.filter((p) => p.classification.outcome === 'success' && sink.exemplarTraceId(p) !== null).length;
    expect(offered).toBe(expected);
  });
});

describe('back-pressure: a slow or absent receiver never holds up events', () => {
  function errorEvents(n: number, provider: string): ProcessedEvent[] {
    return Array.from({ length: n }, (_, i) =>
      processed(event({ provider, operation: 'create_order', statusCode: 403, correlationId: `bp-${i}`, timestampMs: T0 + i }), MERCHANT_INACTIVE),
    );
  }

  /**
   * Runs events through a metrics sink and the span sink as the pipeline would, in batches of 1000
   * with the event loop free in between (as between Kafka batches); returns the ms spent in onEvent.
   */
  async function run(events: readonly ProcessedEvent[], traces: TraceSink): Promise<{ ms: number; counted: number }> {
    const metrics = createMetricsSink({ registry: createMetricsRegistry({ defaultMetrics: false }), metrics: DEFAULT_CONFIG.metrics, exemplarTraceId: (p) => traces.exemplarTraceId(p) });
    let ms = 0;
    for (let from = 0; from < events.length; from += 1000) {
      const started = performance.now();
      for (let i = from; i < Math.min(events.length, from + 1000); i++) {
        metrics.onEvent(events[i]!);
        traces.onEvent(events[i]!);
      }
      ms += performance.now() - started;
      await new Promise((resolve) => setImmediate(resolve));
    }
    void metrics.close!();
    return { ms, counted: metrics.families.events.valueOf({ source: 'kafka', result: 'classified' }) };
  }

  it('slow receiver: every event is processed at full speed; spans beyond the queue are dropped and counted', async () => {
    const N = 20_000;
    const baselineSink = traceSink({ maxQueueSize: 4096, maxExportBatchSize: 512, scheduledDelayMillis: 10 });
    const baseline = await run(errorEvents(N, 'fast'), baselineSink);
    await baselineSink.forceFlush();

    receiver.setMode({ kind: 'slow', delayMs: 2000 });
    const registry = createMetricsRegistry({ defaultMetrics: false });
    const slowSink = traceSink({ registry, maxQueueSize: 1000, maxExportBatchSize: 500, scheduledDelayMillis: 10, otlp: { url: receiver.tracesUrl, timeoutMillis: 10_000 } });
    const slow = await run(errorEvents(N, 'slow'), slowSink);
    expect(slow.counted).toBe(N);
    const stats = slowSink.stats();
    expect(stats.droppedQueueFull).toBeGreaterThan(N - 1000 - 1);
    expect(stats.started + stats.droppedQueueFull).toBe(N);
    // Throughput does not drop: the slow run is not slower than the baseline (it builds fewer spans).
    expect(slow.ms).toBeLessThan(Math.max(baseline.ms * 1.5, baseline.ms + 200));
    console.log(`back-pressure: ${N} events, receiver ok ${baseline.ms.toFixed(0)} ms, receiver slow (2 s/answer) ${slow.ms.toFixed(0)} ms, dropped ${stats.droppedQueueFull}`);

    const text = await registry.metrics();
    expect(text).toMatch(new RegExp(`^paysignal_spans_dropped_total\\{reason="queue_full"\\} ${stats.droppedQueueFull}$`, 'm'));
    // The queued spans still arrive once the receiver answers.
    await waitFor('queued spans to be exported', () => (slowSink.stats().exported === stats.started ? true : undefined), 20_000);
    expect(receiver.spans.filter((s) => s.name === 'slow create_order').length).toBe(stats.started);
  });

  it('receiver down: every event is processed; failed exports and the full queue are counted as dropped spans', async () => {
    const deadPort = await freePort();
    const registry = createMetricsRegistry({ defaultMetrics: false });
    const sink = createTraceSink({ registry, otlp: { url: `http://127.0.0.1:${deadPort}/v1/traces`, timeoutMillis: 2000 }, maxQueueSize: 500, maxExportBatchSize: 250, scheduledDelayMillis: 10, shutdownTimeoutMs: 500 });
    sinks.push(sink);
    const N = 10_000;
    const down = await run(errorEvents(N, 'down'), sink);
    expect(down.counted).toBe(N);
    await waitFor('a failed export', () => (sink.stats().droppedExportFailed > 0 ? true : undefined), 20_000);
    const stats = sink.stats();
    expect(stats.droppedQueueFull).toBeGreaterThan(0);
    expect(stats.exported).toBe(0);
    const text = await registry.metrics();
    expect(text).toMatch(/^paysignal_spans_dropped_total\{reason="export_failed"\} [1-9]\d*$/m);
    expect(text).toMatch(/^paysignal_spans_dropped_total\{reason="queue_full"\} [1-9]\d*$/m);
  });
});
