// The Kafka path on processing workers (processing.workers): the service in process against the
// embedded broker (or KAFKA_BROKERS), compared with the same service on one thread over the same
// topic: the same metrics, the same alerts, the same dead letters; every partition in order on one
// worker; a crashed worker's batch processed again and its counts kept; a worker that cannot start
// stops the startup.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Message } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.ts';
import { createLogger } from '../../src/logging.ts';
import { startService, type RunningService } from '../../src/service/service.ts';
import { DEAD_LETTER_HEADERS } from '../../src/sinks/dead-letter.ts';
import { OPENMETRICS_CONTENT_TYPE } from '../../src/sinks/exposition.ts';
import type { WorkerPool } from '../../src/pipeline/workers/pool.ts';
import { makeEvents, readEventLines, startTestKafka, type TestKafka } from '../support/kafka.ts';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.ts';
import { waitFor } from '../support/processes.ts';
import { serviceEnv } from '../support/service-env.ts';
import { exposedSeries } from '../support/worker-pool.ts';

let kafka: TestKafka;
let otlp: OtlpReceiver;
let dir: string;
const running = new Set<RunningService>();
const savedEndpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;

beforeAll(async () => {
  kafka = await startTestKafka();
  otlp = await startOtlpReceiver();
  // Read by the span exporters, in the workers too (a worker's environment is a copy of this one).
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = otlp.url;
  dir = mkdtempSync(join(tmpdir(), 'paysignal-workers-'));
  mkdirSync(join(dir, 'rules'));
  writeFileSync(
    join(dir, 'rules', 'errors.yaml'),
    `apiVersion: paysignal/v1
kind: RuleSet
metadata: { name: worker-test }
defaults: { group_by: [provider, code], window: 10m, for: 0s, min_events: 1, severity: warning }
rules:
  - name: ErrorsByCode
    kind: threshold
    selector: { provider: [kustom, mercadopago, setel, stablegenius] }
    threshold: { op: '>', value: 5 }
  - name: Violations
    kind: threshold
    signal: retry_violations
    group_by: [provider, retry]
    selector: { provider: kustom }
    threshold: { op: '>=', value: 1 }
`,
  );
});

afterAll(async () => {
  for (const service of running) await service.stop().catch(() => {});
  await kafka?.stop();
  await otlp?.close();
  if (savedEndpoint === undefined) delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  else process.env.OTEL_EXPORTER_OTLP_ENDPOINT = savedEndpoint;
  rmSync(dir, { recursive: true, force: true });
});

interface Start {
  readonly topic: string;
  readonly dlq: string;
  readonly group: string;
  readonly workers: number;
  readonly eventsFile: string;
  readonly yaml?: string;
}

async function start(options: Start): Promise<RunningService> {
  const config = parseConfig(
    `kafka:
  heartbeat_interval: 300ms
  session_timeout: 10s
  max_wait: 200ms
  max_bytes_per_partition: 16384
  lag_refresh_interval: 500ms
  backoff: { initial: 200ms, max: 1s }
processing:
  workers: ${options.workers}
tracing:
  success_sample_ratio: 1
rules:
  evaluation_interval: 1h
${options.yaml ?? ''}`,
    join(dir, 'paysignal.yaml'),
    {
      ...serviceEnv(kafka.bootstrapServers, options),
      KAFKA_FROM_BEGINNING: 'true',
      PAYSIGNAL_EVENTS_FILE: options.eventsFile,
      PAYSIGNAL_RULES: join(dir, 'rules'),
    },
  );
  const service = await startService({ config, logger: createLogger({ level: process.env.PAYSIGNAL_TEST_LOG_LEVEL ?? 'silent' }) });
  running.add(service);
  return service;
}

async function waitCommitted(group: string, topic: string, timeoutMs = 40_000): Promise<void> {
  await waitFor(`group ${group} to commit everything on ${topic}`, async () => {
    const [committed, high] = await Promise.all([kafka.committedOffsets(group, topic), kafka.highWatermarks(topic)]);
    for (const [partition, h] of high) if ((committed.get(partition) ?? -1n) !== h && h !== 0n) return undefined;
    return true;
  }, timeoutMs, 100);
}

async function scrape(service: RunningService, openMetrics = false): Promise<string> {
  const response = await fetch(`${service.http.url}/metrics`, openMetrics ? { headers: { accept: OPENMETRICS_CONTENT_TYPE } } : {});
  expect(response.status).toBe(200);
  return await response.text();
}

/** Timing-dependent series (process, batch durations, lag, span export) are left out. */
const TIMING = /^(process_|nodejs_|paysignal_kafka_batch_duration|paysignal_kafka_consumer_lag|paysignal_spans_|paysignal_alert)/;

/** `name{labels}` (labels sorted) -> value, from Prometheus text, without the timing-dependent series. */
function series(text: string): Map<string, number> {
  const out = exposedSeries(text);
  for (const key of out.keys()) if (TIMING.test(key)) out.delete(key);
  return out;
}

/**
 * Payments of three attempts each under one idempotency key (the message key, so one partition):
 * Kustom's MERCHANT_INACTIVE says contact_provider, so attempts 2 and 3 are retries and violations.
 */
function retriedPayments(count: number): Message[] {
  const messages: Message[] = [];
  for (let p = 0; p < count; p++) {
    for (let attempt = 1; attempt <= 3; attempt++) {
      const key = `pay-${p}`;
      const event = {
        timestamp: Date.UTC(2026, 10, 22, 10, 0, 0) + p * 10 + attempt,
        provider: 'kustom',
        operation: 'create_order',
        http: { method: 'POST', route: '/payments/v1/sessions', status_code: 403, duration_ms: 20 * attempt },
        response: { body: { error_code: 'MERCHANT_INACTIVE', error_messages: ['Merchant is inactive'] } },
        idempotency_key: key,
        correlation_id: `${key}-${attempt}`,
        attempt,
      };
      messages.push({ key, value: JSON.stringify(event) });
    }
  }
  return messages;
}

const BAD = ['not json at all', '{"provider":"kustom"}', '[1,2,3]', ''];

describe('processing workers', () => {
  it('two workers: the same metrics, alerts and dead letters as one thread, each partition in order on one worker', async () => {
    const topic = await kafka.createTopic('same', 6);
    const dlqSingle = await kafka.createTopic('same-dlq-single', 1);
    const dlqWorkers = await kafka.createTopic('same-dlq-workers', 1);
    const messages: Message[] = [...makeEvents('same', 900).map((e) => e.message), ...retriedPayments(60)];
    BAD.forEach((value, i) => messages.splice(i * 200, 0, { key: `bad-${i}`, value, headers: { 'x-original': `bad-${i}` } }));
    await kafka.produce(topic, messages);

    const single = await start({ topic, dlq: dlqSingle, group: `single-${topic}`, workers: 0, eventsFile: join(dir, 'single.ndjson') });
    const workers = await start({ topic, dlq: dlqWorkers, group: `workers-${topic}`, workers: 2, eventsFile: join(dir, 'workers.ndjson') });
    expect([single.workers, workers.workers]).toEqual([0, 2]);
    await Promise.all([waitCommitted(`single-${topic}`, topic), waitCommitted(`workers-${topic}`, topic)]);

    // Metrics: one exposition, identical series and values.
    const [a, b] = [series(await scrape(single)), series(await scrape(workers))];
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [key, value] of a) {
      // Histogram sums are added up in another order across workers: equal up to rounding.
      if (key.includes('_sum{')) expect(b.get(key), key).toBeCloseTo(value, 9);
      else expect(b.get(key), key).toBe(value);
    }
    expect(a.get('payment_provider_retries_total{operation="create_order",provider="kustom"}')).toBe(120);
    expect(a.get('payment_provider_retry_violations_total{code="MERCHANT_INACTIVE",provider="kustom",retry="contact_provider"}')).toBe(120);
    expect(a.get('paysignal_dead_letter_events_total{}')).toBe(BAD.length);

    // Exemplars survive the merge (OpenMetrics), naming spans the workers exported.
    const open = await scrape(workers, true);
    const exemplar = /^payment_provider_errors_total\{[^}]*\} \d+ # \{trace_id="([0-9a-f]{32})"\}/m.exec(open);
    expect(exemplar, open.slice(0, 2000)).not.toBeNull();
    await waitFor('the exemplar span at the receiver', () => (otlp.spans.some((s) => s.traceId === exemplar![1]) ? true : undefined), 15_000, 100);

    // The alert engine on the main thread saw every event's signal from the workers.
    const alerts = (s: RunningService): unknown[] => {
      s.alerting!.engine.advanceWatermark(Date.UTC(2026, 10, 22, 10, 5, 0));
      return s.alerting!.engine.alerts(true).map((x) => ({ rule: x.rule, labels: x.labels, value: x.value, state: x.state })).sort((p, q) => JSON.stringify(p).localeCompare(JSON.stringify(q)));
    };
    const alertsSingle = alerts(single);
    expect(alertsSingle.length).toBeGreaterThan(3);
    expect(alerts(workers)).toEqual(alertsSingle);

    // Dead letters: written on the main thread with the original bytes, key and headers.
    const dead = await kafka.readMessages(dlqWorkers, BAD.length);
    expect(dead.map((m) => m.headers['x-original']).sort()).toEqual(BAD.map((_, i) => `bad-${i}`));
    for (const m of dead) {
      const i = Number(m.headers['x-original']!.slice('bad-'.length));
      expect(m.value?.toString('utf8') ?? '').toBe(BAD[i]);
      expect(m.key?.toString('utf8')).toBe(`bad-${i}`);
      expect(m.headers[DEAD_LETTER_HEADERS.reason]!.length).toBeGreaterThan(0);
    }

    // Order: the events file lists each partition's offsets in increasing order, once each.
    const lines = readEventLines(join(dir, 'workers.ndjson'));
    expect(lines).toHaveLength(messages.length);
    const last = new Map<number, bigint>();
    for (const line of lines) {
      const offset = BigInt(line.offset);
      expect(offset, `partition ${line.partition}`).toBeGreaterThan(last.get(line.partition) ?? -1n);
      last.set(line.partition, offset);
    }
    // And the six partitions are spread over both workers.
    const pool = workers.pipeline as WorkerPool;
    expect(new Set([0, 1, 2, 3, 4, 5].map((p) => pool.workerOf(topic, p)))).toEqual(new Set([0, 1]));
  });

  it('a worker that dies takes no batch with it: its batch is processed again by a new worker', async () => {
    const topic = await kafka.createTopic('crash', 2);
    const dlq = await kafka.createTopic('crash-dlq', 1);
    const group = `crash-${topic}`;
    const eventsFile = join(dir, 'crash.ndjson');
    const service = await start({ topic, dlq, group, workers: 2, eventsFile });
    await service.source.waitUntilReady(30_000);
    const pool = service.pipeline as WorkerPool;
    const first = makeEvents('crash', 400);
    await kafka.produce(topic, first.map((e) => e.message));
    await waitCommitted(group, topic);
    const before = series(await scrape(service));

    // Worker 0 dies; what arrives next for its partitions waits for its replacement.
    await pool.worker(0).terminate();
    const second = makeEvents('crash', 400, 400);
    await kafka.produce(topic, second.map((e) => e.message));
    await waitCommitted(group, topic);
    const ids = new Set(readEventLines(eventsFile).map((l) => l.correlation_id));
    expect([...first, ...second].filter((e) => !ids.has(e.id))).toEqual([]);
    // Its counts stay in /metrics under its replacement's: no counter goes down, none is lost (every
    // batch it finished was scraped before it died), and the restart is counted.
    const after = series(await scrape(service));
    for (const [key, value] of before) expect(after.get(key), key).toBeGreaterThanOrEqual(value);
    let calls = 0;
    for (const [key, value] of after) if (key.startsWith('payment_provider_calls_total{')) calls += value;
    expect(calls).toBe(800);
    expect(after.get('paysignal_worker_restarts_total{reason="exited"}')).toBe(1);
  });

  it('a worker that cannot start stops the startup with its configuration error', async () => {
    const topic = await kafka.createTopic('nostart', 1);
    await expect(
      start({ topic, dlq: `${topic}-dlq`, group: `nostart-${topic}`, workers: 1, eventsFile: join(dir, 'nostart.ndjson'), yaml: `input:\n  mapping: ${join(dir, 'no-such-mapping.yaml')}\n` }),
    ).rejects.toMatchObject({ code: 'MAPPING_NOT_FOUND' });
  });
});
