// A state topic that does not exist and may not be created does not stop alerting: the service
// names what to create (STATE_TOPIC_MISSING), starts the engine cold, consumes and commits, counts
// the checkpoints it cannot write, and writes them once the topic exists. The embedded broker cannot
// create topics on request (it has no controller), like a cluster that forbids it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/embedded-broker/index.ts';
import { startService, type RunningService } from '../../src/service/service.ts';
import { makeEvents } from '../support/kafka.ts';
import { waitFor } from '../support/processes.ts';
import { serviceEnv } from '../support/service-env.ts';
import { ruleFile } from './scenario.ts';

let broker: EmbeddedBroker;
let dir: string;
let service: RunningService | null = null;

beforeAll(async () => {
  broker = await startEmbeddedBroker({ topics: [{ name: 'calls', partitions: 1 }, { name: 'calls-dlq', partitions: 1 }] });
  dir = mkdtempSync(join(tmpdir(), 'paysignal-no-state-topic-'));
});

afterAll(async () => {
  await service?.stop().catch(() => {});
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function sample(s: RunningService, name: string, labels: Record<string, string>): Promise<number> {
  const { values } = await s.registry.getSingleMetric(name)!.get();
  return values.find((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))?.value ?? 0;
}

describe('a missing state topic', () => {
  it('is named with what to create, and the service alerts without durability until it exists', async () => {
    mkdirSync(join(dir, 'rules'));
    writeFileSync(join(dir, 'rules', 'spike.yaml'), ruleFile('no-state-topic', '0s', '0s'));
    const lines: string[] = [];
    const logger = pino({ level: 'info', base: undefined }, { write: (line: string) => void lines.push(line) });
    const config = parseConfig(
      'kafka:\n  from_beginning: true\n  heartbeat_interval: 300ms\n  max_wait: 200ms\n  backoff: { initial: 200ms, max: 1s }\nrules:\n  checkpoint_interval: 200ms\n',
      join(dir, 'paysignal.yaml'),
      {
        ...serviceEnv(broker.bootstrapServers, { topic: 'calls', group: 'no-state', dlq: 'calls-dlq' }),
        PAYSIGNAL_RULES: join(dir, 'rules'),
      },
    );
    service = await startService({ config, logger });
    const producer = new Kafka({ brokers: [...broker.brokers], logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    try {
      await producer.send({ topic: 'calls', messages: makeEvents('first', 20).map((e) => e.message) });
      const admin = new Kafka({ brokers: [...broker.brokers], logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      const committed = async (): Promise<string | undefined> => (await admin.fetchOffsets({ groupId: 'no-state', topics: ['calls'] }))[0]?.partitions[0]?.offset;
      await waitFor('the events to be consumed and committed', async () => ((await committed()) === '20' ? true : undefined), 30_000);

      const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(logged).toContainEqual(
        expect.objectContaining({
          level: 50,
          code: 'STATE_TOPIC_MISSING',
          msg: expect.stringContaining('--create --topic no-state.state --partitions 1 --config cleanup.policy=compact'),
        }),
      );
      expect(await sample(service, 'paysignal_alert_state_restores_total', { result: 'missing' })).toBe(1);
      expect(await sample(service, 'paysignal_alert_state_checkpoints_total', { result: 'no_topic' })).toBeGreaterThan(0);
      expect(await sample(service, 'paysignal_alert_state_checkpoints_total', { result: 'saved' })).toBe(0);

      // The operator creates it; the next commit's checkpoint goes there, without a restart.
      await broker.createTopic('no-state.state', 1);
      await waitFor('the topic to be found', () => (lines.some((l) => l.includes('the state topic exists now')) ? true : undefined), 20_000);
      await producer.send({ topic: 'calls', messages: makeEvents('second', 5).map((e) => e.message) });
      await waitFor('a checkpoint in the new topic', async () => ((await sample(service!, 'paysignal_alert_state_checkpoints_total', { result: 'saved' })) > 0 ? true : undefined), 20_000);
      await waitFor('the new events committed', async () => ((await committed()) === '25' ? true : undefined), 20_000);
      await admin.disconnect();
    } finally {
      await producer.disconnect();
    }
    await service.stop();
    service = null;
  });
});
