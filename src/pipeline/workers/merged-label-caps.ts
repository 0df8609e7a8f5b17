// The label caps of docs/architecture.md#metrics over all workers. Each worker's own label guard
// bounds its series, but alone that lets a provider reach workers × cap unknown codes (or
// operations, or providers). At scrape time the main thread runs the workers' merged series
// through one more label guard, with the same caps and catalogs: a value it has not admitted
// while the cap is full becomes `__overflow__`, and its counts (and the observations counted in
// `paysignal_label_overflow_total`) are added to the overflow series, so every total is kept.
// When its verdicts change, they go to every worker's guard (LabelGuard.settle): a worker then
// counts a value admitted overall under its name even when its own places are taken, and a value
// refused overall as `__overflow__`. No cross-thread call per event: once per scrape at most.
//
// As in one thread, a value admitted once stays admitted and one refused stays refused (the cap is
// full from then on), so merged series never flap and counters stay monotonic.
import { LabelGuard, OVERFLOW, type LabelGuardOptions, type LabelVerdicts, type ProviderLabels } from '../../sinks/label-guard.ts';
import type { MetricSnapshot, MetricValue } from './protocol.ts';

/** Which labels of a worker metric the guard bounds, and what the worker counts as overflow. */
interface CappedMetric {
  readonly operation: boolean;
  readonly code: boolean;
  /** The `label` values of `paysignal_label_overflow_total{metric=<this>}` the worker counts per observation. */
  readonly counted: readonly ('provider' | 'operation' | 'code')[];
}

/** The label-guarded families of src/sinks/metrics.ts (test/kafka/workers-label-caps.test.ts keeps this in step). */
export const CAPPED_METRICS: ReadonlyMap<string, CappedMetric> = new Map<string, CappedMetric>([
  ['payment_provider_calls_total', { operation: true, code: false, counted: ['provider', 'operation'] }],
  ['payment_provider_errors_total', { operation: true, code: true, counted: ['code'] }],
  ['payment_provider_call_duration_seconds', { operation: true, code: false, counted: [] }],
  ['payment_provider_retries_total', { operation: true, code: false, counted: [] }],
  ['payment_provider_retry_violations_total', { operation: false, code: true, counted: ['code'] }],
  ['payment_provider_retry_storm_attempts_total', { operation: true, code: false, counted: [] }],
  ['paysignal_correlation_unmatched_retries_total', { operation: false, code: false, counted: [] }],
]);

export const LABEL_OVERFLOW_METRIC = 'paysignal_label_overflow_total';
/** The `code` of an error without a provider code: the worker does not guard it. */
const NO_CODE = 'none';

export type MergedLabelCaps = (byName: Map<string, MetricSnapshot[]>) => void;

/**
 * The cap over all workers: rewrites the capped metrics' series in `byName` (every worker's
 * snapshots of a metric, before they are added up) and adds what it refused to the overflow counter.
 */
export function createMergedLabelCaps(options: LabelGuardOptions, onVerdicts: (verdicts: LabelVerdicts) => void): MergedLabelCaps {
  const guard = new LabelGuard(options);
  // Workers start with the same (empty) verdicts: only changes are sent.
  let told = JSON.stringify(guard.verdicts());
  return (byName) => {
    const refused = new Map<string, number>();
    for (const [name, capped] of CAPPED_METRICS) {
      const snapshots = byName.get(name);
      if (snapshots === undefined) continue;
      byName.set(
        name,
        snapshots.map((s) => ({ ...s, values: s.values.map((v) => guardValue(guard, name, capped, v, refused)) })),
      );
    }
    const verdicts = guard.verdicts();
    const text = JSON.stringify(verdicts);
    if (text !== told) {
      told = text;
      onVerdicts(verdicts);
    }
    const overflow = byName.get(LABEL_OVERFLOW_METRIC);
    if (refused.size === 0 || overflow === undefined || overflow.length === 0) return;
    const values: MetricValue[] = [];
    for (const [key, value] of refused) {
      const [metric, label] = key.split('\u0000') as [string, string];
      values.push({ labels: { metric, label }, value });
    }
    overflow.push({ ...overflow[0]!, values });
  };
}

function guardValue(guard: LabelGuard, name: string, capped: CappedMetric, value: MetricValue, refused: Map<string, number>): MetricValue {
  const labels = value.labels;
  if (labels.provider === undefined) return value;
  const providerId = String(labels.provider);
  const provider: ProviderLabels = guard.provider(providerId);
  let changed = provider.label !== providerId;
  const out: Record<string, string | number> = { ...labels, provider: provider.label };
  if (changed) count(refused, capped, name, 'provider', value);
  if (capped.operation && labels.operation !== undefined) {
    const operation = String(labels.operation);
    out.operation = guard.operation(provider, operation);
    if (out.operation !== operation) {
      changed = true;
      count(refused, capped, name, 'operation', value);
    }
  }
  if (capped.code && labels.code !== undefined && labels.code !== NO_CODE) {
    const code = String(labels.code);
    out.code = guard.code(provider, code);
    if (out.code !== code) {
      changed = true;
      count(refused, capped, name, 'code', value);
    }
  }
  return changed ? { ...value, labels: out } : value;
}

/** Observations the worker would have counted as overflow (the counted metrics are counters: their value). */
function count(refused: Map<string, number>, capped: CappedMetric, metric: string, label: 'provider' | 'operation' | 'code', value: MetricValue): void {
  if (!capped.counted.includes(label)) return;
  const key = `${metric}\u0000${label}`;
  refused.set(key, (refused.get(key) ?? 0) + value.value);
}
