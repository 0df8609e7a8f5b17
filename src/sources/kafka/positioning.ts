// Where the partitions of a new assignment start (positions.ts decides it from the committed offset
// and the retained range; this reads those from the brokers and seeks), and the count and log of
// offsets that were never read (docs/architecture.md#time-model, "No silent skips").
import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, TopicPartitions } from 'kafkajs';
import { partitionKey } from './assignment.ts';
import type { SourceContext } from './context.ts';
import { startPosition, type RetainedRange, type StartPosition } from './positions.ts';
import type { PartitionProgress } from './progress.ts';

export class PartitionPositioning {
  private readonly ctx: SourceContext;
  private readonly progress: PartitionProgress;
  private readonly consumeAfter: Promise<unknown> | undefined;

  constructor(ctx: SourceContext, progress: PartitionProgress, consumeAfter: Promise<unknown> | undefined) {
    this.ctx = ctx;
    this.progress = progress;
    this.consumeAfter = consumeAfter;
  }

  /** Decides where each partition of a new assignment starts, then lets kafkajs fetch them; retried until it succeeds. */
  async position(c: Consumer, ofGeneration: number, partitions: readonly TopicPartitions[]): Promise<void> {
    const { ctx } = this;
    const fromBeginning = ctx.options.fromBeginning;
    for (let attempt = 1; !ctx.stopping && ofGeneration === ctx.generation; attempt++) {
      try {
        const brokerAdmin = await ctx.admin.get();
        const topics = partitions.map((t) => t.topic);
        const committed = new Map<string, bigint>();
        for (const t of await brokerAdmin.fetchOffsets({ groupId: ctx.options.groupId, topics })) {
          for (const p of t.partitions) committed.set(partitionKey(t.topic, p.partition), BigInt(p.offset));
        }
        const starts: Array<{ topic: string; partition: number; start: StartPosition }> = [];
        for (const { topic, partitions: numbers } of partitions) {
          const ranges = new Map<number, RetainedRange>();
          for (const o of await brokerAdmin.fetchTopicOffsets(topic)) ranges.set(o.partition, { low: BigInt(o.low), high: BigInt(o.high) });
          for (const partition of numbers) {
            const range = ranges.get(partition);
            if (range === undefined) throw new Error(`the brokers report no offsets for ${topic} partition ${partition}`);
            starts.push({ topic, partition, start: startPosition(committed.get(partitionKey(topic, partition)) ?? -1n, range, fromBeginning) });
          }
        }
        if (this.consumeAfter !== undefined) await this.consumeAfter;
        if (ctx.stopping || ofGeneration !== ctx.generation) return;
        for (const { topic, partition, start } of starts) this.applyStart(c, topic, partition, start);
        c.resume([...partitions]);
        return;
      } catch (error) {
        ctx.countError('client');
        ctx.noteError(error);
        const delay = ctx.backoff(attempt);
        ctx.logger.warn({ err: error, attempt, retryInMs: delay }, 'cannot read the committed offsets and retained ranges of the assigned partitions; retrying');
        await Promise.race([sleep(delay), ctx.stopRequested]);
      }
    }
  }

  /** Offsets [from, to) of the partition were jumped over without being processed. */
  countSkipped(topic: string, partition: number, from: bigint, to: bigint, why: string): void {
    const skipped = to - from;
    this.ctx.metrics.offsetsSkipped.inc({ topic, partition: String(partition) }, Number(skipped));
    this.ctx.logger.error(
      { topic, partition, firstSkippedOffset: from.toString(), lastSkippedOffset: (to - 1n).toString(), skipped: Number(skipped), resumedAt: to.toString() },
      `${skipped} messages skipped without being processed: ${why}`,
    );
  }

  private applyStart(c: Consumer, topic: string, partition: number, start: StartPosition): void {
    this.progress.moveTo(partitionKey(topic, partition), start.next);
    // kafkajs starts at the committed offset, or at the earliest one when there is none (it is
    // subscribed with fromBeginning); every other start is a seek (committed by kafkajs at once with
    // auto-commit, else with the next commit).
    const kafkajsStartsThere = start.kind === 'committed' || (start.kind === 'new' && this.ctx.options.fromBeginning);
    if (!kafkajsStartsThere) c.seek({ topic, partition, offset: start.next.toString() });
    if (start.kind === 'skipped') {
      this.countSkipped(topic, partition, start.committed, start.next, 'the committed offset is no longer retained in the topic (retention removed them before they were read)');
    } else if (start.kind === 'ahead') {
      this.ctx.logger.warn(
        { topic, partition, committedOffset: start.committed.toString(), resumedAt: start.next.toString() },
        'the committed offset lies beyond the end of the partition (topic recreated or truncated?); reading from its earliest offset',
      );
    }
  }
}
