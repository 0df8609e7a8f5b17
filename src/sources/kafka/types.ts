// The Kafka source's public shapes: its options, what it is given, and what it reports
// (docs/architecture.md#kafka-source).
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { RecordBatchHandler } from '../../pipeline/types.ts';
import type { KafkaClientOptions } from './client.ts';
import type { FetchAheadBound } from './in-flight.ts';

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