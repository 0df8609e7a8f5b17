// What the memory benchmark feeds: `paysignal run`'s processing as startService builds it, either on
// the main thread (`--workers 0`) or on the worker pool with fetch-ahead (`--workers N`, N >= 1), the
// way the Kafka source hands batches over (src/sources/kafka/source.ts handOver), within the
// service's fetch-ahead bound (src/service/fetch-ahead.ts).
import { join } from 'node:path';
import { getHeapStatistics, type HeapInfo } from 'node:v8';
import type { Registry } from 'prom-client';
import type { Alerting } from '../../src/alerting/index.ts';
import { createClassifier } from '../../src/classify/classifier.ts';
import type { PaysignalConfig } from '../../src/config/config.ts';
import { createDecoder } from '../../src/events/decode.ts';
import { loadMapping } from '../../src/events/mapping.ts';
import { createLogger } from '../../src/logging.ts';
import { signalsFromConfig, startAlertingFromConfig } from '../../src/pipeline/from-config.ts';
import { createPipeline } from '../../src/pipeline/pipeline.ts';
import type { DeadLetterSink } from '../../src/pipeline/types.ts';
import { fetchAheadBound } from '../../src/service/fetch-ahead.ts';
import { createExposition, createMetricsRegistry } from '../../src/sinks/exposition.ts';
import type { TraceSinkStats } from '../../src/sinks/traces.ts';
import { InFlightBatches } from '../../src/sources/kafka/in-flight.ts';
import type { SourceRecord } from '../../src/sources/record.ts';
import { ROOT } from '../classify/generate.ts';

/** One isolate's heap (v8.getHeapStatistics in that thread), in MB. */
export interface ThreadHeap {
  readonly thread: string;
  readonly usedMb: number;
  /** Heap V8 has reserved from the system (total_heap_size): what of the heap counts in RSS. */
  readonly committedMb: number;
  readonly limitMb: number;
  readonly externalMb: number;
}

export interface MemoryTarget {
  readonly workers: number;
  /** Hands a batch over; resolves when the next one may be handed over. */
  handOver(records: SourceRecord[]): Promise<void>;
  /** Events processed so far (without workers: handed over). */
  processed(): number;
  /** Batches whose processing failed (a worker that died); the target is 0. */
  failedBatches(): number;
  /** Renders /metrics (with workers: collects every worker's metrics, as a scrape does). */
  scrape(openMetrics: boolean): Promise<void>;
  heaps(): Promise<ThreadHeap[]>;
  /** Keys in the correlation tracker, when it lives on this thread. */
  trackerKeys(): number | null;
  spans(): TraceSinkStats | null;
  rejected(): number;
  /** Waits for the batches in hand, closes everything. */
  close(): Promise<void>;
}

const MB = 2 ** 20;
const heapOf = (thread: string, h: HeapInfo): ThreadHeap => ({
  thread,
  usedMb: h.used_heap_size / MB,
  committedMb: h.total_heap_size / MB,
  limitMb: h.heap_size_limit / MB,
  externalMb: h.external_memory / MB,
});

async function startAlerting(config: PaysignalConfig, registry: Registry): Promise<Alerting> {
  // The shipped rules, evaluated but not sent anywhere, and not watched.
  const rules = { ...config, rules: { ...config.rules, dir: join(ROOT, 'rules') } };
  return (await startAlertingFromConfig(rules, registry, undefined, { alertmanager: { ...config.alertmanager, url: null }, watch: false, reloadSignal: null }))!;
}

export async function startInThread(config: PaysignalConfig): Promise<MemoryTarget> {
  const registry = createMetricsRegistry();
  const [classifier, mapping] = await Promise.all([createClassifier(), loadMapping(config.input.mapping)]);
  const decoder = createDecoder({ maxBytes: config.input.max_event_bytes, mapping, idHeaders: classifier.idHeaders });
  const signals = signalsFromConfig(config, classifier, registry);
  const alerting = await startAlerting(config, registry);
  let rejected = 0;
  const deadLetter: DeadLetterSink = { add: () => void rejected++, flush: async () => {} };
  const pipeline = createPipeline({ decoder, classifier, tracker: signals.tracker, sinks: [...signals.sinks, alerting.engine], deadLetter });
  let processed = 0;
  return {
    workers: 0,
    async handOver(records) {
      await pipeline.handleBatch(records);
      processed += records.length;
    },
    processed: () => processed,
    failedBatches: () => 0,
    async scrape(openMetrics) {
      await signals.exposition.render(openMetrics);
    },
    heaps: async () => [heapOf('main', getHeapStatistics())],
    trackerKeys: () => signals.tracker.size,
    spans: () => signals.traces?.stats() ?? null,
    rejected: () => rejected,
    async close() {
      await pipeline.close();
      await alerting.close();
      await signals.close();
    },
  };
}

export interface WorkerOptions {
  /** Batches and bytes of record values in the workers' hands at most, per worker. */
  readonly inHandPerWorker: { readonly batches: number; readonly bytes: number };
  /**
   * Run the workers from the compiled package (dist/, `npm run build`) as the image does, instead of
   * the TypeScript sources: Node's type stripping costs every isolate that loads a .ts module about
   * 17 MB of RSS, which the image does not pay. This thread stays on the sources.
   */
  readonly compiled: boolean;
}

const POOL_SOURCES = new URL('../../src/pipeline/workers/pool.ts', import.meta.url);
const POOL_COMPILED = new URL('../../dist/pipeline/workers/pool.js', import.meta.url);

export async function startOnWorkers(config: PaysignalConfig, workers: number, options: WorkerOptions): Promise<MemoryTarget> {
  // The pool starts its workers from the module next to it (worker.ts, or worker.js in dist/).
  const { startWorkerPool } = (await import((options.compiled ? POOL_COMPILED : POOL_SOURCES).href)) as typeof import('../../src/pipeline/workers/pool.ts');
  const registry = createMetricsRegistry();
  const alerting = await startAlerting(config, registry);
  let rejected = 0;
  const deadLetter: DeadLetterSink = { add: () => void rejected++, flush: async () => {} };
  const logger = createLogger({ level: 'warn', name: 'bench-memory' });
  const pool = await startWorkerPool({ config, workers, registry, logger, deadLetter, engine: alerting.engine, sinks: [], eventsFile: null });
  const exposition = createExposition(registry);
  const inHand = new InFlightBatches(fetchAheadBound(workers, config.kafka.max_bytes, options.inHandPerWorker));
  let processed = 0;
  let failed = 0;
  return {
    workers,
    async handOver(records) {
      let bytes = 0;
      for (const record of records) bytes += record.value?.length ?? 0;
      while (!inHand.hasRoomFor(bytes)) await inHand.roomFreed();
      const first = records[0]!;
      const key = `${first.topic}\u0000${first.partition}`;
      const handed = inHand.add(key, BigInt(first.offset), BigInt(records[records.length - 1]!.offset) + 1n, bytes);
      pool.handleBatch(records).then(
        () => {
          processed += records.length;
          inHand.settle(key, handed, true);
        },
        (error: unknown) => {
          failed++;
          logger.error({ err: error }, 'batch failed');
          inHand.settle(key, handed, false);
        },
      );
    },
    processed: () => processed,
    failedBatches: () => failed,
    async scrape(openMetrics) {
      await exposition.render(openMetrics);
    },
    async heaps() {
      const threads = await Promise.all(Array.from({ length: workers }, (_, i) => pool.worker(i).getHeapStatistics()));
      return [heapOf('main', getHeapStatistics()), ...threads.map((h, i) => heapOf(`worker ${i}`, h))];
    },
    trackerKeys: () => null,
    spans: () => null,
    rejected: () => rejected,
    async close() {
      await inHand.settled();
      await pool.close();
      await alerting.close();
      logger.flush();
    },
  };
}
