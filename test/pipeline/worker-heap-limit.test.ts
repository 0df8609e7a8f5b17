// A processing worker whose correlation tracker outgrows its V8 heap (correlation.max_keys too large
// for the heap limit): the worker ends (Node stops a worker at its heap limit, the process goes on),
// the batch it held is not resolved, so the Kafka source does not commit it and reads it again; the
// restart is counted, and a new worker takes over the partition. Nothing is lost silently.
//
// The workers get a small heap through processing.worker_heap_mb, as in production: it is each
// worker's own limit, and this thread's stays as it is.
import { getHeapStatistics } from 'node:v8';
import { afterEach, describe, expect, it } from 'vitest';
import type { WorkerPool } from '../../src/pipeline/workers/pool.ts';
import { EVENT_KINDS } from '../support/kafka.ts';
import { waitFor } from '../support/processes.ts';
import { exposedSeries, partitionRecords, poolConfig, startTestPool } from '../support/worker-pool.ts';

const WORKER_HEAP_MB = 40;
let pool: WorkerPool | null = null;

afterEach(async () => {
  await pool?.close();
  pool = null;
});

const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);

/** `count` events with distinct correlation ids, from offset `from` of partition 0. */
function batch(from: number, count: number) {
  const events = Array.from({ length: count }, (_, i) => EVENT_KINDS[(from + i) % EVENT_KINDS.length]!.build(`heap-${from + i}`, T0 + from + i));
  return partitionRecords('calls', 0, events, from);
}

describe('a worker that reaches its heap limit', () => {
  it('fails the batch it held (to be read again), is counted as a restart, and is replaced', async () => {
    // 1M keys of about 120 bytes of heap cannot fit in 40 MB; the 1 h TTL keeps every key.
    const started = await startTestPool(poolConfig(`correlation:\n  max_keys: 1000000\nprocessing:\n  worker_heap_mb: ${WORKER_HEAP_MB}\n`), 1);
    pool = started.pool;
    // The limit the worker reports is its own (old space plus young generation), not this thread's.
    expect(pool.heapLimitBytes / 2 ** 20).toBeGreaterThanOrEqual(WORKER_HEAP_MB);
    expect(pool.heapLimitBytes / 2 ** 20).toBeLessThan(WORKER_HEAP_MB + 16);
    expect(getHeapStatistics().heap_size_limit / 2 ** 20).toBeGreaterThan(WORKER_HEAP_MB + 16);

    const size = 5000;
    let resolved = 0;
    let failure: unknown = null;
    // Distinct correlation ids, one batch at a time (as the source hands one partition's batches in order).
    while (failure === null && resolved < 200) {
      try {
        await pool.handleBatch(batch(resolved * size, size));
        resolved++;
      } catch (error) {
        failure = error;
      }
    }
    expect(failure).toMatchObject({ code: 'WORKER_EXITED', message: expect.stringContaining('will be processed again') });
    // It got some way before the heap ran out: the tracker grew until then.
    expect(resolved).toBeGreaterThan(0);
    const metrics = exposedSeries(await started.registry.metrics());
    expect(metrics.get('paysignal_worker_restarts_total{reason="crashed"}')).toBe(1);

    // The replacement (a second later) processes the partition's next batch: the one that failed, read again.
    await waitFor(
      'the replacement worker to take the batch',
      async () =>
        pool!.handleBatch(batch(resolved * size, size)).then(
          () => true,
          () => undefined,
        ),
      10_000,
    );
  });
});
