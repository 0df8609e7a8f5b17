// kafkajs's eachBatch: a fetched batch waits for its partition's positioning, is checked for
// offsets jumped over, and goes to the handler, on the main thread (processed before kafkajs
// fetches again, then resolved and committed) or, with fetch-ahead, handed over.
import type { EachBatchPayload } from 'kafkajs';
import type { RecordBatchHandler } from '../../pipeline/types.ts';
import type { SourceRecord } from '../record.ts';
import { partitionKey } from './assignment.ts';
import type { BatchRetries } from './batch-retries.ts';
import type { OffsetCommits } from './commits.ts';
import type { SourceContext } from './context.ts';
import type { FetchAhead } from './fetch-ahead.ts';
import { heartbeatMeanwhile } from './heartbeat.ts';
import { jumpedOver } from './positions.ts';
import type { PartitionPositioning } from './positioning.ts';
import type { PartitionProgress } from './progress.ts';
import { fetchedFrom, toSourceRecord } from './records.ts';

export interface BatchParts {
  readonly handler: RecordBatchHandler;
  readonly progress: PartitionProgress;
  readonly positioning: PartitionPositioning;
  readonly commits: OffsetCommits;
  readonly retries: BatchRetries;
  readonly fetchAhead: FetchAhead | null;
}

export function createEachBatch(ctx: SourceContext, parts: BatchParts): (payload: EachBatchPayload) => Promise<void> {
  const { progress, positioning, fetchAhead } = parts;

  return async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, isStale } = payload;
    const { topic, partition } = batch;
    ctx.lastContactAt = Date.now();
    if (batch.isEmpty()) return;
    if (ctx.positioning !== null) await ctx.positioning;
    if (isStale()) {
      // A seek moved this partition; kafkajs fetches it again from there.
      ctx.logger.debug({ topic, partition }, 'skipping a stale batch');
      return;
    }
    const k = partitionKey(topic, partition);
    const from = fetchedFrom(batch);
    if (from !== null) {
      const expected = progress.expected(k);
      if (jumpedOver(expected, from) > 0n) {
        positioning.countSkipped(topic, partition, expected!, from, 'the fetch offset was out of range (retention removed them before they were read); resumed at the earliest retained offset');
      }
      progress.moveTo(k, from);
    }
    const records = batch.messages.map((m) => toSourceRecord(topic, partition, m));
    if (fetchAhead !== null) {
      await fetchAhead.handOver(payload, records, from);
      return;
    }
    await processInPlace(ctx, parts, payload, k, records);
  };
}

/** Processes the batch before kafkajs fetches again; a rejected one pauses the partition for a back-off and comes again. */
async function processInPlace(ctx: SourceContext, parts: BatchParts, payload: EachBatchPayload, k: string, records: SourceRecord[]): Promise<void> {
  const { handler, progress, commits, retries } = parts;
  const { batch, resolveOffset, pause } = payload;
  const { topic, partition } = batch;
  const stopTimer = ctx.metrics.batchDuration.startTimer();
  const beat = heartbeatMeanwhile(payload, ctx.options.heartbeatIntervalMs, ctx.logger, 'heartbeat during a batch failed');
  try {
    await handler.handleBatch(records);
  } catch (error) {
    clearInterval(beat);
    const delay = retries.noteFailure(topic, partition, error, batch, 'batch failed in the pipeline; not committed, partition paused and the batch will be processed again');
    // Not resolved: kafkajs fetches this partition again from the first offset of this batch.
    if (!ctx.stopping) {
      const resume = pause();
      retries.resumeAfter(delay, () => {
        if (!ctx.stopping) resume();
      });
    }
    return;
  }
  clearInterval(beat);
  stopTimer();
  retries.succeeded(k);
  // Processed: count it, and let kafkajs fetch on from here. Committing comes next; should the
  // commit fail, kafkajs commits these resolved offsets with the next commit it makes, and a
  // consumer that takes the partition over meanwhile processes the batch again (at-least-once).
  ctx.metrics.consumed.inc({ topic }, records.length);
  const next = progress.passed(batch, k, resolveOffset);
  await commits.commitProcessed(payload, k, next);
}
