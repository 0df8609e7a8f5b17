// One processing worker thread, from its start to its end (docs/architecture.md#worker-threads): the
// batches and metrics requests it holds, what its answers settle, what its end fails. A thread is
// never restarted: src/pipeline/workers/roster.ts puts a new one in its place.
import { Worker, type Transferable } from 'node:worker_threads';
import type { PaysignalConfig } from '../../config/config.ts';
import { isErrorCode } from '../../error-codes.ts';
import { PaysignalError } from '../../errors.ts';
import type { Logger } from '../../logging.ts';
import { WORKER_YOUNG_GENERATION_MB } from '../../service-node-options.ts';
import type { SourceRecord } from '../../sources/record.ts';
import type { MainThreadSinks } from './main-thread-sinks.ts';
import type { WorkerMetricCollection } from './metric-collection.ts';
import type { BatchReplies, BatchRequest, MetricSnapshot, ReadyReply, WorkerReply, WorkerRequest, WorkerSetup } from './protocol.ts';
import { SignalUnpacker } from './signal-tuples.ts';

/** What a thread needs from the pool: the same for every thread and every replacement. */
export interface WorkerThreadContext {
  readonly url: URL;
  /** The workers' configuration (each with its share of the error-span budget). */
  readonly config: PaysignalConfig;
  readonly logger: Logger;
  readonly sinks: Pick<MainThreadSinks, 'takeReply' | 'needsSignalTuples' | 'needsEventLines'>;
  readonly metrics: Pick<WorkerMetricCollection, 'retire'>;
  /** Told when a thread exited without being closed, after what it held failed. */
  readonly exited: (thread: WorkerThread, code: number, crashed: boolean) => void;
}

interface Pending {
  readonly records: readonly SourceRecord[];
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

type MetricsAnswer = (metrics: readonly MetricSnapshot[]) => void;

const PLACEHOLDER: SourceRecord = Object.freeze({ value: null, source: '', topic: '', partition: 0, offset: '', key: null, headers: Object.freeze({}) });

export class WorkerThread {
  readonly index: number;
  readonly worker: Worker;
  /** Resolves when the worker loaded its catalogs; rejects (PaysignalError) when it cannot start or exits. */
  readonly ready: Promise<ReadyReply>;
  /** Resolves when the worker exported its last spans after a close request, or ended. */
  readonly closed: Promise<void>;
  /** It answered a batch since its metrics were last requested. */
  answeredSinceCollected = false;
  /** Being closed by the pool: its exit is not a failure. */
  closing = false;
  /** Set when the thread ended; a replacement takes its place after the roster's respawn delay. */
  exited: Error | null = null;
  private readonly context: WorkerThreadContext;
  private readonly unpacker = new SignalUnpacker(PLACEHOLDER);
  private readonly batches = new Map<number, Pending>();
  private readonly metricRequests = new Map<number, MetricsAnswer>();
  private readyResolve: (r: ReadyReply) => void = () => {};
  private readyReject: (e: Error) => void = () => {};
  private closedResolve: () => void = () => {};
  private crashed = false;

  constructor(index: number, context: WorkerThreadContext) {
    this.index = index;
    this.context = context;
    const { config, logger, sinks } = context;
    const setup: WorkerSetup = { config, logLevel: logger.level, signalTuples: sinks.needsSignalTuples, eventLines: sinks.needsEventLines, index };
    // The worker's own old-space limit (processing.worker_heap_mb), smaller than the main thread's:
    // the shipped flags let each heap grow to twice what it holds before a full collection, and V8
    // grows a heap at most halfway to its limit, so this bounds the worker, which holds the tracker,
    // while the main thread's kafkajs garbage is collected less often (src/service-node-options.ts).
    // A --max-old-space-size flag overrides it for every thread. The worker reports its limit when
    // ready. At its limit Node ends the worker, not the process.
    this.worker = new Worker(context.url, {
      workerData: setup,
      name: `paysignal-worker-${index}`,
      resourceLimits: { maxOldGenerationSizeMb: config.processing.worker_heap_mb, maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
    });
    this.ready = new Promise<ReadyReply>((resolve, reject) => {
      this.readyResolve = resolve;
      this.readyReject = reject;
    });
    this.ready.catch(() => {}); // observed by whoever awaits it; a crash before anyone did is handled on exit
    this.closed = new Promise<void>((resolve) => (this.closedResolve = resolve));
    this.worker.on('message', (reply: WorkerReply) => this.onMessage(reply));
    this.worker.on('error', (error) => {
      this.crashed = true;
      logger.error({ err: error, worker: index }, 'processing worker failed');
    });
    this.worker.on('exit', (code) => this.onExit(code));
  }

  /** Hands the worker a batch (`transfer`: its buffers); resolves once its reply went through the main thread's sinks. */
  process(request: BatchRequest, transfer: readonly Transferable[], records: readonly SourceRecord[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.batches.set(request.id, { records, resolve, reject });
      this.worker.postMessage(request, transfer);
    });
  }

  /** Asks the worker for its metrics; `answer` gets them, or nothing when the worker ends first. */
  requestMetrics(id: number, answer: MetricsAnswer): void {
    this.metricRequests.set(id, answer);
    this.worker.postMessage({ kind: 'metrics', id } satisfies WorkerRequest);
  }

  /** Drops a metrics request that is no longer waited for. */
  forgetMetricsRequest(id: number): void {
    this.metricRequests.delete(id);
  }

  /** Lets the worker export its last spans (for up to `timeoutMs`), then stops it. */
  async close(timeoutMs: number): Promise<void> {
    this.closing = true;
    this.worker.postMessage({ kind: 'close' } satisfies WorkerRequest);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([this.closed, late]);
    clearTimeout(timer);
    await this.worker.terminate();
  }

  private onMessage(reply: WorkerReply): void {
    switch (reply.kind) {
      case 'ready':
        this.readyResolve(reply);
        return;
      case 'start-failed':
        this.readyReject(new PaysignalError(isErrorCode(reply.code) ? reply.code : 'WORKER_START_FAILED', reply.message, { ...(reply.file ? { file: reply.file } : {}), ...(reply.field ? { field: reply.field } : {}) }));
        return;
      case 'batches':
        this.takeReplies(reply);
        return;
      case 'batch-failed': {
        const pending = this.batches.get(reply.id);
        this.batches.delete(reply.id);
        pending?.reject(new PaysignalError('WORKER_BATCH_FAILED', `worker ${this.index} could not process the batch: ${reply.message}`));
        return;
      }
      case 'metrics':
        this.metricRequests.get(reply.id)?.(reply.metrics);
        this.metricRequests.delete(reply.id);
        return;
      case 'closed':
        this.closedResolve();
        return;
    }
  }

  /** Settles the batches a worker answered together, in the order it processed them. */
  private takeReplies(message: BatchReplies): void {
    const replies = message.replies;
    for (let i = 0; i < replies.length; i++) {
      const reply = replies[i]!;
      const pending = this.batches.get(reply.id);
      if (pending === undefined) continue;
      this.batches.delete(reply.id);
      this.answeredSinceCollected = true;
      try {
        this.context.sinks.takeReply(this.unpacker, reply, pending.records);
        pending.resolve();
      } catch (error) {
        pending.reject(error as Error);
      }
    }
  }

  private onExit(code: number): void {
    this.closedResolve();
    // Retired first: a metrics request answered below (with nothing) then serves nothing, where it
    // would otherwise serve the last collected metrics, counted a second time in the retired base.
    this.context.metrics.retire(this.index);
    const lost = new PaysignalError('WORKER_EXITED', `processing worker ${this.index} exited (code ${code}); its batches in hand are not committed and will be processed again`);
    this.exited = lost;
    this.readyReject(lost);
    for (const pending of this.batches.values()) pending.reject(lost);
    this.batches.clear();
    for (const answer of this.metricRequests.values()) answer([]);
    this.metricRequests.clear();
    if (this.closing) return;
    this.context.exited(this, code, this.crashed);
  }
}
