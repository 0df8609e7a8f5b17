// The processing worker pool (src/pipeline/workers/pool.ts) with real workers, without Kafka: batches
// are handed to it the way the Kafka source hands them. And the same records on one thread, the
// reference its merged /metrics must equal.
import { expect } from 'vitest';
import { createClassifier } from '../../src/classify/classifier.ts';
import { parseConfig, type PaysignalConfig } from '../../src/config/config.ts';
import { createDecoder } from '../../src/events/decode.ts';
import { loadMapping } from '../../src/events/mapping.ts';
import { createLogger } from '../../src/logging.ts';
import { signalsFromConfig } from '../../src/pipeline/from-config.ts';
import { createPipeline } from '../../src/pipeline/pipeline.ts';
import type { DeadLetterSink } from '../../src/pipeline/types.ts';
import { startWorkerPool, type WorkerPool, type WorkerPoolOptions } from '../../src/pipeline/workers/pool.ts';
import { eventLine, invalidLine } from '../../src/sinks/events-file.ts';
import { createMetricsRegistry } from '../../src/sinks/exposition.ts';
import type { SourceRecord } from '../../src/sources/record.ts';

const NO_DEAD_LETTER: DeadLetterSink = { add() {}, async flush() {} };

/** The configuration of these tests: `yaml` added, spans off (no collector). */
export function poolConfig(yaml = ''): PaysignalConfig {
  return parseConfig(`tracing:\n  enabled: false\n${yaml}`, null, {});
}

export async function startTestPool(
  config: PaysignalConfig,
  workers: number,
  options: Partial<Pick<WorkerPoolOptions, 'baseRefreshMs' | 'deadLetter' | 'eventsFile'>> = {},
) {
  const registry = createMetricsRegistry({ defaultMetrics: false });
  const pool: WorkerPool = await startWorkerPool({
    deadLetter: NO_DEAD_LETTER,
    eventsFile: null,
    ...options,
    config,
    workers,
    registry,
    logger: createLogger({ level: process.env.PAYSIGNAL_TEST_LOG_LEVEL ?? 'silent' }),
    engine: null,
    sinks: [],
  });
  return { pool, registry };
}

/** A dead letter that keeps `partition/offset reason` of each record it is given, in order. */
export function recordingDeadLetter(): DeadLetterSink & { readonly records: string[] } {
  const records: string[] = [];
  return { records, add: (record, rejection) => void records.push(`${record.partition}/${record.offset} ${rejection.reason}`), flush: async () => {} };
}

/**
 * The same records processed on one thread, in this order: `/metrics`, the events-file line of each
 * record (eventLine or invalidLine) and what went to the dead letter (`recordingDeadLetter`).
 */
export async function inThread(config: PaysignalConfig, records: readonly SourceRecord[]) {
  const [classifier, mapping] = await Promise.all([createClassifier(), loadMapping(config.input.mapping)]);
  const decoder = createDecoder({ maxBytes: config.input.max_event_bytes, mapping, idHeaders: classifier.idHeaders });
  const registry = createMetricsRegistry({ defaultMetrics: false });
  const signals = signalsFromConfig(config, classifier, registry);
  const deadLetter = recordingDeadLetter();
  const pipeline = createPipeline({ decoder, classifier, tracker: signals.tracker, sinks: signals.sinks, deadLetter });
  let lines = '';
  for (const record of records) {
    const outcome = pipeline.processRecord(record);
    lines += outcome.ok ? eventLine(outcome.processed) : invalidLine(record, outcome.rejection);
  }
  await pipeline.flush();
  await signals.close();
  return { metrics: await registry.metrics(), lines, deadLettered: deadLetter.records };
}

/** `/metrics` of the same records processed on one thread, in this order. */
export async function inThreadMetrics(config: PaysignalConfig, records: readonly SourceRecord[]): Promise<string> {
  return (await inThread(config, records)).metrics;
}

/** Records of one partition, offset from `firstOffset`, with these values as they are (a string as its UTF-8 bytes, null a tombstone). */
export function valueRecords(topic: string, partition: number, values: readonly (Buffer | string | null)[], firstOffset = 0): SourceRecord[] {
  return values.map((value, i) => ({
    value: typeof value === 'string' ? Buffer.from(value) : value,
    source: 'kafka',
    topic,
    partition,
    offset: String(firstOffset + i),
    key: null,
    headers: {},
  }));
}

/** Records of one partition, offset from `firstOffset`, whose values are these events. */
export function partitionRecords(topic: string, partition: number, events: readonly Record<string, unknown>[], firstOffset = 0): SourceRecord[] {
  return valueRecords(topic, partition, events.map((event) => JSON.stringify(event)), firstOffset);
}

/** Series lines of a Prometheus text exposition: `name{labels sorted}` -> value. */
export function exposedSeries(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`not an exposition line: ${line}`);
    const [, name, labels = '', value] = match;
    const sorted = labels === '' ? '' : labels.match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g)!.sort().join(',');
    out.set(`${name}{${sorted}}`, Number(value));
  }
  return out;
}

/** The same series with the same values; histogram sums may differ in the last bits (addition order). */
export function expectSameSeries(actual: ReadonlyMap<string, number>, expected: ReadonlyMap<string, number>): void {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [key, value] of expected) expect(actual.get(key), key).toBeCloseTo(value, 9);
}
