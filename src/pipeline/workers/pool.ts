// The Kafka path on worker threads (docs/architecture.md#worker-threads): a RecordBatchHandler that
// routes each partition's records to one worker (fixed affinity, so a partition's order and its
// correlation state stay on one thread), sends the raw bytes in a transferred buffer, and resolves
// only when the worker processed the batch and every main-thread sink and the dead-letter topic
// flushed it; the Kafka source commits only then (at-least-once as without workers).
//
// What the main thread does with a worker's reply, before the batch resolves: rejected records go
// to the dead-letter producer (with their original bytes and headers, which never left this
// thread), every event's signal tuple goes to the alert engine and any extra sinks, the rendered
// events-file lines go to the events file. Memory stays bounded by the source, which keeps at most
// a bound of batches and bytes in the workers' hands (fetch-ahead, src/sources/kafka/in-flight.ts).
// Batches of one partition handed over before earlier ones resolved reach its worker in order.
import { extname } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Counter, type Registry } from 'prom-client';
import type { AlertEngine } from '../../alerting/engine/index.ts';
import { emptySignal } from '../../alerting/engine/signal.ts';
import type { PaysignalConfig } from '../../config/config.ts';
import { isErrorCode } from '../../error-codes.ts';
import { PaysignalError } from '../../errors.ts';
import { WORKER_YOUNG_GENERATION_MB } from '../../service-node-options.ts';
import type { Logger } from '../../logging.ts';
import { loadCatalogs } from '../../providers/registry.ts';
import type { EventsFileSink } from '../../sinks/events-file.ts';
import type { SourceRecord } from '../../sources/record.ts';
import type { DeadLetterSink, RecordBatchHandler, Rejection, SignalSink } from '../types.ts';
import { createMergedLabelCaps } from './merged-label-caps.ts';
import { registerMergedMetrics, retireSnapshots } from './merged-metrics.ts';
import { SIGNAL_STRIDE, type BatchReplies, type BatchReply, type BatchRequest, type MetricSnapshot, type ReadyReply, type WorkerReply, type WorkerRequest, type WorkerSetup } from './protocol.ts';
import { SignalUnpacker } from './signal-tuples.ts';

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

interface Pending {
  readonly records: readonly SourceRecord[];
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

interface Thread {
  readonly index: number;
  readonly worker: Worker;
  readonly ready: Promise<ReadyReply>;
  readonly unpacker: SignalUnpacker;
  readonly batches: Map<number, Pending>;
  readonly metricRequests: Map<number, (metrics: readonly MetricSnapshot[]) => void>;
  /** It answered a batch since its metrics were last requested. */
  answeredSinceCollected: boolean;
  closing: boolean;
  /** Set when the thread ended; a replacement takes its place in `threads` after RESPAWN_DELAY_MS. */
  exited: Error | null;
  closed: Promise<void>;
}

/** Pause before a crashed worker is replaced, so a worker that cannot start does not spin. */
const RESPAWN_DELAY_MS = 1000;
// The worker module has this module's extension: worker.ts from the sources, worker.js in the
// compiled package (which rewrites import specifiers, not URLs).
const WORKER_URL = new URL(`./worker${extname(import.meta.url)}`, import.meta.url);
const PLACEHOLDER: SourceRecord = Object.freeze({ value: null, source: '', topic: '', partition: 0, offset: '', key: null, headers: Object.freeze({}) });

function topicHash(topic: string): number {
  let h = 0;
  for (let i = 0; i < topic.length; i++) h = (Math.imul(h, 31) + topic.charCodeAt(i)) | 0;
  return h >>> 0;
}

/** Starts the workers; resolves once each loaded its catalogs, rejects (PaysignalError) when one cannot start. */
export async function startWorkerPool(options: WorkerPoolOptions): Promise<WorkerPool> {
  const { config, logger, deadLetter, eventsFile, engine } = options;
  const size = options.workers;
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`workers must be a whole number of at least 1, got ${size}`);
  const metricsTimeoutMs = options.metricsTimeoutMs ?? 5000;
  const baseRefreshMs = options.baseRefreshMs ?? 1000;
  const closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
  const workerUrl = options.workerUrl ?? WORKER_URL;
  const sinks = [...options.sinks];
  const invalidSinks = sinks.filter((s) => s.onInvalid !== undefined);
  // Flushed in the order the in-thread pipeline flushes them: engine, events file, extra sinks.
  const flushingSinks: { flush?: () => Promise<void> }[] = [...(engine === null ? [] : [engine]), ...(eventsFile === null ? [] : [eventsFile]), ...sinks].filter((s) => s.flush !== undefined);
  const needTuples = engine !== null || sinks.length > 0;
  const engineSignal = emptySignal();
  // The service's error-span budget is shared: each worker keeps its part of it.
  const budget = config.tracing.max_error_spans_per_second;
  const workerConfig: PaysignalConfig = { ...config, tracing: { ...config.tracing, max_error_spans_per_second: budget === 0 ? 0 : Math.ceil(budget / size) } };
  const lastMetrics: (readonly MetricSnapshot[])[] = Array.from({ length: size }, () => []);
  // The replaced workers' last collected counters and histograms, added to every merge.
  let retired: readonly MetricSnapshot[] = [];
  const restarts = new Counter({
    name: 'paysignal_worker_restarts_total',
    help: 'Processing workers replaced after they exited, by reason (crashed: an uncaught error; exited: ended without one).',
    labelNames: ['reason'] as const,
    registers: [options.registry],
  });
  const hashes = new Map<string, number>();
  let nextId = 1;
  let closing = false;
  // The label verdicts over all workers, for workers started later (see merged-label-caps.ts).
  let verdicts: WorkerRequest | null = null;

  function spawn(index: number): Thread {
    const setup: WorkerSetup = { config: workerConfig, logLevel: logger.level, signalTuples: needTuples, eventLines: eventsFile !== null, index };
    // The worker's own old-space limit (processing.worker_heap_mb), smaller than the main thread's:
    // the shipped flags let each heap grow to twice what it holds before a full collection, and V8
    // grows a heap at most halfway to its limit, so this bounds the worker, which holds the tracker,
    // while the main thread's kafkajs garbage is collected less often (src/service-node-options.ts).
    // A --max-old-space-size flag overrides it for every thread. The worker reports its limit when
    // ready. At its limit Node ends the worker, not the process.
    const worker = new Worker(workerUrl, {
      workerData: setup,
      name: `paysignal-worker-${index}`,
      resourceLimits: { maxOldGenerationSizeMb: config.processing.worker_heap_mb, maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
    });
    let readyResolve: (r: ReadyReply) => void = () => {};
    let readyReject: (e: Error) => void = () => {};
    const ready = new Promise<ReadyReply>((resolve, reject) => {
      readyResolve = resolve;
      readyReject = reject;
    });
    ready.catch(() => {}); // observed by whoever awaits it; a crash before anyone did is handled on exit
    let closedResolve: () => void = () => {};
    const thread: Thread = {
      index,
      worker,
      ready,
      unpacker: new SignalUnpacker(PLACEHOLDER),
      batches: new Map(),
      metricRequests: new Map(),
      answeredSinceCollected: false,
      closing: false,
      exited: null,
      closed: new Promise<void>((resolve) => (closedResolve = resolve)),
    };
    worker.on('message', (reply: WorkerReply) => {
      switch (reply.kind) {
        case 'ready':
          readyResolve(reply);
          return;
        case 'start-failed':
          readyReject(new PaysignalError(isErrorCode(reply.code) ? reply.code : 'WORKER_START_FAILED', reply.message, { ...(reply.file ? { file: reply.file } : {}), ...(reply.field ? { field: reply.field } : {}) }));
          return;
        case 'batches':
          takeReplies(thread, reply);
          return;
        case 'batch-failed': {
          const pending = thread.batches.get(reply.id);
          thread.batches.delete(reply.id);
          pending?.reject(new PaysignalError('WORKER_BATCH_FAILED', `worker ${index} could not process the batch: ${reply.message}`));
          return;
        }
        case 'metrics':
          thread.metricRequests.get(reply.id)?.(reply.metrics);
          thread.metricRequests.delete(reply.id);
          return;
        case 'closed':
          closedResolve();
          return;
      }
    });
    let crashed = false;
    worker.on('error', (error) => {
      crashed = true;
      logger.error({ err: error, worker: index }, 'processing worker failed');
    });
    worker.on('exit', (code) => {
      closedResolve();
      // Its counts as of the last collection stay in the exposition (a replacement starts from
      // zero), so merged counters never go down. Batches it held when it died were not committed:
      // they are processed again and counted then (twice only if a scrape caught one between its
      // records and its answer: at-least-once). Batches it finished after the last collection were
      // committed and are not read again: they are missing, at most one scrape interval of its work.
      retired = retireSnapshots(retired, lastMetrics[index]!);
      lastMetrics[index] = [];
      const lost = new PaysignalError('WORKER_EXITED', `processing worker ${index} exited (code ${code}); its batches in hand are not committed and will be processed again`);
      thread.exited = lost;
      readyReject(lost);
      for (const pending of thread.batches.values()) pending.reject(lost);
      thread.batches.clear();
      for (const answer of thread.metricRequests.values()) answer([]);
      thread.metricRequests.clear();
      if (thread.closing || closing) return;
      // Its partitions must go on: a new worker takes them. Meanwhile their batches fail and the
      // source retries them with its back-off.
      restarts.inc({ reason: crashed ? 'crashed' : 'exited' });
      logger.error({ worker: index, code, restartInMs: RESPAWN_DELAY_MS }, 'processing worker exited; starting a new one');
      const timer = setTimeout(() => {
        if (closing) return;
        const replacement = spawn(index);
        threads[index] = replacement;
        if (verdicts !== null) replacement.worker.postMessage(verdicts);
        replacement.ready.catch((error: unknown) => logger.error({ err: error, worker: index }, 'the replacement worker cannot start'));
      }, RESPAWN_DELAY_MS);
      timer.unref();
    });
    return thread;
  }

  /** Settles the batches a worker answered together, in the order it processed them. */
  function takeReplies(thread: Thread, message: BatchReplies): void {
    const replies = message.replies;
    for (let i = 0; i < replies.length; i++) {
      const reply = replies[i]!;
      const pending = thread.batches.get(reply.id);
      if (pending === undefined) continue;
      thread.batches.delete(reply.id);
      thread.answeredSinceCollected = true;
      try {
        takeReply(thread, reply, pending.records);
        pending.resolve();
      } catch (error) {
        pending.reject(error as Error);
      }
    }
  }

  /** Hands a worker's results for one batch to the main thread's sinks, in record order. */
  function takeReply(thread: Thread, reply: BatchReply, records: readonly SourceRecord[]): void {
    const { unpacker } = thread;
    unpacker.learn(reply);
    const signals = reply.signals;
    const count = signals.length / SIGNAL_STRIDE;
    const rejected = reply.rejected;
    let r = 0;
    for (let k = 0; k <= count; k++) {
      // Rejections before this event (all remaining ones after the last).
      const before = k < count ? signals[k * SIGNAL_STRIDE]! : Number.POSITIVE_INFINITY;
      while (r < rejected.length && rejected[r]!.index < before) {
        const { index, reason, detail } = rejected[r++]!;
        const record = records[index]!;
        const rejection: Rejection = { reason, detail };
        deadLetter.add(record, rejection);
        for (let s = 0; s < invalidSinks.length; s++) invalidSinks[s]!.onInvalid!(record, rejection);
      }
      if (k === count) break;
      if (engine !== null) engine.onSignal(unpacker.engineSignal(signals, k, records, engineSignal));
      if (sinks.length === 0) continue;
      const event = unpacker.event(signals, k, records);
      for (let s = 0; s < sinks.length; s++) sinks[s]!.onEvent(event);
    }
    if (eventsFile !== null && reply.lineCount > 0) eventsFile.append(reply.lines, reply.lineCount);
  }

  const threads: Thread[] = Array.from({ length: size }, (_, i) => spawn(i));
  let ready: ReadyReply[];
  let catalogs: Awaited<ReturnType<typeof loadCatalogs>>;
  try {
    // The main thread reads the catalogs too: its label guard over the merged series needs them.
    [ready, catalogs] = await Promise.all([Promise.all(threads.map((t) => t.ready)), loadCatalogs()]);
  } catch (error) {
    closing = true;
    await Promise.all(threads.map((t) => t.worker.terminate()));
    throw error;
  }
  logger.info({ workers: size }, 'processing workers started');

  function collectFrom(thread: Thread): Promise<readonly MetricSnapshot[]> {
    // Until its replacement is up, a dead worker has nothing to say (its counts are in `retired`).
    if (thread.exited !== null) return Promise.resolve([]);
    thread.answeredSinceCollected = false;
    const id = nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        thread.metricRequests.delete(id);
        logger.warn({ worker: thread.index, timeoutMs: metricsTimeoutMs }, 'worker metrics late; serving its previous ones');
        resolve(lastMetrics[thread.index]!);
      }, metricsTimeoutMs);
      thread.metricRequests.set(id, (metrics) => {
        clearTimeout(timer);
        if (metrics.length > 0) lastMetrics[thread.index] = metrics;
        resolve(lastMetrics[thread.index]!);
      });
      thread.worker.postMessage({ kind: 'metrics', id } satisfies WorkerRequest);
    });
  }
  const labelCaps = createMergedLabelCaps(
    {
      metrics: config.metrics,
      isCatalogCode: (provider, code) => catalogs.get(provider)?.byCode.has(code) ?? false,
      isKnownProvider: (provider) => catalogs.has(provider),
    },
    (v) => {
      verdicts = { kind: 'label-verdicts', verdicts: v };
      for (const thread of threads) if (thread.exited === null) thread.worker.postMessage(verdicts);
    },
  );
  registerMergedMetrics(options.registry, ready[0]!.metrics, { collect: async () => [...(await Promise.all(threads.map(collectFrom))), retired] }, labelCaps);
  // Between scrapes too: the restart base is a worker's last collected metrics, and a batch it
  // answered is committed at once. Measured alternatives that left nothing out cost 4 to 6 us per
  // event (bench/RESULTS.md, "Worker restart base"); a collection costs a few milliseconds.
  const baseRefresh = setInterval(() => {
    for (const thread of threads) if (thread.answeredSinceCollected && thread.exited === null && !thread.closing) void collectFrom(thread);
  }, baseRefreshMs);
  baseRefresh.unref();

  function workerOf(topic: string, partition: number): number {
    let h = hashes.get(topic);
    if (h === undefined) {
      h = topicHash(topic);
      hashes.set(topic, h);
    }
    return (h + partition) % size;
  }

  async function send(records: readonly SourceRecord[]): Promise<void> {
    const first = records[0]!;
    const thread = threads[workerOf(first.topic, first.partition)]!;
    await thread.ready;
    // Until its replacement is up, a dead worker's batches fail; the source retries them with back-off.
    if (thread.exited !== null) throw thread.exited;
    const n = records.length;
    let total = 0;
    for (let i = 0; i < n; i++) total += records[i]!.value?.length ?? 0;
    const bytes = new Uint8Array(total);
    const ends = new Int32Array(n);
    const offsets = new Array<string>(n);
    let at = 0;
    for (let i = 0; i < n; i++) {
      const record = records[i]!;
      const value = record.value;
      if (value === null) ends[i] = -1;
      else {
        bytes.set(value, at);
        at += value.length;
        ends[i] = at;
      }
      offsets[i] = record.offset;
    }
    const id = nextId++;
    const request: BatchRequest = { kind: 'batch', id, source: first.source, topic: first.topic, partition: first.partition, offsets, bytes, ends };
    await new Promise<void>((resolve, reject) => {
      thread.batches.set(id, { records, resolve, reject });
      thread.worker.postMessage(request, [bytes.buffer, ends.buffer]);
    });
  }

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

  const inHand = new Set<Promise<void>>();

  async function handle(records: readonly SourceRecord[]): Promise<void> {
    if (records.length === 0) return;
    if (closing) throw new PaysignalError('WORKERS_CLOSED', 'the processing workers are stopping; the batch is not committed');
    await Promise.all(byPartition(records).map(send));
    await deadLetter.flush();
    for (const sink of flushingSinks) await sink.flush!();
  }

  return {
    size,
    heapLimitBytes: Math.min(...ready.map((r) => r.heapLimitBytes)),
    workerOf,
    worker: (index) => threads[index]!.worker,
    handleBatch(records) {
      const done = handle(records);
      inHand.add(done);
      const forget = (): void => void inHand.delete(done);
      done.then(forget, forget);
      return done;
    },
    async close() {
      // New batches are refused from now on; the ones in hand finish first.
      closing = true;
      clearInterval(baseRefresh);
      await Promise.allSettled([...inHand]);
      await Promise.all(
        threads.map(async (thread) => {
          thread.closing = true;
          thread.worker.postMessage({ kind: 'close' } satisfies WorkerRequest);
          let timer: NodeJS.Timeout | undefined;
          const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, closeTimeoutMs)));
          await Promise.race([thread.closed, late]);
          clearTimeout(timer);
          await thread.worker.terminate();
        }),
      );
      await engine?.close();
      for (const sink of sinks) await sink.close?.();
      await eventsFile?.close?.();
      await deadLetter.close?.();
      logger.info({ workers: size }, 'processing workers stopped');
    },
  };
}
