// With `beforeCommit` (the alert engine's checkpoint), the Kafka source commits processed offsets
// only after it resolved, every `commitIntervalMs` rather than after each batch; when it fails, the
// offsets stay uncommitted, the failure is counted, and both are tried again.
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaSourceOptions } from '../../src/service/kafka-options.ts';
import { createKafkaSource, type KafkaSource } from '../../src/sources/kafka/source.ts';
import { DEFAULT_CONFIG } from '../support/config.ts';
import { makeEvents, startTestKafka, type TestKafka } from '../support/kafka.ts';
import { waitFor } from '../support/processes.ts';

let kafka: TestKafka;
const sources = new Set<KafkaSource>();

beforeAll(async () => {
  kafka = await startTestKafka();
});

afterAll(async () => {
  for (const source of sources) await source.stop().catch(() => {});
  await kafka?.stop();
});

async function commitErrors(registry: Registry): Promise<number> {
  const { values } = await registry.getSingleMetric('paysignal_kafka_errors_total')!.get();
  return values.find((v) => v.labels.kind === 'commit')?.value ?? 0;
}

describe('kafka source with a step before every commit', () => {
  it('commits only what that step covered, holds the offsets while it fails, and commits the rest on stop', async () => {
    const topic = await kafka.createTopic('before-commit', 1);
    const group = `before-commit-${topic}`;
    await kafka.produce(topic, makeEvents('bc', 40).map((e) => e.message));

    let processed = 0;
    let failuresLeft = 2;
    const calls: number[] = []; // how many records had been processed at each call
    const registry = new Registry();
    const source = createKafkaSource(
      { ...kafkaSourceOptions(DEFAULT_CONFIG), brokers: kafka.brokers, clientId: group, topics: [topic], groupId: group, fromBeginning: true, sessionTimeoutMs: 6000, heartbeatIntervalMs: 300, maxWaitTimeMs: 200, lagRefreshIntervalMs: 0, commitIntervalMs: 300 },
      {
        handler: { handleBatch: async (records) => void (processed += records.length) },
        registry,
        logger: pino({ level: 'silent' }),
        beforeCommit: async () => {
          calls.push(processed);
          if (failuresLeft > 0) {
            failuresLeft -= 1;
            throw new Error('state store unavailable');
          }
        },
      },
    );
    sources.add(source);
    source.start();

    await waitFor('all 40 processed', () => (processed === 40 ? true : undefined), 30_000);
    // While the step fails nothing is committed; then the held offsets go out with the next commit.
    await waitFor('two failed attempts', async () => ((await commitErrors(registry)) === 2 ? true : undefined), 10_000, 20);
    await waitFor('the commit after the step succeeded', async () => ((await kafka.committedOffsets(group, topic)).get(0) === 40n ? true : undefined), 10_000, 20);
    expect(calls.length).toBe(3);
    expect(calls.every((n) => n > 0)).toBe(true);

    // Stopping commits what was processed since the last interval, after the step.
    await kafka.produce(topic, makeEvents('bc-tail', 5).map((e) => e.message));
    await waitFor('the tail processed', () => (processed === 45 ? true : undefined), 10_000, 10);
    const callsBeforeStop = calls.length;
    await source.stop();
    sources.delete(source);
    expect((await kafka.committedOffsets(group, topic)).get(0)).toBe(45n);
    expect(calls.length).toBeGreaterThan(callsBeforeStop);
    expect(calls.at(-1)).toBe(45);
  });
});
