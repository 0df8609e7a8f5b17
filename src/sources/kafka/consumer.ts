// One kafkajs consumer of the group and its event wiring: a join replaces the assignment and
// starts positioning its partitions (paused until then), heartbeats and fetches keep readiness
// fresh, a crash loses the assignment and, when kafkajs gives up, tells the supervisor.
import type { Consumer, TopicPartitions } from 'kafkajs';
import { partitionKey, type Assignment } from './assignment.ts';
import { kafkajsRetry } from './client.ts';
import type { BatchRetries } from './batch-retries.ts';
import type { SourceContext } from './context.ts';
import type { FetchAhead } from './fetch-ahead.ts';
import type { PartitionPositioning } from './positioning.ts';
import type { PartitionProgress } from './progress.ts';
import type { Readiness } from './readiness.ts';
import type { AssignedPartition } from './types.ts';

export interface ConsumerParts {
  readonly readiness: Readiness;
  readonly progress: PartitionProgress;
  readonly positioning: PartitionPositioning;
  readonly retries: BatchRetries;
  readonly fetchAhead: FetchAhead | null;
  readonly onAssignment: ((partitions: readonly AssignedPartition[]) => void) | undefined;
}

export interface CreatedConsumer {
  readonly consumer: Consumer;
  /** Resolves with the error when kafkajs crashed and will not restart the consumer itself. */
  readonly gaveUp: Promise<unknown>;
}

export function createConsumer(ctx: SourceContext, parts: ConsumerParts): CreatedConsumer {
  const { options, logger } = ctx;
  const { readiness, progress, positioning, retries, fetchAhead, onAssignment } = parts;
  let giveUp: (error: unknown) => void = () => {};
  const gaveUp = new Promise<unknown>((resolve) => (giveUp = resolve));
  const c = ctx.kafka.consumer({
    groupId: options.groupId,
    sessionTimeout: options.sessionTimeoutMs,
    heartbeatInterval: options.heartbeatIntervalMs,
    rebalanceTimeout: options.rebalanceTimeoutMs,
    maxBytesPerPartition: options.maxBytesPerPartition,
    maxBytes: options.maxBytes,
    maxWaitTimeInMs: options.maxWaitTimeMs,
    allowAutoTopicCreation: false,
    retry: {
      ...kafkajsRetry(options.retry),
      restartOnFailure: async (error: Error) => {
        ctx.noteError(error);
        logger.warn({ err: error }, 'kafka consumer failed; restarting it');
        return !ctx.stopping;
      },
    },
  });
  c.on(c.events.GROUP_JOIN, (event) => {
    const next: Assignment = new Map();
    const assigned: TopicPartitions[] = [];
    for (const [topic, partitions] of Object.entries(event.payload.memberAssignment)) {
      next.set(topic, new Set(partitions));
      assigned.push({ topic, partitions: [...partitions] });
    }
    ctx.assignment.replace(next);
    ctx.generation += 1;
    // kafkajs fetches every partition from its committed offset again after a join.
    fetchAhead?.abandonAll();
    if (onAssignment !== undefined) {
      const partitions: AssignedPartition[] = [];
      for (const { topic, partitions: numbers } of assigned) for (const partition of numbers) partitions.push({ topic, partition });
      try {
        onAssignment(partitions);
      } catch (error) {
        logger.error({ err: error }, 'the assignment listener failed');
      }
    }
    // Back-offs of the previous assignment are void; the positioning resumes every partition.
    retries.cancelResumes();
    // Paused here, synchronously, before kafkajs fetches: nothing is read before its start is decided.
    if (assigned.length > 0) {
      c.pause(assigned);
      ctx.positioning = positioning.position(c, ctx.generation, assigned);
    }
    ctx.joined = true;
    ctx.lastContactAt = Date.now();
    if (ctx.state === 'joining' || ctx.state === 'reconnecting') ctx.state = 'consuming';
    logger.info(
      { groupId: options.groupId, memberId: event.payload.memberId, leader: event.payload.isLeader, assignment: ctx.assignment.toObject(), durationMs: event.payload.duration },
      'joined the consumer group',
    );
    readiness.notify();
    void progress.refreshLag();
  });
  c.on(c.events.HEARTBEAT, () => readiness.heardFromBrokers());
  c.on(c.events.FETCH, () => readiness.heardFromBrokers());
  c.on(c.events.REBALANCING, () => {
    logger.info({ groupId: options.groupId }, 'consumer group is rebalancing');
  });
  c.on(c.events.REQUEST_TIMEOUT, () => ctx.countError('request_timeout'));
  // kafkajs itself moves past batches that hold only transaction markers or aborted records.
  c.on(c.events.END_BATCH_PROCESS, (event) => {
    const { topic, partition, batchSize, lastOffset } = event.payload;
    if (batchSize === 0 && ctx.assignment.has(topic, partition)) progress.moveTo(partitionKey(topic, partition), BigInt(lastOffset) + 1n);
  });
  c.on(c.events.CRASH, (event) => {
    ctx.countError('crash');
    ctx.leaveAssignment();
    ctx.noteError(event.payload.error);
    if (!ctx.stopping) ctx.state = 'reconnecting';
    logger.warn({ err: event.payload.error, restart: event.payload.restart }, 'kafka consumer crashed');
    if (!event.payload.restart) giveUp(event.payload.error);
    else ctx.consumerRestarts += 1;
  });
  return { consumer: c, gaveUp };
}
