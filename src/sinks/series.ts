// Allocation-free counters and histograms that render through a prom-client Registry.
//
// Why not prom-client's own Counter/Histogram on the hot path: every `inc`/`observe` there hashes the
// label object into a fresh string, and `Histogram.observe` builds a closure per call; its counter
// children (`counter.labels(...)`) also cannot carry exemplars (the bound `inc` of an exemplar-enabled
// counter ignores its labels). These families keep one mutable slot per label tuple, found through
// nested Maps keyed by the label values themselves, so a steady-state update allocates nothing.
// Exemplars are kept as (trace id, value, time) in the slot and only turned into objects at scrape.
//
// They implement the part of prom-client's metric contract its Registry uses to render (name, help,
// type, aggregator, get(), getForPromString(), reset()), so default process metrics and these share
// one Registry and one exposition (Prometheus text 0.0.4 or OpenMetrics 1.0.0).
import type { Metric, Registry } from 'prom-client';

type Values5 = [string, string, string, string, string];

interface Family<S> {
  readonly labelNames: readonly string[];
  makeSlot(labels: Record<string, string>): S;
}

/** Nested Maps, one level per label; the leaf is the slot. Lookups with existing labels allocate nothing. */
class SeriesIndex<S> {
  private readonly root = new Map<string, unknown>();
  private readonly depth: number;
  private readonly family: Family<S>;
  private readonly all: S[] = [];
  private readonly scratch: Values5 = ['', '', '', '', ''];

  constructor(family: Family<S>) {
    this.family = family;
    this.depth = family.labelNames.length;
    if (this.depth < 1 || this.depth > 5) throw new RangeError('1 to 5 labels');
  }

  get slots(): readonly S[] {
    return this.all;
  }

  get size(): number {
    return this.all.length;
  }

  find(v0: string, v1: string, v2: string, v3: string, v4: string): S {
    let node = this.root;
    const last = this.depth - 1;
    for (let i = 0; i < last; i++) {
      const key = i === 0 ? v0 : i === 1 ? v1 : i === 2 ? v2 : v3;
      let next = node.get(key) as Map<string, unknown> | undefined;
      if (next === undefined) {
        next = new Map<string, unknown>();
        node.set(key, next);
      }
      node = next;
    }
    const leafKey = last === 0 ? v0 : last === 1 ? v1 : last === 2 ? v2 : last === 3 ? v3 : v4;
    const slot = node.get(leafKey) as S | undefined;
    if (slot !== undefined) return slot;
    return this.create(node, leafKey, v0, v1, v2, v3, v4);
  }

  private create(node: Map<string, unknown>, leafKey: string, v0: string, v1: string, v2: string, v3: string, v4: string): S {
    const s = this.scratch;
    s[0] = v0;
    s[1] = v1;
    s[2] = v2;
    s[3] = v3;
    s[4] = v4;
    const labels: Record<string, string> = {};
    for (let i = 0; i < this.depth; i++) labels[this.family.labelNames[i]!] = s[i]!;
    const slot = this.family.makeSlot(Object.freeze(labels) as Record<string, string>);
    node.set(leafKey, slot);
    this.all.push(slot);
    return slot;
  }

  clear(): void {
    this.root.clear();
    this.all.length = 0;
  }
}

export interface CounterSlot {
  readonly labels: Record<string, string>;
  value: number;
  exemplarTraceId: string | null;
  /** [exemplar value, exemplar time in seconds]: doubles kept unboxed, so updates allocate nothing. */
  readonly exemplar: Float64Array;
}

/**
 * A wall clock in seconds that the hot path can read without allocating (calling Date.now() there
 * boxes a double per call). Refreshed every second by an unref'd timer; `stop()` ends the timer.
 */
export interface CoarseClock {
  /** [now in seconds]. */
  readonly seconds: Float64Array;
  stop(): void;
}

export function startCoarseClock(nowMs: () => number = Date.now, intervalMs = 1000): CoarseClock {
  const seconds = new Float64Array(1);
  const refresh = (): void => {
    seconds[0] = nowMs() / 1000;
  };
  refresh();
  const timer = setInterval(refresh, intervalMs);
  timer.unref();
  return { seconds, stop: () => clearInterval(timer) };
}

export interface HistogramSlot {
  readonly labels: Record<string, string>;
  readonly buckets: Float64Array;
  /** One exemplar per bucket (last index is +Inf). */
  readonly exemplarTraceIds: (string | null)[];
  readonly exemplarValues: Float64Array;
  readonly exemplarTimes: Float64Array;
  sum: number;
  count: number;
}

export interface FamilyOptions {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
}

interface RenderedValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
  sharedLabels?: Record<string, string>;
  exemplar?: { labelSet: Record<string, string>; value: number; timestamp: number } | null;
}

function exemplarOf(traceId: string | null, value: number, time: number): RenderedValue['exemplar'] {
  if (traceId === null) return null;
  return { labelSet: { trace_id: traceId }, value, timestamp: time };
}

/**
 * A counter family. Hot path: `const s = family.series(a, b, c)` (cached by the caller or looked up,
 * both allocation-free), then `s.value += 1`, or `family.inc(...)`.
 */
export class CounterFamily implements Family<CounterSlot> {
  readonly name: string;
  readonly help: string;
  readonly type = 'counter' as const;
  readonly aggregator = 'sum' as const;
  readonly labelNames: readonly string[];
  private readonly index: SeriesIndex<CounterSlot>;

  constructor(options: FamilyOptions) {
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames;
    this.index = new SeriesIndex(this);
  }

  makeSlot(labels: Record<string, string>): CounterSlot {
    return { labels, value: 0, exemplarTraceId: null, exemplar: new Float64Array(2) };
  }

  series(v0: string, v1 = '', v2 = '', v3 = '', v4 = ''): CounterSlot {
    return this.index.find(v0, v1, v2, v3, v4);
  }

  /** Adds 1 to the series; with a trace id, it becomes the series' exemplar. */
  static bump(slot: CounterSlot, traceId: string | null, clock: Float64Array): void {
    slot.value += 1;
    if (traceId !== null) {
      slot.exemplarTraceId = traceId;
      slot.exemplar[0] = 1;
      slot.exemplar[1] = clock[0]!;
    }
  }

  /** Number of label tuples seen. */
  get seriesCount(): number {
    return this.index.size;
  }

  /** The value of one series, 0 when absent (for tests and the report). */
  valueOf(labels: Readonly<Record<string, string>>): number {
    for (const slot of this.index.slots) {
      if (this.labelNames.every((n) => slot.labels[n] === labels[n])) return slot.value;
    }
    return 0;
  }

  reset(): void {
    this.index.clear();
  }

  async get(): Promise<{ name: string; help: string; type: 'counter'; aggregator: 'sum'; values: RenderedValue[] }> {
    const values: RenderedValue[] = [];
    for (const slot of this.index.slots) {
      values.push({
        labels: slot.labels,
        value: slot.value,
        exemplar: exemplarOf(slot.exemplarTraceId, slot.exemplar[0]!, slot.exemplar[1]!),
      });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

export class HistogramFamily implements Family<HistogramSlot> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  readonly labelNames: readonly string[];
  readonly upperBounds: readonly number[];
  private readonly index: SeriesIndex<HistogramSlot>;

  constructor(options: FamilyOptions & { readonly buckets: readonly number[] }) {
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames;
    const sorted = [...options.buckets].sort((a, b) => a - b);
    if (sorted.length === 0 || sorted.some((b, i) => !Number.isFinite(b) || (i > 0 && b === sorted[i - 1]))) {
      throw new RangeError('buckets must be distinct finite numbers');
    }
    this.upperBounds = Object.freeze(sorted);
    this.index = new SeriesIndex(this);
  }

  makeSlot(labels: Record<string, string>): HistogramSlot {
    const n = this.upperBounds.length + 1;
    return {
      labels,
      buckets: new Float64Array(n),
      exemplarTraceIds: new Array<string | null>(n).fill(null),
      exemplarValues: new Float64Array(n),
      exemplarTimes: new Float64Array(n),
      sum: 0,
      count: 0,
    };
  }

  series(v0: string, v1 = '', v2 = '', v3 = '', v4 = ''): HistogramSlot {
    return this.index.find(v0, v1, v2, v3, v4);
  }

  observe(slot: HistogramSlot, value: number, traceId: string | null, clock: Float64Array): void {
    const bounds = this.upperBounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    slot.buckets[i]! += 1;
    slot.sum += value;
    slot.count += 1;
    if (traceId !== null) {
      slot.exemplarTraceIds[i] = traceId;
      slot.exemplarValues[i] = value;
      slot.exemplarTimes[i] = clock[0]!;
    }
  }

  get seriesCount(): number {
    return this.index.size;
  }

  reset(): void {
    this.index.clear();
  }

  async getForPromString(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: RenderedValue[] }> {
    const values: RenderedValue[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const slot of this.index.slots) {
      let acc = 0;
      for (let i = 0; i <= this.upperBounds.length; i++) {
        acc += slot.buckets[i]!;
        values.push({
          labels: { le: i < this.upperBounds.length ? this.upperBounds[i]! : '+Inf' },
          sharedLabels: slot.labels,
          value: acc,
          metricName: bucketName,
          exemplar: exemplarOf(slot.exemplarTraceIds[i] ?? null, slot.exemplarValues[i]!, slot.exemplarTimes[i]!),
        });
      }
      values.push({ labels: {}, sharedLabels: slot.labels, value: slot.sum, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels: slot.labels, value: slot.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  async get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: RenderedValue[] }> {
    const data = await this.getForPromString();
    data.values = data.values.map(({ labels, sharedLabels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } }));
    return data;
  }
}

/** Registers a family on a prom-client Registry (which only needs the rendering half of its Metric type). */
export function register(registry: Registry, family: CounterFamily | HistogramFamily): void {
  if (registry.getSingleMetric(family.name) !== undefined) {
    throw new Error(`a metric named ${family.name} is already registered`);
  }
  registry.registerMetric(family as unknown as Metric);
}
