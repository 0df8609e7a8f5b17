// Slow sinks -> backpressure: while a sink's flush does not finish, the Kafka source must not keep
// fetching and buffering (memory stays bounded: at most about one fetch response is in the process),
// consumer lag grows instead, and once the sink recovers (slow but finishing) every event is processed
// and committed. `paysignal run`'s service with two processing workers (the slow sink runs on the
// main thread, after them), in process against the embedded broker (or KAFKA_BROKERS).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Registry } from 'prom-client';
import { startService, type RunningService } from '../../src/service/service.ts';
import { parseConfig } from '../../src/config/config.ts';
import { createLogger } from '../../src/logging.ts';
import type { SignalSink } from '../../src/pipeline/types.ts';
import { makeEvents, startTestKafka, type TestKafka } from '../support/kafka.ts';
import { waitFor } from '../support/processes.ts';
import { serviceEnv } from '../support/service-env.ts';

let kafka: TestKafka;
let dir: string;
let service: RunningService | null = null;

beforeAll(async () => {
  kafka = await startTestKafka();
  dir = mkdtempSync(join(tmpdir(), 'paysignal-backpressure-'));
});

afterAll(async () => {
  await service?.stop().catch(() => {});
  await kafka?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function gaugeSum(registry: Registry, name: string): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (m === undefined) return 0;
  return (await m.get()).values.reduce((s, v) => s + v.value, 0);
}

describe('slow sinks and backpressure', () => {
  it('a stalled sink stops the fetching (bounded memory, lag grows); after it recovers nothing is lost', async () => {
    const topic = await kafka.createTopic('bp', 2);
    const dlq = await kafka.createTopic('bp-dlq', 1);
    const group = `bp-${topic}`;
    const TOTAL = 20_000;
    const events = makeEvents('bp', TOTAL);

    // The sink: flush blocks until `release`, then takes 20 ms per batch (slow, but it finishes).
    const seen = new Set<string>();
    let onEventCalls = 0;
    let gate: Promise<void> | null = new Promise<void>(() => {});
    let open: () => void = () => {};
    gate = new Promise<void>((resolve) => (open = resolve));
    let stalled = true;
    const sink: SignalSink = {
      name: 'slow-sink',
      onEvent(p) {
        onEventCalls++;
        seen.add(`${p.record.partition}/${p.record.offset}`);
      },
      async flush() {
        if (stalled) await gate;
        await sleep(20);
      },
    };

    const config = parseConfig(
      `kafka:
  heartbeat_interval: 300ms
  session_timeout: 10s
  max_wait: 200ms
  max_bytes_per_partition: 32768
  max_bytes: 65536
  lag_refresh_interval: 300ms
  shutdown_timeout: 15s
tracing:
  enabled: false
processing:
  workers: 2
`,
      join(dir, 'paysignal.yaml'),
      { ...serviceEnv(kafka.bootstrapServers, { topic, group, dlq }), KAFKA_FROM_BEGINNING: 'true' },
    );
    service = await startService({ config, logger: createLogger({ level: 'silent' }), sinks: [sink] });
    await service.source.waitUntilReady(30_000);

    const heapBefore = process.memoryUsage().heapUsed;
    // 20,000 events (about 7 MB) in sends of 100, so record batches stay small.
    for (let i = 0; i < TOTAL; i += 100) await kafka.produce(topic, events.slice(i, i + 100).map((e) => e.message));
    const bytes = events.reduce((s, e) => s + Buffer.byteLength(e.message.value as string), 0);
    const maxMessage = Math.max(...events.map((e) => Buffer.byteLength(e.message.value as string)));

    // While stalled: the pipeline got at most what one or two fetch responses carry, the rest waits
    // in Kafka and shows up as lag.
    await waitFor('lag to show the backlog', async () => ((await gaugeSum(service!.registry, 'paysignal_kafka_consumer_lag')) >= TOTAL - 1000 ? true : undefined), 20_000, 100);
    await sleep(2000);
    const stalledCalls = onEventCalls;
    const lag = await gaugeSum(service.registry, 'paysignal_kafka_consumer_lag');
    const heapStalled = process.memoryUsage().heapUsed;
    // One fetch is at most max_bytes (64 KiB) plus one whole record batch per partition (100 messages).
    const bound = Math.ceil(65_536 / 200) + 2 * 100;
    expect(stalledCalls).toBeGreaterThan(0);
    expect(stalledCalls).toBeLessThanOrEqual(bound);
    expect(lag).toBeGreaterThanOrEqual(TOTAL - bound);
    // Heap: nowhere near the 7 MB backlog being pulled in (loose: this process also produced it).
    expect(heapStalled - heapBefore).toBeLessThan(64 * 2 ** 20);
    console.log(
      `backpressure: ${TOTAL} events (${(bytes / 1e6).toFixed(1)} MB, largest ${maxMessage} B) waiting; while the sink stalled the pipeline saw ${stalledCalls} ` +
        `(bound ${bound}), lag ${lag}, heap ${((heapStalled - heapBefore) / 2 ** 20).toFixed(1)} MB over the start`,
    );

    // Recovery: slow (20 ms per flush) but finishing. Every event is processed and committed.
    stalled = false;
    open();
    await waitFor(`all ${TOTAL} events processed (have ${seen.size})`, () => (seen.size >= TOTAL ? true : undefined), 45_000, 100);
    const high = await kafka.highWatermarks(topic);
    await waitFor('everything committed', async () => {
      const committed = await kafka.committedOffsets(group, topic);
      return [...high].every(([p, h]) => committed.get(p) === h) ? true : undefined;
    }, 20_000, 200);
    // Every offset below the high watermarks, on both partitions (TOTAL in all).
    const missing = [...high].flatMap(([p, h]) => Array.from({ length: Number(h) }, (_, o) => `${p}/${o}`)).filter((k) => !seen.has(k));
    expect(missing).toEqual([]);
    expect([...high.values()].reduce((a, b) => a + b, 0n)).toBe(BigInt(TOTAL));
    await waitFor('lag back to 0', async () => ((await gaugeSum(service!.registry, 'paysignal_kafka_consumer_lag')) === 0 ? true : undefined), 10_000, 100);
    expect(onEventCalls).toBeGreaterThanOrEqual(TOTAL);
    console.log(`backpressure: recovered, ${seen.size} distinct events processed (${onEventCalls - TOTAL} processed twice), all committed`);
    await service.stop();
    service = null;
  }, 60_000);
});
