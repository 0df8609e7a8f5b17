// The Kafka client and consumer options of the service, derived from its configuration.
import type { PaysignalConfig } from '../config/config.ts';
import type { KafkaClientOptions } from '../sources/kafka/client.ts';
import type { KafkaSourceOptions } from '../sources/kafka/source.ts';

/** The Kafka client options of the service, from the configuration. */
export function kafkaClientOptions(config: PaysignalConfig, clientId = config.kafka.client_id): KafkaClientOptions {
  const kafka = config.kafka;
  return {
    brokers: kafka.brokers,
    clientId,
    sasl: kafka.sasl ?? undefined,
    tls: {
      enabled: kafka.tls.enabled,
      caFile: kafka.tls.ca_file ?? undefined,
      certFile: kafka.tls.cert_file ?? undefined,
      keyFile: kafka.tls.key_file ?? undefined,
      rejectUnauthorized: kafka.tls.reject_unauthorized,
    },
    connectionTimeoutMs: kafka.connection_timeout,
    requestTimeoutMs: kafka.request_timeout,
    retry: { initialRetryTimeMs: kafka.retry.initial, maxRetryTimeMs: kafka.retry.max, retries: kafka.retry.retries },
  };
}

export function kafkaSourceOptions(config: PaysignalConfig): KafkaSourceOptions {
  const kafka = config.kafka;
  return {
    ...kafkaClientOptions(config),
    topics: kafka.topics,
    groupId: kafka.group_id,
    fromBeginning: kafka.from_beginning,
    partitionsConsumedConcurrently: kafka.partitions_consumed_concurrently,
    sessionTimeoutMs: kafka.session_timeout,
    heartbeatIntervalMs: kafka.heartbeat_interval,
    rebalanceTimeoutMs: kafka.rebalance_timeout,
    maxBytesPerPartition: kafka.max_bytes_per_partition,
    maxBytes: kafka.max_bytes,
    maxWaitTimeMs: kafka.max_wait,
    backoff: { initialMs: kafka.backoff.initial, maxMs: kafka.backoff.max },
    lagRefreshIntervalMs: kafka.lag_refresh_interval,
    // Used when the alert engine is checkpointed before commits (rules.durable_state).
    commitIntervalMs: config.rules.checkpoint_interval,
  };
}
