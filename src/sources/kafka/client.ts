// Builds the kafkajs client configuration shared by the consumer source and the dead-letter producer:
// brokers, client id, SASL (PLAIN, SCRAM-SHA-256/512), TLS from files, retry, and logging through pino.
import { readFileSync } from 'node:fs';
import { Kafka, logLevel, type KafkaConfig, type ISocketFactory, type SASLOptions, type LogEntry, type RetryOptions } from 'kafkajs';
import type { Logger } from 'pino';
import type { ConnectionOptions } from 'node:tls';
import { PaysignalError } from '../../errors.ts';
import { suppressKafkajsTimeoutNegativeWarning } from './warnings.ts';

export type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

export interface KafkaSaslOptions {
  readonly mechanism: SaslMechanism;
  readonly username: string;
  readonly password: string;
}

export interface KafkaTlsOptions {
  readonly enabled: boolean;
  /** PEM file paths. */
  readonly caFile?: string | undefined;
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
  readonly rejectUnauthorized?: boolean | undefined;
}

export interface KafkaClientOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly sasl?: KafkaSaslOptions | undefined;
  readonly tls?: KafkaTlsOptions | undefined;
  readonly connectionTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** Client-level retry of single requests (kafkajs `retry`). */
  readonly retry: { readonly initialRetryTimeMs: number; readonly maxRetryTimeMs: number; readonly retries: number };
  /** Test hook and escape hatch: how kafkajs opens sockets. */
  readonly socketFactory?: ISocketFactory | undefined;
}

/** A TLS file named in the configuration cannot be read (code KAFKA_TLS_FILE_UNREADABLE). */
export class KafkaClientConfigError extends PaysignalError {
  constructor(message: string, where: { file: string; field: string; cause?: unknown }) {
    super('KAFKA_TLS_FILE_UNREADABLE', message, where);
    this.name = 'KafkaClientConfigError';
  }
}

function readPem(path: string | undefined, what: string, field: string): string | undefined {
  if (path === undefined || path === '') return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new KafkaClientConfigError(`cannot read the Kafka TLS ${what} file: ${(error as Error).message}`, { file: path, field, cause: error });
  }
}

export function tlsConfig(tls: KafkaTlsOptions | undefined): ConnectionOptions | boolean | undefined {
  if (tls === undefined || !tls.enabled) return undefined;
  const ca = readPem(tls.caFile, 'CA', 'kafka.tls.ca_file');
  const cert = readPem(tls.certFile, 'certificate', 'kafka.tls.cert_file');
  const key = readPem(tls.keyFile, 'key', 'kafka.tls.key_file');
  const options: ConnectionOptions = {};
  if (ca !== undefined) options.ca = [ca];
  if (cert !== undefined) options.cert = cert;
  if (key !== undefined) options.key = key;
  if (tls.rejectUnauthorized !== undefined) options.rejectUnauthorized = tls.rejectUnauthorized;
  return Object.keys(options).length === 0 ? true : options;
}

export function saslConfig(sasl: KafkaSaslOptions | undefined): SASLOptions | undefined {
  if (sasl === undefined) return undefined;
  return { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password } as SASLOptions;
}

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** kafkajs log lines as structured pino records; `onError` sees every kafkajs error line (for the errors counter). */
export function kafkajsLogCreator(logger: Logger, onError?: (entry: LogEntry) => void): KafkaConfig['logCreator'] {
  return () => (entry: LogEntry) => {
    const level = LEVELS[entry.level] ?? 'info';
    const { message, timestamp: _timestamp, logger: _name, ...fields } = entry.log as Record<string, unknown> & { message: string };
    // kafkajs repeats the partitioner notice on every producer; it is irrelevant here (we set a partitioner explicitly).
    if (typeof message === 'string' && message.startsWith('KafkaJS v2.0.0 switched default partitioner')) return;
    logger[level]({ ...fields, namespace: entry.namespace }, message);
    if (entry.level === logLevel.ERROR) onError?.(entry);
  };
}

function kafkajsLevel(logger: Logger): logLevel {
  switch (logger.level) {
    case 'trace':
    case 'debug':
      return logLevel.DEBUG;
    case 'info':
      return logLevel.INFO;
    case 'warn':
      return logLevel.WARN;
    case 'silent':
      return logLevel.NOTHING;
    default:
      return logLevel.ERROR;
  }
}

/** The client-level retry in kafkajs's terms (the consumer adds its restartOnFailure). */
export function kafkajsRetry(retry: KafkaClientOptions['retry']): RetryOptions {
  return { initialRetryTime: retry.initialRetryTimeMs, maxRetryTime: retry.maxRetryTimeMs, retries: retry.retries };
}

export function createKafkaClient(options: KafkaClientOptions, logger: Logger, onError?: (entry: LogEntry) => void): Kafka {
  suppressKafkajsTimeoutNegativeWarning();
  const ssl = tlsConfig(options.tls);
  const sasl = saslConfig(options.sasl);
  const config: KafkaConfig = {
    brokers: [...options.brokers],
    clientId: options.clientId,
    connectionTimeout: options.connectionTimeoutMs,
    requestTimeout: options.requestTimeoutMs,
    retry: kafkajsRetry(options.retry),
    logLevel: kafkajsLevel(logger),
    logCreator: kafkajsLogCreator(logger.child({ library: 'kafkajs' }), onError),
  };
  if (ssl !== undefined) config.ssl = ssl;
  if (sasl !== undefined) config.sasl = sasl;
  if (options.socketFactory !== undefined) config.socketFactory = options.socketFactory;
  return new Kafka(config);
}

/**
 * An admin or producer connected on first use and shared after that. A failed connect is not kept:
 * the next use connects again. `created` is the client once made (connected or not), for disconnecting.
 */
export interface ConnectedOnUse<T> {
  get(): Promise<T>;
  readonly created: T | null;
}

export function connectOnUse<T extends { connect(): Promise<void> }>(create: () => T): ConnectedOnUse<T> {
  let created: T | null = null;
  let connected: Promise<T> | null = null;
  return {
    get() {
      if (connected === null) {
        const client = create();
        created = client;
        connected = client.connect().then(
          () => client,
          (error: unknown) => {
            connected = null;
            throw error;
          },
        );
      }
      return connected;
    },
    get created() {
      return created;
    },
  };
}
