// One measured consumer of the Kafka benchmark (bench/kafka/run.ts starts it as a child process):
//
//   node bench/kafka/consumer.ts --mode noop|paysignal --brokers B --topic T --group G --expect N
//        [--concurrency C] [--rules DIR] [--dlq TOPIC] [--workers N|auto] [--span-budget N]
//        [--state-topic TOPIC] [--durable-state true|false]
//
// - `noop`: a kafkajs consumer with an eachBatch that only resolves offsets (kafkajs auto-commit).
// - `paysignal`: `startService` of `paysignal run` (src/cli/commands/run.ts) with the rules in --rules,
//   sampled spans exported over OTLP to OTEL_EXPORTER_OTLP_ENDPOINT (the parent's black-hole receiver),
//   the dead-letter topic, /metrics on a free port; one extra sink counts processed events.
//   --workers sets processing.workers (0: everything on the main thread); --span-budget sets
//   tracing.max_error_spans_per_second (absent: the default).
//
// Both use the same fetch settings (paysignal's defaults: 1 MB per partition, 10 MB per fetch, 1 s
// max wait). --concurrency is the no-op's partitionsConsumedConcurrently; paysignal keeps its
// shipped kafka.partitions_consumed_concurrently (two per processing worker, one without). The
// clock starts at the first batch (the group join is not measured) and stops when N events were
// handled. Prints one JSON line.
import { parseArgs } from 'node:util';
import { Kafka, logLevel, type EachBatchPayload } from 'kafkajs';
import type { SignalSink } from '../../src/pipeline/types.ts';
import { suppressKafkajsTimeoutNegativeWarning } from '../../src/sources/kafka/warnings.ts';
import { threadCpuMs, threadCpuSince } from './thread-cpu.ts';

suppressKafkajsTimeoutNegativeWarning();

const { values } = parseArgs({
  options: {
    mode: { type: 'string' },
    brokers: { type: 'string' },
    topic: { type: 'string' },
    group: { type: 'string' },
    expect: { type: 'string' },
    concurrency: { type: 'string', default: '1' },
    rules: { type: 'string' },
    dlq: { type: 'string' },
    workers: { type: 'string', default: 'auto' },
    'span-budget': { type: 'string' },
    'state-topic': { type: 'string' },
    'durable-state': { type: 'string', default: 'true' },
    // paysignal from the compiled package (dist/, `npm run build` first), main thread and workers, as the image runs it.
    compiled: { type: 'boolean', default: false },
  },
});
type ServiceModules = [typeof import('../../src/service/service.ts'), typeof import('../../src/config/config.ts'), typeof import('../../src/logging.ts')];
const from = (path: string): string => new URL(values.compiled ? `../../dist/${path}.js` : `../../src/${path}.ts`, import.meta.url).href;
const [{ startService }, { parseConfig }, { createLogger }] = (await Promise.all([import(from('service/service')), import(from('config/config')), import(from('logging'))])) as ServiceModules;
const mode = values.mode;
const brokers = values.brokers!;
const topic = values.topic!;
const group = values.group!;
const expected = Number(values.expect);
const concurrency = Number(values.concurrency);

let firstAt = 0;
let count = 0;
let resolveDone: (ms: number) => void = () => {};
const done = new Promise<number>((resolve) => (resolveDone = resolve));
const cpuAtStart = { value: process.cpuUsage() };
let threadsAtStart = threadCpuMs();

function seen(n: number): void {
  if (count === 0) {
    firstAt = performance.now();
    cpuAtStart.value = process.cpuUsage();
    threadsAtStart = threadCpuMs();
  }
  count += n;
  if (count >= expected) resolveDone(performance.now() - firstAt);
}

function report(ms: number, extra: Record<string, unknown>): void {
  const cpu = process.cpuUsage(cpuAtStart.value);
  const threadsMs = threadCpuSince(threadsAtStart, threadCpuMs());
  process.stdout.write(
    JSON.stringify({ mode, events: count, ms, eventsPerSec: (count / ms) * 1000, cpuMs: (cpu.user + cpu.system) / 1000, threadsMs, rssMb: process.memoryUsage().rss / 1e6, ...extra }) + '\n',
  );
}

if (mode === 'noop') {
  const kafka = new Kafka({ brokers: brokers.split(','), clientId: 'bench-noop', logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: group, maxBytesPerPartition: 1_048_576, maxBytes: 10_485_760, maxWaitTimeInMs: 1000, sessionTimeout: 30_000, heartbeatInterval: 3000 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: concurrency,
    eachBatch: async ({ batch, resolveOffset }: EachBatchPayload) => {
      if (batch.isEmpty()) return;
      resolveOffset(batch.lastOffset());
      seen(batch.messages.length);
    },
  });
  const ms = await done;
  report(ms, {});
  await consumer.disconnect();
} else if (mode === 'paysignal') {
  const counter: SignalSink = {
    name: 'bench-counter',
    onEvent() {
      seen(1);
    },
    onInvalid() {
      seen(1);
    },
  };
  const config = parseConfig(
    `kafka:\n  from_beginning: true\n  lag_refresh_interval: 15s\n` +
      `processing:\n  workers: ${values.workers}\n` +
      `rules:\n  durable_state: ${values['durable-state'] === 'true'}\n` +
      (values['span-budget'] === undefined ? '' : `tracing:\n  max_error_spans_per_second: ${values['span-budget']}\n`),
    'bench-kafka.yaml',
    {
      KAFKA_BROKERS: brokers,
      KAFKA_TOPIC: topic,
      KAFKA_GROUP_ID: group,
      KAFKA_DLQ_TOPIC: values.dlq ?? `${topic}-dlq`,
      PAYSIGNAL_RULES: values.rules!,
      ...(values['state-topic'] === undefined ? {} : { KAFKA_STATE_TOPIC: values['state-topic'] }),
      PAYSIGNAL_HTTP_HOST: '127.0.0.1',
      PAYSIGNAL_HTTP_PORT: '0',
    },
  );
  const logger = createLogger({ level: 'warn' });
  const service = await startService({ config, logger, sinks: [counter] });
  const ms = await done;
  // From /metrics, so it reads the same with and without workers (spans still queued are not counted yet).
  const spans = async (name: string): Promise<number> => {
    const metric = service.registry.getSingleMetric(name);
    return metric === undefined ? 0 : (await metric.get()).values.reduce((sum, v) => sum + v.value, 0);
  };
  const sample = async (name: string, labels: Record<string, string> = {}, suffix = ''): Promise<number> => {
    const metric = service.registry.getSingleMetric(name);
    if (metric === undefined) return 0;
    const { values: samples } = await metric.get();
    const match = samples.find((v) => ((v as { metricName?: string }).metricName ?? name) === `${name}${suffix}` && Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want));
    return match?.value ?? 0;
  };
  const checkpointSeconds = await sample('paysignal_alert_state_checkpoint_duration_seconds', {}, '_sum');
  const checkpointCount = await sample('paysignal_alert_state_checkpoint_duration_seconds', {}, '_count');
  report(ms, {
    workers: service.workers,
    spansExported: await spans('paysignal_spans_exported_total'),
    spansDropped: await spans('paysignal_spans_dropped_total'),
    checkpoints: {
      saved: await sample('paysignal_alert_state_checkpoints_total', { result: 'saved' }),
      failed: await sample('paysignal_alert_state_checkpoints_total', { result: 'failed' }),
      meanMs: checkpointCount === 0 ? 0 : (checkpointSeconds / checkpointCount) * 1000,
      lastBytes: await sample('paysignal_alert_state_bytes'),
    },
  });
  await service.stop();
  setTimeout(() => process.exit(0), 3000).unref();
} else {
  process.stderr.write('--mode noop|paysignal\n');
  process.exit(2);
}
