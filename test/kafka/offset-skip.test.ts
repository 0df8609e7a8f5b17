// No silent skips: when retention removes messages before the consumer read them, the source counts
// exactly the lost offsets in paysignal_kafka_offsets_skipped_total{topic,partition}, logs the range
// at error level, and goes on at the earliest retained offset, so everything still in the topic is
// processed. On the embedded broker each partition keeps only about its last 5 MB, which is how the
// tests make retention overtake the consumer.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Message } from 'kafkajs';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordBatchHandler } from '../../src/pipeline/types.ts';
import { createKafkaSource, type KafkaSource } from '../../src/sources/kafka/source.ts';
import type { SourceRecord } from '../../src/sources/record.ts';
import { makeEvents, startTestKafka, type TestKafka } from '../support/kafka.ts';
import { waitFor } from '../support/processes.ts';
import { kafkaSourceOptions } from '../../src/service/kafka-options.ts';
import { DEFAULT_CONFIG } from '../support/config.ts';

let kafka: TestKafka;
let admin: Admin;
const sources = new Set<KafkaSource>();

beforeAll(async () => {
  kafka = await startTestKafka();
  admin = kafka.kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  for (const source of sources) await source.stop().catch(() => {});
  await admin?.disconnect();
  await kafka?.stop();
});

/** Records what the source hands over; `hold` makes the next batch wait until released. */
function recordingHandler(): RecordBatchHandler & { offsets: bigint[]; hold(): { entered: Promise<void>; release(): void } } {
  const offsets: bigint[] = [];
  let gate: { entered: () => void; released: Promise<void> } | null = null;
  return {
    offsets,
    hold() {
      let entered: () => void = () => {};
      let release: () => void = () => {};
      const enteredPromise = new Promise<void>((resolve) => (entered = resolve));
      gate = { entered, released: new Promise<void>((resolve) => (release = resolve)) };
      return { entered: enteredPromise, release };
    },
    async handleBatch(records: readonly SourceRecord[]) {
      const held = gate;
      if (held !== null) {
        gate = null;
        held.entered();
        await held.released;
      }
      for (const r of records) offsets.push(BigInt(r.offset));
    },
  };
}

function capturingLogger(): { logger: Logger; lines: () => Array<Record<string, unknown>> } {
  const lines: string[] = [];
  const logger = pino({ level: 'info', base: undefined }, { write: (line: string) => void lines.push(line) });
  return { logger, lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

// A short session: the embedded broker's coordinator lets the next member in only after the previous one's session ends.
function startSource(topic: string, group: string, handler: RecordBatchHandler, fromBeginning: boolean) {
  const registry = new Registry();
  const { logger, lines } = capturingLogger();
  const assignments: string[] = [];
  const source = createKafkaSource(
    { ...kafkaSourceOptions(DEFAULT_CONFIG), brokers: kafka.brokers, clientId: group, topics: [topic], groupId: group, fromBeginning, sessionTimeoutMs: 6000, heartbeatIntervalMs: 300, maxWaitTimeMs: 200, lagRefreshIntervalMs: 0 },
    { handler, registry, logger, onAssignment: (partitions) => assignments.push(partitions.map((p) => `${p.topic}/${p.partition}`).join(',')) },
  );
  sources.add(source);
  source.start();
  const skipped = async (): Promise<number> => {
    const { values } = await registry.getSingleMetric('paysignal_kafka_offsets_skipped_total')!.get();
    return values.filter((v) => v.labels.topic === topic && v.labels.partition === '0').reduce((sum, v) => sum + v.value, 0);
  };
  return { source, skipped, lines, assignments };
}

async function stopSource(source: KafkaSource): Promise<void> {
  await source.stop();
  sources.delete(source);
}

/** About 6 MB in message sets of 500 kB: more than the embedded broker keeps of one partition. */
async function overflowRetention(topic: string): Promise<void> {
  const padding = 'x'.repeat(10_000);
  for (let set = 0; set < 12; set++) {
    const messages: Message[] = Array.from({ length: 50 }, (_, i) => ({ key: 'filler', value: `{"filler":${set * 50 + i}}`, headers: { padding } }));
    await kafka.produce(topic, messages);
  }
}

async function retained(topic: string): Promise<{ low: bigint; high: bigint }> {
  const [p] = await admin.fetchTopicOffsets(topic);
  return { low: BigInt(p!.low), high: BigInt(p!.high) };
}

function range(from: bigint, to: bigint): bigint[] {
  return Array.from({ length: Number(to - from) }, (_, i) => from + BigInt(i));
}

function skipLogs(lines: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  return lines.filter((l) => l.level === 50 && typeof l.msg === 'string' && l.msg.includes('messages skipped without being processed'));
}

describe('kafka source: offsets removed by retention are counted, logged, and reading resumes at the earliest retained offset', () => {
  it('a restarted consumer whose committed offset is gone counts the gap and processes every retained message (not only new ones)', async () => {
    const topic = await kafka.createTopic('skip-restart', 1);
    const group = `skip-restart-${topic}`;
    await kafka.produce(topic, makeEvents('before', 50).map((e) => e.message));

    const first = recordingHandler();
    const a = startSource(topic, group, first, true);
    await waitFor('the first run to commit 50', async () => ((await kafka.committedOffsets(group, topic)).get(0) === 50n ? true : undefined), 30_000);
    await stopSource(a.source);
    expect(first.offsets).toEqual(range(0n, 50n));

    // While nobody consumes, retention drops the oldest message sets, including offsets from 50 on.
    await overflowRetention(topic);
    await kafka.produce(topic, makeEvents('after', 20).map((e) => e.message));
    const { low, high } = await retained(topic);
    expect(low).toBeGreaterThan(50n);

    // from_beginning false (the configured default): kafkajs alone would jump to the latest offset.
    const second = recordingHandler();
    const b = startSource(topic, group, second, false);
    await waitFor('the second run to process up to the end', () => (second.offsets.at(-1) === high - 1n ? true : undefined), 30_000);
    expect(second.offsets).toEqual(range(low, high));
    expect(await b.skipped()).toBe(Number(low - 50n));
    expect(skipLogs(b.lines())).toEqual([
      expect.objectContaining({ topic, partition: 0, firstSkippedOffset: '50', lastSkippedOffset: String(low - 1n), skipped: Number(low - 50n), resumedAt: String(low) }),
    ]);
    await stopSource(b.source);
  });

  it('a new group with from_beginning false starts after the messages already there, and counts nothing as skipped', async () => {
    const topic = await kafka.createTopic('skip-latest', 1);
    const group = `skip-latest-${topic}`;
    await kafka.produce(topic, makeEvents('old', 30).map((e) => e.message));
    const handler = recordingHandler();
    const s = startSource(topic, group, handler, false);
    await s.source.waitUntilReady(30_000);
    await waitFor('the start offset to be committed', async () => ((await kafka.committedOffsets(group, topic)).get(0) === 30n ? true : undefined), 30_000);
    await kafka.produce(topic, makeEvents('new', 5).map((e) => e.message));
    await waitFor('the new messages to be processed', () => (handler.offsets.length >= 5 ? true : undefined), 30_000);
    expect(handler.offsets).toEqual(range(30n, 35n));
    expect(await s.skipped()).toBe(0);
    expect(s.assignments).toEqual([`${topic}/0`]);
    await stopSource(s.source);
  });

  it('a running consumer overtaken by retention counts the gap once and goes on at the earliest retained offset', async () => {
    const topic = await kafka.createTopic('skip-running', 1);
    const group = `skip-running-${topic}`;
    await kafka.produce(topic, makeEvents('first', 10).map((e) => e.message));
    const handler = recordingHandler();
    const held = handler.hold();
    const s = startSource(topic, group, handler, true);
    await held.entered;

    // The consumer is busy with offsets 0..9 while retention removes what would come next.
    await overflowRetention(topic);
    const { low, high } = await retained(topic);
    expect(low).toBeGreaterThan(10n);
    held.release();

    await waitFor('the consumer to process up to the end', () => (handler.offsets.at(-1) === high - 1n ? true : undefined), 30_000);
    expect(handler.offsets).toEqual([...range(0n, 10n), ...range(low, high)]);
    expect(await s.skipped()).toBe(Number(low - 10n));
    expect(skipLogs(s.lines())).toEqual([
      expect.objectContaining({ topic, partition: 0, firstSkippedOffset: '10', lastSkippedOffset: String(low - 1n), skipped: Number(low - 10n), resumedAt: String(low) }),
    ]);
    // Nothing more is counted while it goes on normally.
    await kafka.produce(topic, makeEvents('more', 5).map((e) => e.message));
    await waitFor('five more processed', () => (handler.offsets.at(-1) === high + 4n ? true : undefined), 30_000);
    await sleep(300);
    expect(await s.skipped()).toBe(Number(low - 10n));
    await stopSource(s.source);
  });
});
