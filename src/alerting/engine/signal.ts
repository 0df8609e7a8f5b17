// What the engine reads of one classified event: where it came from (for per-partition event time and
// the checkpoint's offsets), its event time, and the fields rules select and group on. Small and flat
// so a worker thread can send it as a tuple; `signalOf` adapts the in-thread ProcessedEvent.
import type { Classification } from '../../classify/classification.ts';
import type { CorrelationFacts, ProcessedEvent } from '../../pipeline/types.ts';
import type { SourceRecord } from '../../sources/record.ts';

export interface EngineSignal {
  /** Kafka topic; '' for the file/stdin path, which is one pseudo-partition. */
  topic: string;
  /** Kafka partition; 0 for the file/stdin path. */
  partition: number;
  /** Kafka offset; -1 when the source has none (file/stdin, tests). */
  offset: number;
  /** Event time, epoch ms. */
  timestampMs: number;
  isError: boolean;
  provider: string;
  operation: string | null;
  code: string | null;
  category: string | null;
  retry: string | null;
  /** Set (to the violated decision's retry) when the call retried after a decision forbidding it. */
  violationRetry: string | null;
  /** The violated decision's code (null also when the decision had none). */
  violationCode: string | null;
}

/** A blank signal to fill (the engine keeps nothing of the object it is handed). */
export function emptySignal(): EngineSignal {
  return {
    topic: '',
    partition: 0,
    offset: -1,
    timestampMs: 0,
    isError: false,
    provider: '',
    operation: null,
    code: null,
    category: null,
    retry: null,
    violationRetry: null,
    violationCode: null,
  };
}

/**
 * Fills `into` from a processed event and returns it. Only Kafka records carry partitions and
 * offsets; every other source is the one pseudo-partition ('', 0) without offsets.
 */
export function signalOf(processed: ProcessedEvent, into: EngineSignal = emptySignal()): EngineSignal {
  return fillSignal(into, processed.record, processed.event.timestampMs, processed.classification, processed.correlation?.violationOf ?? null);
}

/**
 * Fills `into` from the parts of an event the engine reads and returns it: in-thread from a
 * ProcessedEvent (signalOf), on the worker path from the main thread's signal tuples.
 */
export function fillSignal(
  into: EngineSignal,
  record: SourceRecord,
  timestampMs: number,
  c: Pick<Classification, 'outcome' | 'provider' | 'operation' | 'code' | 'category' | 'retry'>,
  violation: CorrelationFacts['violationOf'],
): EngineSignal {
  const kafka = record.source === 'kafka';
  into.topic = kafka ? record.topic : '';
  into.partition = kafka ? record.partition : 0;
  into.offset = kafka ? Number(record.offset) : -1;
  into.timestampMs = timestampMs;
  into.isError = c.outcome === 'error';
  into.provider = c.provider;
  into.operation = c.operation;
  into.code = c.code;
  into.category = c.category;
  into.retry = c.retry;
  into.violationRetry = violation === null ? null : violation.retry;
  into.violationCode = violation === null ? null : violation.code;
  return into;
}
