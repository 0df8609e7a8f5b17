// A processing worker that dies mid-stream (src/pipeline/workers/pool.ts): its replacement starts
// from zero, but the merged /metrics keep what the dead worker had counted, so Prometheus sees no
// counter reset; the restart is counted in paysignal_worker_restarts_total by reason.
import { afterEach, describe, expect, it } from 'vitest';
import type { WorkerPool } from '../../src/pipeline/workers/pool.ts';
import { EVENT_KINDS } from '../support/kafka.ts';
import { waitFor } from '../support/processes.ts';
import { expectSameSeries, exposedSeries, inThreadMetrics, partitionRecords, poolConfig, startTestPool } from '../support/worker-pool.ts';

const TOPIC = 'calls';
let pool: WorkerPool | null = null;

afterEach(async () => {
  await pool?.close();
  pool = null;
});

/** Events n..n+count-1 cycling through the seed providers' kinds (errors, a success, durations). */
function events(start: number, count: number): Record<string, unknown>[] {
  const base = Date.UTC(2026, 10, 22, 10, 0, 0);
  return Array.from({ length: count }, (_, i) => EVENT_KINDS[(start + i) % EVENT_KINDS.length]!.build(`restart-${start + i}`, base + start + i));
}

/** Series of counters and histograms only: a dead worker's gauges go with it, by design. */
function cumulativeSeries(text: string): Map<string, number> {
  const gauges = new Set([...text.matchAll(/^# TYPE (\S+) gauge$/gm)].map((m) => m[1]!));
  const all = exposedSeries(text);
  for (const key of all.keys()) if (gauges.has(key.slice(0, key.indexOf('{')))) all.delete(key);
  return all;
}

/**
 * Two workers, and one batch processed on each: on a partition of worker 0 (the one the test ends)
 * and on one of worker 1.
 */
async function twoWorkersWithABatchEach(options: Parameters<typeof startTestPool>[2] = {}) {
  const config = poolConfig();
  const started = await startTestPool(config, 2, options);
  pool = started.pool;
  const onDying = [0, 1, 2, 3].find((p) => started.pool.workerOf(TOPIC, p) === 0)!;
  const onLiving = [0, 1, 2, 3].find((p) => started.pool.workerOf(TOPIC, p) === 1)!;
  const a0 = partitionRecords(TOPIC, onDying, events(0, 60));
  const a1 = partitionRecords(TOPIC, onLiving, events(60, 60));
  await started.pool.handleBatch(a0);
  await started.pool.handleBatch(a1);
  return { config, pool: started.pool, registry: started.registry, onDying, onLiving, a0, a1 };
}

describe('a processing worker replaced after it died', () => {
  it('leaves its counts in /metrics: merged counters never go down, and once its batch is processed again they equal one thread', async () => {
    const { config, pool: running, registry, onDying, onLiving, a0, a1 } = await twoWorkersWithABatchEach();
    const before = cumulativeSeries(await registry.metrics());
    expect(before.get('payment_provider_calls_total{operation="create_order",outcome="error",provider="kustom"}')).toBe(24);

    await running.worker(0).terminate();
    // The batch that arrives while worker 0 is gone fails (uncommitted: the source reads it again).
    const b0 = partitionRecords(TOPIC, onDying, events(120, 60), 60);
    await expect(running.handleBatch(b0)).rejects.toMatchObject({ code: 'WORKER_EXITED' });

    const during = cumulativeSeries(await registry.metrics());
    expect(during.get('paysignal_worker_restarts_total{reason="exited"}')).toBe(1);
    during.delete('paysignal_worker_restarts_total{reason="exited"}');
    expect(during).toEqual(before);

    // As the Kafka source does after a failed batch: again, until the replacement takes it.
    await waitFor('the replacement worker to process the batch', () => running.handleBatch(b0).then(() => true, () => undefined), 10_000, 200);
    const b1 = partitionRecords(TOPIC, onLiving, events(180, 60), 60);
    await running.handleBatch(b1);

    const after = cumulativeSeries(await registry.metrics());
    for (const [key, value] of before) expect(after.get(key), key).toBeGreaterThanOrEqual(value);
    expect(after.get('paysignal_worker_restarts_total{reason="exited"}')).toBe(1);
    after.delete('paysignal_worker_restarts_total{reason="exited"}');
    // Everything before the failed batch was collected before worker 0 died, and the failed batch
    // counted once (by the replacement): exactly one thread's result.
    expectSameSeries(after, cumulativeSeries(await inThreadMetrics(config, [...a0, ...a1, ...b0, ...b1])));
  });

  it('keeps the counts of the batches it answered before its last collection, even with no scrape before it died', async () => {
    // Both batches resolved, so the Kafka source commits them and never reads these records again.
    const { config, pool: running, registry, a0, a1 } = await twoWorkersWithABatchEach({ baseRefreshMs: 100 });
    // No scrape: only the pool's own collections (every 100 ms here) see the worker's counts.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await running.worker(0).terminate();

    const after = await waitFor(
      'the restart to be counted',
      async () => {
        const now = cumulativeSeries(await registry.metrics());
        return now.get('paysignal_worker_restarts_total{reason="exited"}') === 1 ? now : undefined;
      },
      10_000,
      50,
    );
    after.delete('paysignal_worker_restarts_total{reason="exited"}');
    expectSameSeries(after, cumulativeSeries(await inThreadMetrics(config, [...a0, ...a1])));
  });
});
