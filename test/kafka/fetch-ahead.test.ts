// Fetch-ahead (the Kafka source with processing workers): batches are handed over and kafkajs fetches
// on while they are processed, up to a bound; only processed batches are committed, in order; a
// failed batch is read again from the first unprocessed offset; stop() waits for the batches in
// hand and commits exactly what was processed. The handler here stands in for a slow worker pool:
// each batch stays in hand until the test settles it.
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.ts';
import { createLogger } from '../../src/logging.ts';
import type { RecordBatchHandler } from '../../src/pipeline/types.ts';
import { kafkaSourceOptions } from '../../src/service/kafka-options.ts';
import type { FetchAheadBound } from '../../src/sources/kafka/in-flight.ts';
import { createKafkaSource, type KafkaSource } from '../../src/sources/kafka/source.ts';
import type { SourceRecord } from '../../src/sources/record.ts';
import { startTestKafka, type TestKafka } from '../support/kafka.ts';
import { waitFor } from '../support/processes.ts';
import { serviceEnv } from '../support/service-env.ts';

let kafka: TestKafka;
const sources = new Set<KafkaSource>();

beforeAll(async () => {
  kafka = await startTestKafka();
});

afterAll(async () => {
  for (const source of sources) await source.stop().catch(() => {});
  await kafka?.stop();
});

/** A batch the handler holds: its offsets, and how the test ends it. */
interface HeldBatch {
  readonly first: bigint;
  readonly last: bigint;
  readonly offsets: readonly bigint[];
  readonly settled: boolean;
  process(): void;
  fail(message: string): void;
}

/** A handler that keeps every batch in hand until the test processes or fails it (or, once `autoProcess`, processes it at once). */
function heldBatches(): RecordBatchHandler & { readonly batches: HeldBatch[]; autoProcess: boolean } {
  const batches: HeldBatch[] = [];
  const handler = {
    batches,
    autoProcess: false,
    handleBatch(records: readonly SourceRecord[]): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        const offsets = records.map((r) => BigInt(r.offset));
        const held = {
          first: offsets[0]!,
          last: offsets[offsets.length - 1]!,
          offsets,
          settled: false,
          process() {
            held.settled = true;
            resolve();
          },
          fail(message: string) {
            held.settled = true;
            reject(new Error(message));
          },
        };
        batches.push(held);
        if (handler.autoProcess) held.process();
      });
    },
  };
  return handler;
}

/**
 * A one-partition topic of `recordBatches` record batches of 5 messages (one produce each), each
 * larger than max_bytes_per_partition, so kafkajs fetches one record batch per fetch.
 */
async function topicOfBatches(prefix: string, recordBatches: number): Promise<string> {
  const topic = await kafka.createTopic(prefix, 1);
  const padding = 'x'.repeat(300);
  for (let b = 0; b < recordBatches; b++) {
    await kafka.produce(
      topic,
      Array.from({ length: 5 }, (_, i) => ({ key: `k${b}-${i}`, value: `{"n":${b * 5 + i},"pad":"${padding}"}` })),
    );
  }
  return topic;
}

function startSource(topic: string, group: string, handler: RecordBatchHandler, fetchAhead: FetchAheadBound, kafkaYaml = ''): { source: KafkaSource; registry: Registry } {
  const yaml = kafkaYaml || '  heartbeat_interval: 300ms\n';
  const settings = parseConfig(`kafka:\n${yaml}  max_wait: 200ms\n  max_bytes_per_partition: 1024\n  backoff: { initial: 300ms, max: 1s }\n`, null, {
    ...serviceEnv(kafka.bootstrapServers, { topic, group }),
    KAFKA_CLIENT_ID: group,
    KAFKA_FROM_BEGINNING: 'true',
  });
  const registry = new Registry();
  const logger = createLogger({ level: process.env.PAYSIGNAL_TEST_LOG_LEVEL ?? 'silent' });
  const source = createKafkaSource({ ...kafkaSourceOptions(settings), fetchAhead }, { handler, registry, logger });
  sources.add(source);
  source.start();
  return { source, registry };
}

async function committed(group: string, topic: string): Promise<bigint> {
  return (await kafka.committedOffsets(group, topic)).get(0) ?? -1n;
}

async function handlerErrors(registry: Registry): Promise<number> {
  const { values } = await registry.getSingleMetric('paysignal_kafka_errors_total')!.get();
  return values.filter((v) => v.labels.kind === 'handler').reduce((sum, v) => sum + v.value, 0);
}

const RECORD_BATCHES = 12;
const MESSAGES = RECORD_BATCHES * 5;

describe('kafka source fetching ahead of the processing workers', () => {
  it('keeps up to the bound of batches in hand while the committed offset stays at the end of the processed ones', async () => {
    const topic = await topicOfBatches('ahead', RECORD_BATCHES);
    const group = `ahead-${topic}`;
    const handler = heldBatches();
    const { source } = startSource(topic, group, handler, { maxBatches: 3, maxBytes: 1 << 20 });
    await source.waitUntilReady(30_000);

    // Three batches fetched one after the other, none processed: the fourth waits for room.
    await waitFor('three batches in hand', () => (handler.batches.length >= 3 ? true : undefined), 20_000);
    await sleep(1500);
    expect(handler.batches).toHaveLength(3);
    const [first, second, third] = handler.batches;
    expect([first!.first, second!.first, third!.first]).toEqual([0n, first!.last + 1n, second!.last + 1n]);
    expect(await committed(group, topic)).toBe(-1n);

    // The second one done before the first: still nothing to commit, as the first is not processed.
    second!.process();
    await waitFor('a fourth batch taken into the freed room', () => (handler.batches.length >= 4 ? true : undefined), 20_000);
    await sleep(1000);
    expect(await committed(group, topic)).toBe(-1n);

    // The first one done: both are committed, not the third or fourth one in hand.
    first!.process();
    await waitFor('the first two batches committed', async () => ((await committed(group, topic)) === second!.last + 1n ? true : undefined), 20_000);
    expect(third!.settled).toBe(false);

    handler.autoProcess = true;
    for (const held of handler.batches) if (!held.settled) held.process();
    await waitFor('everything committed', async () => ((await committed(group, topic)) === BigInt(MESSAGES) ? true : undefined), 30_000);
    const seen = handler.batches.flatMap((b) => b.offsets);
    expect(seen).toEqual(Array.from({ length: MESSAGES }, (_, i) => BigInt(i)));
    await source.stop(15_000);
  }, 90_000);

  it('reads a failed batch again from the first unprocessed offset, commits nothing past it before, and loses nothing', async () => {
    const topic = await topicOfBatches('reread', RECORD_BATCHES);
    const group = `reread-${topic}`;
    const handler = heldBatches();
    const { source, registry } = startSource(topic, group, handler, { maxBatches: 3, maxBytes: 1 << 20 });
    await source.waitUntilReady(30_000);
    await waitFor('three batches in hand', () => (handler.batches.length >= 3 ? true : undefined), 20_000);
    const [first, second, third] = handler.batches;

    first!.process();
    await waitFor('the first batch committed', async () => ((await committed(group, topic)) === first!.last + 1n ? true : undefined), 20_000);
    // The third one processed while the second fails: the third must not be committed (it lies
    // behind the failed one), and both are read again.
    third!.process();
    second!.fail('a sink flush failed');
    await waitFor('the failed batch read again', () => (handler.batches.some((b, i) => i >= 3 && b.first === second!.first) ? true : undefined), 20_000);
    expect(await committed(group, topic)).toBe(first!.last + 1n);
    expect(await handlerErrors(registry)).toBe(1);

    handler.autoProcess = true;
    for (const held of handler.batches) if (!held.settled) held.process();
    await waitFor('everything committed', async () => ((await committed(group, topic)) === BigInt(MESSAGES) ? true : undefined), 30_000);
    // Every offset was processed; those of the failed batch and the one behind it twice.
    const processedOnce = new Set(handler.batches.filter((b) => b !== second).flatMap((b) => b.offsets));
    expect([...processedOnce].sort((a, b) => (a < b ? -1 : 1))).toEqual(Array.from({ length: MESSAGES }, (_, i) => BigInt(i)));
    const thirdRereads = handler.batches.filter((b, i) => i >= 3 && b.first === third!.first);
    expect(thirdRereads).toHaveLength(1);
    await source.stop(15_000);
  }, 90_000);

  it('re-reads an earlier batch still in hand when a later one fails first', async () => {
    const topic = await topicOfBatches('earlier', RECORD_BATCHES);
    const group = `earlier-${topic}`;
    const handler = heldBatches();
    const { source } = startSource(topic, group, handler, { maxBatches: 3, maxBytes: 1 << 20 });
    await source.waitUntilReady(30_000);
    await waitFor('three batches in hand', () => (handler.batches.length >= 3 ? true : undefined), 20_000);
    const [first, second] = handler.batches;

    // The second fails while the first is still in hand; the first fails too, later. Reading
    // resumes at the first one, so neither is lost.
    second!.fail('worker 0 exited');
    first!.fail('worker 0 exited');
    await waitFor('the partition read again from the first batch', () => (handler.batches.some((b, i) => i >= 3 && b.first === 0n) ? true : undefined), 20_000);
    expect(await committed(group, topic)).toBe(-1n);

    handler.autoProcess = true;
    for (const held of handler.batches) if (!held.settled) held.process();
    await waitFor('everything committed', async () => ((await committed(group, topic)) === BigInt(MESSAGES) ? true : undefined), 30_000);
    const processed = new Set(handler.batches.filter((b) => b !== first && b !== second).flatMap((b) => b.offsets));
    expect(processed.size).toBe(MESSAGES);
    await source.stop(15_000);
  }, 90_000);

  it('keeps its place in the group while the bound stays full for longer than the session timeout', async () => {
    const topic = await topicOfBatches('full', 6);
    const group = `full-${topic}`;
    const handler = heldBatches();
    const { source, registry } = startSource(topic, group, handler, { maxBatches: 2, maxBytes: 1 << 20 }, '  heartbeat_interval: 500ms\n  session_timeout: 6s\n');
    await source.waitUntilReady(30_000);
    await waitFor('two batches in hand', () => (handler.batches.length >= 2 ? true : undefined), 20_000);
    // The third batch waits for room for 9 s; the session times out after 6 s without heartbeats.
    await sleep(9000);
    expect(handler.batches).toHaveLength(2);
    handler.autoProcess = true;
    for (const held of handler.batches) held.process();
    await waitFor('everything committed', async () => ((await committed(group, topic)) === 30n ? true : undefined), 30_000);
    // No rebalance, no restart: nothing was handed over twice.
    expect(source.status()).toMatchObject({ ready: true, consumerRestarts: 0 });
    const { values } = await registry.getSingleMetric('paysignal_kafka_errors_total')!.get();
    expect(values.reduce((sum, v) => sum + v.value, 0)).toBe(0);
    expect(handler.batches.flatMap((b) => b.offsets)).toEqual(Array.from({ length: 30 }, (_, i) => BigInt(i)));
    await source.stop(15_000);
  }, 90_000);

  it('on stop, waits for the batches in hand, commits exactly the processed ones, and hands over nothing more', async () => {
    const topic = await topicOfBatches('stop', RECORD_BATCHES);
    const group = `stop-${topic}`;
    const handler = heldBatches();
    const { source } = startSource(topic, group, handler, { maxBatches: 3, maxBytes: 1 << 20 });
    await source.waitUntilReady(30_000);
    await waitFor('three batches in hand', () => (handler.batches.length >= 3 ? true : undefined), 20_000);
    const [first, second, third] = handler.batches;

    const stopped = source.stop(15_000);
    let done = false;
    void stopped.then(() => (done = true));
    await sleep(500);
    expect(done).toBe(false); // the batches in hand are awaited
    second!.process();
    first!.process();
    third!.fail('the workers are stopping');
    await stopped;
    expect(handler.batches).toHaveLength(3);
    expect(await committed(group, topic)).toBe(second!.last + 1n);
  }, 90_000);

  it('gives up on stop when the batches in hand do not finish within the deadline, committing nothing unprocessed', async () => {
    const topic = await topicOfBatches('stuck', 4);
    const group = `stuck-${topic}`;
    const handler = heldBatches();
    const { source } = startSource(topic, group, handler, { maxBatches: 2, maxBytes: 1 << 20 });
    await source.waitUntilReady(30_000);
    await waitFor('two batches in hand', () => (handler.batches.length >= 2 ? true : undefined), 20_000);
    await expect(source.stop(1500)).rejects.toMatchObject({ code: 'KAFKA_STOP_TIMEOUT' });
    expect(await committed(group, topic)).toBe(-1n);
    for (const held of handler.batches) held.process();
  }, 60_000);
});
