// The Kafka client and consumer options of the service, derived from its configuration.
import type { PaysignalConfig } from '../config/config.ts';
import type { KafkaClientOptions } from '../sources/kafka/client.ts';
import type { KafkaSourceOptions } from '../sources/kafka/source.ts';

/** The Kafka client options of the service, from the configuration. */
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
