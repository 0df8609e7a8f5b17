// The Kafka path on worker threads (docs/architecture.md#worker-threads): a RecordBatchHandler that
// routes each partition's records to one worker (fixed affinity, so a partition's order and its
// correlation state stay on one thread), sends the raw bytes in a transferred buffer, and resolves
// only when the worker processed the batch and every main-thread sink and the dead-letter topic
// flushed it; the Kafka source commits only then (at-least-once as without workers).
//
// Memory stays bounded by the source, which keeps at most a bound of batches and bytes in the
// workers' hands (fetch-ahead, src/sources/kafka/in-flight.ts). Batches of one partition handed over
// before earlier ones resolved reach its worker in order.
//
// This module routes the batches and assembles the parts, each owning its state: roster.ts (the
// threads by index, replaced when they exit), worker-thread.ts (one thread: what it holds, what its
// answers settle, what its end fails), main-thread-sinks.ts (what the main thread does with a
// reply), metric-collection.ts (the workers' metrics in /metrics).
import { extname } from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { Registry } from 'prom-client';
import type { AlertEngine } from '../../alerting/engine/index.ts';
import type { PaysignalConfig } from '../../config/config.ts';
import { PaysignalError } from '../../errors.ts';
import type { Logger } from '../../logging.ts';
import { loadCatalogs } from '../../providers/registry.ts';
import type { EventsFileSink } from '../../sinks/events-file.ts';
import type { SourceRecord } from '../../sources/record.ts';
import type { DeadLetterSink, RecordBatchHandler, SignalSink } from '../types.ts';
import { MainThreadSinks } from './main-thread-sinks.ts';
import { createMergedLabelCaps } from './merged-label-caps.ts';
import { WorkerMetricCollection } from './metric-collection.ts';
import { RequestIds, type BatchRequest, type ReadyReply } from './protocol.ts';
import { Roster } from './roster.ts';

export interface WorkerPoolOptions {
  readonly config: PaysignalConfig;
  /** Number of worker threads, at least 1. */
  readonly workers: number;
  /** The main registry: the workers' metrics are merged into it. */
  readonly registry: Registry;
  readonly logger: Logger;
  readonly deadLetter: DeadLetterSink;
  /** The alert engine, fed each event's signal in record order; null without rules. */
  readonly engine: Pick<AlertEngine, 'onSignal' | 'flush' | 'close'> | null;
  /** Further sinks on the main thread, fed each event's signal part in record order, after the engine. */
  readonly sinks: readonly SignalSink[];
  readonly eventsFile: EventsFileSink | null;
  /** How long a scrape waits for a worker's metrics before using its previous ones; default 5 s. */
  readonly metricsTimeoutMs?: number;
  /**
   * How often a worker that answered batches has its metrics collected between scrapes; default 1 s.
   * A worker that dies keeps its counts as of the last collection (the restart base), so this bounds
   * the committed work missing from the counters to about that long of one worker's processing.
   */
  readonly baseRefreshMs?: number;
  /** How long close() waits for a worker to export its last spans; default 10 s. */
  readonly closeTimeoutMs?: number;
  /** The worker module; default ./worker.ts (tests pass workers that misbehave on purpose). */
  readonly workerUrl?: URL;
}

export interface WorkerPool extends RecordBatchHandler {
  readonly size: number;
  /** The smallest V8 heap limit the workers reported: each worker's correlation tracker lives in a heap this size. */
  readonly heapLimitBytes: number;
  /** The worker that processes this partition's records. */
  workerOf(topic: string, partition: number): number;
  /** The thread of worker `index` now (diagnostics and tests). */
  worker(index: number): Worker;
  /** Waits for the batches in hand, lets every worker export its last spans, stops the workers. */
  close(): Promise<void>;
}

// The worker module has this module's extension: worker.ts from the sources, worker.js in the
// compiled package (which rewrites import specifiers, not URLs).
const WORKER_URL = new URL(`./worker${extname(import.meta.url)}`, import.meta.url);

function topicHash(topic: string): number {
  let h = 0;
  for (let i = 0; i < topic.length; i++) h = (Math.imul(h, 31) + topic.charCodeAt(i)) | 0;
  return h >>> 0;
}

const NO_OFFSETS: readonly string[] = Object.freeze([]);
const offsetOf = (record: SourceRecord): string => record.offset;

/** The batch's records per partition (the Kafka source hands one partition per batch). */
function byPartition(records: readonly SourceRecord[]): (readonly SourceRecord[])[] {
  const first = records[0]!;
  let one = true;
  for (let i = 1; i < records.length && one; i++) one = records[i]!.partition === first.partition && records[i]!.topic === first.topic;
  if (one) return [records];
  const groups = new Map<string, SourceRecord[]>();
  for (const record of records) {
    const key = `${record.topic}\u0000${record.partition}`;
    const list = groups.get(key);
    if (list === undefined) groups.set(key, [record]);
    else list.push(record);
  }
  return [...groups.values()];
}

/** Hands each partition's batches to its worker; a batch resolves once the main thread's sinks flushed it. */
class BatchRouting {
  private readonly size: number;
  private readonly roster: Roster;
  private readonly sinks: MainThreadSinks;
  private readonly ids: RequestIds;
  private readonly hashes = new Map<string, number>();
  private readonly inHand = new Set<Promise<void>>();
  private closing = false;

  constructor(size: number, roster: Roster, sinks: MainThreadSinks, ids: RequestIds) {
    this.size = size;
    this.roster = roster;
    this.sinks = sinks;
    this.ids = ids;
  }

  workerOf(topic: string, partition: number): number {
    let h = this.hashes.get(topic);
    if (h === undefined) {
      h = topicHash(topic);
      this.hashes.set(topic, h);
    }
    return (h + partition) % this.size;
  }

  handleBatch(records: readonly SourceRecord[]): Promise<void> {
    const done = this.handle(records);
    this.inHand.add(done);
    const forget = (): void => void this.inHand.delete(done);
    done.then(forget, forget);
    return done;
  }

  /** Refuses new batches from now on; resolves when the ones in hand settled. */
  async drain(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.inHand]);
  }

  private async handle(records: readonly SourceRecord[]): Promise<void> {
    if (records.length === 0) return;
    if (this.closing) throw new PaysignalError('WORKERS_CLOSED', 'the processing workers are stopping; the batch is not committed');
    await Promise.all(byPartition(records).map(this.send, this));
    for (const sink of this.sinks.flushedPerBatch) await sink.flush!();
  }

  private async send(records: readonly SourceRecord[]): Promise<void> {
    const first = records[0]!;
    const thread = this.roster.threads[this.workerOf(first.topic, first.partition)]!;
    await thread.ready;
    // Until its replacement is up, a dead worker's batches fail; the source retries them with back-off.
    if (thread.exited !== null) throw thread.exited;
    const n = records.length;
    let total = 0;
    for (let i = 0; i < n; i++) total += records[i]!.value?.length ?? 0;
    const bytes = new Uint8Array(total);
    const ends = new Int32Array(n);
    let at = 0;
    for (let i = 0; i < n; i++) {
      const value = records[i]!.value;
      if (value === null) ends[i] = -1;
      else {
        bytes.set(value, at);
        at += value.length;
        ends[i] = at;
      }
    }
    // Only the events file's lines name offsets; without it the worker never reads them, and cloning
    // a string per record into its heap is work for nothing.
    const offsets = this.sinks.needsEventLines ? records.map(offsetOf) : NO_OFFSETS;
    const id = this.ids.next();
    const request: BatchRequest = { kind: 'batch', id, source: first.source, topic: first.topic, partition: first.partition, offsets, bytes, ends };
    await thread.process(request, [bytes.buffer, ends.buffer], records);
  }
}

/** Starts the workers; resolves once each loaded its catalogs, rejects (PaysignalError) when one cannot start. */
export async function startWorkerPool(options: WorkerPoolOptions): Promise<WorkerPool> {
  const { config, logger } = options;
  const size = options.workers;
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`workers must be a whole number of at least 1, got ${size}`);
  const closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
  const ids = new RequestIds();
  const sinks = new MainThreadSinks(options);
  const metrics = new WorkerMetricCollection({ size, ids, logger, timeoutMs: options.metricsTimeoutMs ?? 5000, baseRefreshMs: options.baseRefreshMs ?? 1000 });
  const roster = new Roster({ config, size, registry: options.registry, url: options.workerUrl ?? WORKER_URL, logger, sinks, metrics });
  let ready: ReadyReply[];
  let catalogs: Awaited<ReturnType<typeof loadCatalogs>>;
  try {
    // The main thread reads the catalogs too: its label guard over the merged series needs them.
    [ready, catalogs] = await Promise.all([roster.ready(), loadCatalogs()]);
  } catch (error) {
    await roster.terminate();
    throw error;
  }
  logger.info({ workers: size }, 'processing workers started');

  const labelCaps = createMergedLabelCaps(
    {
      metrics: config.metrics,
      isCatalogCode: (provider, code) => catalogs.get(provider)?.byCode.has(code) ?? false,
      isKnownProvider: (provider) => catalogs.has(provider),
    },
    (verdicts) => roster.tellVerdicts(verdicts),
  );
  metrics.register(options.registry, ready[0]!.metrics, labelCaps, roster.threads);
  const routing = new BatchRouting(size, roster, sinks, ids);

  return {
    size,
    heapLimitBytes: Math.min(...ready.map((r) => r.heapLimitBytes)),
    workerOf: (topic, partition) => routing.workerOf(topic, partition),
    worker: (index) => roster.threads[index]!.worker,
    handleBatch: (records) => routing.handleBatch(records),
    async close() {
      // New batches are refused from now on, and no worker is replaced; the ones in hand finish first.
      roster.stopReplacing();
      metrics.stop();
      await routing.drain();
      await roster.close(closeTimeoutMs);
      await sinks.close();
      logger.info({ workers: size }, 'processing workers stopped');
    },
  };
}
