// What the main thread does with a worker's reply (docs/architecture.md#worker-threads), before the
// batch resolves: rejected records go to the dead-letter producer (with their original bytes and
// headers, which never left this thread), every event's signal tuple goes to the alert engine and
// any extra sinks, the rendered events-file lines go to the events file.
import type { AlertEngine } from '../../alerting/engine/index.ts';
import { emptySignal, type EngineSignal } from '../../alerting/engine/signal.ts';
import type { EventsFileSink } from '../../sinks/events-file.ts';
import type { SourceRecord } from '../../sources/record.ts';
import type { DeadLetterSink, Rejection, SignalSink } from '../types.ts';
import { SIGNAL_STRIDE, type BatchReply } from './protocol.ts';
import type { SignalUnpacker } from './signal-tuples.ts';

export interface MainThreadSinkOptions {
  readonly deadLetter: DeadLetterSink;
  /** The alert engine, fed each event's signal in record order; null without rules. */
  readonly engine: Pick<AlertEngine, 'onSignal' | 'flush' | 'close'> | null;
  /** Further sinks, fed each event's signal part in record order, after the engine. */
  readonly sinks: readonly SignalSink[];
  readonly eventsFile: EventsFileSink | null;
}

/** Something a batch waits for before it resolves. */
interface Flushing {
  flush?: () => Promise<void>;
}

/** The main thread's sinks: they take the workers' replies, are flushed after each batch, and closed last. */
export class MainThreadSinks {
  private readonly deadLetter: DeadLetterSink;
  private readonly engine: MainThreadSinkOptions['engine'];
  private readonly sinks: readonly SignalSink[];
  private readonly invalidSinks: readonly SignalSink[];
  private readonly eventsFile: EventsFileSink | null;
  /** Reused for every event: the engine reads it synchronously. */
  private readonly engineSignal: EngineSignal = emptySignal();
  /**
   * What a batch waits for before it resolves: the dead-letter producer, then the sinks in the
   * order the in-thread pipeline flushes them: engine, events file, extra sinks.
   */
  readonly flushedPerBatch: readonly Flushing[];
  /** The workers must send each event's signal tuple (the engine or extra sinks read them). */
  readonly needsSignalTuples: boolean;
  /** The workers must render events-file lines. */
  readonly needsEventLines: boolean;

  constructor(options: MainThreadSinkOptions) {
    const { deadLetter, engine, eventsFile } = options;
    this.deadLetter = deadLetter;
    this.engine = engine;
    this.eventsFile = eventsFile;
    this.sinks = [...options.sinks];
    this.invalidSinks = this.sinks.filter((s) => s.onInvalid !== undefined);
    this.flushedPerBatch = [deadLetter, ...[...(engine === null ? [] : [engine]), ...(eventsFile === null ? [] : [eventsFile]), ...this.sinks].filter((s) => s.flush !== undefined)];
    this.needsSignalTuples = engine !== null || this.sinks.length > 0;
    this.needsEventLines = eventsFile !== null;
  }

  /** Hands a worker's results for one batch to the main thread's sinks, in record order. */
  takeReply(unpacker: SignalUnpacker, reply: BatchReply, records: readonly SourceRecord[]): void {
    const { deadLetter, invalidSinks, engine, sinks, eventsFile, engineSignal } = this;
    unpacker.learn(reply);
    const signals = reply.signals;
    const count = signals.length / SIGNAL_STRIDE;
    const rejected = reply.rejected;
    let r = 0;
    for (let k = 0; k <= count; k++) {
      // Rejections before this event (all remaining ones after the last).
      const before = k < count ? signals[k * SIGNAL_STRIDE]! : Number.POSITIVE_INFINITY;
      while (r < rejected.length && rejected[r]!.index < before) {
        const { index, reason, detail } = rejected[r++]!;
        const record = records[index]!;
        const rejection: Rejection = { reason, detail };
        deadLetter.add(record, rejection);
        for (let s = 0; s < invalidSinks.length; s++) invalidSinks[s]!.onInvalid!(record, rejection);
      }
      if (k === count) break;
      if (engine !== null) engine.onSignal(unpacker.engineSignal(signals, k, records, engineSignal));
      if (sinks.length === 0) continue;
      const event = unpacker.event(signals, k, records);
      for (let s = 0; s < sinks.length; s++) sinks[s]!.onEvent(event);
    }
    if (eventsFile !== null && reply.lineCount > 0) eventsFile.append(reply.lines, reply.lineCount);
  }

  /** Closes the engine, the extra sinks, the events file and the dead-letter producer, in that order. */
  async close(): Promise<void> {
    await this.engine?.close();
    for (const sink of this.sinks) await sink.close?.();
    await this.eventsFile?.close?.();
    await this.deadLetter.close?.();
  }
}
