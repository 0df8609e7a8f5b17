// A batch the Kafka source delivers again because a sink's flush failed (so it was not committed)
// reaches the alert engine twice; the engine counts it once. The service (as `paysignal run` builds
// it, durable state on) consumes a burst of refusals through a sink whose first flush fails, and its
// engine ends with exactly the windows, alerts and offsets of a run without the failure: the burst
// fires the rule it crosses, not the one only a double count would cross. The retried records are
// counted in paysignal_alert_events_already_in_state_total; the other sinks saw them twice.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Message } from 'kafkajs';
import type { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertEngine } from '../../src/alerting/engine/index.ts';
import { parseConfig } from '../../src/config/config.ts';
import { createLogger } from '../../src/logging.ts';
import type { SignalSink } from '../../src/pipeline/types.ts';
import { startService, type RunningService } from '../../src/service/service.ts';
import { EVENT_KINDS, startTestKafka, type TestKafka } from '../support/kafka.ts';
import { waitFor } from '../support/processes.ts';
import { serviceEnv } from '../support/service-env.ts';

const MIN = 60_000;
const [MERCHANT_INACTIVE, , , , KUSTOM_OK] = EVENT_KINDS as [(typeof EVENT_KINDS)[number], unknown, unknown, unknown, (typeof EVENT_KINDS)[number]];

// 30 refusals in a window: InactiveBurst (> 20) fires; InactiveFlood (> 45) fires only on a double count.
const RULES = `
apiVersion: paysignal/v1
kind: RuleSet
metadata: { name: retried-batch }
interval: 1m
rules:
  - name: InactiveBurst
    kind: threshold
    selector: { code: MERCHANT_INACTIVE }
    group_by: [provider, code]
    window: 5m
    threshold: { op: '>', value: 20 }
  - name: InactiveFlood
    kind: threshold
    selector: { code: MERCHANT_INACTIVE }
    group_by: [provider, code]
    window: 5m
    threshold: { op: '>', value: 45 }
`;

let kafka: TestKafka;
let dir: string;
const services = new Set<RunningService>();

beforeAll(async () => {
  kafka = await startTestKafka();
  dir = mkdtempSync(join(tmpdir(), 'paysignal-retried-batch-'));
  writeFileSync(join(dir, 'rules.yaml'), RULES);
});

afterAll(async () => {
  for (const service of services) await service.stop().catch(() => {});
  await kafka?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** 30 refusals over half a minute, then successes 3 minutes later that move the watermark past the burst's evaluation. */
function burst(base: number, prefix: string): Message[] {
  const refusals = Array.from({ length: 30 }, (_, i) => ({ key: `${prefix}-r${i}`, value: JSON.stringify(MERCHANT_INACTIVE.build(`${prefix}-r${i}`, base + i * 1000)) }));
  const later = Array.from({ length: 10 }, (_, i) => ({ key: `${prefix}-s${i}`, value: JSON.stringify(KUSTOM_OK.build(`${prefix}-s${i}`, base + 3 * MIN + i * 1000)) }));
  return [...refusals, ...later];
}

/** A sink that sees every event and fails its first flush `failures` times, so the batch is not committed and comes again. */
function flakySink(failures: number): SignalSink & { events: number; failed: number; eventsAtFirstFailure: number | null } {
  const sink = {
    name: 'flaky',
    events: 0,
    failed: 0,
    eventsAtFirstFailure: null as number | null,
    onEvent(): void {
      sink.events++;
    },
    async flush(): Promise<void> {
      if (sink.failed >= failures) return;
      sink.failed++;
      sink.eventsAtFirstFailure ??= sink.events;
      throw new Error('flaky sink: delivery failed');
    },
  };
  return sink;
}

async function counter(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = await registry.getSingleMetric(name)?.get();
  return metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value ?? 0;
}

interface Run {
  readonly service: RunningService;
  readonly engine: AlertEngine;
  readonly sink: ReturnType<typeof flakySink>;
}

/** The service on `topic` with the flaky sink, until every record is committed. */
async function consume(topic: string, name: string, failures: number, workers: string, total: number): Promise<Run> {
  const group = `${name}-${topic}`;
  const config = parseConfig(
    `kafka:
  heartbeat_interval: 300ms
  max_wait: 200ms
  backoff: { initial: 100ms, max: 500ms }
rules:
  allowed_lateness: 1s
  checkpoint_interval: 200ms
`,
    join(dir, 'paysignal.yaml'),
    {
      ...serviceEnv(kafka.bootstrapServers, { topic, group, dlq: `${topic}.dlq` }),
      KAFKA_FROM_BEGINNING: 'true',
      PAYSIGNAL_RULES: dir,
      PAYSIGNAL_WORKERS: workers,
    },
  );
  const sink = flakySink(failures);
  const service = await startService({ config, logger: createLogger({ level: process.env.PAYSIGNAL_TEST_LOG_LEVEL ?? 'silent' }), sinks: [sink] });
  services.add(service);
  await waitFor('every record committed', async () => (((await kafka.committedOffsets(group, topic)).get(0) ?? -1n) === BigInt(total) ? true : undefined), 60_000, 100);
  return { service, engine: service.alerting?.engine as AlertEngine, sink };
}

async function stop(run: Run): Promise<void> {
  await run.service.stop();
  services.delete(run.service);
}

describe('a batch retried after a failed sink flush', () => {
  for (const [where, workers] of [['pipeline on the main thread', '0'], ['pipeline on a worker thread', '1']] as const) {
    it(`is counted once by the alert engine: windows, alerts and offsets as without the failure (${where})`, async () => {
      const base = Math.floor(Date.now() / MIN) * MIN - 10 * MIN;
      const messages = burst(base, `retry-${workers}`);
      // One partition, one produce request: the whole burst is one batch.
      const topic = await kafka.createTopic(`retried-${workers}`, 1);
      await kafka.produce(topic, messages);

      const clean = await consume(topic, 'clean', 0, workers, messages.length);
      const retried = await consume(topic, 'retried', 1, workers, messages.length);

      // The failure happened, held the commit, and the batch came again.
      expect(retried.sink.failed).toBe(1);
      const firstBatch = retried.sink.eventsAtFirstFailure as number;
      expect(firstBatch).toBeGreaterThan(0);
      expect(await counter(retried.service.registry, 'paysignal_kafka_errors_total', { kind: 'handler' })).toBeGreaterThanOrEqual(1);
      expect(retried.sink.events).toBe(messages.length + firstBatch); // the other sinks: at least once
      // The engine: exactly once.
      expect(retried.engine.stats().alreadyInState).toBe(firstBatch);
      expect(await counter(retried.service.registry, 'paysignal_alert_events_already_in_state_total')).toBe(firstBatch);
      expect(clean.sink.events).toBe(messages.length);
      expect(clean.engine.stats().alreadyInState).toBe(0);

      expect(retried.engine.snapshot().rules).toEqual(clean.engine.snapshot().rules);
      expect(retried.engine.partitions()).toEqual(clean.engine.partitions());
      expect(retried.engine.partitions()).toMatchObject([{ topic, partition: 0, nextOffset: messages.length }]);
      const alerts = retried.engine.alerts(true);
      expect(alerts).toEqual(clean.engine.alerts(true));
      expect(alerts.map((a) => [a.labels.alertname, a.state, a.value])).toEqual([['InactiveBurst', 'firing', 30]]);
      await stop(clean);
      await stop(retried);
    }, 120_000);
  }
});
