// The `kafka` section of the configuration: where events come from and how the consumer behaves.
import { group, optionalGroup, section, setting } from '../../config/declare.ts';
import { defaultConcurrency } from '../../pipeline/workers/config.ts';

const TOPIC = '^[A-Za-z0-9._-]{1,249}$';

export const kafkaSection = section(
  'kafka',
  'The Kafka consumer: brokers, topics, consumer group and how it fetches, commits and recovers.',
  {
    brokers: setting.list({
      description: 'host:port of at least one broker. `paysignal run` needs it here or in the environment.',
      default: [],
      env: 'KAFKA_BROKERS',
      example: '[localhost:9092]',
      pattern: '^[^\\s,]+:[0-9]{1,5}$',
      patternMessage: 'must be host:port',
    }),
    topics: setting.list({
      description: 'Topics with payment-call events. `paysignal run` needs at least one.',
      default: [],
      env: 'KAFKA_TOPIC',
      example: '[payment-calls]',
      pattern: TOPIC,
      patternMessage: 'is not a valid Kafka topic name (letters, digits, ., _ and - only)',
    }),
    group_id: setting.string({ description: 'Consumer group; replicas with the same group share the partitions.', default: 'paysignal', env: 'KAFKA_GROUP_ID' }),
    client_id: setting.string({ description: 'Client id the brokers see (quotas, logs).', default: 'paysignal', env: 'KAFKA_CLIENT_ID' }),
    from_beginning: setting.boolean({
      description: 'Where a group without committed offsets starts: the earliest offset (true) or the latest.',
      default: false,
      env: 'KAFKA_FROM_BEGINNING',
    }),
    state_topic: setting.string({
      description: "Compacted topic with the alert engine's checkpoints (one partition, cleanup.policy=compact); created when missing if paysignal may.",
      default: { text: '`<group_id>.state`', from: (raw) => `${groupId(raw)}.state` },
      env: 'KAFKA_STATE_TOPIC',
      example: 'paysignal.state',
      pattern: TOPIC,
      patternMessage: 'is not a valid Kafka topic name (letters, digits, ., _ and - only)',
    }),
    partitions_consumed_concurrently: setting.integer({
      description: 'Partitions handled at the same time; offsets are committed per partition after all sinks finished.',
      default: { text: '1 without processing workers, 2 per worker with them', from: defaultConcurrency },
      example: '2',
      min: 1,
      max: 256,
    }),
    session_timeout: setting.duration({ description: 'The group drops a member it has not heard from for this long.', default: '30s' }),
    heartbeat_interval: setting.duration({ description: 'Heartbeats to the group coordinator; shorter than session_timeout (a third is usual).', default: '3s' }),
    rebalance_timeout: setting.duration({ description: 'How long members have to rejoin during a rebalance.', default: '60s' }),
    connection_timeout: setting.duration({ description: 'Connecting to a broker.', default: '3s' }),
    request_timeout: setting.duration({ description: 'One request to a broker.', default: '30s' }),
    max_wait: setting.duration({ description: 'How long a fetch waits for data before the broker answers.', default: '1s' }),
    max_bytes_per_partition: setting.integer({ description: 'Bytes fetched per partition and request.', default: 1_048_576, min: 1024 }),
    max_bytes: setting.integer({ description: 'Bytes per fetch; at most one fetch per broker is held in memory, and with processing workers at most 1 MB of record values per worker (and never more than this) in their hands (fetch-ahead).', default: 10_485_760, min: 1024 }),
    lag_refresh_interval: setting.duration({ description: 'How often the lag of idle assigned partitions is refreshed from the brokers; 0 turns it off.', default: '15s' }),
    shutdown_timeout: setting.duration({ description: 'SIGTERM/SIGINT: finish the batches in hand, commit and leave the group within this time.', default: '20s' }),
    retry: group('kafkajs request retries; when they run out the consumer restarts (and is re-created if needed).', {
      initial: setting.duration({ description: 'First wait before a retry.', default: '300ms' }),
      max: setting.duration({ description: 'Longest wait between retries.', default: '10s' }),
      retries: setting.integer({ description: 'Retries of one request.', default: 8, min: 0, max: 100 }),
    }),
    backoff: group('Wait before a batch that failed in the pipeline (e.g. a dead-letter write) is processed again, and between consumer re-creations.', {
      initial: setting.duration({ description: 'First wait.', default: '500ms' }),
      max: setting.duration({ description: 'Longest wait (the wait doubles up to it).', default: '30s' }),
    }),
    sasl: optionalGroup(
      'SASL authentication; off when absent. Setting one of its variables needs the others too.',
      {
        mechanism: setting.oneOf(['plain', 'scram-sha-256', 'scram-sha-512'], { description: 'SASL mechanism.', default: 'scram-sha-512', env: 'KAFKA_SASL_MECHANISM' }),
        username: setting.string({ description: 'SASL user.', default: '', env: 'KAFKA_SASL_USERNAME' }),
        password: setting.string({ description: 'SASL password (kept out of the logs).', default: '', minLength: 0, env: 'KAFKA_SASL_PASSWORD' }),
      },
      '{ mechanism: scram-sha-512, username: paysignal, password: change-me }',
    ),
    tls: group('TLS to the brokers.', {
      enabled: setting.boolean({
        description: 'Connect with TLS.',
        default: { text: 'true when ca_file or cert_file is set', from: (raw) => tlsFileSet(raw) },
        env: 'KAFKA_SSL',
        example: 'true',
      }),
      ca_file: setting.path({ description: 'PEM file of the certificate authorities to trust (default: the system ones).', default: null, env: 'KAFKA_SSL_CA_FILE', example: 'certs/ca.pem' }),
      cert_file: setting.path({ description: 'PEM client certificate (mutual TLS).', default: null, env: 'KAFKA_SSL_CERT_FILE', example: 'certs/client.pem' }),
      key_file: setting.path({ description: 'PEM key of the client certificate.', default: null, env: 'KAFKA_SSL_KEY_FILE', example: 'certs/client-key.pem' }),
      reject_unauthorized: setting.boolean({ description: 'Refuse brokers whose certificate does not verify.', default: true, env: 'KAFKA_SSL_REJECT_UNAUTHORIZED' }),
    }),
  },
  [
    {
      at: 'heartbeat_interval',
      problem: (kafka) =>
        kafka.heartbeat_interval >= kafka.session_timeout ? 'kafka.heartbeat_interval must be shorter than kafka.session_timeout (a third of it is usual)' : null,
    },
  ],
);

function groupId(raw: Readonly<Record<string, unknown>>): string {
  const id = (raw.kafka as { group_id?: unknown } | undefined)?.group_id;
  return typeof id === 'string' ? id : 'paysignal';
}

function tlsFileSet(raw: Readonly<Record<string, unknown>>): boolean {
  const tls = (raw.kafka as { tls?: Record<string, unknown> } | undefined)?.tls;
  return tls?.ca_file !== undefined || tls?.cert_file !== undefined;
}
