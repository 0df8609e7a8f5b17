// The composition root: builds the whole service (Kafka source, pipeline, signals, alerting, HTTP
// endpoints) from its configuration. `paysignal run`, `paysignal demo`, the benchmarks and the tests
// start it here; the CLI only parses arguments and handles signals.
import { availableParallelism } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import type { ISocketFactory } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { Alerting } from '../alerting/index.ts';
import { MAX_CHECKPOINT_BYTES } from '../alerting/engine/index.ts';
import { trackerHeapWarning, type TrackerThread } from '../classify/correlation.ts';
import { createClassifier, type Classifier } from '../classify/classifier.ts';
import { assertKafkaConfigured, workerCount, type PaysignalConfig } from '../config/config.ts';
import { PaysignalError } from '../errors.ts';
import { createDecoder, type Decoder } from '../events/decode.ts';
import { loadMapping } from '../events/mapping.ts';
import type { Logger } from '../logging.ts';
import { signalsFromConfig, startAlertingFromConfig } from '../pipeline/from-config.ts';
import { createPipeline } from '../pipeline/pipeline.ts';
import type { DeadLetterSink, EventSink, RecordBatchHandler, SignalSink } from '../pipeline/types.ts';
import { startWorkerPool } from '../pipeline/workers/pool.ts';
import { startHttpServer, type HttpServer } from '../server/http.ts';
import { createKafkaDeadLetterSink } from '../sinks/dead-letter.ts';
import { createEventsFileSink } from '../sinks/events-file.ts';
import { createExposition, createMetricsRegistry } from '../sinks/exposition.ts';
import type { Signals } from '../sinks/signals.ts';
import { createKafkaClient, tlsConfig } from '../sources/kafka/client.ts';
import { createKafkaSource, type AssignedPartition, type KafkaSource } from '../sources/kafka/source.ts';
import { createStateTopic } from '../sources/kafka/state-topic.ts';
import { createEngineCheckpoints, type EngineCheckpoints } from './engine-checkpoints.ts';
import { fetchAheadBound } from './fetch-ahead.ts';
import { kafkaClientOptions, kafkaSourceOptions } from './kafka-options.ts';

/** A dead-letter sink for `dead_letter.enabled: false`: rejected events are logged and dropped. */
function discardingDeadLetter(logger: Logger): DeadLetterSink {
  return {
    add(record, rejection) {
      logger.warn({ topic: record.topic, partition: record.partition, offset: record.offset, reason: rejection.reason }, 'rejected event dropped (dead_letter.enabled is false)');
    },
    async flush() {},
  };
}

/** What processes the source's batches: the in-thread pipeline, or the pool of processing workers. */
export interface BatchProcessor extends RecordBatchHandler {
  /** Flushes and closes every sink (and stops the workers). */
  close(): Promise<void>;
}

export interface RunningService {
  readonly config: PaysignalConfig;
  readonly registry: Registry;
  readonly source: KafkaSource;
  readonly pipeline: BatchProcessor;
  /** Processing worker threads (`processing.workers` resolved); 0 when everything runs on the main thread. */
  readonly workers: number;
  /** The signal stage of the main thread; null with workers, where each worker has its own. */
  readonly signals: Signals | null;
  /** Null when no rules directory is configured. */
  readonly alerting: Alerting | null;
  readonly http: HttpServer;
  /** Finishes the batch in hand, commits, leaves the group, closes the sinks. Rejects past the deadline. */
  stop(): Promise<void>;
}

export interface StartServiceOptions {
  readonly config: PaysignalConfig;
  readonly logger: Logger;
  /** Where every metric of the service lives (served on /metrics); default a new registry with process metrics. */
  readonly registry?: Registry;
  /**
   * Sinks added after the built-in ones (metrics, spans, alert engine). They run on the main thread
   * and, with workers, see the signal part of each event only.
   */
  readonly sinks?: readonly SignalSink[];
  /** How the Kafka clients open sockets (proxies, tests); default plain TCP/TLS. */
  readonly socketFactory?: ISocketFactory;
}

/** The stages that run on the main thread when there are no workers. */
async function inThreadStages(config: PaysignalConfig, registry: Registry): Promise<{ classifier: Classifier; decoder: Decoder; signals: Signals }> {
  const [classifier, mapping] = await Promise.all([createClassifier(), loadMapping(config.input.mapping)]);
  const decoder = createDecoder({ maxBytes: config.input.max_event_bytes, mapping, idHeaders: classifier.idHeaders });
  return { classifier, decoder, signals: signalsFromConfig(config, classifier, registry) };
}

/** Builds and starts the service from a loaded configuration (also for `paysignal demo`). */
export async function startService(options: StartServiceOptions): Promise<RunningService> {
  const { config, logger } = options;
  assertKafkaConfigured(config);
  const registry = options.registry ?? createMetricsRegistry();
  // Configuration problems first, before anything connects (a pending connection would keep the process up).
  tlsConfig(kafkaClientOptions(config).tls);

  const workers = workerCount(config.processing.workers, availableParallelism());
  const heapLimitBytes = getHeapStatistics().heap_size_limit;
  logger.info({ heapLimitMb: Math.floor(heapLimitBytes / 2 ** 20), correlationMaxKeys: config.correlation.max_keys, workers }, 'V8 heap limit');
  // The tracker lives where events are processed: here without workers, else one in each worker,
  // checked against the limit the workers report once they run.
  const warnTrackerHeap = (limitBytes: number, thread: TrackerThread): void => {
    const warning = trackerHeapWarning(config.correlation.max_keys, limitBytes, thread);
    if (warning !== null) logger.warn({ field: 'correlation.max_keys', heapLimitMb: Math.floor(limitBytes / 2 ** 20) }, warning);
  };
  if (workers === 0) warnTrackerHeap(heapLimitBytes, 'main thread');

  // Opened before anything that starts timers or connections, so a bad path fails fast and clean.
  const eventsFile = config.events_file.path === null ? null : createEventsFileSink(config.events_file.path);
  await eventsFile?.open();
  // Without workers the catalogs, the decoder and the signal stage live here; with workers, in each worker.
  const inThread = workers === 0 ? await inThreadStages(config, registry) : null;
  let alerting: Alerting | null;
  try {
    alerting = await startAlertingFromConfig(config, registry, logger);
  } catch (error) {
    await inThread?.signals.close();
    throw error;
  }
  const closeStages = async (): Promise<void> => {
    await alerting?.close();
    await inThread?.signals.close();
  };

  const extraSinks = options.sinks ?? [];

  let deadLetter: DeadLetterSink;
  if (config.dead_letter.enabled) {
    const dlqLogger = logger.child({ component: 'dead-letter' });
    const dlqKafka = createKafkaClient(
      { ...kafkaClientOptions(config, `${config.kafka.client_id}-dead-letter`), socketFactory: options.socketFactory },
      dlqLogger,
    );
    const sink = createKafkaDeadLetterSink({ kafka: dlqKafka, topic: config.dead_letter.topic, registry, logger: dlqLogger, timeoutMs: config.dead_letter.timeout });
    // Not fatal: the producer connects again on the first write, and a failed write holds the batch.
    sink.connect().catch((error: unknown) => dlqLogger.warn({ err: error }, 'dead-letter producer cannot connect yet'));
    deadLetter = sink;
  } else {
    deadLetter = discardingDeadLetter(logger);
  }

  let pipeline: BatchProcessor;
  if (inThread !== null) {
    // Metrics and spans first (they see every event), then the alert engine, then the rest.
    const sinks: EventSink[] = [...inThread.signals.sinks];
    if (alerting !== null) sinks.push(alerting.engine);
    if (eventsFile !== null) sinks.push(eventsFile);
    sinks.push(...extraSinks);
    pipeline = createPipeline({ decoder: inThread.decoder, classifier: inThread.classifier, tracker: inThread.signals.tracker, sinks, deadLetter });
  } else {
    try {
      const pool = await startWorkerPool({ config, workers, registry, logger: logger.child({ component: 'workers' }), deadLetter, engine: alerting?.engine ?? null, sinks: extraSinks, eventsFile });
      warnTrackerHeap(pool.heapLimitBytes, 'each worker');
      pipeline = pool;
    } catch (error) {
      await closeStages();
      await deadLetter.close?.();
      throw error;
    }
  }
  const exposition = inThread?.signals.exposition ?? createExposition(registry);
  const engine = alerting?.engine ?? null;

  // Durable alert state (docs/architecture.md#time-model): restored before the source reads,
  // checkpointed before every offset commit.
  let checkpoints: EngineCheckpoints | null = null;
  if (alerting !== null && config.rules.durable_state) {
    const stateLogger = logger.child({ component: 'alert-state' });
    const stateKafka = createKafkaClient({ ...kafkaClientOptions(config, `${config.kafka.client_id}-state`), socketFactory: options.socketFactory }, stateLogger);
    checkpoints = createEngineCheckpoints({
      engine: alerting.engine,
      store: createStateTopic({ kafka: stateKafka, topic: config.kafka.state_topic, logger: stateLogger, maxValueBytes: MAX_CHECKPOINT_BYTES }),
      key: config.kafka.group_id,
      registry,
      logger: stateLogger,
      backoff: { initialMs: config.kafka.backoff.initial, maxMs: config.kafka.backoff.max },
    });
  }
  const restoring = new AbortController();
  let stateRestored = checkpoints === null;
  const restored: Promise<boolean> = checkpoints === null ? Promise.resolve(true) : checkpoints.restore(restoring.signal);
  // The engine keeps a watermark per assigned partition (docs/architecture.md#time-model); it learns
  // the assignment only once restored, as a restore replaces its partitions.
  let assigned: readonly AssignedPartition[] | null = null;
  const restoredThenAssigned = restored.then((ok) => {
    stateRestored = ok;
    if (ok && engine !== null && assigned !== null) engine.assignPartitions(assigned);
  });
  const source = createKafkaSource(
    {
      ...kafkaSourceOptions(config),
      socketFactory: options.socketFactory,
      // With workers the source fetches on while they process (docs/architecture.md#worker-threads),
      // with a bound of batches and bytes in their hands.
      fetchAhead: workers === 0 ? null : fetchAheadBound(workers, config.kafka.max_bytes),
    },
    {
      handler: pipeline,
      registry,
      logger: logger.child({ component: 'kafka-source' }),
      onAssignment:
        engine === null
          ? undefined
          : (partitions) => {
              assigned = partitions;
              if (stateRestored) engine.assignPartitions(partitions);
            },
      consumeAfter: checkpoints === null ? undefined : restoredThenAssigned,
      // Offsets are committed every rules.checkpoint_interval, each time after a checkpoint that covers them.
      beforeCommit: checkpoints === null ? undefined : checkpoints.checkpoint,
    },
  );
  let http: HttpServer;
  {
    try {
      http = await startHttpServer({
        exposition,
        host: config.http.host,
        port: config.http.port,
        // Startup fails when the rules do not load, so a running service with rules has them loaded.
        readiness: (): Record<string, boolean> => ({
          kafka_assigned: source.isReady(),
          ...(alerting === null ? {} : { rules_loaded: true }),
          ...(checkpoints === null ? {} : { alert_state_restored: stateRestored }),
        }),
        onError: (error) => logger.warn({ err: error }, 'HTTP endpoint failed'),
      });
    } catch (error) {
      restoring.abort();
      await restored;
      await checkpoints?.close();
      await pipeline.close().catch(() => {});
      await closeStages();
      throw new PaysignalError('HTTP_LISTEN_FAILED', `cannot listen on ${config.http.host}:${config.http.port}: ${(error as Error).message}`, { field: 'http.port', cause: error });
    }
    logger.info({ url: http.url }, 'serving /metrics, /healthz and /readyz');
  }
  source.start();

  let stopping: Promise<void> | null = null;
  return {
    config,
    registry,
    source,
    pipeline,
    workers,
    signals: inThread?.signals ?? null,
    alerting,
    http,
    stop() {
      stopping ??= (async () => {
        try {
          restoring.abort();
          await source.stop(config.kafka.shutdown_timeout);
          await restored;
        } finally {
          await pipeline.close().catch((error: unknown) => logger.warn({ err: error }, 'closing the sinks failed'));
          await checkpoints?.close().catch((error: unknown) => logger.warn({ err: error }, 'closing the state topic failed'));
          await alerting?.close().catch((error: unknown) => logger.warn({ err: error }, 'closing the alerting failed'));
          await http.close();
        }
      })();
      return stopping;
    },
  };
}
