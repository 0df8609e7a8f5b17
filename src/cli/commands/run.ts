// `paysignal run`: the service. Kafka -> decode -> classify -> sinks, with the dead-letter topic for
// rejected events, offsets committed only after every sink finished (DESIGN sections 1, 2, 9).
//
// Exit codes: 0 clean shutdown (SIGTERM/SIGINT), 1 shutdown did not finish within
// kafka.shutdown_timeout or a fatal error, 2 bad configuration or usage.
import { parseArgs } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import type { ISocketFactory } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { Alerting } from '../../alerting/index.ts';
import { signalsFromConfig, startAlertingFromConfig } from '../../pipeline/from-config.ts';
import { startHttpServer, type HttpServer } from '../../server/http.ts';
import { createMetricsRegistry } from '../../sinks/exposition.ts';
import type { Signals } from '../../sinks/signals.ts';
import { createClassifier } from '../../classify/classifier.ts';
import { trackerHeapWarning } from '../../classify/correlation.ts';
import { assertKafkaConfigured, loadConfig, type PaysignalConfig } from '../../config/config.ts';
import { PaysignalError } from '../../errors.ts';
import { createDecoder } from '../../events/decode.ts';
import { loadMapping } from '../../events/mapping.ts';
import { createLogger, type Logger } from '../../logging.ts';
import { createPipeline, type Pipeline } from '../../pipeline/pipeline.ts';
import type { DeadLetterSink, EventSink } from '../../pipeline/types.ts';
import { createKafkaDeadLetterSink } from '../../sinks/dead-letter.ts';
import { createEventsFileSink } from '../../sinks/events-file.ts';
import { createKafkaClient, tlsConfig, type KafkaClientOptions } from '../../sources/kafka/client.ts';
import { createKafkaSource, type KafkaSource, type KafkaSourceOptions } from '../../sources/kafka/source.ts';

export const RUN_USAGE = `Usage: paysignal run [--config FILE]

Consumes payment-call events from Kafka, classifies them and feeds the sinks. Configuration: the
YAML file (--config or PAYSIGNAL_CONFIG) plus environment overrides: KAFKA_BROKERS, KAFKA_TOPIC
(comma-separated), KAFKA_GROUP_ID, KAFKA_CLIENT_ID, KAFKA_FROM_BEGINNING, KAFKA_DLQ_TOPIC,
KAFKA_SASL_MECHANISM/USERNAME/PASSWORD, KAFKA_SSL, KAFKA_SSL_CA_FILE/CERT_FILE/KEY_FILE,
KAFKA_SSL_REJECT_UNAUTHORIZED, PAYSIGNAL_HTTP_HOST, PAYSIGNAL_HTTP_PORT (default 9464),
PAYSIGNAL_RULES, ALERTMANAGER_URL, PAYSIGNAL_EVENTS_FILE, PAYSIGNAL_MAX_EVENT_BYTES.

Exit codes: 0 clean shutdown, 1 shutdown deadline missed or fatal error, 2 bad configuration.`;

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_CONFIG = 2;

/** The Kafka client options of `run`, from the configuration. */
export function kafkaClientOptions(config: PaysignalConfig, clientId = config.kafka.client_id): KafkaClientOptions {
  const k = config.kafka;
  return {
    brokers: k.brokers,
    clientId,
    sasl: k.sasl ?? undefined,
    tls: {
      enabled: k.tls.enabled,
      caFile: k.tls.ca_file ?? undefined,
      certFile: k.tls.cert_file ?? undefined,
      keyFile: k.tls.key_file ?? undefined,
      rejectUnauthorized: k.tls.reject_unauthorized,
    },
    connectionTimeoutMs: k.connection_timeout,
    requestTimeoutMs: k.request_timeout,
    retry: { initialRetryTimeMs: k.retry.initial, maxRetryTimeMs: k.retry.max, retries: k.retry.retries },
  };
}

export function kafkaSourceOptions(config: PaysignalConfig): KafkaSourceOptions {
  const k = config.kafka;
  return {
    ...kafkaClientOptions(config),
    topics: k.topics,
    groupId: k.group_id,
    fromBeginning: k.from_beginning,
    partitionsConsumedConcurrently: k.partitions_consumed_concurrently,
    sessionTimeoutMs: k.session_timeout,
    heartbeatIntervalMs: k.heartbeat_interval,
    rebalanceTimeoutMs: k.rebalance_timeout,
    maxBytesPerPartition: k.max_bytes_per_partition,
    maxBytes: k.max_bytes,
    maxWaitTimeMs: k.max_wait,
    backoff: { initialMs: k.backoff.initial, maxMs: k.backoff.max },
    lagRefreshIntervalMs: k.lag_refresh_interval,
  };
}

/** A dead-letter sink for `dead_letter.enabled: false`: rejected events are logged and dropped. */
function discardingDeadLetter(logger: Logger): DeadLetterSink {
  return {
    add(record, rejection) {
      logger.warn({ topic: record.topic, partition: record.partition, offset: record.offset, reason: rejection.reason }, 'rejected event dropped (dead_letter.enabled is false)');
    },
    async flush() {},
  };
}

export interface RunningService {
  readonly config: PaysignalConfig;
  readonly registry: Registry;
  readonly source: KafkaSource;
  readonly pipeline: Pipeline;
  readonly signals: Signals;
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
  /** Sinks added after the built-in ones (metrics, spans, alert engine). */
  readonly sinks?: readonly EventSink[];
  /** How the Kafka clients open sockets (proxies, tests); default plain TCP/TLS. */
  readonly socketFactory?: ISocketFactory;
}

/** Builds and starts the service from a loaded configuration (also for `paysignal demo`). */
export async function startService(options: StartServiceOptions): Promise<RunningService> {
  const { config, logger } = options;
  assertKafkaConfigured(config);
  const registry = options.registry ?? createMetricsRegistry();
  // Configuration problems first, before anything connects (a pending connection would keep the process up).
  tlsConfig(kafkaClientOptions(config).tls);

  const [classifier, mapping] = await Promise.all([createClassifier(), loadMapping(config.input.mapping)]);
  const decoder = createDecoder({ maxBytes: config.input.max_event_bytes, mapping });
  const heapLimitBytes = getHeapStatistics().heap_size_limit;
  logger.info({ heapLimitMb: Math.floor(heapLimitBytes / 2 ** 20), correlationMaxKeys: config.correlation.max_keys }, 'V8 heap limit');
  const heapWarning = trackerHeapWarning(config.correlation.max_keys, heapLimitBytes);
  if (heapWarning !== null) logger.warn({ field: 'correlation.max_keys' }, heapWarning);

  // Opened before anything that starts timers or connections, so a bad path fails fast and clean.
  const eventsFile = config.events_file.path === null ? null : createEventsFileSink(config.events_file.path);
  await eventsFile?.open();
  const signals = signalsFromConfig(config, classifier, registry);
  let alerting: Alerting | null;
  try {
    alerting = await startAlertingFromConfig(config, registry, logger);
  } catch (error) {
    await signals.close();
    throw error;
  }

  // Metrics and spans first (they see every event), then the alert engine, then the rest.
  const sinks: EventSink[] = [...signals.sinks];
  if (alerting !== null) sinks.push(alerting.engine);
  if (eventsFile !== null) sinks.push(eventsFile);
  sinks.push(...(options.sinks ?? []));

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

  const pipeline = createPipeline({ decoder, classifier, tracker: signals.tracker, sinks, deadLetter });
  const source = createKafkaSource({ ...kafkaSourceOptions(config), socketFactory: options.socketFactory }, { handler: pipeline, registry, logger: logger.child({ component: 'kafka-source' }) });
  let http: HttpServer;
  {
    try {
      http = await startHttpServer({
        exposition: signals.exposition,
        host: config.http.host,
        port: config.http.port,
        // Startup fails when the rules do not load, so a running service with rules has them loaded.
        readiness: (): Record<string, boolean> => (alerting === null ? { kafka_assigned: source.isReady() } : { kafka_assigned: source.isReady(), rules_loaded: true }),
        onError: (error) => logger.warn({ err: error }, 'HTTP endpoint failed'),
      });
    } catch (error) {
      await alerting?.close();
      await signals.close();
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
    signals,
    alerting,
    http,
    stop() {
      stopping ??= (async () => {
        try {
          await source.stop(config.kafka.shutdown_timeout);
        } finally {
          await pipeline.close().catch((error: unknown) => logger.warn({ err: error }, 'closing the sinks failed'));
          await alerting?.close().catch((error: unknown) => logger.warn({ err: error }, 'closing the alerting failed'));
          await http.close();
        }
      })();
      return stopping;
    },
  };
}

export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(`${RUN_USAGE}\n`);
    return EXIT_OK;
  }

  let config: PaysignalConfig;
  try {
    config = loadConfig({ file: values.config, env: process.env });
    assertKafkaConfigured(config);
  } catch (error) {
    if (error instanceof PaysignalError) {
      process.stderr.write(`paysignal run: ${error.describe()}\n`);
      return EXIT_CONFIG;
    }
    throw error;
  }

  const logger = createLogger();
  // Signals are handled from here on: one that arrives while the service starts stops it as soon as it is up.
  let resolveExit: (code: number) => void = () => {};
  const exited = new Promise<number>((resolve) => (resolveExit = resolve));
  let service: RunningService | null = null;
  let signalled = false;
  const finish = (code: number): void => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    // Everything is closed; should a library still hold a handle, do not hang past this.
    setTimeout(() => process.exit(code), 2000).unref();
    logger.flush(() => resolveExit(code));
  };
  const shutdown = (running: RunningService): void => {
    running.stop().then(
      () => {
        logger.info('shutdown complete');
        finish(EXIT_OK);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown did not complete cleanly');
        finish(EXIT_FAILURE);
      },
    );
  };
  function onSignal(signal: NodeJS.Signals): void {
    if (signalled) {
      logger.warn({ signal }, 'second signal; exiting without waiting');
      logger.flush();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    signalled = true;
    logger.info({ signal, deadlineMs: config.kafka.shutdown_timeout }, 'shutting down: finishing the batch in hand, committing, leaving the group');
    if (service !== null) shutdown(service);
  }
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    service = await startService({ config, logger });
  } catch (error) {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    if (error instanceof PaysignalError) {
      // e.g. MAPPING_NOT_FOUND, KAFKA_TLS_FILE_UNREADABLE: configuration the file named but we cannot use.
      process.stderr.write(`paysignal run: ${error.describe()}\n`);
      logger.flush();
      return EXIT_CONFIG;
    }
    throw error;
  }
  if (signalled) shutdown(service);
  return await exited;
}
