// The Kafka source with the real pipeline, in process, over real sockets against the embedded broker
// (or the cluster in KAFKA_BROKERS): counts, dead-letter, outages, rebalances.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry, type Gauge } from 'prom-client';
import type { Message } from 'kafkajs';
import { createClassifier } from '../../src/classify/classifier.ts';
import { createDecoder } from '../../src/events/decode.ts';
import { createPipeline } from '../../src/pipeline/pipeline.ts';
import { createKafkaDeadLetterSink } from '../../src/sinks/dead-letter.ts';
import { createEventsFileSink } from '../../src/sinks/events-file.ts';
import { createKafkaClient } from '../../src/sources/kafka/client.ts';
import { createKafkaSource } from '../../src/sources/kafka/source.ts';
import { parseConfig } from '../../src/config/config.ts';
import { kafkaClientOptions, kafkaSourceOptions } from '../../src/service/kafka-options.ts';
import { startService, type RunningService } from '../../src/service/service.ts';
import { createLogger } from '../../src/logging.ts';
import type { EventSink } from '../../src/pipeline/types.ts';
import { DEAD_LETTER_HEADERS } from '../../src/sinks/dead-letter.ts';
import { waitFor } from '../support/processes.ts';
import { serviceEnv } from '../support/service-env.ts';
import {
  countByProviderAndCode,
  createFaultySockets,
  makeEvents,
  readEventLines,
  startTestKafka,
  type FaultySockets,
  type TestKafka,
} from '../support/kafka.ts';

let kafka: TestKafka;
let dir: string;
const running = new Set<RunningService>();

beforeAll(async () => {
  kafka = await startTestKafka();
  dir = mkdtempSync(join(tmpdir(), 'paysignal-kafka-'));
});

afterAll(async () => {
  for (const service of running) await service.stop().catch(() => {});
  await kafka?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface ServiceOptions {
  readonly topic: string;
  readonly dlq: string;
  readonly group: string;
  readonly eventsFile: string;
  readonly env?: Record<string, string>;
  readonly yaml?: string;
  readonly sinks?: EventSink[];
  readonly sockets?: FaultySockets;
}

async function start(options: ServiceOptions): Promise<RunningService> {
  const yaml =
    options.yaml ??
    `kafka:
  heartbeat_interval: 300ms
  session_timeout: 10s
  max_wait: 200ms
  lag_refresh_interval: 500ms
  shutdown_timeout: 15s
  retry: { initial: 100ms, max: 2s, retries: 5 }
  backoff: { initial: 200ms, max: 2s }
`;
  const config = parseConfig(yaml, join(dir, 'paysignal.yaml'), {
    ...serviceEnv(kafka.bootstrapServers, options),
    KAFKA_FROM_BEGINNING: 'true',
    PAYSIGNAL_EVENTS_FILE: options.eventsFile,
    ...options.env,
  });
  const logger = createLogger({ level: process.env.PAYSIGNAL_TEST_LOG_LEVEL ?? 'silent' });
  const service = await startService({
    config,
    logger,
    ...(options.sinks ? { sinks: options.sinks } : {}),
    ...(options.sockets ? { socketFactory: options.sockets.socketFactory } : {}),
  });
  running.add(service);
  return service;
}

async function stop(service: RunningService): Promise<void> {
  await service.stop();
  running.delete(service);
}

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (m === undefined) return 0;
  const { values } = await m.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}

async function lagSeries(registry: Registry): Promise<string[]> {
  const gauge = registry.getSingleMetric('paysignal_kafka_consumer_lag') as Gauge | undefined;
  if (gauge === undefined) return [];
  const { values } = await gauge.get();
  return values.map((v) => `${v.labels.topic}/${v.labels.partition}`).sort();
}

async function waitCommitted(group: string, topic: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(`group ${group} to commit everything on ${topic}`, async () => {
    const [committed, high] = await Promise.all([kafka.committedOffsets(group, topic), kafka.highWatermarks(topic)]);
    for (const [partition, h] of high) {
      const c = committed.get(partition) ?? -1n;
      if (c !== h && !(h === 0n && c === -1n)) return undefined; // an empty partition has nothing to commit
    }
    return true;
  }, timeoutMs, 100);
}

/** A sink that takes `delayMs` per flush: a slow downstream, to keep a stream going for a while. */
function slowSink(delayMs: number): EventSink {
  return { name: 'slow', onEvent() {}, flush: () => sleep(delayMs) };
}

/**
 * Kafka settings of the outage tests (the rest of the `kafka:` section): kafkajs retries (about 40 s
 * in all) outlast a 10 s outage, so the member keeps its place in the group and needs no new join
 * once the broker is back.
 */
const OUTAGE_KAFKA_SETTINGS = `  heartbeat_interval: 300ms
  session_timeout: 30s
  max_wait: 200ms
  lag_refresh_interval: 500ms
  retry: { initial: 300ms, max: 10s, retries: 8 }
  backoff: { initial: 200ms, max: 2s }
`;

/**
 * Starts the service on `topic` behind sockets a test can cut, every batch slowed by a sink on the
 * main thread so the topic takes a while, and returns once some of the `produced` events are
 * processed and not all (mid-stream).
 */
async function startMidStream(topic: string, produced: number, yaml: string) {
  const dlq = await kafka.createTopic(`${topic}-dlq`, 1);
  const eventsFile = join(dir, `${topic}.ndjson`);
  const group = `${topic}-group`;
  const sockets = createFaultySockets();
  const service = await start({ topic, dlq, group, eventsFile, sockets, sinks: [slowSink(150)], yaml });
  await service.source.waitUntilReady(30_000);
  await waitFor('some events processed', () => (readEventLines(eventsFile).length >= 40 ? true : undefined), 20_000, 20);
  const processedBeforeOutage = readEventLines(eventsFile).length;
  expect(processedBeforeOutage).toBeLessThan(produced); // still mid-stream
  return { service, sockets, eventsFile, group, processedBeforeOutage };
}

/** Whether the source reported itself not ready at some point while watched (checked every 100 ms). */
function watchReadiness(service: RunningService): { readonly sawNotReady: boolean; stop(): void } {
  let sawNotReady = false;
  const timer = setInterval(() => {
    if (!service.source.isReady()) sawNotReady = true;
  }, 100);
  return {
    get sawNotReady() {
      return sawNotReady;
    },
    stop: () => clearInterval(timer),
  };
}

describe('kafka source with the pipeline', () => {
  it('classifies every produced event once, with counts by provider and code', async () => {
    const topic = await kafka.createTopic('calls', 3);
    const dlq = await kafka.createTopic('calls-dlq', 1);
    const events = makeEvents('count', 1500);
    await kafka.produce(topic, events.map((e) => e.message));

    const eventsFile = join(dir, 'count.ndjson');
    const group = `count-${topic}`;
    const service = await start({ topic, dlq, group, eventsFile });
    await service.source.waitUntilReady(30_000);
    await waitCommitted(group, topic);

    const lines = readEventLines(eventsFile);
    expect(lines).toHaveLength(events.length);
    expect(new Set(lines.map((l) => l.correlation_id))).toEqual(new Set(events.map((e) => e.id)));
    expect(countByProviderAndCode(lines)).toEqual(countByProviderAndCode(events));
    expect(countByProviderAndCode(lines)).toEqual({
      'kustom/MERCHANT_INACTIVE': 300,
      'mercadopago/invalid_total_amount': 300,
      'setel/9300002': 300,
      'stablegenius/amount_out_of_range': 300,
      'kustom/success': 300,
    });
    expect(await metric(service.registry, 'paysignal_kafka_messages_consumed_total', { topic })).toBe(events.length);
    expect(await metric(service.registry, 'paysignal_kafka_batch_duration_seconds')).toBeGreaterThan(0);
    expect(await lagSeries(service.registry)).toEqual([`${topic}/0`, `${topic}/1`, `${topic}/2`]);
    expect(await metric(service.registry, 'paysignal_kafka_consumer_lag')).toBe(0);
    expect(service.source.status()).toMatchObject({ ready: true, state: 'consuming', assignment: { [topic]: [0, 1, 2] } });

    await stop(service);
    expect(service.source.status().state).toBe('stopped');
    expect(await lagSeries(service.registry)).toEqual([]);
  });

  it('sends malformed events to the dead-letter topic with their reason and keeps going', async () => {
    const topic = await kafka.createTopic('mixed', 2);
    const dlq = await kafka.createTopic('mixed-dlq', 1);
    const good = makeEvents('mixed', 60);
    const bad = [
      { value: 'not json at all', reason: 'not_json' },
      { value: '{"provider":"kustom"}', reason: 'missing_field' },
      { value: '{"timestamp":"2026-11-22T10:00:00Z","provider":42}', reason: 'wrong_type' },
      { value: '[1,2,3]', reason: 'not_object' },
      { value: '', reason: 'empty' },
    ];
    // Bad events sit between good ones on the same partitions (same key -> same partition).
    const messages: Message[] = [];
    for (let i = 0; i < good.length; i++) {
      messages.push({ ...good[i]!.message, key: `k${i % 2}` });
      if (i % 12 === 0) messages.push({ key: `k${i % 2}`, value: bad[i / 12]!.value, headers: { 'x-original': `bad-${i}` } });
    }
    await kafka.produce(topic, messages);

    const eventsFile = join(dir, 'mixed.ndjson');
    const group = `mixed-${topic}`;
    const service = await start({ topic, dlq, group, eventsFile });
    await service.source.waitUntilReady(30_000);
    await waitCommitted(group, topic);

    const lines = readEventLines(eventsFile);
    const partitionOfKey = (key: string): number => lines.find((l) => l.correlation_id === good[key === 'k0' ? 0 : 1]!.id)!.partition;
    const invalid = lines.filter((l) => l.outcome === 'invalid');
    const deadLetters = await kafka.readMessages(dlq, bad.length);
    expect(deadLetters).toHaveLength(bad.length);
    const byOriginal = new Map(deadLetters.map((m) => [m.headers['x-original'], m]));
    for (const [i, b] of bad.entries()) {
      const m = byOriginal.get(`bad-${i * 12}`);
      expect(m, `dead letter for bad-${i * 12}`).toBeDefined();
      expect(m!.value?.toString('utf8') ?? '').toBe(b.value); // the original bytes
      expect(m!.key?.toString('utf8')).toBe(`k${(i * 12) % 2}`);
      expect(m!.headers[DEAD_LETTER_HEADERS.reason]).toBe(b.reason);
      expect(m!.headers[DEAD_LETTER_HEADERS.detail]!.length).toBeGreaterThan(0);
      expect(m!.headers[DEAD_LETTER_HEADERS.sourceTopic]).toBe(topic);
      expect(m!.headers[DEAD_LETTER_HEADERS.sourcePartition]).toBe(String(partitionOfKey(`k${(i * 12) % 2}`)));
      // The offset the record had on the source topic, as the pipeline saw it.
      const seen = invalid.find((l) => l.reason === b.reason)!;
      expect(m!.headers[DEAD_LETTER_HEADERS.sourceOffset]).toBe(seen.offset);
      expect(m!.headers[DEAD_LETTER_HEADERS.sourcePartition]).toBe(String(seen.partition));
    }
    expect(await metric(service.registry, 'paysignal_dead_letter_events_total')).toBe(bad.length);
    expect(await metric(service.registry, 'paysignal_dead_letter_failures_total')).toBe(0);

    // Every good event around them was processed, exactly once here (no failures, no redelivery).
    const ok = lines.filter((l) => l.outcome !== 'invalid');
    expect(ok.map((l) => l.correlation_id).sort()).toEqual(good.map((e) => e.id).sort());
    expect(lines.filter((l) => l.outcome === 'invalid').map((l) => l.reason).sort()).toEqual(bad.map((b) => b.reason).sort());
    expect(await metric(service.registry, 'paysignal_kafka_messages_consumed_total', { topic })).toBe(messages.length);
    expect(service.source.status()).toMatchObject({ ready: true, consumerRestarts: 0 });
    await stop(service);
  });

  it('does not commit a batch whose dead-letter write failed, reports it, and delivers it later', async () => {
    const topic = await kafka.createTopic('dlqfail', 1);
    const dlq = await kafka.createTopic('dlqfail-dlq', 1);
    const good = makeEvents('dlqfail', 20);
    await kafka.produce(topic, [...good.slice(0, 10).map((e) => e.message), { value: 'broken {', headers: { 'x-original': 'broken' } }, ...good.slice(10).map((e) => e.message)]);

    // The real pieces, with the dead-letter producer's network cut while the source works normally.
    const group = `dlqfail-${topic}`;
    const settings = parseConfig('kafka:\n  heartbeat_interval: 300ms\n  max_wait: 200ms\n  backoff: { initial: 200ms, max: 1s }\n', null, {
      ...serviceEnv(kafka.bootstrapServers, { topic, group, dlq }),
      KAFKA_CLIENT_ID: 'dlqfail',
      KAFKA_FROM_BEGINNING: 'true',
    });
    const registry = new Registry();
    const logger = createLogger({ level: process.env.PAYSIGNAL_TEST_LOG_LEVEL ?? 'silent' });
    const dlqSockets = createFaultySockets();
    dlqSockets.cut();
    const deadLetter = createKafkaDeadLetterSink({
      kafka: createKafkaClient({ ...kafkaClientOptions(settings, 'dlqfail-dead-letter'), socketFactory: dlqSockets.socketFactory, retry: { retries: 1, initialRetryTimeMs: 100, maxRetryTimeMs: 10_000 }, connectionTimeoutMs: 1000 }, logger),
      topic: dlq,
      registry,
      logger,
      retries: 1,
      timeoutMs: 2000,
    });
    const eventsFile = join(dir, 'dlqfail.ndjson');
    const classifier = await createClassifier();
    const pipeline = createPipeline({ decoder: createDecoder({ idHeaders: classifier.idHeaders }), classifier, sinks: [createEventsFileSink(eventsFile)], deadLetter });
    const source = createKafkaSource(kafkaSourceOptions(settings), { handler: pipeline, registry, logger });
    source.start();
    try {
      await source.waitUntilReady(30_000);
      await waitFor('failed dead-letter writes', async () => ((await metric(registry, 'paysignal_dead_letter_failures_total')) >= 2 ? true : undefined), 30_000);
      expect(await metric(registry, 'paysignal_kafka_errors_total', { kind: 'handler' })).toBeGreaterThanOrEqual(2);
      // The batch holding the broken record is not committed, and nothing after it either.
      const committed = (await kafka.committedOffsets(group, topic)).get(0) ?? -1n;
      expect(committed).toBeLessThanOrEqual(10n);
      expect(await metric(registry, 'paysignal_kafka_messages_consumed_total')).toBeLessThanOrEqual(10);
      expect(source.isReady()).toBe(true); // the consumer itself is healthy

      dlqSockets.restore();
      await waitCommitted(group, topic, 30_000);
      const [letter] = await kafka.readMessages(dlq, 1);
      expect(letter!.value!.toString('utf8')).toBe('broken {');
      expect(letter!.headers).toMatchObject({ 'x-original': 'broken', [DEAD_LETTER_HEADERS.reason]: 'not_json', [DEAD_LETTER_HEADERS.sourceOffset]: '10' });
      // Every good event was processed at least once; the failed batch was processed again.
      const ids = new Set(readEventLines(eventsFile).map((l) => l.correlation_id));
      for (const e of good) expect(ids.has(e.id), e.id).toBe(true);
      expect(await metric(registry, 'paysignal_dead_letter_events_total')).toBe(1);
      expect(await metric(registry, 'paysignal_kafka_messages_consumed_total')).toBe(21);
    } finally {
      await source.stop();
      await pipeline.close();
    }
  });

  it('rides out a 10 s broker outage without a restart and loses nothing', async () => {
    const topic = await kafka.createTopic('outage', 2);
    const first = makeEvents('outage', 400);
    const second = makeEvents('outage', 200, 400);
    await kafka.produce(topic, first.map((e) => e.message));
    // One partition's batch at a time, so the outage comes mid-stream in the main-thread mode (the
    // next test does the same with a processing worker).
    const run = await startMidStream(topic, first.length, `processing:
  workers: 0
kafka:
  partitions_consumed_concurrently: 1
  max_bytes_per_partition: 4096
${OUTAGE_KAFKA_SETTINGS}`);
    const { service, eventsFile } = run;

    const readiness = watchReadiness(service);
    await kafka.outage(10_000, run.sockets);
    expect(readiness.sawNotReady).toBe(true);
    await kafka.produce(topic, second.map((e) => e.message));
    await waitCommitted(run.group, topic, 90_000);
    readiness.stop();

    const lines = readEventLines(eventsFile);
    const ids = new Set(lines.map((l) => l.correlation_id));
    for (const e of [...first, ...second]) expect(ids.has(e.id), e.id).toBe(true);
    await service.source.waitUntilReady(30_000);
    expect(service.source.status()).toMatchObject({ state: 'consuming', consumerRestarts: 0 });
    expect(await metric(service.registry, 'paysignal_kafka_messages_consumed_total', { topic })).toBeGreaterThanOrEqual(first.length + second.length);
    await stop(service);
  });

  it('rides out a 10 s broker outage mid-stream with processing workers: nothing lost or counted twice, commits resume', async () => {
    const topic = await kafka.createTopic('outage-workers', 2);
    const first = makeEvents('outage-workers', 400);
    const second = makeEvents('outage-workers', 200, 400);
    // Produced a few at a time: a fetch returns at least one whole record batch, so records produced
    // 500 at a time would reach the workers in two batches whatever kafka.max_bytes says.
    const produce = async (events: typeof first): Promise<void> => {
      for (let i = 0; i < events.length; i += 5) await kafka.produce(topic, events.slice(i, i + 5).map((e) => e.message));
    };
    await produce(first);
    // The workers hold at most kafka.max_bytes (a few small batches): the topic is still being
    // handed over when the brokers go, with batches in the workers' hands.
    const run = await startMidStream(topic, first.length, `processing:
  workers: 1
kafka:
  max_bytes_per_partition: 2048
  max_bytes: 4096
${OUTAGE_KAFKA_SETTINGS}`);
    const { service, eventsFile, processedBeforeOutage } = run;
    expect(service.workers).toBe(1);

    const readiness = watchReadiness(service);
    const outage = kafka.outage(10_000, run.sockets);
    // The batches in the workers' hands when the brokers went are processed meanwhile.
    const processedDuringOutage = await sleep(5000).then(() => readEventLines(eventsFile).length);
    await outage;
    expect(readiness.sawNotReady).toBe(true);
    expect(processedDuringOutage).toBeGreaterThan(processedBeforeOutage);
    expect(processedDuringOutage).toBeLessThan(first.length);
    await produce(second);
    // Commits resume: everything is committed in the end.
    await waitCommitted(run.group, topic, 90_000);
    readiness.stop();

    // Each event processed once: none lost, none read again after the outage.
    const ids = readEventLines(eventsFile).map((l) => l.correlation_id);
    expect(ids).toHaveLength(first.length + second.length);
    expect(new Set(ids)).toEqual(new Set([...first, ...second].map((e) => e.id)));
    expect(await metric(service.registry, 'payment_provider_calls_total')).toBe(first.length + second.length);
    expect(await metric(service.registry, 'paysignal_kafka_messages_consumed_total', { topic })).toBe(first.length + second.length);
    await service.source.waitUntilReady(30_000);
    expect(service.source.status()).toMatchObject({ state: 'consuming', consumerRestarts: 0 });
    await stop(service);
  });

  it('starts while the brokers are unreachable, keeps retrying, and consumes once they are back', async () => {
    const topic = await kafka.createTopic('late', 1);
    const dlq = await kafka.createTopic('late-dlq', 1);
    const events = makeEvents('late', 30);
    await kafka.produce(topic, events.map((e) => e.message));
    const sockets = createFaultySockets();
    const outage = kafka.outage(6000, sockets);
    await sleep(200);
    const eventsFile = join(dir, 'late.ndjson');
    const group = `late-${topic}`;
    const service = await start({
      topic,
      dlq,
      group,
      eventsFile,
      sockets,
      // kafkajs gives up connecting quickly here, so the source's own supervisor has to retry.
      yaml: 'kafka:\n  heartbeat_interval: 300ms\n  max_wait: 200ms\n  connection_timeout: 500ms\n  retry: { initial: 100ms, max: 500ms, retries: 1 }\n  backoff: { initial: 300ms, max: 1s }\n',
    });
    await sleep(3000);
    expect(service.source.isReady()).toBe(false);
    expect(await metric(service.registry, 'paysignal_kafka_errors_total', { kind: 'connect' })).toBeGreaterThan(0);
    await outage;
    await service.source.waitUntilReady(30_000);
    await waitCommitted(group, topic);
    expect(readEventLines(eventsFile).map((l) => l.correlation_id).sort()).toEqual(events.map((e) => e.id).sort());
    await stop(service);
  });

  it('keeps its place in the group through a batch longer than the session timeout, one batch at a time', async () => {
    const topic = await kafka.createTopic('slow', 2);
    const dlq = await kafka.createTopic('slow-dlq', 1);
    const group = `slow-${topic}`;
    const events = makeEvents('slow', 100);
    await kafka.produce(topic, events.map((e) => e.message));

    // The first batch takes 9 s in a sink; the session times out after 6 s without heartbeats.
    let inFlight = 0;
    let maxInFlight = 0;
    let first = true;
    const stalling: EventSink = {
      name: 'stalling',
      onEvent() {},
      async flush() {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          if (first) {
            first = false;
            await sleep(9000);
          }
        } finally {
          inFlight--;
        }
      },
    };
    const eventsFile = join(dir, 'slow.ndjson');
    const service = await start({
      topic,
      dlq,
      group,
      eventsFile,
      sinks: [stalling],
      // On the main thread: with workers the source fetches ahead (test/kafka/fetch-ahead.test.ts).
      yaml: 'processing:\n  workers: 0\nkafka:\n  partitions_consumed_concurrently: 1\n  heartbeat_interval: 500ms\n  session_timeout: 6s\n  max_wait: 200ms\n',
    });
    await service.source.waitUntilReady(30_000);
    const joinedAt = Date.now();
    await waitCommitted(group, topic, 40_000);
    expect(Date.now() - joinedAt).toBeGreaterThan(8000); // the stall really happened
    // No rebalance, no restart: the member heartbeated through the stall and committed its batch.
    expect(service.source.status()).toMatchObject({ ready: true, consumerRestarts: 0 });
    expect(await metric(service.registry, 'paysignal_kafka_errors_total')).toBe(0);
    expect(maxInFlight).toBe(1); // nothing else was handed over while the pipeline was busy
    expect(readEventLines(eventsFile).map((l) => l.correlation_id).sort()).toEqual(events.map((e) => e.id).sort());
    await stop(service);
  });

  it('gives up stopping after the deadline when the batch in hand does not finish', async () => {
    const topic = await kafka.createTopic('stuck', 1);
    const dlq = await kafka.createTopic('stuck-dlq', 1);
    await kafka.produce(topic, makeEvents('stuck', 10).map((e) => e.message));
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    let entered: () => void = () => {};
    const inSink = new Promise<void>((resolve) => (entered = resolve));
    const stuck: EventSink = {
      name: 'stuck',
      onEvent() {},
      flush: () => {
        entered();
        return released;
      },
    };
    const group = `stuck-${topic}`;
    const service = await start({ topic, dlq, group, eventsFile: join(dir, 'stuck.ndjson'), sinks: [stuck] });
    await inSink;
    const startedAt = Date.now();
    await expect(service.source.stop(1000)).rejects.toMatchObject({ code: 'KAFKA_STOP_TIMEOUT' });
    expect(Date.now() - startedAt).toBeLessThan(3000);
    // Nothing of the unfinished batch was committed.
    expect((await kafka.committedOffsets(group, topic)).get(0) ?? -1n).toBe(-1n);
    release();
    running.delete(service);
    await service.pipeline.close();
  });

  it('splits partitions between two consumers of one group; the survivor takes over without stale lag', async () => {
    const topic = await kafka.createTopic('group', 4);
    const dlq = await kafka.createTopic('group-dlq', 1);
    const group = `group-${topic}`;
    const before = makeEvents('grp', 200);
    await kafka.produce(topic, before.map((e) => e.message));

    const fileA = join(dir, 'group-a.ndjson');
    const fileB = join(dir, 'group-b.ndjson');
    const a = await start({ topic, dlq, group, eventsFile: fileA });
    await a.source.waitUntilReady(30_000);
    await waitCommitted(group, topic);
    expect(await lagSeries(a.registry)).toEqual([0, 1, 2, 3].map((p) => `${topic}/${p}`));

    const b = await start({ topic, dlq, group, eventsFile: fileB });
    await b.source.waitUntilReady(30_000);
    await waitFor('the partitions split between the two consumers', () => {
      const pa = a.source.status().assignment[topic] ?? [];
      const pb = b.source.status().assignment[topic] ?? [];
      return pa.length === 2 && pb.length === 2 && a.source.isReady() ? true : undefined;
    }, 30_000);
    const partsA = a.source.status().assignment[topic]!;
    const partsB = b.source.status().assignment[topic]!;
    expect([...partsA, ...partsB].sort()).toEqual([0, 1, 2, 3]);
    // Each reports lag only for the partitions it holds.
    await waitFor('lag series follow the assignment', async () => {
      const la = await lagSeries(a.registry);
      const lb = await lagSeries(b.registry);
      return la.join() === partsA.map((p) => `${topic}/${p}`).join() && lb.join() === partsB.map((p) => `${topic}/${p}`).join() ? true : undefined;
    }, 10_000);

    const during = makeEvents('grp', 200, 200);
    await kafka.produce(topic, during.map((e) => e.message));
    await waitCommitted(group, topic);
    const linesB = readEventLines(fileB);
    expect(linesB.length).toBeGreaterThan(0);
    expect(new Set(linesB.map((l) => l.partition))).toEqual(new Set(partsB));

    // B leaves the group; A takes over every partition.
    await stop(b);
    expect(await lagSeries(b.registry)).toEqual([]);
    await waitFor('the survivor to hold every partition', () => ((a.source.status().assignment[topic] ?? []).length === 4 && a.source.isReady() ? true : undefined), 30_000);
    const after = makeEvents('grp', 200, 400);
    await kafka.produce(topic, after.map((e) => e.message));
    await waitCommitted(group, topic);
    await waitFor('lag series for all four partitions, each 0', async () => {
      const la = await lagSeries(a.registry);
      return la.length === 4 && (await metric(a.registry, 'paysignal_kafka_consumer_lag')) === 0 ? true : undefined;
    }, 10_000);

    const ids = new Set([...readEventLines(fileA), ...readEventLines(fileB)].map((l) => l.correlation_id));
    for (const e of [...before, ...during, ...after]) expect(ids.has(e.id), e.id).toBe(true);
    const afterLines = readEventLines(fileA).filter((l) => after.some((e) => e.id === l.correlation_id));
    expect(new Set(afterLines.map((l) => l.partition))).toEqual(new Set([0, 1, 2, 3]));
    await stop(a);
  });
});

async function createExternalTopic(name: string): Promise<string> {
  const admin = kafka.kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic: name, numPartitions: 1 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
  return name;
}
