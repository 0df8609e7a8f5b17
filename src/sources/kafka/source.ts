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
// - Heartbeats continue while a long batch is in the pipeline.
// - Rebalances: the assignment comes with every group join; lag series of partitions that are no
//   longer ours are removed; new partitions start at the committed offset (kafkajs default).
// - Broker errors: kafkajs retries requests and restarts the consumer after a crash; when it gives up
//   (non-retriable crash, failed connect), a supervisor recreates the consumer with back-off. The
//   process never exits for a broker outage; readiness says whether the group is joined and healthy.
// - stop(): the batch in hand is finished and committed, then the consumer leaves the group.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { RecordBatchHandler } from '../../pipeline/types.ts';
import type { SourceRecord } from '../record.ts';
import { createKafkaClient, type KafkaClientOptions } from './client.ts';
import { createKafkaSourceMetrics, type KafkaErrorKind, type KafkaSourceMetrics } from './metrics.ts';

export interface KafkaSourceOptions extends KafkaClientOptions {
  readonly topics: readonly string[];
  readonly groupId: string;
  /** Where a group without committed offsets starts: the earliest (true) or the latest offset. */
  readonly fromBeginning?: boolean | undefined;
  readonly partitionsConsumedConcurrently?: number | undefined;
  readonly sessionTimeoutMs?: number | undefined;
  readonly heartbeatIntervalMs?: number | undefined;
  readonly rebalanceTimeoutMs?: number | undefined;
  readonly maxBytesPerPartition?: number | undefined;
  readonly maxBytes?: number | undefined;
  readonly maxWaitTimeMs?: number | undefined;
  /** Back-off after a rejected batch and between consumer re-creations. */
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number } | undefined;
  /** How often the lag of idle assigned partitions is refreshed from the brokers; 0 disables. */
  readonly lagRefreshIntervalMs?: number | undefined;
  /** Not ready once nothing was heard from the brokers for this long; default min(session timeout, max(5 s, 3 heartbeats)). */
  readonly readinessStaleMs?: number | undefined;
}

export interface KafkaSourceDependencies {
  readonly handler: RecordBatchHandler;
  readonly registry: Registry;
  readonly logger: Logger;
}

export type KafkaSourceState = 'idle' | 'connecting' | 'joining' | 'consuming' | 'reconnecting' | 'stopping' | 'stopped';

export interface KafkaSourceStatus {
  readonly state: KafkaSourceState;
  /** Joined the group, holds an assignment, and heard from the brokers within the session timeout. */
  readonly ready: boolean;
  readonly assignment: Readonly<Record<string, readonly number[]>>;
  readonly lastContactAt: number | null;
  readonly consumerRestarts: number;
  readonly lastError: string | null;
}

export interface KafkaSource {
  /** Starts consuming in the background; connection problems are retried, never thrown. */
  start(): void;
  /** Finishes the batch in hand, commits it, leaves the group. Rejects when that takes longer than `deadlineMs`. */
  stop(deadlineMs?: number): Promise<void>;
  status(): KafkaSourceStatus;
  isReady(): boolean;
  /** Resolves once ready (joined with an assignment); rejects after `timeoutMs`. */
  waitUntilReady(timeoutMs?: number): Promise<void>;
}

export class KafkaSourceStopTimeout extends Error {
  readonly code = 'KAFKA_STOP_TIMEOUT';
  constructor(ms: number) {
    super(`the Kafka consumer did not finish its batch and leave the group within ${ms} ms`);
    this.name = 'KafkaSourceStopTimeout';
  }
}

type Assignment = Map<string, Set<number>>;

function headerValue(value: Buffer | string | (Buffer | string)[] | undefined): Buffer | string | undefined {
  if (Array.isArray(value)) return value[value.length - 1];
  return value;
}

export function toSourceRecord(topic: string, partition: number, message: KafkaMessage): SourceRecord {
  const headers: Record<string, Buffer | string | undefined> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) headers[name] = headerValue(value);
  return {
    value: message.value,
    source: 'kafka',
    topic,
    partition,
    offset: message.offset,
    key: message.key,
    headers,
  };
}

const REBALANCE_ERRORS = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'NOT_COORDINATOR_FOR_GROUP', 'FENCED_INSTANCE_ID']);

function isRebalanceError(error: unknown): boolean {
  const type = (error as { type?: unknown } | null)?.type;
  return typeof type === 'string' && REBALANCE_ERRORS.has(type);
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

export function createKafkaSource(options: KafkaSourceOptions, deps: KafkaSourceDependencies): KafkaSource {
  const { handler, logger } = deps;
  const metrics: KafkaSourceMetrics = createKafkaSourceMetrics(deps.registry);
  const countError = (kind: KafkaErrorKind): void => metrics.errors.inc({ kind });
  const kafka: Kafka = createKafkaClient(options, logger, () => countError('client'));
  const sessionTimeoutMs = options.sessionTimeoutMs ?? 30_000;
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 3_000;
  const backoffInitialMs = options.backoff?.initialMs ?? 500;
  const backoffMaxMs = options.backoff?.maxMs ?? 30_000;
  const lagRefreshIntervalMs = options.lagRefreshIntervalMs ?? 15_000;
  const readinessStaleMs = options.readinessStaleMs ?? Math.min(sessionTimeoutMs, Math.max(5000, 3 * heartbeatIntervalMs));

  let state: KafkaSourceState = 'idle';
  let consumer: Consumer | null = null;
  let admin: Admin | null = null;
  let supervisor: Promise<void> | null = null;
  let stopping = false;
  let wakeSupervisor: (() => void) | null = null;
  let joined = false;
  let assignment: Assignment = new Map();
  let lastContactAt: number | null = null;
  let consumerRestarts = 0;
  let lastError: string | null = null;
  let lagTimer: NodeJS.Timeout | null = null;
  const resumeTimers = new Set<NodeJS.Timeout>();
  /** Consecutive rejected batches per partition, for the back-off. */
  const failures = new Map<string, number>();
  /** Next offset to process per partition, as far as this consumer committed it. */
  const committedNext = new Map<string, bigint>();
  const readyWaiters = new Set<() => void>();

  const key = (topic: string, partition: number): string => `${topic}\u0000${partition}`;
  const isAssigned = (topic: string, partition: number): boolean => assignment.get(topic)?.has(partition) ?? false;

  function backoff(attempt: number): number {
    const base = Math.min(backoffMaxMs, backoffInitialMs * 2 ** Math.max(0, attempt - 1));
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  function isReady(): boolean {
    if (!joined || stopping || state !== 'consuming') return false;
    return lastContactAt !== null && Date.now() - lastContactAt < readinessStaleMs;
  }

  function notifyReady(): void {
    if (!isReady()) return;
    for (const resolve of readyWaiters) resolve();
    readyWaiters.clear();
  }

  function setAssignment(next: Assignment): void {
    for (const [topic, partitions] of assignment) {
      for (const partition of partitions) {
        if (next.get(topic)?.has(partition)) continue;
        metrics.lag.remove({ topic, partition: String(partition) });
        committedNext.delete(key(topic, partition));
        failures.delete(key(topic, partition));
      }
    }
    assignment = next;
  }

  function clearAssignment(): void {
    joined = false;
    setAssignment(new Map());
  }

  function assignmentObject(): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const [topic, partitions] of assignment) out[topic] = [...partitions].sort((a, b) => a - b);
    return out;
  }

  async function refreshLag(): Promise<void> {
    if (assignment.size === 0 || stopping) return;
    try {
      if (admin === null) {
        admin = kafka.admin();
        await admin.connect();
      }
      const topics = [...assignment.keys()];
      const unknown = topics.some((t) => [...(assignment.get(t) ?? [])].some((p) => !committedNext.has(key(t, p))));
      const committed = new Map<string, bigint>();
      if (unknown) {
        const fetched = await admin.fetchOffsets({ groupId: options.groupId, topics });
        for (const t of fetched) for (const p of t.partitions) committed.set(key(t.topic, p.partition), BigInt(p.offset));
      }
      for (const topic of topics) {
        const offsets = await admin.fetchTopicOffsets(topic);
        for (const o of offsets) {
          if (!isAssigned(topic, o.partition)) continue;
          const k = key(topic, o.partition);
          const high = BigInt(o.high);
          let next = committedNext.get(k) ?? committed.get(k) ?? -1n;
          if (next < 0n) next = options.fromBeginning === false ? high : BigInt(o.low);
          const lag = high - next;
          metrics.lag.set({ topic, partition: String(o.partition) }, Number(lag > 0n ? lag : 0n));
        }
      }
    } catch (error) {
      logger.debug({ err: error }, 'kafka lag refresh failed');
    }
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, pause, isStale } = payload;
    const { topic, partition } = batch;
    lastContactAt = Date.now();
    if (batch.isEmpty()) return;
    if (isStale()) {
      // A seek moved this partition; kafkajs fetches it again from there.
      logger.debug({ topic, partition }, 'skipping a stale batch');
      return;
    }
    const records = batch.messages.map((m) => toSourceRecord(topic, partition, m));
    const k = key(topic, partition);
    const stopTimer = metrics.batchDuration.startTimer();
    const beat = setInterval(() => {
      heartbeat().catch((error: unknown) => logger.debug({ err: error, topic, partition }, 'heartbeat during a batch failed'));
    }, Math.max(100, Math.floor(heartbeatIntervalMs / 2)));
    try {
      await handler.handleBatch(records);
    } catch (error) {
      clearInterval(beat);
      countError('handler');
      const attempt = (failures.get(k) ?? 0) + 1;
      failures.set(k, attempt);
      const delay = backoff(attempt);
      lastError = errorText(error);
      logger.error(
        { err: error, topic, partition, firstOffset: batch.firstOffset(), lastOffset: batch.lastOffset(), attempt, retryInMs: delay },
        'batch failed in the pipeline; not committed, partition paused and the batch will be processed again',
      );
      // Not resolved: kafkajs fetches this partition again from the first offset of this batch.
      if (!stopping) {
        const resume = pause();
        const timer = setTimeout(() => {
          resumeTimers.delete(timer);
          if (!stopping) resume();
        }, delay);
        resumeTimers.add(timer);
      }
      return;
    }
    clearInterval(beat);
    stopTimer();
    failures.delete(k);
    // Processed: count it, and let kafkajs fetch on from here. Committing comes next; should the
    // commit fail, kafkajs commits these resolved offsets with the next commit it makes, and a
    // consumer that takes the partition over meanwhile processes the batch again (at-least-once).
    metrics.consumed.inc({ topic }, records.length);
    const last = batch.lastOffset();
    const next = BigInt(last) + 1n;
    resolveOffset(last);
    committedNext.set(k, next);
    if (isAssigned(topic, partition)) {
      const lag = BigInt(batch.highWatermark) - next;
      metrics.lag.set({ topic, partition: String(partition) }, Number(lag > 0n ? lag : 0n));
    }
    try {
      await commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset: next.toString() }] }] });
    } catch (error) {
      countError('commit');
      lastError = errorText(error);
      if (isRebalanceError(error)) {
        // kafkajs rejoins the group on this error; the partition may go to another member.
        logger.info({ topic, partition, offset: next.toString(), reason: (error as { type?: string }).type }, 'offset commit refused during a rebalance; rejoining');
        throw error;
      }
      // Broker unreachable or similar: keep the membership (a crash would mean a new member id and
      // a join that waits for the old one to time out); kafkajs retries the commit later.
      logger.warn({ err: error, topic, partition, offset: next.toString() }, 'offset commit failed; it is retried with the next commit');
      return;
    }
    lastContactAt = Date.now();
    try {
      await heartbeat();
    } catch (error) {
      if (isRebalanceError(error)) throw error; // kafkajs rejoins
      logger.debug({ err: error }, 'heartbeat after a batch failed');
    }
  }

  function createConsumer(): { consumer: Consumer; gaveUp: Promise<unknown> } {
    let giveUp: (error: unknown) => void = () => {};
    const gaveUp = new Promise<unknown>((resolve) => (giveUp = resolve));
    const c = kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: sessionTimeoutMs,
      heartbeatInterval: heartbeatIntervalMs,
      rebalanceTimeout: options.rebalanceTimeoutMs ?? 60_000,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 1_048_576,
      maxBytes: options.maxBytes ?? 10_485_760,
      maxWaitTimeInMs: options.maxWaitTimeMs ?? 1000,
      allowAutoTopicCreation: false,
      retry: {
        initialRetryTime: options.retry?.initialRetryTimeMs ?? 300,
        maxRetryTime: options.retry?.maxRetryTimeMs ?? 10_000,
        retries: options.retry?.retries ?? 8,
        restartOnFailure: async (error: Error) => {
          lastError = errorText(error);
          logger.warn({ err: error }, 'kafka consumer failed; restarting it');
          return !stopping;
        },
      },
    });
    c.on(c.events.GROUP_JOIN, (event) => {
      const next: Assignment = new Map();
      for (const [topic, partitions] of Object.entries(event.payload.memberAssignment)) next.set(topic, new Set(partitions));
      setAssignment(next);
      joined = true;
      lastContactAt = Date.now();
      if (state === 'joining' || state === 'reconnecting') state = 'consuming';
      logger.info(
        { groupId: options.groupId, memberId: event.payload.memberId, leader: event.payload.isLeader, assignment: assignmentObject(), durationMs: event.payload.duration },
        'joined the consumer group',
      );
      notifyReady();
      void refreshLag();
    });
    c.on(c.events.HEARTBEAT, () => {
      lastContactAt = Date.now();
      notifyReady();
    });
    c.on(c.events.FETCH, () => {
      lastContactAt = Date.now();
      notifyReady();
    });
    c.on(c.events.REBALANCING, () => {
      logger.info({ groupId: options.groupId }, 'consumer group is rebalancing');
    });
    c.on(c.events.REQUEST_TIMEOUT, () => countError('request_timeout'));
    c.on(c.events.CRASH, (event) => {
      countError('crash');
      clearAssignment();
      lastError = errorText(event.payload.error);
      if (!stopping) state = 'reconnecting';
      logger.warn({ err: event.payload.error, restart: event.payload.restart }, 'kafka consumer crashed');
      if (!event.payload.restart) giveUp(event.payload.error);
      else consumerRestarts += 1;
    });
    return { consumer: c, gaveUp };
  }

  async function supervise(): Promise<void> {
    let attempt = 0;
    while (!stopping) {
      const created = createConsumer();
      consumer = created.consumer;
      state = attempt === 0 ? 'connecting' : 'reconnecting';
      try {
        await consumer.connect();
        await consumer.subscribe({ topics: [...options.topics], fromBeginning: options.fromBeginning ?? true });
        if (stopping) break;
        state = 'joining';
        await consumer.run({
          autoCommit: true, // commits only offsets we resolved, i.e. processed ones (and retries a failed commit of ours)
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 1,
          eachBatch,
        });
        attempt = 0;
      } catch (error) {
        if (stopping) break;
        countError('connect');
        attempt += 1;
        lastError = errorText(error);
        const delay = backoff(attempt);
        logger.warn({ err: error, attempt, retryInMs: delay }, 'cannot start the kafka consumer; retrying');
        await consumer.disconnect().catch(() => {});
        clearAssignment();
        await interruptibleSleep(delay);
        continue;
      }
      const outcome = await Promise.race([created.gaveUp.then((e) => ({ gaveUp: e })), stopRequested()]);
      if (stopping || outcome === 'stop') break;
      consumerRestarts += 1;
      attempt += 1;
      const delay = backoff(attempt);
      logger.warn({ err: outcome.gaveUp, retryInMs: delay }, 'kafka consumer gave up; recreating it');
      await consumer.disconnect().catch(() => {});
      clearAssignment();
      state = 'reconnecting';
      await interruptibleSleep(delay);
    }
  }

  let stopSignal: (() => void) | null = null;
  const stopPromise = new Promise<'stop'>((resolve) => (stopSignal = () => resolve('stop')));
  function stopRequested(): Promise<'stop'> {
    return stopPromise;
  }
  async function interruptibleSleep(ms: number): Promise<void> {
    await Promise.race([sleep(ms), stopPromise, new Promise<void>((resolve) => (wakeSupervisor = resolve))]);
    wakeSupervisor = null;
  }

  return {
    start() {
      if (supervisor !== null) return;
      logger.info({ brokers: options.brokers, topics: options.topics, groupId: options.groupId }, 'starting the kafka source');
      supervisor = supervise().catch((error: unknown) => {
        lastError = errorText(error);
        logger.error({ err: error }, 'kafka supervisor failed');
      });
      if (lagRefreshIntervalMs > 0) {
        lagTimer = setInterval(() => void refreshLag(), lagRefreshIntervalMs);
        lagTimer.unref();
      }
    },

    async stop(deadlineMs = 15_000) {
      if (state === 'stopped') return;
      stopping = true;
      state = 'stopping';
      stopSignal?.();
      wakeSupervisor?.();
      if (lagTimer !== null) clearInterval(lagTimer);
      for (const timer of resumeTimers) clearTimeout(timer);
      resumeTimers.clear();
      const work = (async () => {
        // disconnect() waits for the batch in hand (which commits), then leaves the group.
        if (consumer !== null) await consumer.disconnect();
        if (supervisor !== null) await supervisor;
        if (admin !== null) await admin.disconnect().catch(() => {});
      })();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new KafkaSourceStopTimeout(deadlineMs)), deadlineMs);
      });
      try {
        await Promise.race([work, timeout]);
      } finally {
        clearTimeout(timer);
        clearAssignment();
        state = 'stopped';
      }
      logger.info({ groupId: options.groupId }, 'kafka source stopped; left the consumer group');
    },

    status() {
      return {
        state,
        ready: isReady(),
        assignment: assignmentObject(),
        lastContactAt,
        consumerRestarts,
        lastError,
      };
    },

    isReady,

    async waitUntilReady(timeoutMs = 60_000) {
      if (isReady()) return;
      let done: () => void = () => {};
      const ready = new Promise<void>((resolve) => (done = resolve));
      readyWaiters.add(done);
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          ready,
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`kafka source not ready within ${timeoutMs} ms (state ${state}${lastError ? `, last error: ${lastError}` : ''})`)),
              timeoutMs,
            );
          }),
        ]);
      } finally {
        clearTimeout(timer);
        readyWaiters.delete(done);
      }
    },
  };
}
