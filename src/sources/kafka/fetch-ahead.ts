// Fetch-ahead (docs/architecture.md#worker-threads): a batch is handed to the handler and resolved
// at once, so kafkajs fetches on while the workers work; in-flight.ts bounds the batches in hand and
// tells what may be committed. A failed batch abandons its partition's batches in hand and seeks the
// partition back to the first unprocessed offset.
import type { Batch, Consumer, EachBatchPayload } from 'kafkajs';
import type { RecordBatchHandler } from '../../pipeline/types.ts';
import type { SourceRecord } from '../record.ts';
import { partitionKey } from './assignment.ts';
import type { BatchRetries } from './batch-retries.ts';
import type { OffsetCommits } from './commits.ts';
import type { SourceContext } from './context.ts';
import { heartbeatMeanwhile } from './heartbeat.ts';
import { InFlightBatches, type FetchAheadBound } from './in-flight.ts';
import type { PartitionProgress } from './progress.ts';

export interface FetchAheadParts {
  readonly handler: RecordBatchHandler;
  readonly progress: PartitionProgress;
  readonly commits: OffsetCommits;
  readonly retries: BatchRetries;
}

export class FetchAhead {
  private readonly ctx: SourceContext;
  private readonly parts: FetchAheadParts;
  private readonly inFlight: InFlightBatches;
  /** Bumped per partition whenever it is sought back to a failed batch. */
  private readonly rereads = new Map<string, number>();

  constructor(ctx: SourceContext, bound: FetchAheadBound, parts: FetchAheadParts) {
    this.ctx = ctx;
    this.parts = parts;
    this.inFlight = new InFlightBatches(bound);
    ctx.assignment.onRevoked((_topic, _partition, key) => this.inFlight.drop(key));
  }

  /** A new assignment: kafkajs fetches every partition from its committed offset again. */
  abandonAll(): void {
    this.inFlight.dropAll();
  }

  /** Stopping: batches waiting for room are not handed over any more. */
  close(): void {
    this.inFlight.close();
  }

  /** Resolves once no batch is in hand. */
  settled(): Promise<void> {
    return this.inFlight.settled();
  }

  /**
   * Hands the batch to the handler and returns once it is in hand (after waiting for room in the
   * bound), so kafkajs fetches on; its outcome is taken when it settles.
   */
  async handOver(payload: EachBatchPayload, records: SourceRecord[], from: bigint | null): Promise<void> {
    const { ctx, inFlight: batches } = this;
    const { handler, progress, commits, retries } = this.parts;
    const { batch, resolveOffset, isStale } = payload;
    const { topic, partition } = batch;
    const k = partitionKey(topic, partition);
    const c = ctx.consumer;
    let bytes = 0;
    for (const message of batch.messages) bytes += message.value?.length ?? 0;
    const ofGeneration = ctx.generation;
    const ofReread = this.rereads.get(k) ?? 0;
    if (!batches.hasRoomFor(bytes)) {
      const beat = heartbeatMeanwhile(payload, ctx.options.heartbeatIntervalMs, ctx.logger, 'heartbeat while waiting for room failed');
      try {
        while (!batches.isClosed && !batches.hasRoomFor(bytes)) await batches.roomFreed();
      } finally {
        clearInterval(beat);
      }
    }
    // Meanwhile stopping, a new assignment, or a failed batch of the partition (sought back) made
    // this batch one not to process: kafkajs fetches it again where it is due. From the room check
    // on, nothing awaits until the batch is in hand.
    if (ctx.stopping || c === null || ctx.consumer !== c || ctx.generation !== ofGeneration || (this.rereads.get(k) ?? 0) !== ofReread || isStale()) return;
    const next = BigInt(batch.lastOffset()) + 1n;
    const handed = batches.add(k, from ?? BigInt(records[0]!.offset), next, bytes);
    const stopTimer = ctx.metrics.batchDuration.startTimer();
    let outcome: Promise<void>;
    try {
      outcome = handler.handleBatch(records);
    } catch (error) {
      outcome = Promise.reject(error);
    }
    progress.passed(batch, k, resolveOffset);
    outcome.then(
      () => {
        stopTimer();
        const committable = batches.settle(k, handed, true);
        if (handed.abandoned) return;
        retries.succeeded(k);
        ctx.metrics.consumed.inc({ topic }, records.length);
        if (committable === null || !ctx.assignment.has(topic, partition)) return;
        commits.commitHandedOver(topic, partition, k, committable);
      },
      (error: unknown) => {
        batches.settle(k, handed, false);
        if (handed.abandoned) {
          ctx.logger.debug({ err: error, topic, partition, firstOffset: batch.firstOffset() }, 'an abandoned batch failed; it is read again anyway');
          return;
        }
        this.rereadFrom(c, topic, partition, handed.from, error, batch);
      },
    );
  }

  /**
   * A batch failed. The partition's batches in hand are abandoned and it is read again from the
   * first one not processed (the failed batch, or an earlier one still in hand).
   */
  private rereadFrom(c: Consumer, topic: string, partition: number, failedFrom: bigint, error: unknown, batch: Batch): void {
    const { ctx } = this;
    const k = partitionKey(topic, partition);
    const firstInHand = this.inFlight.drop(k);
    const offset = firstInHand !== null && firstInHand < failedFrom ? firstInHand : failedFrom;
    this.rereads.set(k, (this.rereads.get(k) ?? 0) + 1);
    const delay = this.parts.retries.noteFailure(topic, partition, error, batch, 'batch failed in the pipeline; not committed, the partition is read again from this batch after a back-off');
    // Nothing of the partition is committed past this batch (the abandoned ones are never
    // committed); when the partition is no longer ours, or the service stops, its new reader starts
    // at the committed offset anyway.
    if (ctx.stopping || ctx.consumer !== c || !ctx.assignment.has(topic, partition)) return;
    this.parts.progress.moveTo(k, offset);
    try {
      c.seek({ topic, partition, offset: offset.toString() });
      c.pause([{ topic, partitions: [partition] }]);
    } catch (seekError) {
      ctx.logger.warn({ err: seekError, topic, partition }, 'cannot seek back to the failed batch; it is read again from the committed offset after the next rejoin');
      return;
    }
    const ofGeneration = ctx.generation;
    this.parts.retries.resumeAfter(delay, () => {
      if (!ctx.stopping && ctx.consumer === c && ctx.generation === ofGeneration) c.resume([{ topic, partitions: [partition] }]);
    });
  }
}
