// CPU per event of `paysignal run` with processing workers, without Kafka (issue 13): the worker pool
// (src/pipeline/workers/pool.ts) with real workers, the shipped rules' alert engine on the main
// thread, spans (shipped sampling) exported over OTLP/HTTP to a black hole in another process.
//
//   node bench/kafka/pool.ts [--lines N (200000)] [--workers W (1)] [--batch B (62)] [--in-flight F (8)]
//
// The classify benchmark's lines become records of 32 partitions, handed to the pool B at a time
// (the size kafkajs handed over in the Kafka runs) with up to F batches in hand, as the Kafka
// source's fetch-ahead does. The first tenth warms up (worker start, JIT, series); the rest is
// measured: process CPU (main thread, workers and V8's helper threads), the main thread's own and
// the workers' own (Worker#cpuUsage), per event. Prints one JSON line.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfig } from '../../src/config/config.ts';
import { createLogger } from '../../src/logging.ts';
import { startAlertingFromConfig } from '../../src/pipeline/from-config.ts';
import type { DeadLetterSink } from '../../src/pipeline/types.ts';
import { startWorkerPool } from '../../src/pipeline/workers/pool.ts';
import { createMetricsRegistry } from '../../src/sinks/exposition.ts';
import type { SourceRecord } from '../../src/sources/record.ts';
import { startOtlpBlackHole } from '../support/otlp-black-hole.ts';
import { DEFAULT_SEED, ensureDataset, readDatasetLines, ROOT } from '../classify/generate.ts';

const { values } = parseArgs({
  options: {
    lines: { type: 'string', default: '200000' },
    workers: { type: 'string', default: '1' },
    batch: { type: 'string', default: '62' },
    'in-flight': { type: 'string', default: '8' },
  },
});
const PARTITIONS = 32;
const { dataset } = ensureDataset(Number(values.lines), DEFAULT_SEED);
const batchSize = Number(values.batch);
const batches: SourceRecord[][] = [];
const nextOffset = new Array<number>(PARTITIONS).fill(0);
// Values are slices of the file's bytes (outside the V8 heap, like kafkajs's fetch buffers).
const lines = readDatasetLines(dataset.file);
for (let from = 0; from < lines.length; from += batchSize) {
  const partition = batches.length % PARTITIONS;
  batches.push(
    lines.slice(from, from + batchSize).map((value) => ({ value, source: 'kafka', topic: 'bench', partition, offset: String(nextOffset[partition]!++), key: null, headers: {} })),
  );
}
const otlp = await startOtlpBlackHole();
process.env.OTEL_EXPORTER_OTLP_ENDPOINT = otlp.url;
const config = parseConfig(`processing:\n  workers: ${values.workers}\n`, 'bench.yaml', { KAFKA_BROKERS: '127.0.0.1:9', KAFKA_TOPIC: 'bench' });
const registry = createMetricsRegistry();
const alerting = await startAlertingFromConfig({ ...config, rules: { ...config.rules, dir: join(ROOT, 'rules') } }, registry, undefined, {
  alertmanager: { ...config.alertmanager, url: null },
  watch: false,
  reloadSignal: null,
});
const deadLetter: DeadLetterSink = { add() {}, async flush() {} };
const pool = await startWorkerPool({ config, workers: Number(values.workers), registry, logger: createLogger({ level: 'warn' }), deadLetter, engine: alerting?.engine ?? null, sinks: [], eventsFile: null });

const threadUs = (): number => {
  const u = process.threadCpuUsage();
  return u.user + u.system;
};
const workersUs = async (): Promise<number> => {
  let us = 0;
  for (let w = 0; w < pool.size; w++) {
    const u = await pool.worker(w).cpuUsage();
    us += u.user + u.system;
  }
  return us;
};
const warmup = Math.floor(batches.length / 10);
const inFlight = new Set<Promise<void>>();
let process0 = process.cpuUsage();
let thread0 = threadUs();
let workers0 = 0;
let measured = 0;
for (let b = 0; b < batches.length; b++) {
  if (b === warmup) {
    await Promise.all(inFlight);
    process0 = process.cpuUsage();
    thread0 = threadUs();
    workers0 = await workersUs();
  }
  if (b >= warmup) measured += batches[b]!.length;
  const done = pool.handleBatch(batches[b]!);
  inFlight.add(done);
  void done.then(() => inFlight.delete(done));
  if (inFlight.size >= Number(values['in-flight'])) await Promise.race(inFlight);
}
await Promise.all(inFlight);
const cpu = process.cpuUsage(process0);
const main = threadUs() - thread0;
const inWorkers = (await workersUs()) - workers0;
await pool.close();
await alerting?.close();
await otlp.close();
process.stdout.write(`${JSON.stringify({ events: measured, workers: Number(values.workers), processCpuUsPerEvent: (cpu.user + cpu.system) / measured, mainThreadCpuUsPerEvent: main / measured, workerThreadsCpuUsPerEvent: inWorkers / measured })}\n`);
process.exit(0);
