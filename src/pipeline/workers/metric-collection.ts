// Collecting the workers' metrics for the main thread's /metrics (docs/architecture.md#worker-threads):
// each worker's metrics as last collected, the base that replaced workers leave behind, and the
// collection between scrapes that keeps that base recent. The merge itself is merged-metrics.ts,
// the label caps over all workers merged-label-caps.ts.
import type { Registry } from 'prom-client';
import type { Logger } from '../../logging.ts';
import type { MergedLabelCaps } from './merged-label-caps.ts';
import { registerMergedMetrics, retireSnapshots } from './merged-metrics.ts';
import type { MetricSnapshot, ReadyReply, RequestIds } from './protocol.ts';
import type { WorkerThread } from './worker-thread.ts';

export interface WorkerMetricCollectionOptions {
  /** Number of workers. */
  readonly size: number;
  /** The sequence the pool's batch requests use too. */
  readonly ids: RequestIds;
  readonly logger: Logger;
  /** How long a collection waits for a worker's metrics before using its previous ones. */
  readonly timeoutMs: number;
  /** How often a worker that answered batches has its metrics collected between scrapes. */
  readonly baseRefreshMs: number;
}

export class WorkerMetricCollection {
  private readonly ids: RequestIds;
  private readonly logger: Logger;
  private readonly timeoutMs: number;
  private readonly baseRefreshMs: number;
  /** Each worker's metrics as last collected, by worker index. */
  private readonly lastMetrics: (readonly MetricSnapshot[])[];
  // The replaced workers' last collected counters and histograms, added to every merge.
  private retired: readonly MetricSnapshot[] = [];
  private baseRefresh: NodeJS.Timeout | undefined;

  constructor(options: WorkerMetricCollectionOptions) {
    this.ids = options.ids;
    this.logger = options.logger;
    this.timeoutMs = options.timeoutMs;
    this.baseRefreshMs = options.baseRefreshMs;
    this.lastMetrics = Array.from({ length: options.size }, () => []);
  }

  /**
   * Registers on `registry` the merged view of the metrics the workers reported when ready, read
   * from `threads` (the pool's threads by index, replacements included) at every scrape, and starts
   * collecting between scrapes.
   */
  register(registry: Registry, descriptors: ReadyReply['metrics'], labelCaps: MergedLabelCaps, threads: readonly WorkerThread[]): void {
    registerMergedMetrics(registry, descriptors, { collect: async () => [...(await Promise.all(threads.map(this.collect, this))), this.retired] }, labelCaps);
    // Between scrapes too: the restart base is a worker's last collected metrics, and a batch it
    // answered is committed at once. Measured alternatives that left nothing out cost 4 to 6 us per
    // event (bench/RESULTS.md, "Worker restart base"); a collection costs a few milliseconds.
    this.baseRefresh = setInterval(() => {
      for (const thread of threads) if (thread.answeredSinceCollected && thread.exited === null && !thread.closing) void this.collect(thread);
    }, this.baseRefreshMs);
    this.baseRefresh.unref();
  }

  /** Stops collecting between scrapes. */
  stop(): void {
    clearInterval(this.baseRefresh);
  }

  /** A worker's metrics now, or its previous ones when it does not answer in time. */
  collect(thread: WorkerThread): Promise<readonly MetricSnapshot[]> {
    // Until its replacement is up, a dead worker has nothing to say (its counts are in `retired`).
    if (thread.exited !== null) return Promise.resolve([]);
    thread.answeredSinceCollected = false;
    const id = this.ids.next();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        thread.forgetMetricsRequest(id);
        this.logger.warn({ worker: thread.index, timeoutMs: this.timeoutMs }, 'worker metrics late; serving its previous ones');
        resolve(this.lastMetrics[thread.index]!);
      }, this.timeoutMs);
      thread.requestMetrics(id, (metrics) => {
        clearTimeout(timer);
        if (metrics.length > 0) this.lastMetrics[thread.index] = metrics;
        resolve(this.lastMetrics[thread.index]!);
      });
    });
  }

  /** Worker `index` ended: its last collected counters and histograms join the retired base. */
  retire(index: number): void {
    // Its counts as of the last collection stay in the exposition (a replacement starts from
    // zero), so merged counters never go down. Batches it held when it died were not committed:
    // they are processed again and counted then (twice only if a scrape caught one between its
    // records and its answer: at-least-once). Batches it finished after the last collection were
    // committed and are not read again: they are missing, at most one scrape interval of its work.
    this.retired = retireSnapshots(this.retired, this.lastMetrics[index]!);
    this.lastMetrics[index] = [];
  }
}
