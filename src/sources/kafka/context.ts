// What the parts of the Kafka source share: its settings, the client, the current consumer, the
// assignment, and the health that status() and readiness report. Each part keeps its own state
// beside it (docs/architecture.md#kafka-source).
import type { Admin, Consumer, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { connectOnUse, createKafkaClient, type ConnectedOnUse } from './client.ts';
import { errorText } from './errors.ts';
import type { KafkaErrorKind, KafkaSourceMetrics } from './metrics.ts';
import { AssignedPartitions } from './assignment.ts';
import type { KafkaSourceOptions, KafkaSourceState } from './types.ts';

export class SourceContext {
  readonly options: KafkaSourceOptions;
  readonly logger: Logger;
  readonly metrics: KafkaSourceMetrics;
  readonly kafka: Kafka;
  /** One admin client for lag and positioning. */
  readonly admin: ConnectedOnUse<Admin>;
  readonly assignment = new AssignedPartitions();
  /** Resolves when stop() was called: waits and back-offs race it. */
  readonly stopRequested: Promise<'stop'>;
  private signalStop: () => void = () => {};

  state: KafkaSourceState = 'idle';
  stopping = false;
  consumer: Consumer | null = null;
  joined = false;
  lastContactAt: number | null = null;
  consumerRestarts = 0;
  lastError: string | null = null;
  /** Bumped at every join and lost assignment, so work for an older assignment stands down. */
  generation = 0;
  /** Deciding where the partitions of the current assignment start; batches wait for it. */
  positioning: Promise<void> | null = null;

  constructor(options: KafkaSourceOptions, logger: Logger, metrics: KafkaSourceMetrics) {
    this.options = options;
    this.logger = logger;
    this.metrics = metrics;
    this.kafka = createKafkaClient(options, logger, () => this.countError('client'));
    this.admin = connectOnUse(() => this.kafka.admin());
    this.stopRequested = new Promise<'stop'>((resolve) => (this.signalStop = () => resolve('stop')));
  }

  countError(kind: KafkaErrorKind): void {
    this.metrics.errors.inc({ kind });
  }

  noteError(error: unknown): void {
    this.lastError = errorText(error);
  }

  /** Jittered exponential back-off for the `attempt`th consecutive failure. */
  backoff(attempt: number): number {
    const { initialMs, maxMs } = this.options.backoff;
    const base = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  requestStop(): void {
    this.stopping = true;
    this.state = 'stopping';
    this.signalStop();
  }

  /** The membership is gone (crash, recreation, stop): nothing is assigned until the next join. */
  leaveAssignment(): void {
    this.joined = false;
    this.generation += 1;
    this.assignment.replace(new Map());
  }
}
