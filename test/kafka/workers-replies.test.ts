// How a processing worker answers (src/pipeline/workers/protocol.ts, BatchReplies): the batches it
// processed back to back go back in one message, since each message wakes the main thread; every
// batch is still settled on its own, with its own results, in the order the worker took them.
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

/** Batch `b` of partition 0: BATCH events from offset b * BATCH. */
function batch(b: number): SourceRecord[] {
  const from = b * BATCH;
  const events = Array.from({ length: BATCH }, (_, i) => EVENT_KINDS[(from + i) % EVENT_KINDS.length]!.build(`replies-${from + i}`, T0 + from + i));
  return partitionRecords('calls', 0, events, from);
}

describe('processing worker replies', () => {
  it('answers the batches it processed back to back in one message, and settles each with its own results', async () => {
    const config = poolConfig();
    const started = await startTestPool(config, 1);
    pool = started.pool;
    const batches = Array.from({ length: 20 }, (_, b) => batch(b));
    // One record that is not JSON: its rejection travels in its batch's reply, among the others.
    batches[7]![2] = { ...batches[7]![2]!, value: Buffer.from('not json') };
    // The first batch warms the worker up, so that the others are processed in one run.
    await pool.handleBatch(batches[0]!);
    const repliesPerMessage: number[] = [];
    pool.worker(0).on('message', (message: WorkerReply) => {
      if (message.kind === 'batches') repliesPerMessage.push(message.replies.length);
    });
    const settled = await Promise.allSettled(batches.slice(1).map((records) => pool!.handleBatch(records)));

    expect(settled.map((s) => s.status)).toEqual(Array(19).fill('fulfilled'));
    expect(repliesPerMessage.reduce((a, b) => a + b, 0)).toBe(19);
    expect(repliesPerMessage.length).toBeLessThan(19);
    expectSameSeries(exposedSeries(await started.registry.metrics()), exposedSeries(await inThreadMetrics(config, batches.flat())));
  });
});
