export {
  createKafkaSource,
  toSourceRecord,
  KafkaSourceStopTimeout,
  type KafkaSource,
  type KafkaSourceOptions,
  type KafkaSourceDependencies,
  type KafkaSourceState,
  type KafkaSourceStatus,
} from './source.ts';
export {
  createKafkaClient,
  KafkaClientConfigError,
  type KafkaClientOptions,
  type KafkaSaslOptions,
  type KafkaTlsOptions,
  type SaslMechanism,
} from './client.ts';
export { createKafkaSourceMetrics, type KafkaSourceMetrics, type KafkaErrorKind } from './metrics.ts';
export { suppressKafkajsTimeoutNegativeWarning } from './warnings.ts';
