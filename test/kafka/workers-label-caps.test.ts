// The label caps hold across processing workers (src/pipeline/workers/merged-label-caps.ts): a
// provider gets at most `metrics.unknown_code_cap` unknown codes (and `unknown_operation_cap`
// operations) in the merged /metrics however many workers saw them; the rest count as
// `__overflow__`, totals kept, exactly as on one thread.
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../support/processes.ts';
import type { WorkerPool } from '../../src/pipeline/workers/pool.ts';
import { CAPPED_METRICS } from '../../src/pipeline/workers/merged-label-caps.ts';
import { createMetricsRegistry } from '../../src/sinks/exposition.ts';
import { LabelGuard, OVERFLOW } from '../../src/sinks/label-guard.ts';
import { createMetricsSink } from '../../src/sinks/metrics.ts';
import { expectSameSeries, exposedSeries, inThreadMetrics, partitionRecords, poolConfig, startTestPool } from '../support/worker-pool.ts';

const TOPIC = 'calls';
const CAPS = 'metrics:\n  unknown_code_cap: 3\n  unknown_operation_cap: 2\n';
let pool: WorkerPool | null = null;

afterEach(async () => {
  await pool?.close();
  pool = null;
});

/** A Kustom call that failed with `code` (not in Kustom's catalog when it starts with UNKNOWN_). */
function kustomError(code: string, operation: string, n: number): Record<string, unknown> {
  return {
    timestamp: Date.UTC(2026, 10, 22, 10, 0, 0) + n,
    provider: 'kustom',
    operation,
    http: { method: 'POST', route: '/payments/v1/sessions', status_code: 500, duration_ms: 25 },
    response: { body: { error_code: code, error_messages: ['something new'] } },
    correlation_id: `caps-${n}`,
  };
}

/** `code` i of `codes` repeated i + 1 times, so every code's count is its own. */
function repeated(codes: readonly string[], operation: (i: number) => string, from: number): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  codes.forEach((code, i) => {
    for (let k = 0; k <= i; k++) out.push(kustomError(code, operation(i), from + out.length));
  });
  return out;
}

async function twoWorkers() {
  const config = poolConfig(CAPS);
  const started = await startTestPool(config, 2);
  pool = started.pool;
  const first = [0, 1, 2, 3].find((p) => started.pool.workerOf(TOPIC, p) === 0)!;
  const second = [0, 1, 2, 3].find((p) => started.pool.workerOf(TOPIC, p) === 1)!;
  return { config, pool: started.pool, registry: started.registry, first, second };
}

/** The label values of `label` among `metric`'s series. */
function labelValues(series: Map<string, number>, metric: string, label: string): Set<string> {
  const values = new Set<string>();
  const pattern = new RegExp(`[{,]${label}="([^"]*)"`);
  for (const key of series.keys()) if (key.startsWith(`${metric}{`)) values.add(pattern.exec(key)![1]!);
  return values;
}

function total(series: Map<string, number>, metric: string): number {
  let sum = 0;
  for (const [key, value] of series) if (key.startsWith(`${metric}{`)) sum += value;
  return sum;
}

describe('label caps over processing workers', () => {
  it('keeps at most unknown_code_cap unknown codes per provider across workers, the rest as __overflow__, totals kept', async () => {
    const { config, pool, registry, first, second } = await twoWorkers();
    // Each worker alone admits 3 of its 4 codes: 6 distinct codes would reach /metrics per worker cap.
    const onFirst = partitionRecords(TOPIC, first, repeated(['UNKNOWN_A1', 'UNKNOWN_A2', 'UNKNOWN_A3', 'UNKNOWN_A4'], () => 'create_order', 0));
    const onSecond = partitionRecords(TOPIC, second, repeated(['UNKNOWN_B1', 'UNKNOWN_B2', 'UNKNOWN_B3', 'UNKNOWN_B4'], () => 'create_order', 100));
    await pool.handleBatch(onFirst);
    await pool.handleBatch(onSecond);

    const merged = exposedSeries(await registry.metrics());
    expect(labelValues(merged, 'payment_provider_errors_total', 'code')).toEqual(new Set(['UNKNOWN_A1', 'UNKNOWN_A2', 'UNKNOWN_A3', '__overflow__']));
    expect(total(merged, 'payment_provider_errors_total')).toBe(20);
    // A4 (4) on worker 0; B1..B4 (1+2+3+4) refused over the merge.
    expect(merged.get('payment_provider_errors_total{category="provider_error",code="__overflow__",operation="create_order",provider="kustom",retry="new_checkout"}')).toBe(14);
    expect(merged.get('paysignal_label_overflow_total{label="code",metric="payment_provider_errors_total"}')).toBe(14);
    // The same as one thread that read the first partition, then the second.
    expectSameSeries(merged, exposedSeries(await inThreadMetrics(config, [...onFirst, ...onSecond])));

    // Admitted and refused codes stay so: more of each only adds to their series.
    // Worker 1 never saw A2 and its own places are taken: it counts A2 under its name all the same.
    const more = [
      partitionRecords(TOPIC, second, [kustomError('UNKNOWN_A2', 'create_order', 200), kustomError('UNKNOWN_B1', 'create_order', 201)], onSecond.length),
      partitionRecords(TOPIC, first, [kustomError('UNKNOWN_A2', 'create_order', 202)], onFirst.length),
    ];
    for (const batch of more) await pool.handleBatch(batch);
    const later = exposedSeries(await registry.metrics());
    expect(labelValues(later, 'payment_provider_errors_total', 'code')).toEqual(new Set(['UNKNOWN_A1', 'UNKNOWN_A2', 'UNKNOWN_A3', '__overflow__']));
    expect(total(later, 'payment_provider_errors_total')).toBe(23);
    expect(later.get('payment_provider_errors_total{category="provider_error",code="UNKNOWN_A2",operation="create_order",provider="kustom",retry="new_checkout"}')).toBe(4);
    expect(later.get('paysignal_label_overflow_total{label="code",metric="payment_provider_errors_total"}')).toBe(15);
    expectSameSeries(later, exposedSeries(await inThreadMetrics(config, [...onFirst, ...onSecond, ...more.flat()])));
  });

  it('keeps at most unknown_operation_cap operations per provider across workers, in every family that has them', async () => {
    const { config, pool, registry, first, second } = await twoWorkers();
    const onFirst = partitionRecords(TOPIC, first, repeated(['UNKNOWN_C', 'UNKNOWN_C'], (i) => `first_op_${i}`, 0));
    const onSecond = partitionRecords(TOPIC, second, repeated(['UNKNOWN_C', 'UNKNOWN_C'], (i) => `second_op_${i}`, 100));
    await pool.handleBatch(onFirst);
    await pool.handleBatch(onSecond);

    const merged = exposedSeries(await registry.metrics());
    for (const metric of ['payment_provider_calls_total', 'payment_provider_errors_total', 'payment_provider_call_duration_seconds_count']) {
      expect(labelValues(merged, metric, 'operation'), metric).toEqual(new Set(['first_op_0', 'first_op_1', '__overflow__']));
    }
    // second_op_0 (1) and second_op_1 (2) refused over the merge, out of 6 calls.
    expect(merged.get('payment_provider_calls_total{operation="__overflow__",outcome="error",provider="kustom"}')).toBe(3);
    expect(merged.get('payment_provider_errors_total{category="provider_error",code="UNKNOWN_C",operation="__overflow__",provider="kustom",retry="new_checkout"}')).toBe(3);
    expect(merged.get('payment_provider_call_duration_seconds_count{operation="__overflow__",outcome="error",provider="kustom"}')).toBe(3);
    expect(total(merged, 'payment_provider_calls_total')).toBe(6);
    expect(total(merged, 'payment_provider_errors_total')).toBe(6);
    expect(merged.get('paysignal_label_overflow_total{label="operation",metric="payment_provider_calls_total"}')).toBe(3);
    expectSameSeries(merged, exposedSeries(await inThreadMetrics(config, [...onFirst, ...onSecond])));
  });

  it('a replacement worker takes the verdicts so far: a code admitted overall counts under its name there too', async () => {
    const { config, pool, registry, first, second } = await twoWorkers();
    const onFirst = partitionRecords(TOPIC, first, repeated(['UNKNOWN_A1', 'UNKNOWN_A2', 'UNKNOWN_A3'], () => 'create_order', 0));
    const onSecond = partitionRecords(TOPIC, second, repeated(['UNKNOWN_B1'], () => 'create_order', 100));
    await pool.handleBatch(onFirst);
    await pool.handleBatch(onSecond);
    await registry.metrics(); // A1..A3 admitted: the cap is full

    await pool.worker(1).terminate();
    // Three new codes would take the replacement's own places before A2 arrives.
    const later = partitionRecords(TOPIC, second, ['UNKNOWN_B5', 'UNKNOWN_B6', 'UNKNOWN_B7', 'UNKNOWN_A2'].map((code, i) => kustomError(code, 'create_order', 200 + i)), onSecond.length);
    await waitFor('the replacement worker to process the batch', () => pool.handleBatch(later).then(() => true, () => undefined), 10_000, 200);

    const merged = exposedSeries(await registry.metrics());
    expect(merged.get('payment_provider_errors_total{category="provider_error",code="UNKNOWN_A2",operation="create_order",provider="kustom",retry="new_checkout"}')).toBe(3);
    expectSameSeries(new Map([...merged].filter(([k]) => !k.startsWith('paysignal_worker_restarts_total'))), exposedSeries(await inThreadMetrics(config, [...onFirst, ...onSecond, ...later])));
  });

  it('a worker guard settled by the verdicts over all workers: admitted values take no place, refused ones count as __overflow__ from then on', () => {
    const overall = new LabelGuard({ metrics: { unknown_code_cap: 2, unknown_operation_cap: 2 }, maxProviders: 2 });
    const worker = new LabelGuard({ metrics: { unknown_code_cap: 2, unknown_operation_cap: 2 }, maxProviders: 2 });
    const acquirer = worker.provider('acquirer');
    expect([worker.code(acquirer, 'E1'), worker.code(acquirer, 'X1')]).toEqual(['E1', 'X1']);
    // Overall, E1 and E2 were admitted first (another worker's), and the cap is full.
    const seen = overall.provider('acquirer');
    overall.code(seen, 'E1');
    overall.code(seen, 'E2');
    overall.code(seen, 'X1');
    overall.provider('other');
    worker.settle(overall.verdicts());

    expect([worker.code(acquirer, 'E1'), worker.overflowed]).toEqual(['E1', false]);
    expect([worker.code(acquirer, 'E2'), worker.overflowed]).toEqual(['E2', false]);
    expect([worker.code(acquirer, 'X1'), worker.overflowed]).toEqual([OVERFLOW, true]);
    expect([worker.code(acquirer, 'X2'), worker.overflowed]).toEqual([OVERFLOW, true]);
    // Providers: "acquirer" and "other" took both places overall; this worker had seen only the first.
    expect([worker.provider('other').label, worker.overflowed]).toEqual(['other', false]);
    expect([worker.provider('third').label, worker.overflowed]).toEqual([OVERFLOW, true]);
    // Operations were not judged full overall: the worker's own places still admit.
    expect([worker.operation(acquirer, 'pay'), worker.operation(acquirer, 'refund'), worker.operation(acquirer, 'void')]).toEqual(['pay', 'refund', OVERFLOW]);
  });

  it('covers every label-guarded family of the metrics sink', () => {
    const registry = createMetricsRegistry({ defaultMetrics: false });
    createMetricsSink({ registry, metrics: { unknown_code_cap: 1, unknown_operation_cap: 1 } });
    const guarded = registry
      .getMetricsAsArray()
      .map((m) => ({ name: m.name, labels: (m as unknown as { labelNames: readonly string[] }).labelNames }))
      .filter((m) => m.labels.includes('provider'));
    expect(guarded.map((m) => m.name).sort()).toEqual([...CAPPED_METRICS.keys()].sort());
    for (const { name, labels } of guarded) {
      expect(CAPPED_METRICS.get(name), name).toMatchObject({ operation: labels.includes('operation'), code: labels.includes('code') });
    }
  });

  it('a second guard over guarded series takes __overflow__ as already refused: it uses up no place under a cap', () => {
    const guard = new LabelGuard({ metrics: { unknown_code_cap: 1, unknown_operation_cap: 1 }, maxProviders: 1 });
    expect(guard.provider(OVERFLOW).label).toBe(OVERFLOW);
    expect(guard.overflowed).toBe(true);
    const provider = guard.provider('acquirer');
    expect([provider.label, guard.overflowed]).toEqual(['acquirer', false]);
    expect([guard.code(provider, OVERFLOW), guard.overflowed]).toEqual([OVERFLOW, true]);
    expect([guard.code(provider, 'E1'), guard.code(provider, 'E2')]).toEqual(['E1', OVERFLOW]);
    expect([guard.operation(provider, OVERFLOW), guard.operation(provider, 'pay'), guard.operation(provider, 'refund')]).toEqual([OVERFLOW, 'pay', OVERFLOW]);
  });
});
