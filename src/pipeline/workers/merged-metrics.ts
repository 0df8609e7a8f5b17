// The workers' metrics in the main thread's /metrics: one exposition, the same names and labels as
// without workers. Each worker keeps its own registry; for every metric a worker registers, the main
// registry holds a stand-in whose `get()` asks every worker for its current values (one request per
// worker per scrape, shared by all stand-ins) and merges them by name and labels.
//
// Why not prom-client's AggregatorRegistry / aggregators: they drop exemplars, and the exposition
// renders them in OpenMetrics (trace ids on the error counter and the duration histogram).
import type { Metric, Registry } from 'prom-client';
import type { MergedLabelCaps } from './merged-label-caps.ts';
import type { MetricSnapshot, MetricValue } from './protocol.ts';

type Merge = (a: number, b: number) => number;

const MERGES: Readonly<Record<string, Merge>> = {
  sum: (a, b) => a + b,
  max: Math.max,
  min: Math.min,
  first: (a) => a,
};

function labelKey(value: MetricValue): string {
  const names = Object.keys(value.labels).sort();
  let key = value.metricName ?? '';
  for (const name of names) key += `\u0000${name}\u0001${String(value.labels[name])}`;
  return key;
}

/** Merges one metric's snapshots from several workers; for each series, the newest exemplar. */
export function mergeSnapshots(snapshots: readonly MetricSnapshot[]): MetricSnapshot {
  const first = snapshots[0]!;
  const merge = MERGES[first.aggregator] ?? MERGES.sum!;
  const byKey = new Map<string, { -readonly [K in keyof MetricValue]: MetricValue[K] }>();
  for (const snapshot of snapshots) {
    for (const value of snapshot.values) {
      const key = labelKey(value);
      const seen = byKey.get(key);
      if (seen === undefined) {
        byKey.set(key, { ...value });
        continue;
      }
      seen.value = merge(seen.value, value.value);
      const exemplar = value.exemplar ?? null;
      if (exemplar !== null && (seen.exemplar == null || exemplar.timestamp >= seen.exemplar.timestamp)) seen.exemplar = exemplar;
    }
  }
  return { name: first.name, help: first.help, type: first.type, aggregator: first.aggregator, values: [...byKey.values()] };
}

/**
 * What replaced workers leave behind: `base` plus a dead worker's last collected metrics, without
 * gauges (a dead worker's gauges describe nothing that still exists). Added to every later merge,
 * it keeps merged counters and histograms from going down when a new worker starts from zero.
 */
export function retireSnapshots(base: readonly MetricSnapshot[], last: readonly MetricSnapshot[]): MetricSnapshot[] {
  const byName = new Map<string, MetricSnapshot[]>();
  for (const m of [...base, ...last]) {
    if (m.type === 'gauge') continue;
    const list = byName.get(m.name);
    if (list === undefined) byName.set(m.name, [m]);
    else list.push(m);
  }
  return [...byName.values()].map(mergeSnapshots);
}

export interface WorkerMetricsSource {
  /** Every worker's metrics now, one array per worker (and any retired base as one more). */
  collect(): Promise<readonly (readonly MetricSnapshot[])[]>;
}

/**
 * Registers a merged stand-in on `registry` for each worker metric; they read through `source`.
 * `labelCaps` rewrites the snapshots before they are added up (the label caps over all workers).
 */
export function registerMergedMetrics(
  registry: Registry,
  descriptors: readonly Pick<MetricSnapshot, 'name' | 'help' | 'type' | 'aggregator'>[],
  source: WorkerMetricsSource,
  labelCaps?: MergedLabelCaps,
): void {
  // All stand-ins are rendered in one pass of the registry; they share one collection.
  let pending: Promise<Map<string, MetricSnapshot[]>> | null = null;
  const current = (): Promise<Map<string, MetricSnapshot[]>> => {
    pending ??= source.collect().then(
      (perWorker) => {
        pending = null;
        const byName = new Map<string, MetricSnapshot[]>();
        for (const metrics of perWorker) {
          for (const m of metrics) {
            const list = byName.get(m.name);
            if (list === undefined) byName.set(m.name, [m]);
            else list.push(m);
          }
        }
        labelCaps?.(byName);
        return byName;
      },
      (error: unknown) => {
        pending = null;
        throw error;
      },
    );
    return pending;
  };

  for (const d of descriptors) {
    const standIn = {
      name: d.name,
      help: d.help,
      type: d.type,
      aggregator: d.aggregator,
      async get(): Promise<MetricSnapshot> {
        // The exposition renames counters for OpenMetrics in place; the stand-in looks up by its own name.
        const snapshots = (await current()).get(d.name);
        if (snapshots === undefined || snapshots.length === 0) return { name: standIn.name, help: d.help, type: d.type, aggregator: d.aggregator, values: [] };
        return { ...mergeSnapshots(snapshots), name: standIn.name };
      },
      reset(): void {},
    };
    registry.registerMetric(standIn as unknown as Metric);
  }
}
