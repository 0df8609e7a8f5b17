// The pool's worker threads by index (docs/architecture.md#worker-threads): starts them, puts a new
// thread in the place of one that exits, tells every thread the label verdicts over all workers,
// and stops them.
import { Counter, type Registry } from 'prom-client';
import type { PaysignalConfig } from '../../config/config.ts';
import type { Logger } from '../../logging.ts';
import type { LabelVerdicts } from '../../sinks/label-guard.ts';
import type { ReadyReply, WorkerRequest } from './protocol.ts';
import { WorkerThread, type WorkerThreadContext } from './worker-thread.ts';

export interface RosterOptions extends Pick<WorkerThreadContext, 'url' | 'logger' | 'sinks' | 'metrics'> {
  /** The service's configuration; each worker gets its share of the error-span budget. */
  readonly config: PaysignalConfig;
  /** Number of threads, at least 1. */
  readonly size: number;
  /** Where paysignal_worker_restarts_total is registered. */
  readonly registry: Registry;
}

/** Pause before a crashed worker is replaced, so a worker that cannot start does not spin. */
const RESPAWN_DELAY_MS = 1000;

export class Roster {
  /** The thread of each index now; a replacement takes its place RESPAWN_DELAY_MS after it exited. */
  readonly threads: readonly WorkerThread[];
  private readonly slots: WorkerThread[];
  private readonly context: WorkerThreadContext;
  private readonly logger: Logger;
  private readonly restarts: Counter<'reason'>;
  // The label verdicts over all workers, for workers started later (see merged-label-caps.ts).
  private verdicts: WorkerRequest | null = null;
  private closing = false;

  /** Starts `size` threads. */
  constructor(options: RosterOptions) {
    const { config, size, logger } = options;
    // The service's error-span budget is shared: each worker keeps its part of it.
    const budget = config.tracing.max_error_spans_per_second;
    const workerConfig: PaysignalConfig = { ...config, tracing: { ...config.tracing, max_error_spans_per_second: budget === 0 ? 0 : Math.ceil(budget / size) } };
    this.logger = logger;
    this.restarts = new Counter({
      name: 'paysignal_worker_restarts_total',
      help: 'Processing workers replaced after they exited, by reason (crashed: an uncaught error; exited: ended without one).',
      labelNames: ['reason'] as const,
      registers: [options.registry],
    });
    this.context = {
      url: options.url,
      config: workerConfig,
      logger,
      sinks: options.sinks,
      metrics: options.metrics,
      exited: (thread, code, crashed) => this.replaceLater(thread, code, crashed),
    };
    this.slots = Array.from({ length: size }, (_, i) => new WorkerThread(i, this.context));
    this.threads = this.slots;
  }

  /** Resolves with every thread's ready reply; rejects when one cannot start. */
  ready(): Promise<ReadyReply[]> {
    return Promise.all(this.slots.map((t) => t.ready));
  }

  /** Tells every live thread, and every replacement from now on, the label verdicts over all workers. */
  tellVerdicts(verdicts: LabelVerdicts): void {
    this.verdicts = { kind: 'label-verdicts', verdicts };
    for (const thread of this.slots) if (thread.exited === null) thread.worker.postMessage(this.verdicts);
  }

  /** No thread is replaced from now on. */
  stopReplacing(): void {
    this.closing = true;
  }

  /** Lets every thread export its last spans (each for up to `timeoutMs`), then stops them. */
  async close(timeoutMs: number): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map((thread) => thread.close(timeoutMs)));
  }

  /** Stops every thread at once (a failed start). */
  async terminate(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map((t) => t.worker.terminate()));
  }

  private replaceLater(thread: WorkerThread, code: number, crashed: boolean): void {
    if (this.closing) return;
    const { index } = thread;
    // Its partitions must go on: a new worker takes them. Meanwhile their batches fail and the
    // source retries them with its back-off.
    this.restarts.inc({ reason: crashed ? 'crashed' : 'exited' });
    this.logger.error({ worker: index, code, restartInMs: RESPAWN_DELAY_MS }, 'processing worker exited; starting a new one');
    const timer = setTimeout(() => {
      if (this.closing) return;
      const replacement = new WorkerThread(index, this.context);
      this.slots[index] = replacement;
      if (this.verdicts !== null) replacement.worker.postMessage(this.verdicts);
      replacement.ready.catch((error: unknown) => this.logger.error({ err: error, worker: index }, 'the replacement worker cannot start'));
    }, RESPAWN_DELAY_MS);
    timer.unref();
  }
}
