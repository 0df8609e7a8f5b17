// The Kafka source of `paysignal run`: a kafkajs consumer group with at-least-once delivery.
//
// - Each fetched batch (one topic-partition) goes to `handler.handleBatch`; only once that resolved
//   (every sink and the dead-letter topic are done) are its messages counted and its offsets
//   resolved and committed. Nothing is counted or committed before it was processed. A commit that
//   fails for a broker problem is retried with kafkajs's next commit (the membership is kept); one
//   refused in a rebalance makes kafkajs rejoin, and the new owner processes the batch again.
// - A rejected batch is neither resolved nor committed: kafkajs fetches a partition from its last
//   resolved offset, so the partition is paused for a back-off and the same records come again.
// - Memory stays bounded: kafkajs fetches again only after the batches of the previous fetch were
//   handled, so at most one fetch response (`maxBytes`) per broker is in memory.
// - Fetch-ahead (`fetchAhead`, with processing workers): a batch is handed to the handler and its
//   offset resolved at once, so kafkajs fetches on while the workers work; a batch waits for room
//   only when the bound of batches/bytes in hand is reached, which holds kafkajs's next fetch. The
//   commits are ours alone (kafkajs's auto-commit is off, it would commit the resolved, unprocessed
//   offsets): per partition, up to the end of the unbroken run of processed batches (in-flight.ts).
//   A failed batch abandons the partition's batches in hand, and the partition is sought back to
//   the first unprocessed offset (the failed batch's, or that of an earlier batch still in hand)
//   and paused for a back-off, so it is read again from there.
//   A new assignment abandons every batch in hand (kafkajs fetches from the committed offsets again).
// - Heartbeats continue while a long batch is in the pipeline.
// - Rebalances: the assignment comes with every group join; lag series of partitions that are no
//   longer ours are removed. Newly assigned partitions stay paused until their start is decided
//   from the committed offset and the retained range (positions.ts): the committed offset, else
//   the earliest or latest offset (`fromBeginning`).
// - No silent skips: a committed offset that retention has removed, or an offset-out-of-range reset
//   while consuming, is counted in paysignal_kafka_offsets_skipped_total{topic,partition} and logged
//   at error level with the range; reading resumes at the earliest retained offset, never the latest.
// - Broker errors: kafkajs retries requests and restarts the consumer after a crash; when it gives up
//   (non-retriable crash, failed connect), a supervisor recreates the consumer with back-off. The
//   process never exits for a broker outage; readiness says whether the group is joined and healthy.
// - Commits before which state must be stored (`beforeCommit`, the alert engine's checkpoint): offsets
//   of processed batches are collected and committed together at most every `commitIntervalMs`,
//   each time after `beforeCommit` resolved, so whatever it stores covers every committed offset and
//   costs one write per interval, not one per batch. A crash repeats at most that interval.
// - stop(): the batch in hand (with fetch-ahead: every batch in hand) is finished and committed, then
//   the consumer leaves the group.//
// This module composes the parts, one job each (docs/architecture.md#kafka-source): context.ts
// (shared state), assignment.ts, readiness.ts, progress.ts (next offsets, lag), positioning.ts,
// each-batch.ts, fetch-ahead.ts, batch-retries.ts, commits.ts, consumer.ts, supervisor.ts.
import type { Logger } from 'pino';
import { BatchRetries } from './batch-retries.ts';
import { OffsetCommits } from './commits.ts';
import { createConsumer } from './consumer.ts';
import { SourceContext } from './context.ts';
import { createEachBatch } from './each-batch.ts';
import { FetchAhead } from './fetch-ahead.ts';
import { createKafkaSourceMetrics } from './metrics.ts';
import { PartitionPositioning } from './positioning.ts';
import { PartitionProgress } from './progress.ts';
import { Readiness } from './readiness.ts';
import { Supervisor } from './supervisor.ts';
import type { KafkaSource, KafkaSourceDependencies, KafkaSourceOptions } from './types.ts';

export { toSourceRecord } from './records.ts';
export type { AssignedPartition, KafkaSource, KafkaSourceDependencies, KafkaSourceOptions, KafkaSourceState, KafkaSourceStatus } from './types.ts';

export class KafkaSourceStopTimeout extends Error {
  readonly code = 'KAFKA_STOP_TIMEOUT';
  constructor(ms: number) {
    super(`the Kafka consumer did not finish its batch and leave the group within ${ms} ms`);
    this.name = 'KafkaSourceStopTimeout';
  }
}

export function createKafkaSource(options: KafkaSourceOptions, deps: KafkaSourceDependencies): KafkaSource {
  const logger: Logger = deps.logger;
  const ctx = new SourceContext(options, logger, createKafkaSourceMetrics(deps.registry));
  const readiness = new Readiness(ctx);
  const progress = new PartitionProgress(ctx);
  const positioning = new PartitionPositioning(ctx, progress, deps.consumeAfter);
  const retries = new BatchRetries(ctx);
  const commits = new OffsetCommits(ctx, deps.beforeCommit, options.fetchAhead != null);
  const handler = deps.handler;
  const fetchAhead = options.fetchAhead == null ? null : new FetchAhead(ctx, options.fetchAhead, { handler, progress, commits, retries });
  const supervisor = new Supervisor(ctx, {
    createConsumer: () => createConsumer(ctx, { readiness, progress, positioning, retries, fetchAhead, onAssignment: deps.onAssignment }),
    eachBatch: createEachBatch(ctx, { handler, progress, positioning, commits, retries, fetchAhead }),
    collectsCommits: commits.collects,
  });

  async function finishAndLeave(): Promise<void> {
    // Batches in hand finish first (kafkajs commits nothing itself once it stops running).
    if (fetchAhead !== null) await fetchAhead.settled();
    // What was processed is committed while still a member; the batch in hand commits itself.
    if (commits.collects && ctx.joined) await commits.commitCollected(true);
    // disconnect() waits for the batch in hand (which commits), then leaves the group.
    if (ctx.consumer !== null) await ctx.consumer.disconnect();
    await supervisor.finished();
    await ctx.admin.created?.disconnect().catch(() => {});
  }

  return {
    start() {
      if (supervisor.started) return;
      logger.info({ brokers: options.brokers, topics: options.topics, groupId: options.groupId }, 'starting the kafka source');
      supervisor.start();
      progress.startLagRefresh();
      commits.startInterval();
    },

    async stop(deadlineMs = 15_000) {
      if (ctx.state === 'stopped') return;
      ctx.requestStop();
      supervisor.interrupt();
      progress.stopLagRefresh();
      commits.stopInterval();
      retries.cancelResumes();
      // Batches waiting for room are not handed over any more.
      fetchAhead?.close();
      const work = finishAndLeave();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new KafkaSourceStopTimeout(deadlineMs)), deadlineMs);
      });
      try {
        await Promise.race([work, timeout]);
      } finally {
        clearTimeout(timer);
        ctx.leaveAssignment();
        ctx.state = 'stopped';
      }
      logger.info({ groupId: options.groupId }, 'kafka source stopped; left the consumer group');
    },

    status() {
      const { state, lastContactAt, consumerRestarts, lastError } = ctx;
      return { state, ready: readiness.isReady(), assignment: ctx.assignment.toObject(), lastContactAt, consumerRestarts, lastError };
    },

    isReady: () => readiness.isReady(),

    waitUntilReady: (timeoutMs = 60_000) => readiness.waitUntilReady(timeoutMs),
  };
}
