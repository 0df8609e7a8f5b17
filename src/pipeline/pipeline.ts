// Wiring of the stages: decode -> classify -> correlate -> sinks, with rejections to the dead letter.
import type { Classifier } from '../classify/classifier.ts';
import type { Decoder } from '../events/decode.ts';
import type { PaymentCallEvent } from '../events/event.ts';
import type { Classification } from '../classify/classification.ts';
import type { SourceRecord } from '../sources/record.ts';
import type { CorrelationFacts, DeadLetterSink, EventSink, ProcessedEvent, RecordBatchHandler, Rejection } from './types.ts';

export interface CorrelationObserver {
  observe(event: PaymentCallEvent, classification: Classification): CorrelationFacts;
}

export interface PipelineOptions {
  readonly decoder: Decoder;
  readonly classifier: Classifier;
  readonly tracker?: CorrelationObserver | null;
  readonly sinks: readonly EventSink[];
  readonly deadLetter: DeadLetterSink;
}

export type RecordOutcome =
  | { readonly ok: true; readonly processed: ProcessedEvent }
  | { readonly ok: false; readonly rejection: Rejection };

export interface Pipeline extends RecordBatchHandler {
  /** Runs one record through every stage synchronously; dead-letter writes still need `flush`. */
  processRecord(record: SourceRecord): RecordOutcome;
  /** Waits until dead-letter writes and sink buffers for everything processed so far are done. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

const EMPTY = new Uint8Array(0);

export function createPipeline(options: PipelineOptions): Pipeline {
  const { decoder, classifier, deadLetter } = options;
  const tracker = options.tracker ?? null;
  const sinks = [...options.sinks];
  const invalidSinks = sinks.filter((s) => s.onInvalid !== undefined);
  const flushingSinks = sinks.filter((s) => s.flush !== undefined);

  function processRecord(record: SourceRecord): RecordOutcome {
    const decoded = decoder.decode(record.value ?? EMPTY);
    if (!decoded.ok) {
      deadLetter.add(record, decoded.rejection);
      for (let i = 0; i < invalidSinks.length; i++) invalidSinks[i]!.onInvalid!(record, decoded.rejection);
      return decoded;
    }
    const event = decoded.event;
    const classification = classifier.classify(event);
    const correlation = tracker === null ? null : tracker.observe(event, classification);
    const processed: ProcessedEvent = { record, event, classification, correlation };
    for (let i = 0; i < sinks.length; i++) sinks[i]!.onEvent(processed);
    return { ok: true, processed };
  }

  async function flush(): Promise<void> {
    await deadLetter.flush();
    for (const sink of flushingSinks) await sink.flush!();
  }

  return {
    processRecord,
    flush,
    async handleBatch(records) {
      for (let i = 0; i < records.length; i++) processRecord(records[i]!);
      await flush();
    },
    async close() {
      await flush();
      for (const sink of sinks) await sink.close?.();
      await deadLetter.close?.();
    },
  };
}
