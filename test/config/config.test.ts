// Configuration of `paysignal run`: YAML file + environment, validated, with errors that name the
// file, line and field (or the environment variable) and carry stable codes.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { loadConfig, parseConfig, assertKafkaConfigured, workerCount } from '../../src/config/config.ts';
import { PaysignalError } from '../../src/errors.ts';
import { deadLetterMessage, DEAD_LETTER_HEADERS } from '../../src/sinks/dead-letter.ts';
import { tlsConfig, saslConfig } from '../../src/sources/kafka/client.ts';
import { suppressKafkajsTimeoutNegativeWarning } from '../../src/sources/kafka/warnings.ts';
import { kafkaSourceOptions } from '../../src/service/kafka-options.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'paysignal-config-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function problem(text: string | null, env: Record<string, string> = {}, file: string | null = '/etc/paysignal/paysignal.yaml'): PaysignalError {
  try {
    parseConfig(text, file, env, '/work');
  } catch (error) {
    if (error instanceof PaysignalError) return error;
    throw error;
  }
  throw new Error('expected a configuration error');
}

const FULL = `kafka:
  brokers: [kafka-1:9092, kafka-2:9092]
  topics: [payment-calls]
  group_id: paysignal-prod
  client_id: paysignal-eu
  from_beginning: true
  partitions_consumed_concurrently: 4
  session_timeout: 45s
  heartbeat_interval: 5s
  shutdown_timeout: 1m30s
  retry: { initial: 250ms, max: 20s, retries: 10 }
  sasl: { mechanism: scram-sha-512, username: paysignal, password: secret }
  tls: { ca_file: certs/ca.pem, reject_unauthorized: true }
dead_letter:
  topic: payment-calls.dlq
http:
  host: 127.0.0.1
  port: 9500
input:
  max_event_bytes: 65536
  mapping: ecs
metrics: { unknown_code_cap: 20, unknown_operation_cap: 10 }
tracing: { success_sample_ratio: 0.05 }
correlation: { max_keys: 5000, ttl: 2h, storm_threshold: 8 }
rules: { dir: ../rules }
alertmanager: { url: http://alertmanager:9093, resend_interval: 2m, queue_size: 500 }
report: { prometheus_url: http://prometheus:9090, format: html }
`;

describe('loading the configuration', () => {
  it('reads every section, converts durations to ms and resolves paths against the file', () => {
    const c = parseConfig(FULL, '/etc/paysignal/paysignal.yaml', {}, '/work');
    expect(c.file).toBe('/etc/paysignal/paysignal.yaml');
    expect(c.kafka).toMatchObject({
      brokers: ['kafka-1:9092', 'kafka-2:9092'],
      topics: ['payment-calls'],
      group_id: 'paysignal-prod',
      client_id: 'paysignal-eu',
      from_beginning: true,
      partitions_consumed_concurrently: 4,
      session_timeout: 45_000,
      heartbeat_interval: 5000,
      shutdown_timeout: 90_000,
      retry: { initial: 250, max: 20_000, retries: 10 },
      sasl: { mechanism: 'scram-sha-512', username: 'paysignal', password: 'secret' },
      tls: { enabled: true, ca_file: '/etc/paysignal/certs/ca.pem', cert_file: null, key_file: null, reject_unauthorized: true },
    });
    expect(c.dead_letter).toEqual({ enabled: true, topic: 'payment-calls.dlq', timeout: 30_000 });
    expect(c.http).toEqual({ host: '127.0.0.1', port: 9500 });
    expect(c.input).toEqual({ max_event_bytes: 65536, mapping: 'ecs' });
    expect(c.metrics).toEqual({ unknown_code_cap: 20, unknown_operation_cap: 10 });
    expect(c.tracing.success_sample_ratio).toBe(0.05);
    expect(c.correlation).toEqual({ max_keys: 5000, ttl: 7_200_000, storm_threshold: 8 });
    expect(c.rules.dir).toBe('/etc/rules');
    expect(c.alertmanager).toEqual({ url: 'http://alertmanager:9093', resend_interval: 120_000, queue_size: 500 });
    expect(c.report).toEqual({ prometheus_url: 'http://prometheus:9090', format: 'html' });
    expect(kafkaSourceOptions(c)).toMatchObject({ brokers: ['kafka-1:9092', 'kafka-2:9092'], groupId: 'paysignal-prod', sessionTimeoutMs: 45_000, partitionsConsumedConcurrently: 4 });
  });

  it('has defaults for everything but brokers and topics, which run insists on', () => {
    const c = parseConfig(null, null, {}, '/work');
    expect(c.http).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(c.kafka.group_id).toBe('paysignal');
    expect(c.kafka.from_beginning).toBe(false);
    expect(c.kafka.state_topic).toBe('paysignal.state');
    expect(c.rules.durable_state).toBe(true);
    expect(c.rules.checkpoint_interval).toBe(1000);
    expect(parseConfig(null, null, { KAFKA_GROUP_ID: 'billing' }, '/work').kafka.state_topic).toBe('billing.state');
    expect(c.events_file.path).toBeNull();
    expect(() => assertKafkaConfigured(c)).toThrow(/no Kafka brokers configured: set kafka.brokers .* or KAFKA_BROKERS/);
    const withBrokers = parseConfig(null, null, { KAFKA_BROKERS: 'a:1' }, '/work');
    expect(() => assertKafkaConfigured(withBrokers)).toThrow(expect.objectContaining({ code: 'CONFIG_MISSING', field: 'kafka.topics' }));
  });

  it('lets the environment override the file', () => {
    const c = parseConfig(FULL, '/etc/paysignal/paysignal.yaml', {
      KAFKA_BROKERS: 'b1:9092, b2:9093',
      KAFKA_TOPIC: 'calls-a,calls-b',
      KAFKA_GROUP_ID: 'other',
      KAFKA_DLQ_TOPIC: 'dead',
      PAYSIGNAL_HTTP_HOST: '::1',
      PAYSIGNAL_HTTP_PORT: '9999',
      PAYSIGNAL_RULES: 'my-rules',
      ALERTMANAGER_URL: 'https://am.example:9093',
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD: 'p',
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: '/certs/ca.pem',
      KAFKA_SSL_REJECT_UNAUTHORIZED: 'false',
      PAYSIGNAL_EVENTS_FILE: 'out/events.ndjson',
      KAFKA_STATE_TOPIC: 'paysignal-checkpoints',
    }, '/work');
    expect(c.kafka.state_topic).toBe('paysignal-checkpoints');
    expect(c.kafka.brokers).toEqual(['b1:9092', 'b2:9093']);
    expect(c.kafka.topics).toEqual(['calls-a', 'calls-b']);
    expect(c.kafka.group_id).toBe('other');
    expect(c.dead_letter.topic).toBe('dead');
    expect(c.http).toEqual({ host: '::1', port: 9999 });
    expect(c.rules.dir).toBe('/work/my-rules'); // relative to the working directory
    expect(c.alertmanager.url).toBe('https://am.example:9093');
    expect(c.kafka.sasl).toEqual({ mechanism: 'plain', username: 'u', password: 'p' });
    expect(c.kafka.tls).toMatchObject({ enabled: true, ca_file: '/certs/ca.pem', reject_unauthorized: false });
    expect(c.events_file.path).toBe('/work/out/events.ndjson');
  });

  it('loads the shipped example, which spells out every default', () => {
    const example = fileURLToPath(new URL('../../examples/paysignal.yaml', import.meta.url));
    const c = loadConfig({ file: example, env: {} });
    const defaults = parseConfig(null, null, { KAFKA_BROKERS: 'localhost:9092', KAFKA_TOPIC: 'payment-calls', KAFKA_DLQ_TOPIC: 'payment-calls.dead-letter' }, '/work');
    expect({ ...c, file: null }).toEqual(defaults);
  });

  it('reads the file named by PAYSIGNAL_CONFIG, and says so when it is missing', () => {
    const file = join(dir, 'p.yaml');
    writeFileSync(file, 'kafka:\n  brokers: [k:9092]\n  topics: [t]\n');
    expect(loadConfig({ env: { PAYSIGNAL_CONFIG: file } }).kafka.brokers).toEqual(['k:9092']);
    expect(loadConfig({ file, env: {} }).file).toBe(file);
    expect(() => loadConfig({ file: join(dir, 'nope.yaml'), env: {} })).toThrow(
      expect.objectContaining({ code: 'CONFIG_NOT_FOUND', file: join(dir, 'nope.yaml'), message: 'cannot read the configuration file: no such file' }),
    );
  });
});

describe('processing workers', () => {
  it('takes a count or auto from the file, PAYSIGNAL_WORKERS overriding it', () => {
    expect(parseConfig(null, null, {}, '/work').processing.workers).toBe('auto');
    expect(parseConfig('processing:\n  workers: 3\n', null, {}, '/work').processing.workers).toBe(3);
    expect(parseConfig('processing:\n  workers: 3\n', null, { PAYSIGNAL_WORKERS: '0' }, '/work').processing.workers).toBe(0);
    expect(parseConfig('processing:\n  workers: 3\n', null, { PAYSIGNAL_WORKERS: 'auto' }, '/work').processing.workers).toBe('auto');
  });

  it("sizes each worker's old space at 80 MB unless the file or PAYSIGNAL_WORKER_HEAP_MB says otherwise, and refuses less than 16", () => {
    expect(parseConfig(null, null, {}, '/work').processing.worker_heap_mb).toBe(80);
    expect(parseConfig('processing:\n  worker_heap_mb: 160\n', null, {}, '/work').processing.worker_heap_mb).toBe(160);
    expect(parseConfig('processing:\n  worker_heap_mb: 160\n', null, { PAYSIGNAL_WORKER_HEAP_MB: '120' }, '/work').processing.worker_heap_mb).toBe(120);
    expect(() => parseConfig('processing:\n  worker_heap_mb: 8\n', 'paysignal.yaml', {}, '/work')).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', file: 'paysignal.yaml', field: 'processing.worker_heap_mb' }),
    );
  });

  it('auto keeps one core for the main thread, but has at least one worker', () => {
    expect([1, 2, 4, 8].map((cores) => workerCount('auto', cores))).toEqual([1, 1, 3, 7]);
    expect(workerCount(0, 8)).toBe(0);
    expect(workerCount(5, 2)).toBe(5);
  });

  it('hands two batches per worker to the pipeline at once unless the file says otherwise', () => {
    expect(parseConfig('processing:\n  workers: 0\n', null, {}, '/work').kafka.partitions_consumed_concurrently).toBe(1);
    expect(parseConfig('processing:\n  workers: 3\n', null, {}, '/work').kafka.partitions_consumed_concurrently).toBe(6);
    expect(parseConfig(null, null, {}, '/work').kafka.partitions_consumed_concurrently).toBe(2 * workerCount('auto', availableParallelism()));
    expect(parseConfig('kafka:\n  partitions_consumed_concurrently: 1\nprocessing:\n  workers: 3\n', null, {}, '/work').kafka.partitions_consumed_concurrently).toBe(1);
  });

  it('names the key or the variable when the value is not a count or auto', () => {
    expect(problem('processing:\n  workers: many\n')).toMatchObject({ code: 'CONFIG_INVALID', line: 2 });
    expect(problem('processing:\n  workers: -1\n')).toMatchObject({ code: 'CONFIG_INVALID', line: 2 });
    expect(problem(null, { PAYSIGNAL_WORKERS: 'two' })).toMatchObject({ code: 'CONFIG_ENV_INVALID', field: 'PAYSIGNAL_WORKERS', message: 'PAYSIGNAL_WORKERS must be a whole number or auto, got "two"' });
  });
});

describe('configuration errors', () => {
  it('names file, line and field for a value of the wrong kind', () => {
    const e = problem('kafka:\n  brokers: [k:9092]\nhttp:\n  host: localhost\n  port: "ninety"\n');
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.describe()).toBe('/etc/paysignal/paysignal.yaml:5:9: CONFIG_INVALID http.port: http.port must be integer');
  });

  it('names an unknown field where it is', () => {
    const e = problem('kafka:\n  brokers: [k:9092]\n  group: oops\n');
    expect(e.describe()).toBe('/etc/paysignal/paysignal.yaml:3:10: CONFIG_INVALID kafka.group: unknown field "kafka.group"');
  });

  it('explains durations, broker addresses, enums and ranges in plain words', () => {
    expect(problem('kafka:\n  session_timeout: 30\n').describe()).toBe(
      '/etc/paysignal/paysignal.yaml:2:20: CONFIG_INVALID kafka.session_timeout: 30 is not a duration; write whole numbers with units ms, s, m, h, d, w, y, largest first (e.g. 500ms, 30s, 1h30m, 7d)',
    );
    expect(problem('kafka:\n  retry:\n    max: forever\n').describe()).toMatch(/:3:10: CONFIG_INVALID kafka\.retry\.max: "forever" is not a duration/);
    expect(problem('kafka:\n  brokers:\n    - kafka-1\n').describe()).toBe('/etc/paysignal/paysignal.yaml:3:7: CONFIG_INVALID kafka.brokers[0]: kafka.brokers[0] must be host:port');
    expect(problem('kafka:\n  sasl: { mechanism: gssapi, username: u, password: p }\n').describe()).toMatch(
      /:2:\d+: CONFIG_INVALID kafka\.sasl\.mechanism: kafka\.sasl\.mechanism must be one of "plain", "scram-sha-256", "scram-sha-512"/,
    );
    expect(problem('tracing:\n  success_sample_ratio: 2\n').describe()).toMatch(/:2:\d+: CONFIG_INVALID tracing\.success_sample_ratio: .* must be <= 1/);
    expect(problem('alertmanager:\n  url: alertmanager:9093\n').describe()).toMatch(/:2:\d+: CONFIG_INVALID alertmanager\.url: .* must be an http:\/\/ or https:\/\/ URL/);
    expect(problem('kafka:\n  sasl:\n    mechanism: plain\n').describe()).toMatch(/:3:\d+: CONFIG_INVALID kafka\.sasl\.username: required field "kafka\.sasl\.username" is missing/);
  });

  it('reports YAML syntax errors with their line', () => {
    const e = problem('kafka:\n  brokers: [k:9092\nhttp:\n  port: 1\n');
    expect(e.code).toBe('CONFIG_SYNTAX');
    expect(e.file).toBe('/etc/paysignal/paysignal.yaml');
    expect(e.line).toBeGreaterThanOrEqual(2);
    expect(problem('a: 1\na: 2\n').code).toBe('CONFIG_SYNTAX'); // duplicate keys
    expect(problem('- just\n- a list\n').describe()).toBe('/etc/paysignal/paysignal.yaml:1: CONFIG_INVALID the configuration must be a YAML mapping (key: value)');
  });

  it('names the environment variable when an override is bad', () => {
    expect(problem('kafka: {}\n', { PAYSIGNAL_HTTP_PORT: '80a' }).describe()).toBe(
      'CONFIG_ENV_INVALID PAYSIGNAL_HTTP_PORT: PAYSIGNAL_HTTP_PORT must be a whole number, got "80a"',
    );
    expect(problem('kafka: {}\n', { PAYSIGNAL_HTTP_PORT: '70000' }).describe()).toBe(
      'CONFIG_ENV_INVALID PAYSIGNAL_HTTP_PORT: http.port must be <= 65535 (from the environment variable PAYSIGNAL_HTTP_PORT)',
    );
    expect(problem(null, { KAFKA_BROKERS: 'kafka-1' }).describe()).toBe(
      'CONFIG_ENV_INVALID KAFKA_BROKERS: kafka.brokers[0] must be host:port (from the environment variable KAFKA_BROKERS)',
    );
    expect(problem(null, { KAFKA_SSL: 'maybe' }).describe()).toBe('CONFIG_ENV_INVALID KAFKA_SSL: KAFKA_SSL must be true or false, got "maybe"');
    expect(problem(null, { KAFKA_SASL_MECHANISM: 'plain' }).describe()).toBe(
      'CONFIG_ENV_INVALID KAFKA_SASL_MECHANISM: required field "kafka.sasl.username" is missing (from the environment variable KAFKA_SASL_MECHANISM; set KAFKA_SASL_USERNAME too)',
    );
  });

  it('rejects a heartbeat that is not shorter than the session timeout', () => {
    expect(problem('kafka:\n  session_timeout: 10s\n  heartbeat_interval: 10s\n').describe()).toBe(
      '/etc/paysignal/paysignal.yaml:3:23: CONFIG_INVALID kafka.heartbeat_interval: kafka.heartbeat_interval must be shorter than kafka.session_timeout (a third of it is usual)',
    );
  });

  it('takes durations in the Prometheus notation and says how to write an old decimal one', () => {
    expect(parseConfig('kafka:\n  shutdown_timeout: 1m30s\n  max_wait: 500ms\n', null, {}).kafka).toMatchObject({ shutdown_timeout: 90_000, max_wait: 500 });
    expect(problem('kafka:\n  max_wait: 1.5s\n').describe()).toBe(
      '/etc/paysignal/paysignal.yaml:2:13: CONFIG_INVALID kafka.max_wait: "1.5s" is not a duration: parts are whole numbers (Prometheus notation); write 1s500ms',
    );
    expect(problem('correlation:\n  ttl: 30m1h\n').describe()).toMatch(/:2:8: CONFIG_INVALID correlation\.ttl: "30m1h" is not a duration: units go from largest to smallest, each once; write 1h30m$/);
  });
});

describe('kafka client settings', () => {
  it('reads TLS material from files and names a file it cannot read', () => {
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    expect(tlsConfig({ enabled: true, caFile: ca, rejectUnauthorized: false })).toEqual({ ca: [expect.stringContaining('BEGIN CERTIFICATE')], rejectUnauthorized: false });
    expect(tlsConfig({ enabled: true })).toBe(true);
    expect(tlsConfig({ enabled: false, caFile: ca })).toBeUndefined();
    expect(() => tlsConfig({ enabled: true, certFile: join(dir, 'missing.pem') })).toThrow(
      expect.objectContaining({ code: 'KAFKA_TLS_FILE_UNREADABLE', file: join(dir, 'missing.pem'), field: 'kafka.tls.cert_file' }),
    );
    expect(saslConfig({ mechanism: 'scram-sha-256', username: 'u', password: 'p' })).toEqual({ mechanism: 'scram-sha-256', username: 'u', password: 'p' });
  });

  it('silences only the TimeoutNegativeWarning that kafkajs causes on Node 24', async () => {
    suppressKafkajsTimeoutNegativeWarning();
    const seen: string[] = [];
    const listener = (w: Error): void => void seen.push(w.name);
    process.on('warning', listener);
    try {
      setTimeout(() => {}, -5); // what kafkajs 2.2.4 does (issue #1751)
      process.emitWarning('something else', 'PaysignalTestWarning');
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', listener);
    }
    expect(seen).toContain('PaysignalTestWarning');
    expect(seen).not.toContain('TimeoutNegativeWarning');
  });
});

describe('dead-letter messages', () => {
  it('keep the original bytes, key and headers and add where and why', () => {
    const value = Buffer.from('{"broken":');
    const message = deadLetterMessage(
      {
        value,
        source: 'kafka',
        topic: 'calls',
        partition: 2,
        offset: '41',
        key: Buffer.from('order-7'),
        headers: { traceparent: '00-abc-def-01', 'paysignal-reason': 'spoofed' },
      },
      { reason: 'not_json', detail: 'x'.repeat(5000) },
    );
    expect(message.value).toBe(value);
    expect(message.key).toEqual(Buffer.from('order-7'));
    expect(message.headers).toMatchObject({
      traceparent: '00-abc-def-01',
      [DEAD_LETTER_HEADERS.reason]: 'not_json',
      [DEAD_LETTER_HEADERS.sourceTopic]: 'calls',
      [DEAD_LETTER_HEADERS.sourcePartition]: '2',
      [DEAD_LETTER_HEADERS.sourceOffset]: '41',
    });
    expect(String(message.headers![DEAD_LETTER_HEADERS.detail]).length).toBeLessThanOrEqual(1024);
  });
});
