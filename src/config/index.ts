export {
  loadConfig,
  parseConfig,
  parseDuration,
  assertKafkaConfigured,
  CONFIG_ERROR_CODES,
  DEFAULT_HTTP_PORT,
  ENV_BINDINGS,
  type PaysignalConfig,
  type KafkaSection,
  type LoadConfigOptions,
  type SaslMechanism,
} from './config.ts';
