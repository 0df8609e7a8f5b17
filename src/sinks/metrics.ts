// The Prometheus metrics of docs/architecture.md#metrics, as an EventSink.
//
// Hot path (`onEvent`): label values go through the LabelGuard (Map hits), series are found through
// nested Maps keyed by those values (no key strings are built), and counts are plain number fields.
// In steady state an event allocates nothing here. Ids (correlation id, idempotency key, merchant id)
// never become labels; the trace id travels only as an exemplar, rendered in OpenMetrics.
import type { Registry } from 'prom-client';
import type { EventSink, ProcessedEvent, Rejection } from '../pipeline/types.ts';
import type { SourceRecord } from '../sources/record.ts';
import { LabelGuard, OVERFLOW, type LabelGuardOptions, type ProviderLabels } from './label-guard.ts';
import { CounterFamily, HistogramFamily, register, startCoarseClock, type CounterSlot, type HistogramSlot } from './series.ts';

/** Provider calls last from a few ms to the 30 s gateway timeouts (Kustom answers 504 after 30 s). */
export const CALL_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60,
]);

/** Label value of `operation` when neither the event nor the endpoint table names one. */
export const UNKNOWN_OPERATION = 'unknown';
/** Label value of `code` for an error that carried no provider code (network errors, bare statuses). */
export const NO_CODE = 'none';

export interface MetricsSinkOptions extends LabelGuardOptions {
  /** Where the metrics live; pass the same registry to the HTTP server. Never the prom-client global. */
  readonly registry: Registry;
  /** Histogram buckets in seconds; default CALL_DURATION_BUCKETS (10 ms to 60 s). */
  readonly durationBuckets?: readonly number[];
  /**
   * The trace id to attach as exemplar for this event, or null (the span sink's `exemplarTraceId`,
   * which answers only for spans it exports). Without it, no exemplars.
   */
  readonly exemplarTraceId?: (processed: ProcessedEvent) => string | null;
  /** Wall clock for exemplar timestamps, in ms (read once a second); default Date.now. */
  readonly now?: () => number;
}

export interface MetricsSink extends EventSink {
  readonly guard: LabelGuard;
  /** The families, for tests and for other parts that read counts in process. */
  readonly families: {
    readonly calls: CounterFamily;
    readonly errors: CounterFamily;
    readonly duration: HistogramFamily;
    readonly retries: CounterFamily;
    readonly retryViolations: CounterFamily;
    readonly retryStormAttempts: CounterFamily;
    readonly unmatchedRetries: CounterFamily;
    readonly events: CounterFamily;
    readonly invalidEvents: CounterFamily;
    readonly labelOverflow: CounterFamily;
  };
}

export function createMetricsSink(options: MetricsSinkOptions): MetricsSink {
  const { registry } = options;
  const guard = new LabelGuard(options);
  const exemplarTraceId = options.exemplarTraceId;
  // Exemplar timestamps: a clock read once a second, not per event.
  const clock = exemplarTraceId === undefined ? null : startCoarseClock(options.now);
  const clockSeconds = clock?.seconds ?? new Float64Array(1);

  const calls = new CounterFamily({
    name: 'payment_provider_calls_total',
    help: 'Calls to payment providers, by outcome (error: HTTP status >= 400 or no response).',
    labelNames: ['provider', 'operation', 'outcome'],
  });
  const errors = new CounterFamily({
    name: 'payment_provider_errors_total',
    help: "Failed payment-provider calls by the provider's error code and paysignal's category and retry decision.",
    labelNames: ['provider', 'operation', 'code', 'category', 'retry'],
  });
  const duration = new HistogramFamily({
    name: 'payment_provider_call_duration_seconds',
    help: 'Duration of payment-provider calls as the calling service measured it.',
    labelNames: ['provider', 'operation', 'outcome'],
    buckets: options.durationBuckets ?? CALL_DURATION_BUCKETS,
  });
  const retries = new CounterFamily({
    name: 'payment_provider_retries_total',
    help: 'Calls that repeat an earlier attempt under the same idempotency key or correlation id.',
    labelNames: ['provider', 'operation'],
  });
  const retryViolations = new CounterFamily({
    name: 'payment_provider_retry_violations_total',
    help: 'Attempts made after a decision that the same request cannot succeed (do_not_retry, new_checkout, contact_provider, fix_and_resubmit); code and retry are those of that decision.',
    labelNames: ['provider', 'code', 'retry'],
  });
  const retryStormAttempts = new CounterFamily({
    name: 'payment_provider_retry_storm_attempts_total',
    help: 'Attempts made under a key that already exceeded the retry-storm threshold.',
    labelNames: ['provider', 'operation'],
  });
  const unmatchedRetries = new CounterFamily({
    name: 'paysignal_correlation_unmatched_retries_total',
    help: 'Events that say they are a retry (attempt > 1) whose earlier attempts never reached this instance: producers should key messages by idempotency key or correlation id.',
    labelNames: ['provider'],
  });
  const events = new CounterFamily({
    name: 'paysignal_events_total',
    help: 'Events read by paysignal, by source and result (classified or invalid).',
    labelNames: ['source', 'result'],
  });
  const invalidEvents = new CounterFamily({
    name: 'paysignal_invalid_events_total',
    help: 'Events rejected by the decoder, by reason.',
    labelNames: ['reason'],
  });
  const labelOverflow = new CounterFamily({
    name: 'paysignal_label_overflow_total',
    help: 'Observations recorded with a label value replaced by __overflow__ because the per-provider cap was reached.',
    labelNames: ['metric', 'label'],
  });
  for (const family of [calls, errors, duration, retries, retryViolations, retryStormAttempts, unmatchedRetries, events, invalidEvents, labelOverflow]) {
    register(registry, family);
  }

  // Overflow series are few and fixed: create them up front.
  const overflow = (metric: string, label: string): CounterSlot => labelOverflow.series(metric, label);
  const ofCallsProvider = overflow(calls.name, 'provider');
  const ofCallsOperation = overflow(calls.name, 'operation');
  const ofErrorsCode = overflow(errors.name, 'code');
  const ofViolationsCode = overflow(retryViolations.name, 'code');

  // Source labels are few (kafka, file, stdin); cache their two series per source.
  const classifiedBySource = new Map<string, CounterSlot>();
  const invalidBySource = new Map<string, CounterSlot>();
  let lastSource = '';
  let lastSourceSlot: CounterSlot | null = null;

  // The labels and series of each admitted (provider, operation) pair, found with two Map hits per
  // event instead of the guard's two and a three-level series lookup per family. Only pairs the
  // guard admitted are kept (bounded by its caps); refused ones take the guard's path every time.
  // `settle` may change the guard's answers, so a new guard generation starts over.
  const pairs = new Map<string, Map<string, PairSeries>>();
  let pairsGeneration = guard.generation;

  function pairOf(providerId: string, operationId: string): PairSeries | null {
    if (guard.generation !== pairsGeneration) {
      pairs.clear();
      pairsGeneration = guard.generation;
    }
    let byOperation = pairs.get(providerId);
    const found = byOperation?.get(operationId);
    if (found !== undefined) return found;
    const providerState = guard.provider(providerId);
    if (guard.overflowed) return null;
    const operation = guard.operation(providerState, operationId);
    if (guard.overflowed) return null;
    const pair = new PairSeries(providerState, operation);
    if (byOperation === undefined) {
      byOperation = new Map();
      pairs.set(providerId, byOperation);
    }
    byOperation.set(operationId, pair);
    return pair;
  }

  /** The same, for a pair with a refused value: overflow counted, nothing kept. */
  function refusedPair(providerId: string, operationId: string): PairSeries {
    const providerState = guard.provider(providerId);
    if (guard.overflowed) ofCallsProvider.value += 1;
    const operation = guard.operation(providerState, operationId);
    if (guard.overflowed) ofCallsOperation.value += 1;
    return new PairSeries(providerState, operation);
  }

  return {
    name: 'metrics',
    guard,
    families: { calls, errors, duration, retries, retryViolations, retryStormAttempts, unmatchedRetries, events, invalidEvents, labelOverflow },

    onEvent(processed: ProcessedEvent): void {
      const c = processed.classification;
      const source = processed.record.source;
      if (source !== lastSource || lastSourceSlot === null) {
        let slot = classifiedBySource.get(source);
        if (slot === undefined) {
          slot = events.series(source, 'classified');
          classifiedBySource.set(source, slot);
        }
        lastSource = source;
        lastSourceSlot = slot;
      }
      lastSourceSlot.value += 1;

      const operationId = c.operation ?? UNKNOWN_OPERATION;
      const pair = pairOf(c.provider, operationId) ?? refusedPair(c.provider, operationId);
      const provider = pair.provider;
      const operation = pair.operation;

      const isError = c.outcome === 'error';
      const traceId = exemplarTraceId === undefined ? null : exemplarTraceId(processed);

      if (isError) (pair.errorCalls ??= calls.series(provider, operation, 'error')).value += 1;
      else (pair.successCalls ??= calls.series(provider, operation, c.outcome)).value += 1;

      const durationMs = processed.event.durationMs;
      if (durationMs !== null && durationMs >= 0 && Number.isFinite(durationMs)) {
        const slot = isError ? (pair.errorDuration ??= duration.series(provider, operation, 'error')) : (pair.successDuration ??= duration.series(provider, operation, c.outcome));
        duration.observe(slot, durationMs / 1000, traceId, clockSeconds);
      }

      if (isError) {
        let code = NO_CODE;
        if (c.code !== null) {
          code = guard.code(pair.providerState, c.code);
          if (guard.overflowed) ofErrorsCode.value += 1;
        }
        const slot = errors.series(provider, operation, code, c.category ?? 'unknown', c.retry ?? 'do_not_retry');
        CounterFamily.bump(slot, traceId, clockSeconds);
      }

      const facts = processed.correlation;
      if (facts !== null) {
        if (facts.isRetry) (pair.retries ??= retries.series(provider, operation)).value += 1;
        if (facts.isStorm) (pair.stormAttempts ??= retryStormAttempts.series(provider, operation)).value += 1;
        if (facts.unmatchedRetry) unmatchedRetries.series(provider).value += 1;
        const violation = facts.violationOf;
        if (violation !== null) {
          let code = NO_CODE;
          if (violation.code !== null) {
            code = guard.code(pair.providerState, violation.code);
            if (guard.overflowed) ofViolationsCode.value += 1;
          }
          CounterFamily.bump(retryViolations.series(provider, code, violation.retry), traceId, clockSeconds);
        }
      }
    },

    async close(): Promise<void> {
      clock?.stop();
    },

    onInvalid(record: SourceRecord, rejection: Rejection): void {
      let slot = invalidBySource.get(record.source);
      if (slot === undefined) {
        slot = events.series(record.source, 'invalid');
        invalidBySource.set(record.source, slot);
      }
      slot.value += 1;
      invalidEvents.series(rejection.reason).value += 1;
    },
  };
}

/** The label values of one (provider, operation) pair and its series, each made on first use (a series exists once counted). */
class PairSeries {
  readonly providerState: ProviderLabels;
  readonly provider: string;
  readonly operation: string;
  successCalls: CounterSlot | null = null;
  errorCalls: CounterSlot | null = null;
  successDuration: HistogramSlot | null = null;
  errorDuration: HistogramSlot | null = null;
  retries: CounterSlot | null = null;
  stormAttempts: CounterSlot | null = null;

  constructor(providerState: ProviderLabels, operation: string) {
    this.providerState = providerState;
    this.provider = providerState.label;
    this.operation = operation;
  }
}

export { OVERFLOW };
