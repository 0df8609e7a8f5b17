// The worker pool's error paths (src/pipeline/workers/pool.ts), with a worker that misbehaves on
// purpose (test/kafka/fixtures/misbehaving-worker.ts): a batch the worker could not process is
// neither resolved nor dead-lettered (the source processes it again); a worker that does not answer
// a scrape in time does not hold up /metrics; a batch that arrives while the pool stops is refused;
// a worker that crashes is counted and its counts stay in /metrics under its replacement's.
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.ts';
import { createLogger } from '../../src/logging.ts';
import type { DeadLetterSink } from '../../src/pipeline/types.ts';
import { startWorkerPool, type WorkerPool } from '../../src/pipeline/workers/pool.ts';
import { waitFor } from '../support/processes.ts';
import { valueRecords } from '../support/worker-pool.ts';
import { createMetricsRegistry } from '../../src/sinks/exposition.ts';
import type { SourceRecord } from '../../src/sources/record.ts';

const MISBEHAVING = new URL('./fixtures/misbehaving-worker.ts', import.meta.url);
let pool: WorkerPool | null = null;

afterEach(async () => {
  await pool?.close();
  pool = null;
  delete process.env.PAYSIGNAL_TEST_MISBEHAVIOUR;
});

function records(count: number): SourceRecord[] {
  return valueRecords('calls', 3, Array.from({ length: count }, (_, i) => `{"n":${i}}`), 100);
}

async function start(misbehaviour: string, workers = 1) {
  // A worker's environment is a copy of this one, taken when it starts.
  process.env.PAYSIGNAL_TEST_MISBEHAVIOUR = misbehaviour;
  const deadLettered: string[] = [];
  const deadLetter: DeadLetterSink = { add: (record) => void deadLettered.push(record.offset), flush: async () => {} };
  const registry = createMetricsRegistry({ defaultMetrics: false });
  pool = await startWorkerPool({
    config: parseConfig(null, null, {}),
    workers,
    registry,
    logger: createLogger({ level: 'silent' }),
    deadLetter,
    engine: null,
    sinks: [],
    eventsFile: null,
    metricsTimeoutMs: 300,
    workerUrl: MISBEHAVING,
  });
  return { pool, registry, deadLettered };
}

describe('worker pool error paths', () => {
  it('does not resolve a batch the worker could not process, and dead-letters nothing of it', async () => {
    const { pool, deadLettered } = await start('fail-batches');
    await expect(pool.handleBatch(records(5))).rejects.toMatchObject({ code: 'WORKER_BATCH_FAILED', message: expect.stringContaining('the classifier threw') });
    expect(deadLettered).toEqual([]);
  });

  it('serves /metrics without a worker that does not answer in time', async () => {
    const { registry } = await start('silent-metrics');
    const startedAt = Date.now();
    const text = await registry.metrics();
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(250);
    expect(Date.now() - startedAt).toBeLessThan(3000);
    expect(text).toContain('# TYPE payment_provider_calls_total counter');
    expect(text).not.toContain('payment_provider_calls_total{');
  });

  it('answers a scrape with what the workers report', async () => {
    const { registry } = await start('none');
    expect(await registry.metrics()).toContain('payment_provider_calls_total{provider="kustom"} 1');
  });

  it('counts a worker that crashed as a restart, and adds its last counts to its replacement\'s', async () => {
    const { pool, registry } = await start('crash-on-batch');
    expect(await registry.metrics()).toContain('payment_provider_calls_total{provider="kustom"} 1');
    await expect(pool.handleBatch(records(2))).rejects.toMatchObject({ code: 'WORKER_EXITED' });
    // Without a worker for a moment, the scrape answers at once with what the dead one had counted.
    const startedAt = Date.now();
    const gap = await registry.metrics();
    expect(Date.now() - startedAt).toBeLessThan(250);
    expect(gap).toContain('paysignal_worker_restarts_total{reason="crashed"} 1');
    expect(gap).toContain('payment_provider_calls_total{provider="kustom"} 1');
    // The replacement reports 1 of its own: 1 + 1.
    await waitFor('the replacement to report', async () => ((await registry.metrics()).includes('payment_provider_calls_total{provider="kustom"} 2') ? true : undefined), 5000);
  });

  it('splits a batch that spans partitions by partition, each to its worker', async () => {
    const { pool } = await start('none', 2);
    const mixed = [...records(2), ...records(2).map((r) => ({ ...r, partition: 4 })), ...records(1).map((r) => ({ ...r, topic: 'refunds' }))];
    // Consecutive partitions of a topic go to different workers: the batch resolves once both answered.
    expect(pool.workerOf('calls', 3)).not.toBe(pool.workerOf('calls', 4));
    await expect(pool.handleBatch(mixed)).resolves.toBeUndefined();
  });

  it('refuses batches once it is stopping', async () => {
    const { pool } = await start('none');
    await pool.handleBatch(records(3));
    const closing = pool.close();
    await expect(pool.handleBatch(records(3))).rejects.toMatchObject({ code: 'WORKERS_CLOSED' });
    await closing;
  });
});
