// Per-event signal tuples: how the alert engine and the main thread's sinks learn about events that
// a worker processed. A worker numbers each distinct label combination (class) and each distinct
// violated decision once, and sends per event only numbers: record index, event time, class id,
// violation id. New classes and violations travel with the batch that first used them. The main
// thread turns the numbers back into the engine's EngineSignal and into SignalEvents for other
// sinks, against its copy of each worker's tables.
import { fillSignal, type EngineSignal } from '../../alerting/engine/signal.ts';
import type { CorrelationFacts, ProcessedEvent, SignalEvent } from '../types.ts';
import type { SourceRecord } from '../../sources/record.ts';
import { SIGNAL_STRIDE, type BatchReply, type SignalClass, type ViolationTuple } from './protocol.ts';

/** Nested Maps keyed by the class's fields: a lookup of a known class allocates nothing. */
type Level = Map<unknown, unknown>;

/** A class as the packer finds it: the fields not keyed on, and its id. */
interface ClassEntry {
  readonly outcome: SignalClass['outcome'];
  readonly category: SignalClass['category'];
  readonly retry: SignalClass['retry'];
  readonly errorType: SignalClass['errorType'];
  readonly id: number;
}


/** Worker side: collects the tuples of one batch at a time. */
export class SignalPacker {
  /**
   * Classes by provider, operation, code and status, then the few of each (one verdict, mostly one
   * error type) compared field by field: four Map hits per event instead of one per field.
   */
  private readonly classIndex: Level = new Map();
  private classCount = 0;
  private readonly violationRoot: Level = new Map();
  private violationCount = 0;
  private buffer = new Float64Array(SIGNAL_STRIDE * 1024);
  private length = 0;
  private newClasses: SignalClass[] = [];
  private newViolations: ViolationTuple[] = [];

  add(index: number, processed: ProcessedEvent): void {
    if (this.length + SIGNAL_STRIDE > this.buffer.length) {
      const grown = new Float64Array(this.buffer.length * 2);
      grown.set(this.buffer);
      this.buffer = grown;
    }
    const b = this.buffer;
    const at = this.length;
    b[at] = index;
    b[at + 1] = processed.event.timestampMs;
    b[at + 2] = this.classId(processed.classification);
    b[at + 3] = this.violationId(processed.correlation);
    this.length = at + SIGNAL_STRIDE;
  }

  /** The batch's tuples in a buffer of their own (to be transferred), and the new table entries. */
  take(): Pick<BatchReply, 'signals' | 'newClasses' | 'newViolations'> {
    const signals = this.buffer.slice(0, this.length);
    const out = { signals, newClasses: this.newClasses, newViolations: this.newViolations };
    this.length = 0;
    this.newClasses = [];
    this.newViolations = [];
    return out;
  }

  private classId(c: SignalClass): number {
    const byStatus = step(step(step(this.classIndex, c.provider), c.operation), c.code);
    let entries = byStatus.get(c.statusCode) as ClassEntry[] | undefined;
    if (entries === undefined) {
      entries = [];
      byStatus.set(c.statusCode, entries);
    }
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.outcome === c.outcome && e.category === c.category && e.retry === c.retry && e.errorType === c.errorType) return e.id;
    }
    const created = this.classCount++;
    entries.push({ outcome: c.outcome, category: c.category, retry: c.retry, errorType: c.errorType, id: created });
    this.newClasses.push({
      outcome: c.outcome,
      provider: c.provider,
      operation: c.operation,
      statusCode: c.statusCode,
      code: c.code,
      category: c.category,
      retry: c.retry,
      errorType: c.errorType,
    });
    return created;
  }

  private violationId(facts: CorrelationFacts | null): number {
    const v = facts?.violationOf ?? null;
    if (v === null) return 0;
    const node = step(this.violationRoot, v.code);
    const id = node.get(v.retry) as number | undefined;
    if (id !== undefined) return id;
    const created = ++this.violationCount;
    node.set(v.retry, created);
    this.newViolations.push({ code: v.code, retry: v.retry });
    return created;
  }
}

function step(node: Level, key: unknown): Level {
  let next = node.get(key) as Level | undefined;
  if (next === undefined) {
    next = new Map();
    node.set(key, next);
  }
  return next;
}

type Correlation = Pick<CorrelationFacts, 'violationOf'>;
const NO_VIOLATION: Correlation = Object.freeze({ violationOf: null });

/** The SignalEvent handed to main-thread sinks; one object reused for every event (sinks must not keep it). */
interface MutableSignalEvent {
  record: SourceRecord;
  event: { timestampMs: number };
  classification: SignalClass;
  correlation: Correlation;
}

/** Main-thread side: one per worker, holding that worker's tables. */
export class SignalUnpacker {
  private readonly classes: SignalClass[] = [];
  private readonly violations: Correlation[] = [NO_VIOLATION];
  private readonly view: MutableSignalEvent;

  constructor(placeholder: SourceRecord) {
    this.view = { record: placeholder, event: { timestampMs: 0 }, classification: { outcome: 'success', provider: '', operation: null, statusCode: null, code: null, category: null, retry: null, errorType: null }, correlation: NO_VIOLATION };
  }

  /** Takes a reply's new table entries; call once per reply, before `event`. */
  learn(reply: Pick<BatchReply, 'newClasses' | 'newViolations'>): void {
    for (const c of reply.newClasses) this.classes.push(Object.freeze(c));
    for (const v of reply.newViolations) this.violations.push(Object.freeze({ violationOf: Object.freeze(v) }) as Correlation);
  }

  /** The alert engine's input for tuple `k` of `signals`, filled into `into` (as signalOf does in-thread). */
  engineSignal(signals: Float64Array, k: number, records: readonly SourceRecord[], into: EngineSignal): EngineSignal {
    const at = k * SIGNAL_STRIDE;
    return fillSignal(into, records[signals[at]!]!, signals[at + 1]!, this.classes[signals[at + 2]!]!, this.violations[signals[at + 3]!]!.violationOf);
  }

  /** The event of tuple `k` of `signals`, for records `records`; valid until the next call. */
  event(signals: Float64Array, k: number, records: readonly SourceRecord[]): SignalEvent {
    const at = k * SIGNAL_STRIDE;
    const view = this.view;
    view.record = records[signals[at]!]!;
    view.event.timestampMs = signals[at + 1]!;
    view.classification = this.classes[signals[at + 2]!]!;
    view.correlation = this.violations[signals[at + 3]!]!;
    return view;
  }
}
