// Offset commits. Without `beforeCommit` or fetch-ahead, kafkajs commits the offsets the source
// resolved (processed batches only) and retries a failed commit itself. With either, commits are
// ours alone: processed offsets are collected per partition and committed together, after
// `beforeCommit` (the engine checkpoint) and at most every `commitIntervalMs` with it, so whatever
// it stores covers every committed offset.
import type { EachBatchPayload } from 'kafkajs';
import { partitionKey } from './assignment.ts';
import type { SourceContext } from './context.ts';
import { isRebalanceError } from './errors.ts';

interface CollectedOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
}

export class OffsetCommits {
  private readonly ctx: SourceContext;
  private readonly beforeCommit: (() => Promise<void>) | undefined;
  /** Commits are made by commitCollected: with beforeCommit, and with fetch-ahead. */
  readonly collects: boolean;
  /** Next offset to commit per partition, processed but not yet committed. */
  private readonly uncommitted = new Map<string, CollectedOffset>();
  private lastCommitAt = Date.now();
  private committing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(ctx: SourceContext, beforeCommit: (() => Promise<void>) | undefined, fetchAhead: boolean) {
    this.ctx = ctx;
    this.beforeCommit = beforeCommit;
    this.collects = beforeCommit !== undefined || fetchAhead;
    // Not ours to commit any more: the new owner may have moved on already.
    ctx.assignment.onRevoked((_topic, _partition, key) => this.uncommitted.delete(key));
  }

  /** Offsets of the last batches before traffic pauses (or whose commit failed) are committed too. */
  startInterval(): void {
    if (!this.collects) return;
    this.timer = setInterval(() => void this.commitCollected(false), this.ctx.options.commitIntervalMs);
    this.timer.unref();
  }

  stopInterval(): void {
    if (this.timer !== null) clearInterval(this.timer);
  }

  /** A batch processed on the main thread; resolved in kafkajs already. Rejects when a rebalance refused the commit (kafkajs rejoins). */
  async commitProcessed(payload: EachBatchPayload, key: string, next: bigint): Promise<void> {
    const { ctx } = this;
    const { batch, commitOffsetsIfNecessary, heartbeat } = payload;
    const { topic, partition } = batch;
    if (this.beforeCommit !== undefined) {
      this.uncommitted.set(key, { topic, partition, offset: next });
      // The batch that stops the consumer commits at once; the others when the interval is up.
      const refused = await this.commitCollected(ctx.stopping);
      if (refused !== null) throw refused; // kafkajs rejoins the group
      return;
    }
    try {
      await commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset: next.toString() }] }] });
    } catch (error) {
      ctx.countError('commit');
      ctx.noteError(error);
      if (isRebalanceError(error)) {
        // kafkajs rejoins the group on this error; the partition may go to another member.
        ctx.logger.info({ topic, partition, offset: next.toString(), reason: (error as { type?: string }).type }, 'offset commit refused during a rebalance; rejoining');
        throw error;
      }
      // Broker unreachable or similar: keep the membership (a crash would mean a new member id and
      // a join that waits for the old one to time out); kafkajs retries the commit later.
      ctx.logger.warn({ err: error, topic, partition, offset: next.toString() }, 'offset commit failed; it is retried with the next commit');
      return;
    }
    ctx.lastContactAt = Date.now();
    try {
      await heartbeat();
    } catch (error) {
      if (isRebalanceError(error)) throw error; // kafkajs rejoins
      ctx.logger.debug({ err: error }, 'heartbeat after a batch failed');
    }
  }

  /** Fetch-ahead: the partition may be committed up to `offset`; without beforeCommit at once. */
  commitHandedOver(topic: string, partition: number, key: string, offset: bigint): void {
    this.uncommitted.set(key, { topic, partition, offset });
    void this.commitCollected(this.beforeCommit === undefined || this.ctx.stopping);
  }

  /**
   * Commits the collected offsets (when `force`, or once the interval is up) after `beforeCommit`.
   * One commit at a time; resolves with the error when a rebalance refused it, else null.
   */
  async commitCollected(force: boolean): Promise<Error | null> {
    const { ctx, beforeCommit } = this;
    while (this.committing !== null) await this.committing;
    const c = ctx.consumer;
    if (!this.collects || c === null || this.uncommitted.size === 0) return null;
    if (!force && beforeCommit !== undefined && Date.now() - this.lastCommitAt < ctx.options.commitIntervalMs) return null;
    // Taken before beforeCommit: whatever it stores was handed these batches already.
    const offsets = [...this.uncommitted.values()];
    this.uncommitted.clear();
    let refused: Error | null = null;
    this.committing = (async () => {
      try {
        if (beforeCommit !== undefined) await beforeCommit();
        await c.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset.toString() })));
        ctx.lastContactAt = Date.now();
      } catch (error) {
        // Held for the next try, unless a newer offset of the partition is waiting already.
        for (const o of offsets) {
          const k = partitionKey(o.topic, o.partition);
          if (!this.uncommitted.has(k) && ctx.assignment.has(o.topic, o.partition)) this.uncommitted.set(k, o);
        }
        ctx.countError('commit');
        ctx.noteError(error);
        if (isRebalanceError(error)) {
          ctx.logger.info({ reason: (error as { type?: string }).type }, 'offset commit refused during a rebalance; rejoining');
          refused = error as Error;
        } else {
          ctx.logger.warn({ err: error, partitions: offsets.length }, 'saving state or committing offsets failed; both are tried again at the next commit');
        }
      } finally {
        this.lastCommitAt = Date.now();
      }
    })();
    try {
      await this.committing;
    } finally {
      this.committing = null;
    }
    return refused;
  }
}
