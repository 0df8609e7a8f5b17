// Configuration of `paysignal run` (docs/architecture.md#cli-and-configuration): one YAML file (`--config FILE` or
// PAYSIGNAL_CONFIG) plus environment overrides, validated against config.schema.json. Problems are
// PaysignalErrors with a stable code naming the file, line and field (or the environment variable).
//
// In the YAML file durations are strings (`500ms`, `10s`, `5m`, `1h`); in PaysignalConfig they are
// milliseconds. Relative paths in the file are resolved against the file's directory; paths from
// the environment against the working directory.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { PaysignalError, schemaError, yamlSyntaxError } from '../errors.ts';
import { durationProblem, parseDuration } from '../kernel/duration.ts';
import { compileSchema, type SchemaProblem } from '../kernel/schema.ts';
import { parseYamlSource, type YamlSource } from '../kernel/yaml.ts';
import configSchema from './config.schema.json' with { type: 'json' };

export type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

export interface KafkaSection {
  readonly brokers: readonly string[];
  readonly topics: readonly string[];
  readonly group_id: string;
  readonly client_id: string;
  readonly from_beginning: boolean;
  /** Compacted topic of the alert engine's checkpoints. */
  readonly state_topic: string;
  readonly partitions_consumed_concurrently: number;
  /** Milliseconds. */
  readonly session_timeout: number;
  readonly heartbeat_interval: number;
  readonly rebalance_timeout: number;
  readonly connection_timeout: number;
  readonly request_timeout: number;
  readonly max_wait: number;
  readonly max_bytes_per_partition: number;
  readonly max_bytes: number;
  readonly lag_refresh_interval: number;
  /** How long SIGTERM may take: finish the batch, commit, leave the group. */
  readonly shutdown_timeout: number;
  readonly retry: { readonly initial: number; readonly max: number; readonly retries: number };
  readonly backoff: { readonly initial: number; readonly max: number };
  readonly sasl: { readonly mechanism: SaslMechanism; readonly username: string; readonly password: string } | null;
  readonly tls: {
    readonly enabled: boolean;
    readonly ca_file: string | null;
    readonly cert_file: string | null;
    readonly key_file: string | null;
    readonly reject_unauthorized: boolean;
  };
}

export interface PaysignalConfig {
  /** The file the configuration came from; null when only defaults and environment were used. */
  readonly file: string | null;
  readonly kafka: KafkaSection;
  readonly dead_letter: { readonly enabled: boolean; readonly topic: string; /** ms */ readonly timeout: number };
  readonly http: { readonly host: string; readonly port: number };
  readonly input: { readonly max_event_bytes: number; /** `native`, `ecs`, `otel` or a file path */ readonly mapping: string };
  readonly metrics: { readonly unknown_code_cap: number; readonly unknown_operation_cap: number };
  readonly tracing: { readonly enabled: boolean; readonly success_sample_ratio: number; readonly max_error_spans_per_second: number };
  /** `ttl` in ms. */
  readonly correlation: { readonly max_keys: number; readonly ttl: number; readonly storm_threshold: number };
  /** Durations in ms. */
  readonly rules: {
    readonly dir: string | null;
    readonly evaluation_interval: number;
    readonly allowed_lateness: number;
    readonly max_alert_age: number;
    readonly partition_idle_timeout: number;
    /** Checkpoint the engine to kafka.state_topic and restore it at start. */
    readonly durable_state: boolean;
  };
  /** `resend_interval` in ms. */
  readonly alertmanager: { readonly url: string | null; readonly resend_interval: number; readonly queue_size: number };
  readonly report: { readonly prometheus_url: string | null; readonly format: 'md' | 'html' };
  /** Worker threads of the Kafka path: a count (0 = on the main thread) or `auto` (see workerCount). */
  readonly processing: { readonly workers: number | 'auto' };
  /** NDJSON file of processed events (`-` is stdout); null when off. */
  readonly events_file: { readonly path: string | null };
}

export const DEFAULT_HTTP_PORT = 9464;
/** A scrape target must be reachable from Prometheus, so all interfaces by default. */
export const DEFAULT_HTTP_HOST = '0.0.0.0';

type Json = Record<string, unknown>;

/** Environment variable -> dotted config path and how its text becomes a value. */
interface EnvBinding {
  readonly name: string;
  readonly path: string;
  readonly kind: 'string' | 'list' | 'integer' | 'integer_or_auto' | 'boolean' | 'path';
}

export const ENV_BINDINGS: readonly EnvBinding[] = [
  { name: 'KAFKA_BROKERS', path: 'kafka.brokers', kind: 'list' },
  { name: 'KAFKA_TOPIC', path: 'kafka.topics', kind: 'list' },
  { name: 'KAFKA_GROUP_ID', path: 'kafka.group_id', kind: 'string' },
  { name: 'KAFKA_CLIENT_ID', path: 'kafka.client_id', kind: 'string' },
  { name: 'KAFKA_FROM_BEGINNING', path: 'kafka.from_beginning', kind: 'boolean' },
  { name: 'KAFKA_DLQ_TOPIC', path: 'dead_letter.topic', kind: 'string' },
  { name: 'KAFKA_STATE_TOPIC', path: 'kafka.state_topic', kind: 'string' },
  { name: 'KAFKA_SASL_MECHANISM', path: 'kafka.sasl.mechanism', kind: 'string' },
  { name: 'KAFKA_SASL_USERNAME', path: 'kafka.sasl.username', kind: 'string' },
  { name: 'KAFKA_SASL_PASSWORD', path: 'kafka.sasl.password', kind: 'string' },
  { name: 'KAFKA_SSL', path: 'kafka.tls.enabled', kind: 'boolean' },
  { name: 'KAFKA_SSL_CA_FILE', path: 'kafka.tls.ca_file', kind: 'path' },
  { name: 'KAFKA_SSL_CERT_FILE', path: 'kafka.tls.cert_file', kind: 'path' },
  { name: 'KAFKA_SSL_KEY_FILE', path: 'kafka.tls.key_file', kind: 'path' },
  { name: 'KAFKA_SSL_REJECT_UNAUTHORIZED', path: 'kafka.tls.reject_unauthorized', kind: 'boolean' },
  { name: 'PAYSIGNAL_HTTP_HOST', path: 'http.host', kind: 'string' },
  { name: 'PAYSIGNAL_HTTP_PORT', path: 'http.port', kind: 'integer' },
  { name: 'PAYSIGNAL_RULES', path: 'rules.dir', kind: 'path' },
  { name: 'ALERTMANAGER_URL', path: 'alertmanager.url', kind: 'string' },
  { name: 'PAYSIGNAL_EVENTS_FILE', path: 'events_file.path', kind: 'path' },
  { name: 'PAYSIGNAL_MAX_EVENT_BYTES', path: 'input.max_event_bytes', kind: 'integer' },
  { name: 'PAYSIGNAL_WORKERS', path: 'processing.workers', kind: 'integer_or_auto' },
];

const validate = compileSchema<Json>(configSchema);

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function setIn(target: Json, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (!isObject(next)) node[part] = {};
    node = node[part] as Json;
  }
  node[parts[parts.length - 1]!] = value;
}

function getIn(source: unknown, path: string): unknown {
  let node = source;
  for (const part of path.split('.')) {
    if (!isObject(node)) return undefined;
    node = node[part];
  }
  return node;
}

function envValue(binding: EnvBinding, raw: string, cwd: string): unknown {
  const text = raw.trim();
  switch (binding.kind) {
    case 'list':
      return text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    case 'integer_or_auto':
      if (text.toLowerCase() === 'auto') return 'auto';
      if (!/^[0-9]+$/.test(text)) {
        throw new PaysignalError('CONFIG_ENV_INVALID', `${binding.name} must be a whole number or auto, got ${JSON.stringify(raw)}`, { field: binding.name });
      }
      return Number(text);
    case 'integer':
      if (!/^[0-9]+$/.test(text)) {
        throw new PaysignalError('CONFIG_ENV_INVALID', `${binding.name} must be a whole number, got ${JSON.stringify(raw)}`, { field: binding.name });
      }
      return Number(text);
    case 'boolean':
      if (/^(1|true|yes|on)$/i.test(text)) return true;
      if (/^(0|false|no|off)$/i.test(text)) return false;
      throw new PaysignalError('CONFIG_ENV_INVALID', `${binding.name} must be true or false, got ${JSON.stringify(raw)}`, { field: binding.name });
    case 'path':
      return text === '-' || isAbsolute(text) ? text : resolve(cwd, text);
    case 'string':
      return text;
  }
}

function resolvePath(value: unknown, base: string): unknown {
  if (typeof value !== 'string' || value === '-' || value === '' || isAbsolute(value)) return value;
  return resolve(base, value);
}

const BUILT_IN_MAPPINGS = new Set(['native', 'ecs', 'otel']);

export interface LoadConfigOptions {
  /** The YAML file; when absent, `env.PAYSIGNAL_CONFIG`; when that is absent too, defaults + environment. */
  readonly file?: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Base for relative paths from the environment; default process.cwd(). */
  readonly cwd?: string;
}

/** Reads, merges and validates the configuration. Throws PaysignalError (CONFIG_*) on any problem. */
export function loadConfig(options: LoadConfigOptions): PaysignalConfig {
  const cwd = options.cwd ?? process.cwd();
  const named = options.file ?? (options.env.PAYSIGNAL_CONFIG === '' ? undefined : options.env.PAYSIGNAL_CONFIG);
  if (named === undefined) return parseConfig(null, null, options.env, cwd);
  const file = resolve(cwd, named);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new PaysignalError('CONFIG_NOT_FOUND', `cannot read the configuration file: ${why}`, { file, cause: error });
  }
  return parseConfig(text, file, options.env, cwd);
}

/** Like loadConfig, from text already read (`file` names it in errors; null when there is no file). */
export function parseConfig(text: string | null, file: string | null, env: Readonly<Record<string, string | undefined>>, cwd = process.cwd()): PaysignalConfig {
  let source: YamlSource | null = null;
  let data: Json = {};
  if (text !== null) {
    source = parseYamlSource(text, file ?? '<config>');
    const syntax = yamlSyntaxError('CONFIG_SYNTAX', source);
    if (syntax) throw syntax;
    if (source.data === null || source.data === undefined) data = {};
    else if (isObject(source.data)) data = structuredClone(source.data);
    else throw new PaysignalError('CONFIG_INVALID', 'the configuration must be a YAML mapping (key: value)', { file: source.file, line: 1 });
  }

  // Validate the file alone first, so its problems point at its lines.
  if (source !== null) {
    const problem = validate(data) ?? durationOrderProblem(data);
    if (problem) throw schemaError('CONFIG_INVALID', source, friendly(problem, data));
  }

  const base = file === null ? cwd : dirname(file);
  for (const path of ['kafka.tls.ca_file', 'kafka.tls.cert_file', 'kafka.tls.key_file', 'rules.dir', 'events_file.path']) {
    const value = getIn(data, path);
    if (value !== undefined) setIn(data, path, resolvePath(value, base));
  }
  const mapping = getIn(data, 'input.mapping');
  if (typeof mapping === 'string' && !BUILT_IN_MAPPINGS.has(mapping)) setIn(data, 'input.mapping', resolvePath(mapping, base));

  // Then the environment, each variable checked on its own so a problem names the variable.
  const fromEnv = new Map<string, string>();
  for (const binding of ENV_BINDINGS) {
    const raw = env[binding.name];
    if (raw === undefined || raw.trim() === '') continue;
    setIn(data, binding.path, envValue(binding, raw, cwd));
    fromEnv.set(binding.path, binding.name);
  }
  if (fromEnv.size > 0) {
    const found = validate(data);
    if (found) {
      const problem = friendly(found, data);
      const parent = (path: string): string => path.split('.').slice(0, -1).join('.');
      const variable =
        [...fromEnv].find(([path]) => problem.path === path || problem.path.startsWith(`${path}.`) || path.startsWith(`${problem.path}.`)) ??
        [...fromEnv].find(([path]) => parent(path) === parent(problem.path));
      if (variable !== undefined) {
        const missingVar = problem.keyword === 'required' ? ENV_BINDINGS.find((b) => b.path === problem.path)?.name : undefined;
        const hint = missingVar === undefined ? '' : `; set ${missingVar} too`;
        throw new PaysignalError('CONFIG_ENV_INVALID', `${problem.message} (from the environment variable ${variable[1]}${hint})`, { field: variable[1] });
      }
      if (source !== null) throw schemaError('CONFIG_INVALID', source, problem);
      throw new PaysignalError('CONFIG_INVALID', problem.message, problem.path === '' ? {} : { field: problem.path });
    }
  }
  const config = withDefaults(data, file);
  if (config.kafka.heartbeat_interval >= config.kafka.session_timeout) {
    throw new PaysignalError('CONFIG_INVALID', 'kafka.heartbeat_interval must be shorter than kafka.session_timeout (a third of it is usual)', {
      ...(file === null ? {} : { file, ...source?.positionOf('kafka.heartbeat_interval') }),
      field: 'kafka.heartbeat_interval',
    });
  }
  return config;
}

const DURATION_FIELDS = new Set(
  ['session_timeout', 'heartbeat_interval', 'rebalance_timeout', 'connection_timeout', 'request_timeout', 'max_wait', 'lag_refresh_interval',
    'shutdown_timeout', 'timeout', 'ttl', 'evaluation_interval', 'allowed_lateness', 'max_alert_age', 'partition_idle_timeout', 'resend_interval'],
);

/** The schema's pattern lets `30m1h` through; the parser does not. */
function durationOrderProblem(data: Json): SchemaProblem | null {
  const walk = (node: unknown, segments: string[]): SchemaProblem | null => {
    if (isObject(node)) {
      for (const [key, value] of Object.entries(node)) {
        const found = walk(value, [...segments, key]);
        if (found) return found;
      }
      return null;
    }
    if (typeof node !== 'string' || !isDurationPath(segments) || parseDuration(node) !== null) return null;
    return { segments, path: segments.join('.'), keyword: 'pattern', message: 'is not a duration' };
  };
  return walk(data, []);
}

function isDurationPath(parts: readonly string[]): boolean {
  const last = parts[parts.length - 1] ?? '';
  const parent = parts[parts.length - 2] ?? '';
  return DURATION_FIELDS.has(last) || ((parent === 'retry' || parent === 'backoff') && (last === 'initial' || last === 'max'));
}

/** Schema problems in words a person configuring paysignal uses. */
function friendly(problem: SchemaProblem, data: Json): SchemaProblem {
  const parts = problem.segments.map(String);
  const last = parts[parts.length - 1] ?? '';
  if (isDurationPath(parts) && (problem.keyword === 'type' || problem.keyword === 'pattern')) {
    return { ...problem, message: durationProblem(getIn(data, problem.path)) ?? problem.message };
  }
  if (parts[0] === 'kafka' && parts[1] === 'brokers' && problem.keyword === 'pattern') {
    return { ...problem, message: `${problem.path} must be host:port` };
  }
  if (parts[0] === 'kafka' && parts[1] === 'topics' && problem.keyword === 'pattern') {
    return { ...problem, message: `${problem.path} is not a valid Kafka topic name (letters, digits, ., _ and - only)` };
  }
  if (problem.keyword === 'pattern' && (last === 'url' || last === 'prometheus_url')) {
    return { ...problem, message: `${problem.path} must be an http:// or https:// URL` };
  }
  return problem;
}

function duration(value: unknown, fallback: string): number {
  const ms = parseDuration(typeof value === 'string' ? value : fallback);
  if (ms === null) throw new RangeError(`not a duration: ${String(value)}`);
  return ms;
}

function str(value: unknown, fallback: string): string;
function str(value: unknown, fallback: null): string | null;
function str(value: unknown, fallback: string | null): string | null {
  return typeof value === 'string' ? value : fallback;
}

function int(value: unknown, fallback: number): number {
  return typeof value === 'number' ? value : fallback;
}

function bool(value: unknown, fallback: boolean): boolean {
  return typeof value === 'boolean' ? value : fallback;
}

function section(data: Json, name: string): Json {
  const value = data[name];
  return isObject(value) ? value : {};
}

function withDefaults(data: Json, file: string | null): PaysignalConfig {
  const k = section(data, 'kafka');
  const retry = isObject(k.retry) ? k.retry : {};
  const backoff = isObject(k.backoff) ? k.backoff : {};
  const tls = isObject(k.tls) ? k.tls : {};
  const sasl = isObject(k.sasl) ? k.sasl : null;
  const topics = Array.isArray(k.topics) ? (k.topics as string[]) : [];
  const dl = section(data, 'dead_letter');
  const http = section(data, 'http');
  const input = section(data, 'input');
  const metrics = section(data, 'metrics');
  const tracing = section(data, 'tracing');
  const correlation = section(data, 'correlation');
  const rules = section(data, 'rules');
  const am = section(data, 'alertmanager');
  const report = section(data, 'report');
  const eventsFile = section(data, 'events_file');
  const processing = section(data, 'processing');
  const workers: number | 'auto' = typeof processing.workers === 'number' ? processing.workers : 'auto';
  const tlsEnabled = bool(tls.enabled, tls.ca_file !== undefined || tls.cert_file !== undefined);
  const groupId = str(k.group_id, 'paysignal');
  return {
    file,
    kafka: {
      brokers: Array.isArray(k.brokers) ? (k.brokers as string[]) : [],
      topics,
      group_id: groupId,
      client_id: str(k.client_id, 'paysignal'),
      from_beginning: bool(k.from_beginning, false),
      state_topic: str(k.state_topic, `${groupId}.state`),
      partitions_consumed_concurrently: int(k.partitions_consumed_concurrently, defaultConcurrency(workers)),
      session_timeout: duration(k.session_timeout, '30s'),
      heartbeat_interval: duration(k.heartbeat_interval, '3s'),
      rebalance_timeout: duration(k.rebalance_timeout, '60s'),
      connection_timeout: duration(k.connection_timeout, '3s'),
      request_timeout: duration(k.request_timeout, '30s'),
      max_wait: duration(k.max_wait, '1s'),
      max_bytes_per_partition: int(k.max_bytes_per_partition, 1_048_576),
      max_bytes: int(k.max_bytes, 10_485_760),
      lag_refresh_interval: duration(k.lag_refresh_interval, '15s'),
      shutdown_timeout: duration(k.shutdown_timeout, '20s'),
      retry: { initial: duration(retry.initial, '300ms'), max: duration(retry.max, '10s'), retries: int(retry.retries, 8) },
      backoff: { initial: duration(backoff.initial, '500ms'), max: duration(backoff.max, '30s') },
      sasl:
        sasl === null
          ? null
          : { mechanism: sasl.mechanism as SaslMechanism, username: String(sasl.username), password: String(sasl.password ?? '') },
      tls: {
        enabled: tlsEnabled,
        ca_file: str(tls.ca_file, null),
        cert_file: str(tls.cert_file, null),
        key_file: str(tls.key_file, null),
        reject_unauthorized: bool(tls.reject_unauthorized, true),
      },
    },
    dead_letter: {
      enabled: bool(dl.enabled, true),
      topic: str(dl.topic, `${topics[0] ?? 'paysignal'}.dead-letter`),
      timeout: duration(dl.timeout, '30s'),
    },
    http: { host: str(http.host, DEFAULT_HTTP_HOST), port: int(http.port, DEFAULT_HTTP_PORT) },
    input: { max_event_bytes: int(input.max_event_bytes, 1_048_576), mapping: str(input.mapping, 'native') },
    metrics: { unknown_code_cap: int(metrics.unknown_code_cap, 50), unknown_operation_cap: int(metrics.unknown_operation_cap, 50) },
    tracing: {
      enabled: bool(tracing.enabled, true),
      success_sample_ratio: int(tracing.success_sample_ratio, 0.1),
      max_error_spans_per_second: int(tracing.max_error_spans_per_second, 1000),
    },
    correlation: {
      max_keys: int(correlation.max_keys, 100_000),
      ttl: duration(correlation.ttl, '1h'),
      storm_threshold: int(correlation.storm_threshold, 5),
    },
    rules: {
      dir: str(rules.dir, null),
      evaluation_interval: duration(rules.evaluation_interval, '15s'),
      allowed_lateness: duration(rules.allowed_lateness, '1m'),
      max_alert_age: duration(rules.max_alert_age, '15m'),
      partition_idle_timeout: duration(rules.partition_idle_timeout, '1m'),
      durable_state: bool(rules.durable_state, true),
    },
    alertmanager: {
      url: str(am.url, null),
      resend_interval: duration(am.resend_interval, '1m'),
      queue_size: int(am.queue_size, 1000),
    },
    report: { prometheus_url: str(report.prometheus_url, null), format: report.format === 'html' ? 'html' : 'md' },
    processing: { workers },
    events_file: { path: str(eventsFile.path, null) },
  };
}

/**
 * Batches in hand at once by default: one without workers; with workers, two per worker, so a
 * worker has the next partition's batch while the main thread fetches and commits.
 */
function defaultConcurrency(workers: number | 'auto'): number {
  const n = workerCount(workers, availableParallelism());
  return n === 0 ? 1 : 2 * n;
}

/**
 * The number of worker threads for `processing.workers` on a machine with `cores` cores: `auto` keeps
 * one core for the main thread (fetching, committing, the alert engine) and gives every other core a
 * worker, but at least one.
 */
export function workerCount(setting: number | 'auto', cores: number): number {
  return setting === 'auto' ? Math.max(1, cores - 1) : setting;
}

/** What `paysignal run` cannot start without: brokers and topics. */
export function assertKafkaConfigured(config: PaysignalConfig): void {
  const where = config.file === null ? 'in a configuration file (--config or PAYSIGNAL_CONFIG)' : `in ${config.file}`;
  if (config.kafka.brokers.length === 0) {
    throw new PaysignalError('CONFIG_MISSING', `no Kafka brokers configured: set kafka.brokers ${where} or KAFKA_BROKERS`, {
      ...(config.file === null ? {} : { file: config.file }),
      field: 'kafka.brokers',
    });
  }
  if (config.kafka.topics.length === 0) {
    throw new PaysignalError('CONFIG_MISSING', `no Kafka topics configured: set kafka.topics ${where} or KAFKA_TOPIC`, {
      ...(config.file === null ? {} : { file: config.file }),
      field: 'kafka.topics',
    });
  }
}
