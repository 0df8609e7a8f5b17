// Catching up on a backlog spread over many partitions (issue 12): the service (as `paysignal run`
// builds it) consumes 12 partitions holding 90 minutes of history with a MERCHANT_INACTIVE burst near
// its end, from the beginning. kafkajs hands over one partition's batch at a time, so the partitions
// are consumed far apart in event time; with a watermark per partition no event is late, the burst
// pages in a real Alertmanager, and the engine fires exactly what an engine fed the same events in
// time order (an uninterrupted, live run) fires — in particular no false spike from an undercounted
// baseline.
import { join, resolve } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Partitioners, type Message } from 'kafkajs';
import { createFakeClock } from '../../src/alerting/clock.ts';
import { createAlertEngine, type AlertEngine } from '../../src/alerting/engine/index.ts';
import { loadRules } from '../../src/alerting/loader.ts';
import { toProcessedEvent, type SyntheticEvent } from '../../src/alerting/testing.ts';
import { parseConfig } from '../../src/config/config.ts';
import { createLogger } from '../../src/logging.ts';
import { startService, type RunningService } from '../../src/service/service.ts';
import { startAlertmanager, type RunningAlertmanager } from '../support/alertmanager.ts';
import { EVENT_KINDS, startTestKafka, type TestKafka } from '../support/kafka.ts';
import { waitFor } from '../support/processes.ts';
import { serviceEnv } from '../support/service-env.ts';

const MIN = 60_000;
const PARTITIONS = 12;
const RULES_DIR = resolve('rules');

let kafka: TestKafka;
let dir: string;
const services = new Set<RunningService>();
const alertmanagers = new Set<RunningAlertmanager>();

beforeAll(async () => {
  kafka = await startTestKafka();
  dir = mkdtempSync(join(tmpdir(), 'paysignal-catch-up-'));
});

afterAll(async () => {
  for (const service of services) await service.stop().catch(() => {});
  for (const am of alertmanagers) await am.close().catch(() => {});
  await kafka?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const [MERCHANT_INACTIVE, INVALID_TOTAL, , , KUSTOM_OK] = EVENT_KINDS as [(typeof EVENT_KINDS)[number], (typeof EVENT_KINDS)[number], unknown, unknown, (typeof EVENT_KINDS)[number]];
/** The labels the classifier gives each kind (the catalogs' category and retry). */
const LABELS = new Map([
  [MERCHANT_INACTIVE, { provider: 'kustom', operation: 'create_order', code: 'MERCHANT_INACTIVE', category: 'merchant_config', retry: 'contact_provider' }],
  [INVALID_TOTAL, { provider: 'mercadopago', operation: 'create_order', code: 'invalid_total_amount', category: 'validation', retry: 'fix_and_resubmit' }],
  [KUSTOM_OK, { provider: 'kustom', operation: 'create_order', outcome: 'success' }],
]);

interface HistoryEvent {
  readonly message: Message;
  readonly synthetic: SyntheticEvent;
}

/**
 * 90 minutes up to `end`: per minute 40 Kustom successes, 2 MERCHANT_INACTIVE, 6 Mercado Pago
 * invalid_total_amount (steady: InvalidTotalAmountSpike must stay silent), and a MERCHANT_INACTIVE
 * burst of 30 a minute from 82 to 88 minutes. Keyed by event id, so the partitions fill evenly.
 */
function history(end: number): HistoryEvent[] {
  const start = Math.floor(end / MIN) * MIN - 90 * MIN;
  const out: HistoryEvent[] = [];
  for (let m = 0; m < 90; m++) {
    const mix: [(typeof EVENT_KINDS)[number], number][] = [
      [KUSTOM_OK, 40],
      [MERCHANT_INACTIVE, m >= 82 && m < 88 ? 30 : 2],
      [INVALID_TOTAL, 6],
    ];
    const minute: [(typeof EVENT_KINDS)[number], number][] = [];
    for (const [kind, n] of mix) for (let j = 0; j < n; j++) minute.push([kind, j / n]);
    minute.sort((a, b) => a[1] - b[1]);
    minute.forEach(([kind, at], i) => {
      const ts = start + m * MIN + Math.floor(at * MIN);
      const id = `catch-up-${m}-${i}`;
      out.push({
        message: { key: id, value: JSON.stringify(kind.build(id, ts)) },
        synthetic: { ts, labels: LABELS.get(kind) as SyntheticEvent['labels'], violation: null },
      });
    });
  }
  return out;
}

interface Firing {
  readonly at: number;
  readonly text: string;
}

/** Every evaluation at which an alert fires: rule, evaluation time, labels, value (the window's count), activeAt. */
function firings(engine: AlertEngine): Firing[] {
  const out: Firing[] = [];
  engine.onStep((rule, at, firing) => {
    for (const a of firing) {
      out.push({ at, text: `${rule} @${new Date(at).toISOString()} ${JSON.stringify(a.labels)} value ${a.value} active ${new Date(a.activeAt).toISOString()}` });
    }
  });
  return out;
}

describe('catching up on 12 partitions', () => {
  // The engine is fed ProcessedEvents on the main thread, or signal tuples from a worker thread.
  for (const [where, workers] of [['pipeline on the main thread', '0'], ['pipeline on a worker thread', '1']] as const) {
    it(`counts every event, pages for the burst, and fires exactly what a live run in time order fires (${where})`, async () => {
      const am = await startAlertmanager();
      alertmanagers.add(am);
      const topic = await kafka.createTopic('catch-up', PARTITIONS);
      const dlq = await kafka.createTopic('catch-up-dlq', 1);
      const end = Date.now();
      const events = history(end);
      // One produce request: each partition's history is one message set, so (as with a real
      // cluster's large fetches) kafkajs hands each partition's whole 90 minutes over in one batch.
      const producer = kafka.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
      await producer.connect();
      await producer.send({ topic, messages: events.map((e) => e.message), acks: -1 });
      await producer.disconnect();
      const perPartition = await kafka.highWatermarks(topic);
      expect(perPartition.size).toBe(PARTITIONS);
      for (const high of perPartition.values()) expect(Number(high)).toBeGreaterThan(events.length / PARTITIONS / 2);

      // The uninterrupted run: the same events, in time order, into an engine with the same rules and lateness.
      const { ruleSets, problems } = await loadRules([RULES_DIR]);
      expect(problems).toEqual([]);
      const live = createAlertEngine({ ruleSets, clock: createFakeClock(end), allowedLatenessMs: MIN, idleTimeoutMs: null, tickIntervalMs: 5_000, maxAlertAgeMs: 15 * 60_000 });
      const expected = firings(live);
      for (const e of [...events].sort((a, b) => a.synthetic.ts - b.synthetic.ts)) live.onEvent(toProcessedEvent(e.synthetic));

      const config = parseConfig(
        `kafka:
  heartbeat_interval: 300ms
  session_timeout: 10s
  max_wait: 200ms
  shutdown_timeout: 15s
rules:
  evaluation_interval: 1s
  allowed_lateness: 1m
alertmanager:
  resend_interval: 2s
`,
        join(dir, 'paysignal.yaml'),
        {
          ...serviceEnv(kafka.bootstrapServers, { topic, group: `catch-up-${topic}`, dlq }),
          KAFKA_FROM_BEGINNING: 'true',
          PAYSIGNAL_RULES: RULES_DIR,
          ALERTMANAGER_URL: am.url,
          PAYSIGNAL_WORKERS: workers,
        },
      );
      const service = await startService({ config, logger: createLogger({ level: process.env.PAYSIGNAL_TEST_LOG_LEVEL ?? 'silent' }) });
      services.add(service);
      const engine = service.alerting?.engine as AlertEngine;
      // Attached before the group join (about 3 s) lets any batch through.
      const got = firings(engine);


      await waitFor(
        'every event consumed',
        async () => {
          const committed = await kafka.committedOffsets(`catch-up-${topic}`, topic);
          return [...perPartition].every(([p, high]) => committed.get(p) === high) ? true : undefined;
        },
        60_000,
        200,
      );
      const paged = await waitFor('the MERCHANT_INACTIVE page in Alertmanager', async () => {
        const alerts = await am.alerts();
        return alerts.some((a) => a.labels.alertname === 'MerchantInactiveSpike') ? alerts : undefined;
      });

      expect(engine.stats().lateEvents).toBe(0);
      expect(await service.registry.metrics()).not.toMatch(/paysignal_alert_partition_late_events_total\{[^}]*\} [1-9]/);
      expect(engine.partitions().map((p) => p.partition).sort((a, b) => a - b)).toEqual(Array.from({ length: PARTITIONS }, (_, p) => p));
      // The live run pages for the burst and for nothing else.
      expect([...new Set(expected.map((f) => f.text.split(' ')[0]))]).toEqual(['MerchantInactiveSpike']);
      expect(paged.map((a) => a.labels.alertname)).toEqual(['MerchantInactiveSpike']);
      // The catch-up evaluated the same times over the same windows: the same firings with the same
      // counts, no others (up to where both have evaluated: the live run's watermark is the newest
      // event's, the service's the slowest partition's until partitions go idle).
      const until = Math.min(live.watermark() as number, engine.watermark() as number);
      const upTo = (list: Firing[]): string[] => list.filter((f) => f.at <= until).map((f) => f.text).sort();
      expect(upTo(got).length).toBeGreaterThan(0);
      expect(upTo(got)).toEqual(upTo(expected));
      await service.stop();
      services.delete(service);
      await am.close();
      alertmanagers.delete(am);
    }, 120_000);
  }
});
