// `paysignal demo`: the whole pipeline on this machine. An embedded Kafka-protocol broker, generated
// provider-native traffic with scripted incidents, the real service (`paysignal run`'s wiring) with
// metrics, spans (when OTEL_EXPORTER_OTLP_ENDPOINT is set), the shipped alert rules, and alerts to
// the console and to ALERTMANAGER_URL when set.
//
// Event time runs faster than the wall clock: the run replays `eventSpanMs` of history ending now,
// so rules with 10-minute windows and 1-hour baselines have something to see in two minutes.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Producer } from 'kafkajs';
import { startEmbeddedBroker, type EmbeddedBroker } from '../embedded-broker/index.ts';
import { parseConfig } from '../config/config.ts';
import { createKafkaClient } from '../sources/kafka/client.ts';
import { kafkaClientOptions } from '../service/kafka-options.ts';
import { startService, type RunningService } from '../service/service.ts';
import type { Logger } from '../logging.ts';
import type { AlertSnapshot } from '../alerting/engine/index.ts';
import { createTrafficGenerator, INCIDENTS } from './traffic.ts';
import { alertLine, createDemoTally, renderSummary } from './summary.ts';

export const DEMO_TOPIC = 'payment-calls';
export const DEMO_DLQ_TOPIC = 'payment-calls.dead-letter';
const DEMO_GROUP_ID = 'paysignal-demo';
/** The alert engine's checkpoints; the embedded broker cannot create topics on request, so it starts with it. */
export const DEMO_STATE_TOPIC = `${DEMO_GROUP_ID}.state`;
const RULES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'rules');

export interface DemoOptions {
  readonly durationS: number;
  readonly eventsPerSecond: number;
  /** Event-time history replayed over the run, ending at the wall clock. */
  readonly eventSpanMs: number;
  /**
   * Quiet history before that, sent at once at the start: rules that compare with the past (a new
   * error code is new against a day of history) need it before they speak.
   */
  readonly warmUpMs: number;
  readonly httpHost: string;
  readonly httpPort: number;
  readonly alertmanagerUrl: string | null;
  readonly logger: Logger;
  readonly out: NodeJS.WriteStream;
  /** Redraw the live summary in place with ANSI cursor movement; otherwise print plain frames. */
  readonly ansi: boolean;
  /** Aborts the run early (Ctrl-C); the demo still stops cleanly. */
  readonly signal: AbortSignal;
  readonly seed: number;
}

export interface DemoResult {
  readonly produced: number;
  readonly processed: number;
  readonly invalid: number;
  /** Every alert that fired during the run, by alertname and labels. */
  readonly alertsFired: readonly AlertSnapshot[];
}

// One line in a few hundred is broken on purpose, so the dead-letter path shows up.
const MALFORMED = ['{"timestamp":"2026-11-16T09:00:00Z","provider":"kustom"', 'not json at all', '{"provider":"setel","http":{"status_code":500}}'];

async function produceAll(producer: Producer, messages: { value: string }[]): Promise<void> {
  if (messages.length === 0) return;
  await producer.send({ topic: DEMO_TOPIC, messages });
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const { logger, out } = options;
  const isTty = options.ansi;
  const say = (text: string): void => void out.write(`${text}\n`);

  say('paysignal demo: starting the embedded Kafka-protocol broker (librdkafka mock cluster) ...');
  const broker: EmbeddedBroker = await startEmbeddedBroker({
    brokers: 1,
    topics: [{ name: DEMO_TOPIC, partitions: 3 }, { name: DEMO_DLQ_TOPIC, partitions: 1 }, { name: DEMO_STATE_TOPIC, partitions: 1 }],
  });
  let service: RunningService | null = null;
  let producer: Producer | null = null;
  const fired = new Map<string, AlertSnapshot>();
  const tally = createDemoTally();
  let produced = 0;
  try {
    const yaml = [
      'kafka:',
      `  brokers: [${JSON.stringify(broker.bootstrapServers)}]`,
      `  topics: [${DEMO_TOPIC}]`,
      `  group_id: ${DEMO_GROUP_ID}`,
      `  state_topic: ${DEMO_STATE_TOPIC}`,
      '  from_beginning: true',
      'dead_letter:',
      `  topic: ${DEMO_DLQ_TOPIC}`,
      'http:',
      `  host: ${JSON.stringify(options.httpHost)}`,
      `  port: ${options.httpPort}`,
      'rules:',
      `  dir: ${JSON.stringify(RULES_DIR)}`,
      // The replayed history is hours old by design; alerts from it are still news in a demo.
      `  max_alert_age: ${Math.ceil((options.eventSpanMs + options.warmUpMs) / 3_600_000) + 1}h`,
      ...(options.alertmanagerUrl ? ['alertmanager:', `  url: ${JSON.stringify(options.alertmanagerUrl)}`] : []),
    ].join('\n');
    const env = { ...process.env };
    for (const name of ['KAFKA_BROKERS', 'KAFKA_TOPIC', 'KAFKA_GROUP_ID', 'KAFKA_DLQ_TOPIC', 'KAFKA_STATE_TOPIC', 'PAYSIGNAL_HTTP_HOST', 'PAYSIGNAL_HTTP_PORT', 'PAYSIGNAL_RULES', 'ALERTMANAGER_URL']) delete env[name];
    const config = parseConfig(yaml, null, env);
    service = await startService({ config, logger, sinks: [tally] });
    const metricsUrl = service.http.url;
    say(`paysignal demo: pipeline up; Prometheus metrics at ${metricsUrl}/metrics` +
      (options.alertmanagerUrl ? `; alerts go to ${options.alertmanagerUrl}` : '; alerts print here (set ALERTMANAGER_URL to send them)') +
      (process.env.OTEL_EXPORTER_OTLP_ENDPOINT ? `; spans to ${process.env.OTEL_EXPORTER_OTLP_ENDPOINT}` : ''));
    say('scripted incidents:');
    for (const i of INCIDENTS) say(`  ${Math.round(i.from * 100)}%-${Math.round(i.to * 100)}% of the run  ${i.description}`);
    await service.source.waitUntilReady(60_000);

    const kafka = createKafkaClient(kafkaClientOptions(config, 'paysignal-demo-traffic'), logger.child({ component: 'demo-producer' }));
    producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();

    const generator = createTrafficGenerator(options.seed);
    const durationMs = options.durationS * 1000;
    const warmUpEnd = Date.now() - options.eventSpanMs;
    const warmUp: { value: string }[] = [];
    // One call every 20 s of event time: enough history, quick to send.
    for (let t = warmUpEnd - options.warmUpMs; t < warmUpEnd; t += 20_000) {
      for (const event of generator.next(0, t)) warmUp.push({ value: JSON.stringify(event) });
    }
    for (let i = 0; i < warmUp.length; i += 1000) await produceAll(producer, warmUp.slice(i, i + 1000));
    produced += warmUp.length;
    say(`paysignal demo: sent ${warmUp.length} events of quiet history (${Math.round(options.warmUpMs / 3_600_000)} h), now ${Math.round(options.eventSpanMs / 3_600_000)} h of traffic in ${options.durationS} s`);
    const started = Date.now();
    const eventStart = started - options.eventSpanMs;
    const tickMs = 100;
    let carry = 0;
    let lastRender = 0;
    let renderedLines = 0;
    let lastProcessed = 0;
    let lastRateAt = started;
    let rate = 0;
    const alertsNow = (): AlertSnapshot[] => service?.alerting?.engine.alerts() ?? [];
    const noteAlerts = (): void => {
      for (const a of alertsNow()) {
        if (a.state !== 'firing') continue;
        const key = JSON.stringify(a.labels);
        if (!fired.has(key)) {
          fired.set(key, a);
          if (!isTty) say(`ALERT FIRING ${alertLine(a)}`);
        }
      }
    };
    const render = (now: number): void => {
      const elapsed = now - started;
      if (now - lastRateAt >= 1000) {
        rate = ((tally.processed - lastProcessed) * 1000) / (now - lastRateAt);
        lastProcessed = tally.processed;
        lastRateAt = now;
      }
      const frame = renderSummary({
        elapsedS: elapsed / 1000, durationS: options.durationS, produced, eventsPerSecond: rate,
        eventTime: eventStart + (Math.min(elapsed, durationMs) / durationMs) * options.eventSpanMs,
        tally, alerts: alertsNow(), metricsUrl,
      });
      if (isTty) {
        if (renderedLines > 0) out.write(`\x1b[${renderedLines}F\x1b[J`);
        out.write(`${frame}\n`);
        renderedLines = frame.split('\n').length;
      } else if (now - lastRender >= 10_000) {
        say(`--- ${Math.round(elapsed / 1000)}s\n${frame}`);
        lastRender = now;
      }
    };

    while (!options.signal.aborted) {
      const now = Date.now();
      const elapsed = now - started;
      if (elapsed >= durationMs) break;
      const progress = elapsed / durationMs;
      carry += (options.eventsPerSecond * tickMs) / 1000;
      const n = Math.floor(carry);
      carry -= n;
      const messages: { value: string }[] = [];
      for (let i = 0; i < n; i++) {
        // Spread the tick's events over the event time it stands for.
        const eventTime = Math.round(eventStart + ((elapsed + (i * tickMs) / Math.max(n, 1)) / durationMs) * options.eventSpanMs);
        for (const event of generator.next(progress, eventTime)) messages.push({ value: JSON.stringify(event) });
        if ((produced + messages.length) % 400 === 0) messages.push({ value: MALFORMED[(produced / 400) % MALFORMED.length | 0]! });
      }
      await produceAll(producer, messages);
      produced += messages.length;
      noteAlerts();
      if (isTty ? now - lastRender >= 500 : true) {
        render(now);
        if (isTty) lastRender = now;
      }
      const wait = tickMs - (Date.now() - now);
      if (wait > 0) await sleep(wait);
    }

    // Let the pipeline finish what was produced (bounded), then close the last windows.
    const drainUntil = Date.now() + 30_000;
    while (tally.processed + tally.invalid < produced && Date.now() < drainUntil) {
      await sleep(200);
      noteAlerts();
    }
    service.alerting?.engine.tick();
    noteAlerts();
    render(Date.now());
    return { produced, processed: tally.processed, invalid: tally.invalid, alertsFired: [...fired.values()] };
  } finally {
    await producer?.disconnect().catch(() => undefined);
    await service?.stop().catch((error: unknown) => logger.warn({ err: error }, 'demo: service did not stop cleanly'));
    await broker.stop();
  }
}
