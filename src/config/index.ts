export {
  loadConfig,
  parseConfig,
  assertKafkaConfigured,
  DEFAULT_HTTP_PORT,
  ENV_BINDINGS,
  type PaysignalConfig,
  type KafkaSection,
  type LoadConfigOptions,
  type SaslMechanism,
} from './config.ts';
