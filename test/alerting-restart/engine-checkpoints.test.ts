// Writing the engine's checkpoints (src/service/engine-checkpoints.ts) to a state topic on the
// embedded broker (or KAFKA_BROKERS): callers during a write share the next one, a checkpoint over the
// size limit is not written (counted, logged, the stored one stays), and a write the brokers refuse
// is counted and rejected, so the source holds its commit.
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaClient } from '../../src/sources/kafka/client.ts';
import { createStateTopic } from '../../src/sources/kafka/state-topic.ts';
import { createEngineCheckpoints } from '../../src/service/engine-checkpoints.ts';
import { createFaultySockets, startTestKafka, type TestKafka } from '../support/kafka.ts';

let kafka: TestKafka;

beforeAll(async () => {
  kafka = await startTestKafka();
});

afterAll(async () => {
  await kafka?.stop();
});

/** An engine whose state is `next()`'s bytes: what encodeState() was asked for is counted. */
function engineOf(next: () => Uint8Array) {
  let encoded = 0;
  return {
    encodeState: () => {
      encoded += 1;
      return next();
    },
    restoreState: () => ({ result: 'missing' as const, detail: null, bytes: 0 }),
    encoded: () => encoded,
  };
}

async function count(registry: Registry, result: string): Promise<number> {
  const { values } = await registry.getSingleMetric('paysignal_alert_state_checkpoints_total')!.get();
  return values.find((v) => v.labels.result === result)?.value ?? 0;
}

function capture() {
  const lines: string[] = [];
  return { logger: pino({ level: 'info', base: undefined }, { write: (l: string) => void lines.push(l) }), logged: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('engine checkpoints on the state topic', () => {
  it('writes once for every caller that arrived during a write, each after its own call', async () => {
    const topic = await kafka.createTopic('ckpt-share', 1);
    const registry = new Registry();
    let version = 0;
    const engine = engineOf(() => Buffer.from(`state ${++version}`));
    const store = createStateTopic({ kafka: kafka.kafka, topic, logger: pino({ level: 'silent' }), maxValueBytes: 1000 });
    const checkpoints = createEngineCheckpoints({ engine, store, key: 'g', registry, logger: pino({ level: 'silent' }), backoff: { initialMs: 100, maxMs: 1000 } });
    const first = checkpoints.checkpoint();
    const during = [checkpoints.checkpoint(), checkpoints.checkpoint(), checkpoints.checkpoint()];
    await Promise.all([first, ...during]);
    expect(engine.encoded()).toBe(2);
    expect(await count(registry, 'saved')).toBe(2);
    const stored = await store.load('g');
    expect(stored.found && stored.stored.value.toString()).toBe('state 2');
    await checkpoints.close();
  });

  it('does not write a checkpoint over the limit: counted, logged, the stored one stays, and the commit may go on', async () => {
    const topic = await kafka.createTopic('ckpt-large', 1);
    const registry = new Registry();
    let size = 10;
    const engine = engineOf(() => new Uint8Array(size).fill(1));
    const store = createStateTopic({ kafka: kafka.kafka, topic, logger: pino({ level: 'silent' }), maxValueBytes: 100 });
    const { logger, logged } = capture();
    const checkpoints = createEngineCheckpoints({ engine, store, key: 'g', registry, logger, backoff: { initialMs: 100, maxMs: 1000 } });
    await checkpoints.checkpoint();
    size = 101;
    await expect(checkpoints.checkpoint()).resolves.toBeUndefined();
    expect(await count(registry, 'oversized')).toBe(1);
    expect(logged()).toContainEqual(expect.objectContaining({ level: 50, code: 'STATE_VALUE_TOO_LARGE', bytes: 101 }));
    const stored = await store.load('g');
    expect(stored.found && stored.stored.value.length).toBe(10);
    await checkpoints.close();
  });

  it('rejects when the brokers do not take the write, and counts it as failed', async () => {
    const topic = await kafka.createTopic('ckpt-fail', 1);
    const registry = new Registry();
    const sockets = createFaultySockets();
    const client = createKafkaClient(
      { brokers: kafka.brokers, clientId: 'ckpt-fail', connectionTimeoutMs: 500, requestTimeoutMs: 1000, retry: { initialRetryTimeMs: 50, maxRetryTimeMs: 100, retries: 1 }, socketFactory: sockets.socketFactory },
      pino({ level: 'silent' }),
    );
    const store = createStateTopic({ kafka: client, topic, logger: pino({ level: 'silent' }), maxValueBytes: 100 });
    const checkpoints = createEngineCheckpoints({ engine: engineOf(() => Buffer.from('state')), store, key: 'g', registry, logger: pino({ level: 'silent' }), backoff: { initialMs: 100, maxMs: 1000 } });
    sockets.cut();
    await expect(checkpoints.checkpoint()).rejects.toThrow();
    expect(await count(registry, 'failed')).toBe(1);
    sockets.restore();
    await checkpoints.checkpoint();
    expect(await count(registry, 'saved')).toBe(1);
    await checkpoints.close();
  });
});
