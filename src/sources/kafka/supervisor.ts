// Keeps a consumer running: kafkajs retries requests and restarts a crashed consumer itself; when
// it gives up (a non-retriable crash, a failed connect), the supervisor recreates the consumer
// after a back-off, until stop(). The process never exits for a broker outage.
import { setTimeout as sleep } from 'node:timers/promises';
import type { EachBatchPayload } from 'kafkajs';
import type { SourceContext } from './context.ts';
import type { CreatedConsumer } from './consumer.ts';

export interface SupervisedRun {
  readonly createConsumer: () => CreatedConsumer;
  readonly eachBatch: (payload: EachBatchPayload) => Promise<void>;
  /** Commits are the source's alone (kafkajs's auto-commit is off). */
  readonly collectsCommits: boolean;
}

export class Supervisor {
  private readonly ctx: SourceContext;
  private readonly run: SupervisedRun;
  private wake: (() => void) | null = null;
  private running: Promise<void> | null = null;

  constructor(ctx: SourceContext, run: SupervisedRun) {
    this.ctx = ctx;
    this.run = run;
  }

  get started(): boolean {
    return this.running !== null;
  }

  /** Starts supervising in the background. */
  start(): void {
    this.running = this.supervise().catch((error: unknown) => {
      this.ctx.noteError(error);
      this.ctx.logger.error({ err: error }, 'kafka supervisor failed');
    });
  }

  /** Ends a back-off early (stop() was called). */
  interrupt(): void {
    this.wake?.();
  }

  /** Resolves once supervision ended (after stop()), at once when it never started. */
  async finished(): Promise<void> {
    if (this.running !== null) await this.running;
  }

  private async supervise(): Promise<void> {
    const { ctx, run } = this;
    const { logger, options } = ctx;
    let attempt = 0;
    while (!ctx.stopping) {
      const created = run.createConsumer();
      const consumer = created.consumer;
      ctx.consumer = consumer;
      ctx.state = attempt === 0 ? 'connecting' : 'reconnecting';
      try {
        await consumer.connect();
        // kafkajs's reset after OFFSET_OUT_OF_RANGE goes to this default: the earliest retained offset.
        // `fromBeginning: false` for partitions without a committed offset is a seek (positioning.ts).
        await consumer.subscribe({ topics: [...options.topics], fromBeginning: true });
        if (ctx.stopping) break;
        ctx.state = 'joining';
        await consumer.run({
          // Commits only offsets we resolved, i.e. processed ones (and retries a failed commit of
          // ours); with beforeCommit or fetch-ahead, commits are ours alone (commits.ts).
          autoCommit: !run.collectsCommits,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: options.partitionsConsumedConcurrently,
          eachBatch: run.eachBatch,
        });
        attempt = 0;
      } catch (error) {
        if (ctx.stopping) break;
        ctx.countError('connect');
        attempt += 1;
        ctx.noteError(error);
        const delay = ctx.backoff(attempt);
        logger.warn({ err: error, attempt, retryInMs: delay }, 'cannot start the kafka consumer; retrying');
        await consumer.disconnect().catch(() => {});
        ctx.leaveAssignment();
        await this.sleep(delay);
        continue;
      }
      const outcome = await Promise.race([created.gaveUp.then((e) => ({ gaveUp: e })), ctx.stopRequested]);
      if (ctx.stopping || outcome === 'stop') break;
      ctx.consumerRestarts += 1;
      attempt += 1;
      const delay = ctx.backoff(attempt);
      logger.warn({ err: outcome.gaveUp, retryInMs: delay }, 'kafka consumer gave up; recreating it');
      await consumer.disconnect().catch(() => {});
      ctx.leaveAssignment();
      ctx.state = 'reconnecting';
      await this.sleep(delay);
    }
  }

  private async sleep(ms: number): Promise<void> {
    await Promise.race([sleep(ms), this.ctx.stopRequested, new Promise<void>((resolve) => (this.wake = resolve))]);
    this.wake = null;
  }
}
