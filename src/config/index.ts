export { loadConfig, parseConfig, assertKafkaConfigured, type PaysignalConfig, type KafkaConfig, type LoadConfigOptions, type SaslMechanism } from './config.ts';
export { environmentVariables } from './reference.ts';
