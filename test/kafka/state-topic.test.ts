// The state topic (src/sources/kafka/state-topic.ts) against the embedded broker (or KAFKA_BROKERS):
// the newest value per key comes back, a deleted one is reported as such, an oversized one is not
// written, and a topic that cannot be created is named with what to create.
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '../../src/embedded-broker/index.ts';
import { createStateTopic, StateValueTooLarge, type StateTopic } from '../../src/sources/kafka/state-topic.ts';
import { startTestKafka, type TestKafka } from '../support/kafka.ts';

let kafka: TestKafka;
const stores = new Set<StateTopic>();
const logger = pino({ level: 'silent' });

beforeAll(async () => {
  kafka = await startTestKafka();
});

afterAll(async () => {
  for (const store of stores) await store.close();
  await kafka?.stop();
});

function store(topic: string, maxValueBytes = 1_000_000): StateTopic {
  const s = createStateTopic({ kafka: kafka.kafka, topic, logger, maxValueBytes, loadTimeoutMs: 20_000 });
  stores.add(s);
  return s;
}

describe('state topic', () => {
  it('returns the newest value written under a key, and nothing for a key never written', async () => {
    const topic = await kafka.createTopic('state', 1);
    const s = store(topic);
    await s.ensure();
    await s.save('group-a', Buffer.from('first'));
    await s.save('group-b', Buffer.from('other group'));
    await s.save('group-a', Buffer.from('second'));

    const a = await s.load('group-a');
    expect(a.found && a.stored.value.toString()).toBe('second');
    const b = await s.load('group-b');
    expect(b.found && b.stored.value.toString()).toBe('other group');
    expect(await s.load('group-c')).toEqual({ found: false, reason: 'none' });
  });

  it('finds nothing in an empty topic without waiting for a reader', async () => {
    const topic = await kafka.createTopic('state-empty', 1);
    const startedAt = Date.now();
    expect(await store(topic).load('g')).toEqual({ found: false, reason: 'none' });
    expect(Date.now() - startedAt).toBeLessThan(2000);
  });

  it('refuses to write a value over the limit', async () => {
    const topic = await kafka.createTopic('state-large', 1);
    const s = store(topic, 1000);
    await expect(s.save('g', new Uint8Array(1001))).rejects.toBeInstanceOf(StateValueTooLarge);
    await expect(s.save('g', new Uint8Array(1001))).rejects.toMatchObject({ code: 'STATE_VALUE_TOO_LARGE' });
    await s.save('g', new Uint8Array(1000).fill(7));
    const loaded = await s.load('g');
    expect(loaded.found && loaded.stored.value).toEqual(Buffer.alloc(1000, 7));
  });

  it('reports a key whose newest record is a tombstone as deleted', async () => {
    const topic = await kafka.createTopic('state-deleted', 1);
    const s = store(topic);
    await s.save('g', Buffer.from('state'));
    await kafka.produce(topic, [{ key: 'g', value: null, partition: 0 }]);
    expect(await s.load('g')).toEqual({ found: false, reason: 'deleted' });
  });

  it('names the topic and the compaction setting to create when it is missing and cannot be created', async () => {
    // The embedded broker has no controller to create topics through, like a cluster that forbids it.
    const refusing = await startEmbeddedBroker();
    const client = new Kafka({ brokers: [...refusing.brokers], logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 100 } });
    const topic = `missing-${randomUUID().slice(0, 8)}.state`;
    try {
      const error = await createStateTopic({ kafka: client, topic, logger, maxValueBytes: 1000 }).ensure().then(() => null, (e: unknown) => e);
      expect(error).toMatchObject({ code: 'STATE_TOPIC_MISSING', field: 'kafka.state_topic' });
      expect((error as Error).message).toContain(`the state topic ${topic} does not exist and paysignal may not create it`);
      expect((error as Error).message).toContain(`--create --topic ${topic} --partitions 1 --config cleanup.policy=compact`);
    } finally {
      await refusing.stop();
    }
  });
});
