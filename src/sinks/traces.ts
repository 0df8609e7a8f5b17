// One OpenTelemetry CLIENT span per provider call (docs/architecture.md#spans), exported over OTLP/HTTP protobuf.
//
// - Timing comes from the event: start = timestamp - duration, end = timestamp.
// - Trace id: the event's `traceparent` when valid (the span becomes a child of that span), else
//   SHA-256 of the payment's correlation id / idempotency key, so every attempt shares one trace.
// - Which spans are kept is the trace identity's decision (trace-identity.ts), shared with exemplars:
//   successes by `successSampleRatio`; errors up to the error-span budget, then per (provider, code)
//   (span-budget.ts). Every kept span carries `payment.sample_weight`, the number of calls it stands
//   for. Budgeted error spans wait until their second is over, because their weight is only known
//   then (at most the budget plus one per pair, for at most a second).
// - Spans are finished records (`ReadableSpan`) built here and handed to the SDK's
//   BatchSpanProcessor: the span is already over when paysignal sees the call, so the Tracer's
//   start/end, context and attribute sanitising per event bought nothing (about 7 us per span).
//   Batching, export and the wire format stay the SDK's.
// - Export: BatchSpanProcessor over OTLP/HTTP, protobuf unless OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL says
//   http/json (grpc is refused at startup, naming the fix), configured by the standard OTEL_*
//   variables (OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, _HEADERS, _TIMEOUT, _COMPRESSION, OTEL_SERVICE_NAME,
//   OTEL_RESOURCE_ATTRIBUTES, OTEL_BSP_*). `onEvent` only appends to a bounded queue; when the receiver
//   is slow or down the queue fills and further spans are dropped and counted
//   (`paysignal_spans_dropped_total{reason="queue_full"}`, `reason="export_failed"` for batches the
//   receiver did not take, `reason="budget"` for error spans over the budget). Events are never held
//   back or dropped for the sake of spans.
// - Nothing is registered globally.
import { SpanKind, SpanStatusCode, TraceFlags, type Attributes, type HrTime, type Link, type SpanContext, type SpanStatus } from '@opentelemetry/api';
import { ExportResultCode, getNumberFromEnv, hrTimeDuration, millisToHrTime, type ExportResult, type InstrumentationScope } from '@opentelemetry/core';
import { OTLPTraceExporter as OTLPJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { OTLPExporterNodeConfigBase } from '@opentelemetry/otlp-exporter-base';
import { defaultResource, detectResources, envDetector, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, type ReadableSpan, type SpanExporter, type TimedEvent } from '@opentelemetry/sdk-trace-base';
import type { Registry } from 'prom-client';
import { PaysignalError } from '../errors.ts';
import type { EventSink, ProcessedEvent } from '../pipeline/types.ts';
import { CounterFamily, register, type CounterSlot } from './series.ts';
import type { BudgetWindow } from './span-budget.ts';
import { createSpanIdentityResolver, randomSpanId, type SpanIdentityResolver } from './trace-identity.ts';

export interface TraceSinkOptions {
  /** Share of success spans kept, 0..1; default 1. */
  readonly successSampleRatio?: number;
  /** Error spans kept per second before sampling per (provider, code); default 0, no limit. Ignored with `identity`. */
  readonly maxErrorSpansPerSecond?: number;
  /** Registry for paysignal_spans_* counters; omit to keep the counts only on `stats`. */
  readonly registry?: Registry;
  /** Exporter override (tests); default the OTLP/HTTP protobuf exporter configured by OTEL_* variables. */
  readonly exporter?: SpanExporter;
  /** Passed to the OTLP exporter; explicit values win over OTEL_* variables. */
  readonly otlp?: OTLPExporterNodeConfigBase;
  /**
   * Spans queued or being exported at most; default OTEL_BSP_MAX_QUEUE_SIZE, else 8192. The pipeline
   * runs a whole source batch synchronously, so no export starts within a batch: a batch with more
   * kept spans than this loses the rest (counted).
   */
  readonly maxQueueSize?: number;
  /** Default OTEL_BSP_MAX_EXPORT_BATCH_SIZE, else 512; raised so a full queue is at most 16 batches (the OTLP exporter refuses more than 30 concurrent exports, which a flush of the whole queue issues). */
  readonly maxExportBatchSize?: number;
  /** Default OTEL_BSP_SCHEDULE_DELAY, else 1000 ms. */
  readonly scheduledDelayMillis?: number;
  /** Default OTEL_BSP_EXPORT_TIMEOUT, else 30 000 ms. */
  readonly exportTimeoutMillis?: number;
  /** `service.name` unless OTEL_SERVICE_NAME says otherwise; default `paysignal`. */
  readonly serviceName?: string;
  readonly serviceVersion?: string;
  /** Longest wait in `close()` for the last spans; default 5000 ms. */
  readonly shutdownTimeoutMs?: number;
  /** Share one resolver with the metrics sink's exemplars; default a new one with `successSampleRatio` and `maxErrorSpansPerSecond`. */
  readonly identity?: SpanIdentityResolver;
  /** Environment to read OTEL_SDK_DISABLED / OTEL_TRACES_EXPORTER / OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL from; default process.env. */
  readonly env?: NodeJS.ProcessEnv;
}

export interface TraceSinkStats {
  /** Spans handed to the export queue. */
  readonly started: number;
  readonly exported: number;
  readonly droppedQueueFull: number;
  readonly droppedExportFailed: number;
  /** Error spans the budget dropped. */
  readonly droppedBudget: number;
  /** Success spans left out by the sample ratio (not counted as dropped: that is the configured sampling). */
  readonly sampledOut: number;
  /** Error spans kept under the budget, waiting for their second to end. */
  readonly held: number;
  readonly inFlight: number;
}

export interface TraceSink extends EventSink {
  /** False when OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none (and no exporter was passed): onEvent does nothing. */
  readonly enabled: boolean;
  readonly identity: SpanIdentityResolver;
  /** For the metrics sink's `exemplarTraceId`: the trace id when this event's span is kept, else null. */
  exemplarTraceId(processed: ProcessedEvent): string | null;
  stats(): TraceSinkStats;
  /**
   * Queues the held error spans (with the weights counted so far) and exports what is queued now
   * (tests, shutdown). Deliberately not the EventSink `flush`: spans never hold up a commit.
   */
  forceFlush(): Promise<void>;
  close(): Promise<void>;
}

export type OtlpTracesProtocol = 'http/protobuf' | 'http/json';

/**
 * The OTLP protocol for spans: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL,
 * else http/protobuf (the specification's default). Anything else stops startup: silently exporting
 * in another protocol than the one configured would look like a collector that drops everything.
 */
export function otlpTracesProtocol(env: NodeJS.ProcessEnv): OtlpTracesProtocol {
  const name = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? '').trim() !== '' ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const raw = env[name] ?? '';
  const value = raw.trim().toLowerCase();
  if (value === '' || value === 'http/protobuf') return 'http/protobuf';
  if (value === 'http/json') return 'http/json';
  throw new PaysignalError(
    'OTLP_PROTOCOL_UNSUPPORTED',
    `${name}="${raw}" is not supported: paysignal exports spans over OTLP/HTTP, as http/protobuf (the default) or http/json; ` +
      `for a gRPC-only setup, point OTEL_EXPORTER_OTLP_ENDPOINT at the collector's OTLP/HTTP receiver (port 4318 by default)`,
    { field: name },
  );
}

const NO_LINKS: Link[] = [];
const NO_EVENTS: TimedEvent[] = [];
const STATUS_UNSET: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });
const SAMPLE_WEIGHT = 'payment.sample_weight';

/**
 * A finished CLIENT span, in the shape the SDK's processors and OTLP exporters read. The SDK's own
 * Span would record the same fields through a Tracer, a Context and a mutable span per event.
 */
class CallSpan implements ReadableSpan {
  readonly kind = SpanKind.CLIENT;
  readonly links = NO_LINKS;
  readonly events = NO_EVENTS;
  readonly ended = true;
  readonly droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  readonly name: string;
  readonly context: SpanContext;
  readonly parentSpanContext: SpanContext | undefined;
  readonly startTime: HrTime;
  readonly endTime: HrTime;
  readonly duration: HrTime;
  readonly status: SpanStatus;
  readonly attributes: Attributes;
  readonly resource: Resource;
  readonly instrumentationScope: InstrumentationScope;
  /** The budget window whose `seen / kept` becomes the weight; null once the weight is written. */
  window: BudgetWindow | null;

  constructor(
    name: string,
    context: SpanContext,
    parent: SpanContext | undefined,
    startMs: number,
    endMs: number,
    status: SpanStatus,
    attributes: Attributes,
    resource: Resource,
    scope: InstrumentationScope,
    window: BudgetWindow | null,
  ) {
    this.name = name;
    this.context = context;
    this.parentSpanContext = parent;
    this.startTime = millisToHrTime(startMs);
    this.endTime = millisToHrTime(endMs);
    this.duration = hrTimeDuration(this.startTime, this.endTime);
    this.status = status;
    this.attributes = attributes;
    this.resource = resource;
    this.instrumentationScope = scope;
    this.window = window;
  }

  spanContext(): SpanContext {
    return this.context;
  }
}

export function createTraceSink(options: TraceSinkOptions = {}): TraceSink {
  const env = options.env ?? process.env;
  const disabled =
    options.exporter === undefined &&
    ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true' ||
      (env.OTEL_TRACES_EXPORTER ?? '').trim().toLowerCase() === 'none');
  const identity =
    options.identity ??
    createSpanIdentityResolver({ successSampleRatio: options.successSampleRatio ?? 1, maxErrorSpansPerSecond: options.maxErrorSpansPerSecond ?? 0 });
  const maxQueueSize = options.maxQueueSize ?? getNumberFromEnv('OTEL_BSP_MAX_QUEUE_SIZE') ?? 8192;
  const maxExportBatchSize = Math.min(
    maxQueueSize,
    Math.max(Math.ceil(maxQueueSize / 16), options.maxExportBatchSize ?? getNumberFromEnv('OTEL_BSP_MAX_EXPORT_BATCH_SIZE') ?? 512),
  );
  const scheduledDelayMillis = options.scheduledDelayMillis ?? getNumberFromEnv('OTEL_BSP_SCHEDULE_DELAY') ?? 1000;
  const exportTimeoutMillis = options.exportTimeoutMillis ?? getNumberFromEnv('OTEL_BSP_EXPORT_TIMEOUT') ?? 30_000;

  let started = 0;
  let exported = 0;
  let droppedQueueFull = 0;
  let droppedExportFailed = 0;
  let droppedBudget = 0;
  let sampledOut = 0;
  let inFlight = 0;

  let exportedSlot: CounterSlot | null = null;
  let queueFullSlot: CounterSlot | null = null;
  let exportFailedSlot: CounterSlot | null = null;
  let budgetSlot: CounterSlot | null = null;
  if (options.registry !== undefined) {
    const exportedFamily = new CounterFamily({
      name: 'paysignal_spans_exported_total',
      help: 'Call spans the OTLP receiver accepted.',
      labelNames: ['exporter'],
    });
    const droppedFamily = new CounterFamily({
      name: 'paysignal_spans_dropped_total',
      help: 'Call spans dropped: queue_full (the export queue was full because the receiver is slow or down), export_failed (the receiver did not take the batch) or budget (error spans over tracing.max_error_spans_per_second; the kept ones carry payment.sample_weight). Events are never dropped for spans.',
      labelNames: ['reason'],
    });
    register(options.registry, exportedFamily);
    register(options.registry, droppedFamily);
    exportedSlot = exportedFamily.series('otlp');
    queueFullSlot = droppedFamily.series('queue_full');
    exportFailedSlot = droppedFamily.series('export_failed');
    budgetSlot = droppedFamily.series('budget');
  }

  const protocol = options.exporter !== undefined || disabled ? 'http/protobuf' : otlpTracesProtocol(env);
  const inner: SpanExporter =
    options.exporter ?? (protocol === 'http/json' ? new OTLPJsonTraceExporter(options.otlp ?? {}) : new OTLPTraceExporter(options.otlp ?? {}));
  const counting: SpanExporter = {
    export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
      const n = spans.length;
      let settled = false;
      const finish = (result: ExportResult): void => {
        if (settled) return;
        settled = true;
        inFlight -= n;
        if (result.code === ExportResultCode.SUCCESS) {
          exported += n;
          if (exportedSlot !== null) exportedSlot.value += n;
        } else {
          droppedExportFailed += n;
          if (exportFailedSlot !== null) exportFailedSlot.value += n;
        }
        done(result);
      };
      try {
        inner.export(spans, finish);
      } catch (error) {
        finish({ code: ExportResultCode.FAILED, error: error instanceof Error ? error : new Error(String(error)) });
      }
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };

  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (envDetector) win over these defaults.
  const serviceName = options.serviceName ?? 'paysignal';
  const resource = defaultResource()
    .merge(
      resourceFromAttributes({
        'service.name': serviceName,
        ...(options.serviceVersion !== undefined ? { 'service.version': options.serviceVersion } : {}),
      }),
    )
    .merge(detectResources({ detectors: [envDetector] }));
  const scope: InstrumentationScope = { name: 'paysignal', ...(options.serviceVersion !== undefined ? { version: options.serviceVersion } : {}) };
  const processor = new BatchSpanProcessor(counting, { maxQueueSize, maxExportBatchSize, scheduledDelayMillis, exportTimeoutMillis });
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 5000;
  let closed = false;

  // Error spans kept under the budget, until their second is over and their weight is known.
  const held: CallSpan[] = [];
  let heldSecond = -1;
  const budget = identity.budget;
  const releaseTimer =
    budget === null || disabled
      ? null
      : setInterval(() => {
          if (held.length > 0 && Math.floor(identity.now() / 1000) > heldSecond) releaseHeld();
        }, 250);
  releaseTimer?.unref();

  function enqueue(span: CallSpan): void {
    if (inFlight >= maxQueueSize) {
      droppedQueueFull++;
      if (queueFullSlot !== null) queueFullSlot.value += 1;
      return;
    }
    started++;
    inFlight++;
    processor.onEnd(span);
  }

  function releaseHeld(): void {
    for (let i = 0; i < held.length; i++) {
      const span = held[i]!;
      const window = span.window!;
      span.attributes[SAMPLE_WEIGHT] = window.seen / window.kept;
      span.window = null;
      enqueue(span);
    }
    held.length = 0;
  }

  return {
    name: 'traces',
    enabled: !disabled,
    identity,
    exemplarTraceId(processed) {
      return disabled ? null : identity.exemplarTraceId(processed);
    },
    stats: () => ({ started, exported, droppedQueueFull, droppedExportFailed, droppedBudget, sampledOut, held: held.length, inFlight }),

    onEvent(processed: ProcessedEvent): void {
      if (disabled || closed) return;
      const id = identity.resolve(processed);
      if (!id.sampled) {
        if (id.overBudget) {
          droppedBudget++;
          if (budgetSlot !== null) budgetSlot.value += 1;
        } else sampledOut++;
        return;
      }
      const window = id.window;
      if (window === null && inFlight >= maxQueueSize) {
        droppedQueueFull++;
        if (queueFullSlot !== null) queueFullSlot.value += 1;
        return;
      }
      const { event, classification: c, correlation } = processed;
      const operation = c.operation ?? 'unknown';
      const endMs = event.timestampMs;
      const durationMs = event.durationMs !== null && event.durationMs > 0 && Number.isFinite(event.durationMs) ? event.durationMs : 0;
      const attributes: Attributes = {
        'payment.provider': c.provider,
        'payment.operation': operation,
      };
      if (event.method !== null) attributes['http.request.method'] = event.method.toUpperCase();
      if (c.statusCode !== null) attributes['http.response.status_code'] = c.statusCode;
      if (event.route !== null) attributes['url.template'] = event.route;
      const correlationId = c.correlationId ?? event.correlationId;
      if (correlationId !== null) attributes['payment.correlation_id'] = correlationId;
      const attempt = correlation?.attemptNumber ?? event.attempt;
      if (attempt !== null && attempt !== undefined) attributes['payment.attempt'] = attempt;
      if (event.merchantId !== null) attributes['payment.merchant_id'] = event.merchantId;
      if (event.environment !== null) attributes['deployment.environment.name'] = event.environment;
      if (correlation !== null) {
        if (correlation.isRetry) attributes['payment.retry.is_retry'] = true;
        if (correlation.isStorm) attributes['payment.retry.storm'] = true;
        if (correlation.violationOf !== null) {
          attributes['payment.retry.violation'] = true;
          attributes['payment.retry.violation_of'] = correlation.violationOf.retry;
        }
      }
      let status = STATUS_UNSET;
      if (c.outcome === 'error') {
        const errorType = c.code ?? event.networkError ?? (c.statusCode !== null ? String(c.statusCode) : '_OTHER');
        attributes['error.type'] = errorType;
        if (c.code !== null) attributes['payment.error.code'] = c.code;
        if (c.category !== null) attributes['payment.error.category'] = c.category;
        if (c.retry !== null) attributes['payment.error.retry'] = c.retry;
        if (c.field !== null) attributes['payment.error.field'] = c.field;
        if (c.owner !== null) attributes['payment.error.owner'] = c.owner;
        attributes['payment.error.known'] = c.known;
        status = { code: SpanStatusCode.ERROR, message: c.code ?? c.category ?? 'error' };
      }
      if (window === null) attributes[SAMPLE_WEIGHT] = id.weight;

      const context: SpanContext = { traceId: id.traceId, spanId: randomSpanId(), traceFlags: TraceFlags.SAMPLED };
      const parent: SpanContext | undefined =
        id.parentSpanId === null ? undefined : { traceId: id.traceId, spanId: id.parentSpanId, traceFlags: TraceFlags.SAMPLED, isRemote: true };
      const span = new CallSpan(`${c.provider} ${operation}`, context, parent, endMs - durationMs, endMs, status, attributes, resource, scope, window);
      if (window === null) {
        enqueue(span);
        return;
      }
      if (window.second !== heldSecond) {
        releaseHeld();
        heldSecond = window.second;
      }
      held.push(span);
    },

    async forceFlush(): Promise<void> {
      releaseHeld();
      await processor.forceFlush();
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (releaseTimer !== null) clearInterval(releaseTimer);
      releaseHeld();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, shutdownTimeoutMs);
        timer.unref();
      });
      try {
        await Promise.race([processor.shutdown().catch(() => undefined), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
