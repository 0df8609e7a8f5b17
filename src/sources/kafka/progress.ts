// How far the source is in each assigned partition: the next offset it expects (where it started,
// then after each batch) and the lag gauge derived from it, refreshed from the brokers for idle
// partitions.
import type { Batch } from 'kafkajs';
import { partitionKey } from './assignment.ts';
import type { SourceContext } from './context.ts';

export class PartitionProgress {
  private readonly ctx: SourceContext;
  private readonly nextOffsets = new Map<string, bigint>();
  private lagTimer: NodeJS.Timeout | null = null;

  constructor(ctx: SourceContext) {
    this.ctx = ctx;
    ctx.assignment.onRevoked((topic, partition, key) => {
      ctx.metrics.lag.remove({ topic, partition: String(partition) });
      this.nextOffsets.delete(key);
    });
  }

  expected(key: string): bigint | undefined {
    return this.nextOffsets.get(key);
  }

  moveTo(key: string, next: bigint): void {
    this.nextOffsets.set(key, next);
  }

  /** The batch is resolved in kafkajs (it fetches on after it); returns the offset after it. */
  passed(batch: Batch, key: string, resolveOffset: (offset: string) => void): bigint {
    const { topic, partition } = batch;
    const last = batch.lastOffset();
    const next = BigInt(last) + 1n;
    resolveOffset(last);
    this.nextOffsets.set(key, next);
    if (this.ctx.assignment.has(topic, partition)) this.setLag(topic, partition, BigInt(batch.highWatermark) - next);
    return next;
  }

  /** Refreshes the lag of idle partitions every `lagRefreshIntervalMs` (0: never). */
  startLagRefresh(): void {
    const { lagRefreshIntervalMs } = this.ctx.options;
    if (lagRefreshIntervalMs > 0) {
      this.lagTimer = setInterval(() => void this.refreshLag(), lagRefreshIntervalMs);
      this.lagTimer.unref();
    }
  }

  stopLagRefresh(): void {
    if (this.lagTimer !== null) clearInterval(this.lagTimer);
  }

  async refreshLag(): Promise<void> {
    const { ctx } = this;
    const { assignment } = ctx;
    if (assignment.size === 0 || ctx.stopping) return;
    try {
      const brokerAdmin = await ctx.admin.get();
      const topics = assignment.topics();
      const unknown = topics.some((t) => [...(assignment.partitionsOf(t) ?? [])].some((p) => !this.nextOffsets.has(partitionKey(t, p))));
      const committed = new Map<string, bigint>();
      if (unknown) {
        const fetched = await brokerAdmin.fetchOffsets({ groupId: ctx.options.groupId, topics });
        for (const t of fetched) for (const p of t.partitions) committed.set(partitionKey(t.topic, p.partition), BigInt(p.offset));
      }
      for (const topic of topics) {
        const offsets = await brokerAdmin.fetchTopicOffsets(topic);
        for (const o of offsets) {
          if (!assignment.has(topic, o.partition)) continue;
          const k = partitionKey(topic, o.partition);
          const high = BigInt(o.high);
          let next = this.nextOffsets.get(k) ?? committed.get(k) ?? -1n;
          if (next < 0n) next = ctx.options.fromBeginning === false ? high : BigInt(o.low);
          this.setLag(topic, o.partition, high - next);
        }
      }
    } catch (error) {
      ctx.logger.debug({ err: error }, 'kafka lag refresh failed');
    }
  }

  private setLag(topic: string, partition: number, lag: bigint): void {
    this.ctx.metrics.lag.set({ topic, partition: String(partition) }, Number(lag > 0n ? lag : 0n));
  }
}
