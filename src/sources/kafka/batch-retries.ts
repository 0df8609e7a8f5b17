// A batch the pipeline rejected is read again after a back-off that grows with the partition's
// consecutive failures; the timers that resume paused partitions are cancelled by a new
// assignment (its positioning resumes every partition) and by stop().
import type { Batch } from 'kafkajs';
import { partitionKey } from './assignment.ts';
import type { SourceContext } from './context.ts';

export class BatchRetries {
  private readonly ctx: SourceContext;
  /** Consecutive rejected batches per partition, for the back-off. */
  private readonly failures = new Map<string, number>();
  private readonly resumeTimers = new Set<NodeJS.Timeout>();

  constructor(ctx: SourceContext) {
    this.ctx = ctx;
    ctx.assignment.onRevoked((_topic, _partition, key) => this.failures.delete(key));
  }

  /** Counts and logs a failed batch of the partition; returns the back-off before it is read again. */
  noteFailure(topic: string, partition: number, error: unknown, batch: Batch, message: string): number {
    const { ctx } = this;
    const k = partitionKey(topic, partition);
    ctx.countError('handler');
    const attempt = (this.failures.get(k) ?? 0) + 1;
    this.failures.set(k, attempt);
    const delay = ctx.backoff(attempt);
    ctx.noteError(error);
    ctx.logger.error({ err: error, topic, partition, firstOffset: batch.firstOffset(), lastOffset: batch.lastOffset(), attempt, retryInMs: delay }, message);
    return delay;
  }

  /** A batch of the partition was processed: its next failure starts the back-off anew. */
  succeeded(key: string): void {
    this.failures.delete(key);
  }

  resumeAfter(delayMs: number, resume: () => void): void {
    const timer = setTimeout(() => {
      this.resumeTimers.delete(timer);
      resume();
    }, delayMs);
    this.resumeTimers.add(timer);
  }

  cancelResumes(): void {
    for (const timer of this.resumeTimers) clearTimeout(timer);
    this.resumeTimers.clear();
  }
}
