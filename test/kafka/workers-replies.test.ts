// How a processing worker answers (src/pipeline/workers/protocol.ts, BatchReplies): the batches it
// processed back to back go back in one message, since each message wakes the main thread, but at
// most one batch of a partition per message; every batch is still settled on its own, with its own
// results, in the order the worker took them.
import { afterEach, describe, expect, it } from 'vitest';
import type { WorkerPool } from '../../src/pipeline/workers/pool.ts';
import type { WorkerReply } from '../../src/pipeline/workers/protocol.ts';
import type { SourceRecord } from '../../src/sources/record.ts';
import { EVENT_KINDS } from '../support/kafka.ts';
import { expectSameSeries, exposedSeries, inThreadMetrics, partitionRecords, poolConfig, startTestPool } from '../support/worker-pool.ts';

let pool: WorkerPool | null = null;

afterEach(async () => {
  await pool?.close();
  pool = null;
});

const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);
const BATCH = 5;
const PARTITIONS = 4;

/** Batch `b` of `count`, on partition b % partitions; each partition's offsets continue from its previous batch. */
function batches(count: number, partitions: number): SourceRecord[][] {
  return Array.from({ length: count }, (_, b) => {
    const from = b * BATCH;
    const events = Array.from({ length: BATCH }, (_, i) => EVENT_KINDS[(from + i) % EVENT_KINDS.length]!.build(`replies-${from + i}`, T0 + from + i));
    return partitionRecords('calls', b % partitions, events, Math.floor(b / partitions) * BATCH);
  });
}

/** Starts a pool of one worker, warmed up by one batch, and counts the replies in each message it sends after that. */
async function startCounting(config: ReturnType<typeof poolConfig>, warmUp: SourceRecord[]) {
  const started = await startTestPool(config, 1);
  pool = started.pool;
  // The first batch warms the worker up, so that the others are processed in one run.
  await pool.handleBatch(warmUp);
  const repliesPerMessage: number[] = [];
  pool.worker(0).on('message', (message: WorkerReply) => {
    if (message.kind === 'batches') repliesPerMessage.push(message.replies.length);
  });
  return { ...started, repliesPerMessage };
}

describe('processing worker replies', () => {
  it('answers the batches it processed back to back in one message, and settles each with its own results', async () => {
    const config = poolConfig();
    const all = batches(20, PARTITIONS);
    // One record that is not JSON: its rejection travels in its batch's reply, among the others.
    all[7]![2] = { ...all[7]![2]!, value: Buffer.from('not json') };
    const { pool, registry, repliesPerMessage } = await startCounting(config, all[0]!);
    const settled = await Promise.allSettled(all.slice(1).map((records) => pool.handleBatch(records)));

    expect(settled.map((s) => s.status)).toEqual(Array(19).fill('fulfilled'));
    expect(repliesPerMessage.reduce((a, b) => a + b, 0)).toBe(19);
    expect(repliesPerMessage.length).toBeLessThan(19);
    expect(Math.max(...repliesPerMessage)).toBeLessThanOrEqual(PARTITIONS);
    expectSameSeries(exposedSeries(await registry.metrics()), exposedSeries(await inThreadMetrics(config, all.flat())));
  });

  it('answers two batches of one partition in two messages', async () => {
    const all = batches(11, 1);
    const { pool, repliesPerMessage } = await startCounting(poolConfig(), all[0]!);
    await Promise.all(all.slice(1).map((records) => pool.handleBatch(records)));

    expect(repliesPerMessage).toEqual(Array(10).fill(1));
  });
});
