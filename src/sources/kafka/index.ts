export {
  createKafkaSource,
  toSourceRecord,
  KafkaSourceStopTimeout,
  type KafkaSource,
  type KafkaSourceOptions,
  type KafkaSourceDependencies,
  type KafkaSourceState,
  type KafkaSourceStatus,
  type AssignedPartition,
} from './source.ts';
export { createStateTopic, StateValueTooLarge, stateTopicInstruction, type StateTopic, type LoadResult, type StoredValue } from './state-topic.ts';
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
