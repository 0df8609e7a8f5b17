// The Kafka source's own metrics (docs/architecture.md#metrics), registered on a registry the caller owns.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface KafkaSourceMetrics {
  readonly lag: Gauge<'topic' | 'partition'>;
  readonly batchDuration: Histogram<string>;
  readonly consumed: Counter<'topic'>;
  readonly errors: Counter<'kind'>;
  readonly offsetsSkipped: Counter<'topic' | 'partition'>;
}

/** What `paysignal_kafka_errors_total{kind}` counts. */
export type KafkaErrorKind =
  | 'connect' // connecting, subscribing or starting the consumer failed
  | 'crash' // the kafkajs consumer crashed (it restarts, or the supervisor recreates it)
  | 'handler' // the pipeline rejected a batch (sink or dead-letter failure); the batch is retried
  | 'commit' // committing offsets failed; the batch will be delivered again
  | 'request_timeout' // a request to a broker timed out
  | 'client'; // kafkajs logged an error (broker connection errors and the like)

const ERROR_KINDS: readonly KafkaErrorKind[] = ['connect', 'crash', 'handler', 'commit', 'request_timeout', 'client'];

function existing<T>(registry: Registry, name: string): T | undefined {
  return registry.getSingleMetric(name) as T | undefined;
}

export function createKafkaSourceMetrics(registry: Registry): KafkaSourceMetrics {
  const lag =
    existing<Gauge<'topic' | 'partition'>>(registry, 'paysignal_kafka_consumer_lag') ??
    new Gauge({
      name: 'paysignal_kafka_consumer_lag',
      help: 'Messages between the high watermark and the next offset to process, per assigned partition.',
      labelNames: ['topic', 'partition'] as const,
      registers: [registry],
    });
  const batchDuration =
    existing<Histogram<string>>(registry, 'paysignal_kafka_batch_duration_seconds') ??
    new Histogram({
      name: 'paysignal_kafka_batch_duration_seconds',
      help: 'Time from handing a fetched batch to the pipeline until all its sinks have finished.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
  const consumed =
    existing<Counter<'topic'>>(registry, 'paysignal_kafka_messages_consumed_total') ??
    new Counter({
      name: 'paysignal_kafka_messages_consumed_total',
      help: 'Kafka messages fully processed (all sinks done), counted when processed, before their offsets are committed.',
      labelNames: ['topic'] as const,
      registers: [registry],
    });
  const errors =
    existing<Counter<'kind'>>(registry, 'paysignal_kafka_errors_total') ??
    new Counter({
      name: 'paysignal_kafka_errors_total',
      help: 'Errors of the Kafka source by kind: connect, crash, handler, commit, request_timeout, client.',
      labelNames: ['kind'] as const,
      registers: [registry],
    });
  const offsetsSkipped =
    existing<Counter<'topic' | 'partition'>>(registry, 'paysignal_kafka_offsets_skipped_total') ??
    new Counter({
      name: 'paysignal_kafka_offsets_skipped_total',
      help: 'Messages jumped over without being processed: offsets no longer retained when the consumer got to them (offset out of range).',
      labelNames: ['topic', 'partition'] as const,
      registers: [registry],
    });
  // Every kind exists from the start, at 0, so rate() and alerts see the series before the first error.
  for (const kind of ERROR_KINDS) errors.inc({ kind }, 0);
  return { lag, batchDuration, consumed, errors, offsetsSkipped };
}
