// The processing worker pool on its own (src/pipeline/workers/pool.ts), without Kafka: the whole
// process's CPU per event (main thread and workers) when batches are handed over the way the Kafka
// source hands them with fetch-ahead, and what became of the spans.
//
//   node bench/kafka/pool-spans.ts [--lines N (200000)] [--batch B (1000)] [--in-hand K (64)] [--workers W (1)]
//                            [--budget B (default: the shipped default; 0 = no limit)]
//
// One measurement per process, printed as one JSON line: compare two versions by running this file
// from two trees alternately (A, B, A, B ...) and taking medians. Spans go over OTLP/HTTP to a
// black-hole receiver in another process. A warm-up pass over the first 10% of the records runs
// before the measured pass; the measured pass ends when every batch resolved (processed, replied).
// Span counts are read from the merged /metrics then: `queue_full` drops are final by that time.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseConfig } from '../../src/config/config.ts';
import { createLogger } from '../../src/logging.ts';
import type { DeadLetterSink } from '../../src/pipeline/types.ts';
import { startWorkerPool } from '../../src/pipeline/workers/pool.ts';
import { createMetricsRegistry } from '../../src/sinks/exposition.ts';
import type { SourceRecord } from '../../src/sources/record.ts';
import { DEFAULT_SEED, ensureDataset } from '../classify/generate.ts';
import { startOtlpBlackHole } from '../support/otlp-black-hole.ts';

const { values } = parseArgs({
  options: {
    lines: { type: 'string', default: '200000' },
    batch: { type: 'string', default: '1000' },
    'in-hand': { type: 'string', default: '64' },
    workers: { type: 'string', default: '1' },
    budget: { type: 'string' },
  },
});
const BATCH = Number(values.batch);
const IN_HAND = Number(values['in-hand']);
const NO_DEAD_LETTER: DeadLetterSink = { add() {}, async flush() {} };

const { dataset } = ensureDataset(Number(values.lines), DEFAULT_SEED);
const PARTITIONS = 8;
const records: SourceRecord[] = readFileSync(dataset.file, 'utf8')
  .split('\n')
  .filter((line) => line !== '')
  .map((line, i) => ({ value: Buffer.from(line), source: 'kafka', topic: 'bench-events', partition: Math.floor(i / BATCH) % PARTITIONS, offset: String(i), key: null, headers: {} }));

const blackHole = await startOtlpBlackHole();
process.env.OTEL_EXPORTER_OTLP_ENDPOINT = blackHole.url;
const config = parseConfig(values.budget === undefined ? null : `tracing:\n  max_error_spans_per_second: ${values.budget}\n`, null, {});
const registry = createMetricsRegistry({ defaultMetrics: false });
const pool = await startWorkerPool({ config, workers: Number(values.workers), registry, logger: createLogger({ level: 'warn' }), deadLetter: NO_DEAD_LETTER, engine: null, sinks: [], eventsFile: null });

/** Hands records [from, to) over in batches, keeping at most IN_HAND batches unresolved. */
async function handOver(from: number, to: number): Promise<void> {
  const inHand: Promise<void>[] = [];
  for (let at = from; at < to; at += BATCH) {
    if (inHand.length >= IN_HAND) await inHand.shift();
    inHand.push(pool.handleBatch(records.slice(at, Math.min(to, at + BATCH))));
  }
  await Promise.all(inHand);
}

const sum = async (name: string, labels: Record<string, string> = {}): Promise<number> => {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return 0;
  return (await metric.get()).values.filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)).reduce((s, v) => s + v.value, 0);
};

const warmUp = Math.floor(records.length / 10 / BATCH) * BATCH;
await handOver(0, warmUp);
const queueFullBefore = await sum('paysignal_spans_dropped_total', { reason: 'queue_full' });
const exportedBefore = await sum('paysignal_spans_exported_total');
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await handOver(warmUp, records.length);
const wallMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const events = records.length - warmUp;
const result = {
  events,
  batch: BATCH,
  workers: pool.size,
  cpuUsPerEvent: (cpu.user + cpu.system) / events,
  wallMs: Math.round(wallMs),
  spansExported: (await sum('paysignal_spans_exported_total')) - exportedBefore,
  spansDroppedQueueFull: (await sum('paysignal_spans_dropped_total', { reason: 'queue_full' })) - queueFullBefore,
  spansDroppedBudget: await sum('paysignal_spans_dropped_total', { reason: 'budget' }),
};
await pool.close();
await blackHole.close();
process.stdout.write(`${JSON.stringify(result)}\n`);
