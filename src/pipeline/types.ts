// The types at which pipeline stages meet (docs/architecture.md#pipeline-stages). A stage never reaches into another
// stage's internals; it only sees these.
import type { PaymentCallEvent } from '../events/event.ts';
import type { Classification } from '../classify/classification.ts';
import type { SourceRecord } from '../sources/record.ts';

/** Why the decoder rejected a record; `reason` is a stable code, `detail` a message a person can act on. */
export interface Rejection {
  readonly reason: RejectionReason;
  readonly detail: string;
}

export type RejectionReason =
  | 'empty'
  | 'too_large'
  | 'not_utf8'
  | 'not_json'
  | 'not_object'
  | 'forbidden_key'
  | 'missing_field'
  | 'wrong_type'
  | 'invalid_value'
  | 'mapping_failed';

/** Facts the correlation tracker derives for one call (docs/architecture.md#correlation-and-keying-across-replicas). */
export interface CorrelationFacts {
  /**
   * The id attempts are tied by: idempotency key, else correlation id (some providers, e.g. Kustom,
   * issue a new correlation id per request); null when the call has neither.
   */
  readonly key: string | null;
  /** 1 for the first attempt seen under this key. */
  readonly attemptNumber: number;
  /** True when this call is a retry of an earlier attempt under the same key. */
  readonly isRetry: boolean;
  /** True once the key has more attempts than the configured storm threshold. */
  readonly isStorm: boolean;
  /** Set when this attempt follows a decision that said the same request cannot succeed. */
  readonly violationOf: { readonly code: string | null; readonly retry: string } | null;
  /**
   * True when the event says it is a retry (`attempt` > 1) but no earlier attempt under its key
   * reached this instance: the earlier ones went elsewhere, so the topic is probably not keyed by
   * idempotency key or correlation id (docs/architecture.md#correlation-and-keying-across-replicas).
   */
  readonly unmatchedRetry: boolean;
}

export interface ProcessedEvent {
  readonly record: SourceRecord;
  readonly event: PaymentCallEvent;
  readonly classification: Classification;
  readonly correlation: CorrelationFacts | null;
}

/**
 * The part of a processed event the alert engine and the service's extra sinks read: where it came
 * from, its event time, its labels and the retry decision it violated. With worker threads
 * (docs/architecture.md#worker-threads) only this crosses back to the main thread, so a sink that
 * runs there reads nothing else. A ProcessedEvent is one.
 */
export interface SignalEvent {
  readonly record: SourceRecord;
  readonly event: Pick<PaymentCallEvent, 'timestampMs'>;
  readonly classification: Pick<Classification, 'outcome' | 'provider' | 'operation' | 'statusCode' | 'code' | 'category' | 'retry' | 'errorType'>;
  readonly correlation: Pick<CorrelationFacts, 'violationOf'> | null;
}

/** A sink that needs only the signal part of each event: it runs on the main thread in worker mode. */
export interface SignalSink extends Omit<EventSink, 'onEvent'> {
  onEvent(event: SignalEvent): void;
}

/**
 * A sink receives every processed event, in order. `onEvent` is on the hot path: synchronous,
 * no I/O, never throws for data reasons. Sinks that do I/O buffer and expose `flush`.
 */
export interface EventSink {
  readonly name: string;
  onEvent(processed: ProcessedEvent): void;
  onInvalid?(record: SourceRecord, rejection: Rejection): void;
  /** Resolves once everything passed so far is delivered as far as this sink promises; rejects to stop a commit. */
  flush?(): Promise<void>;
  close?(): Promise<void>;
}

/** Where rejected records go with their original bytes (a Kafka topic in `run`). */
export interface DeadLetterSink {
  add(record: SourceRecord, rejection: Rejection): void;
  /** Resolves when every added record is written; rejects when a write failed (the batch must not be committed). */
  flush(): Promise<void>;
  close?(): Promise<void>;
}

/** What a source calls for each batch; resolves only when the whole batch has passed all sinks. */
export interface RecordBatchHandler {
  handleBatch(records: readonly SourceRecord[]): Promise<void>;
}
