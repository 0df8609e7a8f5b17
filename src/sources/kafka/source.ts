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
//   the consumer leaves the group.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Batch, Consumer, EachBatchPayload, Kafka, KafkaMessage, TopicPartitions } from 'kafkajs';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { RecordBatchHandler } from '../../pipeline/types.ts';
import type { SourceRecord } from '../record.ts';
import { connectOnUse, createKafkaClient, type KafkaClientOptions } from './client.ts';
import { createKafkaSourceMetrics, type KafkaErrorKind, type KafkaSourceMetrics } from './metrics.ts';
import { InFlightBatches, type FetchAheadBound } from './in-flight.ts';
import { jumpedOver, startPosition, type RetainedRange, type StartPosition } from './positions.ts';

export interface KafkaSourceOptions extends KafkaClientOptions {
  readonly topics: readonly string[];
  readonly groupId: string;
  /** Where a partition without a committed offset starts: the earliest (true) or the latest offset. */
  readonly fromBeginning: boolean;
  readonly partitionsConsumedConcurrently: number;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly maxBytesPerPartition: number;
  readonly maxBytes: number;
  readonly maxWaitTimeMs: number;
  /** Back-off after a rejected batch and between consumer re-creations. */
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  /** How often the lag of idle assigned partitions is refreshed from the brokers; 0 disables. */
  readonly lagRefreshIntervalMs: number;
  /** Not ready once nothing was heard from the brokers for this long; default min(session timeout, max(5 s, 3 heartbeats)). */
  readonly readinessStaleMs?: number | undefined;
  /** With `beforeCommit`: how often processed offsets are committed (rules.checkpoint_interval). */
  readonly commitIntervalMs: number;
  /**
   * Fetch-ahead (for a handler that processes elsewhere, the worker threads): a batch is handed over
   * and kafkajs fetches on while it is processed, up to this bound; only processed batches are
   * committed. Absent: each batch is processed before kafkajs fetches again.
   */
  readonly fetchAhead?: FetchAheadBound | null | undefined;
}

export interface AssignedPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface KafkaSourceDependencies {
  readonly handler: RecordBatchHandler;
  readonly registry: Registry;
  readonly logger: Logger;
  /**
   * Called with the whole assignment at every group join, before any of its batches is handed over
   * (the alert engine keeps a watermark per assigned partition). Not called when the consumer only
   * restarts without a new assignment.
   */
  readonly onAssignment?: ((partitions: readonly AssignedPartition[]) => void) | undefined;
  /**
   * Assigned partitions are read only once this settled (the alert engine's state is restored
   * meanwhile); joining the group does not wait for it, so the two take their time side by side.
   */
  readonly consumeAfter?: Promise<unknown> | undefined;
  /**
   * Runs before every offset commit; the commit waits for it, and a rejection holds the offsets for
   * the next try. Offsets are then committed every `commitIntervalMs` instead of after each batch.
   */
  readonly beforeCommit?: (() => Promise<void>) | undefined;
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

/** The offset kafkajs fetched a batch from (kafkajs's Batch has it; its typings omit it). */
function fetchedFrom(batch: Batch): bigint | null {
  const offset = (batch as Batch & { readonly fetchedOffset?: string }).fetchedOffset ?? batch.firstOffset();
  return offset === null || offset === undefined ? null : BigInt(offset);
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

export function createKafkaSource(options: KafkaSourceOptions, deps: KafkaSourceDependencies): KafkaSource {
  const { handler, logger } = deps;
  const metrics: KafkaSourceMetrics = createKafkaSourceMetrics(deps.registry);
  const countError = (kind: KafkaErrorKind): void => metrics.errors.inc({ kind });
  const kafka: Kafka = createKafkaClient(options, logger, () => countError('client'));
  const { sessionTimeoutMs, heartbeatIntervalMs, lagRefreshIntervalMs } = options;
  const { initialMs: backoffInitialMs, maxMs: backoffMaxMs } = options.backoff;
  const readinessStaleMs = options.readinessStaleMs ?? Math.min(sessionTimeoutMs, Math.max(5000, 3 * heartbeatIntervalMs));

  let state: KafkaSourceState = 'idle';
  let consumer: Consumer | null = null;
  /** One admin client for lag and positioning. */
  const admin = connectOnUse(() => kafka.admin());
  let supervisor: Promise<void> | null = null;
  let stopping = false;
  let wakeSupervisor: (() => void) | null = null;
  let joined = false;
  let assignment: Assignment = new Map();
  let lastContactAt: number | null = null;
  let consumerRestarts = 0;
  let lastError: string | null = null;
  let lagTimer: NodeJS.Timeout | null = null;
  let commitTimer: NodeJS.Timeout | null = null;
  const beforeCommit = deps.beforeCommit;
  const commitIntervalMs = options.commitIntervalMs;
  /** With beforeCommit: next offset to commit per partition, processed but not yet committed. */
  const uncommitted = new Map<string, { readonly topic: string; readonly partition: number; readonly offset: bigint }>();
  let lastCommitAt = Date.now();
  let committing: Promise<void> | null = null;
  const resumeTimers = new Set<NodeJS.Timeout>();
  /** Consecutive rejected batches per partition, for the back-off. */
  const failures = new Map<string, number>();
  /** Next offset the source expects per assigned partition: where it started, then after each batch. */
  const nextOffsets = new Map<string, bigint>();
  /** Bumped at every join and lost assignment, so a positioning of an older assignment stands down. */
  let generation = 0;
  /** Deciding where the partitions of the current assignment start; batches wait for it. */
  let positioning: Promise<void> | null = null;
  const readyWaiters = new Set<() => void>();
  const inFlight = options.fetchAhead == null ? null : new InFlightBatches(options.fetchAhead);
  /** Commits are made by commitCollected: with beforeCommit, and with fetch-ahead. */
  const collectsCommits = beforeCommit !== undefined || inFlight !== null;
  /** Fetch-ahead: bumped per partition whenever it is sought back to a failed batch. */
  const rereads = new Map<string, number>();

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
        nextOffsets.delete(key(topic, partition));
        // Not ours to commit any more: the new owner may have moved on already.
        uncommitted.delete(key(topic, partition));
        inFlight?.drop(key(topic, partition));
        failures.delete(key(topic, partition));
      }
    }
    assignment = next;
  }

  function clearAssignment(): void {
    joined = false;
    generation += 1;
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
      const brokerAdmin = await admin.get();
      const topics = [...assignment.keys()];
      const unknown = topics.some((t) => [...(assignment.get(t) ?? [])].some((p) => !nextOffsets.has(key(t, p))));
      const committed = new Map<string, bigint>();
      if (unknown) {
        const fetched = await brokerAdmin.fetchOffsets({ groupId: options.groupId, topics });
        for (const t of fetched) for (const p of t.partitions) committed.set(key(t.topic, p.partition), BigInt(p.offset));
      }
      for (const topic of topics) {
        const offsets = await brokerAdmin.fetchTopicOffsets(topic);
        for (const o of offsets) {
          if (!isAssigned(topic, o.partition)) continue;
          const k = key(topic, o.partition);
          const high = BigInt(o.high);
          let next = nextOffsets.get(k) ?? committed.get(k) ?? -1n;
          if (next < 0n) next = options.fromBeginning === false ? high : BigInt(o.low);
          const lag = high - next;
          metrics.lag.set({ topic, partition: String(o.partition) }, Number(lag > 0n ? lag : 0n));
        }
      }
    } catch (error) {
      logger.debug({ err: error }, 'kafka lag refresh failed');
    }
  }

  function countSkipped(topic: string, partition: number, from: bigint, to: bigint, why: string): void {
    const skipped = to - from;
    metrics.offsetsSkipped.inc({ topic, partition: String(partition) }, Number(skipped));
    logger.error(
      { topic, partition, firstSkippedOffset: from.toString(), lastSkippedOffset: (to - 1n).toString(), skipped: Number(skipped), resumedAt: to.toString() },
      `${skipped} messages skipped without being processed: ${why}`,
    );
  }

  function applyStart(c: Consumer, topic: string, partition: number, start: StartPosition): void {
    const k = key(topic, partition);
    nextOffsets.set(k, start.next);
    // kafkajs starts at the committed offset, or at the earliest one when there is none (it is
    // subscribed with fromBeginning); every other start is a seek (committed by kafkajs at once with
    // auto-commit, else with the next commit).
    const kafkajsStartsThere = start.kind === 'committed' || (start.kind === 'new' && options.fromBeginning);
    if (!kafkajsStartsThere) c.seek({ topic, partition, offset: start.next.toString() });
    if (start.kind === 'skipped') {
      countSkipped(topic, partition, start.committed, start.next, 'the committed offset is no longer retained in the topic (retention removed them before they were read)');
    } else if (start.kind === 'ahead') {
      logger.warn(
        { topic, partition, committedOffset: start.committed.toString(), resumedAt: start.next.toString() },
        'the committed offset lies beyond the end of the partition (topic recreated or truncated?); reading from its earliest offset',
      );
    }
  }

  /** Decides where each partition of a new assignment starts, then lets kafkajs fetch them; retried until it succeeds. */
  async function positionPartitions(c: Consumer, ofGeneration: number, partitions: readonly TopicPartitions[]): Promise<void> {
    const fromBeginning = options.fromBeginning;
    for (let attempt = 1; !stopping && ofGeneration === generation; attempt++) {
      try {
        const brokerAdmin = await admin.get();
        const topics = partitions.map((t) => t.topic);
        const committed = new Map<string, bigint>();
        for (const t of await brokerAdmin.fetchOffsets({ groupId: options.groupId, topics })) {
          for (const p of t.partitions) committed.set(key(t.topic, p.partition), BigInt(p.offset));
        }
        const starts: Array<{ topic: string; partition: number; start: StartPosition }> = [];
        for (const { topic, partitions: numbers } of partitions) {
          const ranges = new Map<number, RetainedRange>();
          for (const o of await brokerAdmin.fetchTopicOffsets(topic)) ranges.set(o.partition, { low: BigInt(o.low), high: BigInt(o.high) });
          for (const partition of numbers) {
            const range = ranges.get(partition);
            if (range === undefined) throw new Error(`the brokers report no offsets for ${topic} partition ${partition}`);
            starts.push({ topic, partition, start: startPosition(committed.get(key(topic, partition)) ?? -1n, range, fromBeginning) });
          }
        }
        if (deps.consumeAfter !== undefined) await deps.consumeAfter;
        if (stopping || ofGeneration !== generation) return;
        for (const { topic, partition, start } of starts) applyStart(c, topic, partition, start);
        c.resume([...partitions]);
        return;
      } catch (error) {
        countError('client');
        lastError = errorText(error);
        const delay = backoff(attempt);
        logger.warn({ err: error, attempt, retryInMs: delay }, 'cannot read the committed offsets and retained ranges of the assigned partitions; retrying');
        await Promise.race([sleep(delay), stopPromise]);
      }
    }
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, pause, isStale } = payload;
    const { topic, partition } = batch;
    lastContactAt = Date.now();
    if (batch.isEmpty()) return;
    if (positioning !== null) await positioning;
    if (isStale()) {
      // A seek moved this partition; kafkajs fetches it again from there.
      logger.debug({ topic, partition }, 'skipping a stale batch');
      return;
    }
    const k = key(topic, partition);
    const from = fetchedFrom(batch);
    if (from !== null) {
      const expected = nextOffsets.get(k);
      if (jumpedOver(expected, from) > 0n) {
        countSkipped(topic, partition, expected!, from, 'the fetch offset was out of range (retention removed them before they were read); resumed at the earliest retained offset');
      }
      nextOffsets.set(k, from);
    }
    const records = batch.messages.map((m) => toSourceRecord(topic, partition, m));
    if (inFlight !== null) {
      await handOver(payload, inFlight, records, from);
      return;
    }
    const stopTimer = metrics.batchDuration.startTimer();
    const beat = setInterval(() => {
      heartbeat().catch((error: unknown) => logger.debug({ err: error, topic, partition }, 'heartbeat during a batch failed'));
    }, Math.max(100, Math.floor(heartbeatIntervalMs / 2)));
    try {
      await handler.handleBatch(records);
    } catch (error) {
      clearInterval(beat);
      const delay = noteBatchFailure(topic, partition, error, batch, 'batch failed in the pipeline; not committed, partition paused and the batch will be processed again');
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
    nextOffsets.set(k, next);
    if (isAssigned(topic, partition)) {
      const lag = BigInt(batch.highWatermark) - next;
      metrics.lag.set({ topic, partition: String(partition) }, Number(lag > 0n ? lag : 0n));
    }
    if (beforeCommit !== undefined) {
      uncommitted.set(k, { topic, partition, offset: next });
      // The batch that stops the consumer commits at once; the others when the interval is up.
      const refused = await commitCollected(stopping);
      if (refused !== null) throw refused; // kafkajs rejoins the group
      return;
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

  /**
   * Fetch-ahead: hands the batch to the handler and returns once it is in hand (after waiting for
   * room in the bound), so kafkajs fetches on; its outcome is taken when it settles.
   */
  async function handOver(payload: EachBatchPayload, batches: InFlightBatches, records: SourceRecord[], from: bigint | null): Promise<void> {
    const { batch, resolveOffset, heartbeat, isStale } = payload;
    const { topic, partition } = batch;
    const k = key(topic, partition);
    const c = consumer;
    let bytes = 0;
    for (const message of batch.messages) bytes += message.value?.length ?? 0;
    const ofGeneration = generation;
    const ofReread = rereads.get(k) ?? 0;
    if (!batches.hasRoomFor(bytes)) {
      const beat = setInterval(() => {
        heartbeat().catch((error: unknown) => logger.debug({ err: error, topic, partition }, 'heartbeat while waiting for room failed'));
      }, Math.max(100, Math.floor(heartbeatIntervalMs / 2)));
      try {
        while (!batches.isClosed && !batches.hasRoomFor(bytes)) await batches.roomFreed();
      } finally {
        clearInterval(beat);
      }
    }
    // Meanwhile stopping, a new assignment, or a failed batch of the partition (sought back) made
    // this batch one not to process: kafkajs fetches it again where it is due. From the room check
    // on, nothing awaits until the batch is in hand.
    if (stopping || c === null || consumer !== c || generation !== ofGeneration || (rereads.get(k) ?? 0) !== ofReread || isStale()) return;
    const last = batch.lastOffset();
    const next = BigInt(last) + 1n;
    const handed = batches.add(k, from ?? BigInt(records[0]!.offset), next, bytes);
    const stopTimer = metrics.batchDuration.startTimer();
    let outcome: Promise<void>;
    try {
      outcome = handler.handleBatch(records);
    } catch (error) {
      outcome = Promise.reject(error);
    }
    resolveOffset(last);
    nextOffsets.set(k, next);
    if (isAssigned(topic, partition)) {
      const lag = BigInt(batch.highWatermark) - next;
      metrics.lag.set({ topic, partition: String(partition) }, Number(lag > 0n ? lag : 0n));
    }
    outcome.then(
      () => {
        stopTimer();
        const committable = batches.settle(k, handed, true);
        if (handed.abandoned) return;
        failures.delete(k);
        metrics.consumed.inc({ topic }, records.length);
        if (committable === null || !isAssigned(topic, partition)) return;
        uncommitted.set(k, { topic, partition, offset: committable });
        void commitCollected(beforeCommit === undefined || stopping);
      },
      (error: unknown) => {
        batches.settle(k, handed, false);
        if (handed.abandoned) {
          logger.debug({ err: error, topic, partition, firstOffset: batch.firstOffset() }, 'an abandoned batch failed; it is read again anyway');
          return;
        }
        rereadFrom(c, topic, partition, handed.from, error, batch);
      },
    );
  }

  /** Counts and logs a failed batch of the partition; returns the back-off before it is read again. */
  function noteBatchFailure(topic: string, partition: number, error: unknown, batch: Batch, message: string): number {
    const k = key(topic, partition);
    countError('handler');
    const attempt = (failures.get(k) ?? 0) + 1;
    failures.set(k, attempt);
    const delay = backoff(attempt);
    lastError = errorText(error);
    logger.error({ err: error, topic, partition, firstOffset: batch.firstOffset(), lastOffset: batch.lastOffset(), attempt, retryInMs: delay }, message);
    return delay;
  }

  /**
   * Fetch-ahead: a batch failed. The partition's batches in hand are abandoned and it is read again
   * from the first one not processed (the failed batch, or an earlier one still in hand).
   */
  function rereadFrom(c: Consumer, topic: string, partition: number, failedFrom: bigint, error: unknown, batch: Batch): void {
    const k = key(topic, partition);
    const firstInHand = inFlight?.drop(k) ?? null;
    const offset = firstInHand !== null && firstInHand < failedFrom ? firstInHand : failedFrom;
    rereads.set(k, (rereads.get(k) ?? 0) + 1);
    const delay = noteBatchFailure(topic, partition, error, batch, 'batch failed in the pipeline; not committed, the partition is read again from this batch after a back-off');
    // Nothing of the partition is committed past this batch (the abandoned ones are never
    // committed); when the partition is no longer ours, or the service stops, its new reader starts
    // at the committed offset anyway.
    if (stopping || consumer !== c || !isAssigned(topic, partition)) return;
    nextOffsets.set(k, offset);
    try {
      c.seek({ topic, partition, offset: offset.toString() });
      c.pause([{ topic, partitions: [partition] }]);
    } catch (seekError) {
      logger.warn({ err: seekError, topic, partition }, 'cannot seek back to the failed batch; it is read again from the committed offset after the next rejoin');
      return;
    }
    const ofGeneration = generation;
    const timer = setTimeout(() => {
      resumeTimers.delete(timer);
      if (!stopping && consumer === c && generation === ofGeneration) c.resume([{ topic, partitions: [partition] }]);
    }, delay);
    resumeTimers.add(timer);
  }

  /**
   * Commits the collected offsets (when `force`, or once the interval is up) after `beforeCommit`.
   * One commit at a time; resolves with the error when a rebalance refused it, else null.
   */
  async function commitCollected(force: boolean): Promise<Error | null> {
    while (committing !== null) await committing;
    const c = consumer;
    if (!collectsCommits || c === null || uncommitted.size === 0) return null;
    if (!force && beforeCommit !== undefined && Date.now() - lastCommitAt < commitIntervalMs) return null;
    // Taken before beforeCommit: whatever it stores was handed these batches already.
    const offsets = [...uncommitted.values()];
    uncommitted.clear();
    let refused: Error | null = null;
    committing = (async () => {
      try {
        if (beforeCommit !== undefined) await beforeCommit();
        await c.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset.toString() })));
        lastContactAt = Date.now();
      } catch (error) {
        // Held for the next try, unless a newer offset of the partition is waiting already.
        for (const o of offsets) {
          const k = key(o.topic, o.partition);
          if (!uncommitted.has(k) && isAssigned(o.topic, o.partition)) uncommitted.set(k, o);
        }
        countError('commit');
        lastError = errorText(error);
        if (isRebalanceError(error)) {
          logger.info({ reason: (error as { type?: string }).type }, 'offset commit refused during a rebalance; rejoining');
          refused = error as Error;
        } else {
          logger.warn({ err: error, partitions: offsets.length }, 'saving state or committing offsets failed; both are tried again at the next commit');
        }
      } finally {
        lastCommitAt = Date.now();
      }
    })();
    try {
      await committing;
    } finally {
      committing = null;
    }
    return refused;
  }

  function createConsumer(): { consumer: Consumer; gaveUp: Promise<unknown> } {
    let giveUp: (error: unknown) => void = () => {};
    const gaveUp = new Promise<unknown>((resolve) => (giveUp = resolve));
    const c = kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: sessionTimeoutMs,
      heartbeatInterval: heartbeatIntervalMs,
      rebalanceTimeout: options.rebalanceTimeoutMs,
      maxBytesPerPartition: options.maxBytesPerPartition,
      maxBytes: options.maxBytes,
      maxWaitTimeInMs: options.maxWaitTimeMs,
      allowAutoTopicCreation: false,
      retry: {
        initialRetryTime: options.retry.initialRetryTimeMs,
        maxRetryTime: options.retry.maxRetryTimeMs,
        retries: options.retry.retries,
        restartOnFailure: async (error: Error) => {
          lastError = errorText(error);
          logger.warn({ err: error }, 'kafka consumer failed; restarting it');
          return !stopping;
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
      setAssignment(next);
      generation += 1;
      // kafkajs fetches every partition from its committed offset again after a join.
      inFlight?.dropAll();
      if (deps.onAssignment !== undefined) {
        const partitions: AssignedPartition[] = [];
        for (const { topic, partitions: numbers } of assigned) for (const partition of numbers) partitions.push({ topic, partition });
        try {
          deps.onAssignment(partitions);
        } catch (error) {
          logger.error({ err: error }, 'the assignment listener failed');
        }
      }
      // Back-offs of the previous assignment are void; the positioning resumes every partition.
      for (const timer of resumeTimers) clearTimeout(timer);
      resumeTimers.clear();
      // Paused here, synchronously, before kafkajs fetches: nothing is read before its start is decided.
      if (assigned.length > 0) {
        c.pause(assigned);
        positioning = positionPartitions(c, generation, assigned);
      }
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
    // kafkajs itself moves past batches that hold only transaction markers or aborted records.
    c.on(c.events.END_BATCH_PROCESS, (event) => {
      const { topic, partition, batchSize, lastOffset } = event.payload;
      if (batchSize === 0 && isAssigned(topic, partition)) nextOffsets.set(key(topic, partition), BigInt(lastOffset) + 1n);
    });
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
        // kafkajs's reset after OFFSET_OUT_OF_RANGE goes to this default: the earliest retained offset.
        // `fromBeginning: false` for partitions without a committed offset is a seek (positionPartitions).
        await consumer.subscribe({ topics: [...options.topics], fromBeginning: true });
        if (stopping) break;
        state = 'joining';
        await consumer.run({
          // Commits only offsets we resolved, i.e. processed ones (and retries a failed commit of
          // ours); with beforeCommit or fetch-ahead, commits are ours alone (commitCollected).
          autoCommit: !collectsCommits,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: options.partitionsConsumedConcurrently,
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
      if (collectsCommits) {
        // Offsets of the last batches before traffic pauses (or whose commit failed) are committed too.
        commitTimer = setInterval(() => void commitCollected(false), commitIntervalMs);
        commitTimer.unref();
      }
    },

    async stop(deadlineMs = 15_000) {
      if (state === 'stopped') return;
      stopping = true;
      state = 'stopping';
      stopSignal?.();
      wakeSupervisor?.();
      if (lagTimer !== null) clearInterval(lagTimer);
      if (commitTimer !== null) clearInterval(commitTimer);
      for (const timer of resumeTimers) clearTimeout(timer);
      resumeTimers.clear();
      // Batches waiting for room are not handed over any more.
      inFlight?.close();
      const work = (async () => {
        // Batches in hand finish first (kafkajs commits nothing itself once it stops running).
        if (inFlight !== null) await inFlight.settled();
        // What was processed is committed while still a member; the batch in hand commits itself.
        if (collectsCommits && joined) await commitCollected(true);
        // disconnect() waits for the batch in hand (which commits), then leaves the group.
        if (consumer !== null) await consumer.disconnect();
        if (supervisor !== null) await supervisor;
        await admin.created?.disconnect().catch(() => {});
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
