// Alert-latency benchmark (issue 8): time from the first event of an injected spike (the moment the
// bench hands it to the Kafka producer) to the alert being visible in a real Alertmanager's API.
//
//   node bench/alert-latency/run.ts [--trials 30] [--json FILE]
//
// Setup, all on loopback: the embedded broker (one topic, 2 partitions); a real Alertmanager (Debian
// prometheus-alertmanager, test/support/alertmanager.ts); `paysignal run`'s service (startService,
// in this process) with the bench rule file bench/alert-latency/rules/latency.yaml (threshold: more
// than 20 Kustom MERCHANT_INACTIVE in a 5 s window, rule interval 1 s, for 0 s), evaluation_interval
// 1 s (the engine's wall-clock tick that sends), allowed_lateness 1 s, ALERTMANAGER_URL set, Kafka
// settings at their defaults (max_wait 1 s), spans off.
//
// Background traffic: 200 Kustom successes per second (event time = wall time), so the watermark
// advances as in production. Each trial produces 30 MERCHANT_INACTIVE events at once with their own
// operation name (so each trial is a new alert), then polls GET /api/v2/alerts every 20 ms until
// the alert for that operation is there. Bound printed: window + one evaluation interval (6 s).
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Kafka, logLevel, Partitioners, type Message } from 'kafkajs';
import { startService } from '../../src/service/service.ts';
import { parseConfig } from '../../src/config/config.ts';
import { startEmbeddedBroker } from '../../src/embedded-broker/index.ts';
import { createLogger } from '../../src/logging.ts';
import { suppressKafkajsTimeoutNegativeWarning } from '../../src/sources/kafka/warnings.ts';
import { startAlertmanager } from '../../test/support/alertmanager.ts';
import { ROOT } from '../classify/generate.ts';

suppressKafkajsTimeoutNegativeWarning();
const { values } = parseArgs({ options: { trials: { type: 'string', default: '30' }, json: { type: 'string' } } });
const TRIALS = Number(values.trials);
const WINDOW_MS = 5000;
const EVALUATION_INTERVAL_MS = 1000;
const RULE_INTERVAL_MS = 1000;
const ALLOWED_LATENESS_MS = 1000;
const SPIKE = 30;
const log = (s: string): void => void process.stderr.write(`${s}\n`);

// The state topic too: the alert engine checkpoints there, and the embedded broker creates topics only on request.
const broker = await startEmbeddedBroker({ topics: [{ name: 'latency', partitions: 2 }, { name: 'latency-dlq', partitions: 1 }, { name: 'bench-latency.state', partitions: 1 }] });
const am = await startAlertmanager();
const config = parseConfig(
  `rules:\n  evaluation_interval: 1s\n  allowed_lateness: 1s\ntracing:\n  enabled: false\nkafka:\n  from_beginning: false\n`,
  join(ROOT, 'bench', 'alert-latency', 'paysignal.yaml'),
  {
    KAFKA_BROKERS: broker.bootstrapServers,
    KAFKA_TOPIC: 'latency',
    KAFKA_GROUP_ID: 'bench-latency',
    KAFKA_DLQ_TOPIC: 'latency-dlq',
    PAYSIGNAL_RULES: join(ROOT, 'bench', 'alert-latency', 'rules'),
    ALERTMANAGER_URL: am.url,
    PAYSIGNAL_HTTP_HOST: '127.0.0.1',
    PAYSIGNAL_HTTP_PORT: '0',
  },
);
const service = await startService({ config, logger: createLogger({ level: 'warn' }) });
await service.source.waitUntilReady(60_000);

const kafka = new Kafka({ brokers: [...broker.brokers], clientId: 'bench-latency-producer', logLevel: logLevel.NOTHING });
const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
await producer.connect();

let seq = 0;
const event = (operation: string, status: number, body: unknown): Message => {
  const id = `lat-${seq++}`;
  return {
    key: id,
    value: JSON.stringify({
      timestamp: Date.now(),
      provider: 'kustom',
      operation,
      http: { method: 'POST', route: '/payments/v1/sessions', status_code: status, duration_ms: 50 },
      ...(body === undefined ? {} : { response: { body } }),
      correlation_id: id,
    }),
  };
};

// Background traffic: 10 successes every 50 ms.
let background = true;
const backgroundDone = (async () => {
  while (background) {
    await producer.send({ topic: 'latency', messages: Array.from({ length: 10 }, () => event('create_order', 200, undefined)) });
    await sleep(50);
  }
})();
await sleep(3000); // watermark established, engine running

const latencies: number[] = [];
for (let trial = 0; trial < TRIALS; trial++) {
  const operation = `latency_trial_${trial}`;
  const spike = Array.from({ length: SPIKE }, () => event(operation, 403, { error_code: 'MERCHANT_INACTIVE', error_messages: ['Merchant is inactive'] }));
  const t0 = performance.now();
  await producer.send({ topic: 'latency', messages: spike });
  let seenAt: number | null = null;
  while (performance.now() - t0 < 30_000) {
    const alerts = await am.alerts();
    if (alerts.some((a) => a.labels.alertname === 'BenchMerchantInactiveSpike' && a.labels.operation === operation)) {
      seenAt = performance.now();
      break;
    }
    await sleep(20);
  }
  if (seenAt === null) throw new Error(`trial ${trial}: no alert within 30 s`);
  latencies.push(seenAt - t0);
  log(`trial ${String(trial + 1).padStart(2)}: ${(seenAt - t0).toFixed(0)} ms`);
  await sleep(300 + Math.random() * 1000); // decorrelate from the 1 s grid and tick
}
background = false;
await backgroundDone;

const sorted = [...latencies].sort((a, b) => a - b);
const q = (p: number): number => {
  const i = (sorted.length - 1) * p;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (i - lo);
};
const bound = WINDOW_MS + EVALUATION_INTERVAL_MS;
const p50 = q(0.5);
const p99 = q(0.99);
process.stdout.write(
  `alert latency over ${TRIALS} trials (first spike event produced -> alert in Alertmanager's API):\n` +
    `  p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms, min ${sorted[0]!.toFixed(0)} ms, max ${sorted[sorted.length - 1]!.toFixed(0)} ms\n` +
    `  bound: window ${WINDOW_MS} ms + evaluation interval ${EVALUATION_INTERVAL_MS} ms = ${bound} ms; ` +
    `p50 ${(p50 / bound).toFixed(2)}x, p99 ${(p99 / bound).toFixed(2)}x of it (${p99 <= bound ? 'within' : 'OVER'})\n` +
    `  (rule interval ${RULE_INTERVAL_MS} ms, allowed lateness ${ALLOWED_LATENESS_MS} ms, Kafka max_wait 1 s, Alertmanager polled every 20 ms)\n`,
);
if (values.json) {
  writeFileSync(values.json, JSON.stringify({
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, memGiB: totalmem() / 2 ** 30, node: process.version },
    trials: TRIALS, windowMs: WINDOW_MS, evaluationIntervalMs: EVALUATION_INTERVAL_MS, ruleIntervalMs: RULE_INTERVAL_MS, allowedLatenessMs: ALLOWED_LATENESS_MS,
    p50, p99, boundMs: bound, latencies,
  }, null, 2) + '\n');
}
await producer.disconnect();
await service.stop();
await am.close();
await broker.stop();
process.exit(0);
