// The `processing` section: worker threads of the Kafka path.
import { availableParallelism } from 'node:os';
import { section, setting, type RawConfig } from '../../config/declare.ts';

export const processingSection = section('processing', 'Where events are processed: on worker threads, or on the main thread.', {
  workers: setting.integerOrAuto({
    description:
      'Threads that decode, classify, correlate and emit metrics and spans for the Kafka source (README, "Sizing workers"): auto = one per core beyond the first (at least one); 0 = all on the main thread. Flag: --workers.',
    default: 'auto',
    env: 'PAYSIGNAL_WORKERS',
    min: 0,
    max: 64,
  }),
  worker_heap_mb: setting.integer({
    description:
      "Old-space limit of each worker thread's V8 heap, in MB (the worker's resourceLimits). A worker holds the correlation tracker (about 120 bytes of heap per key of correlation.max_keys): raise it with max_keys. A --max-old-space-size in NODE_OPTIONS overrides it, for the main thread and every worker alike (README, \"Memory\").",
    default: 80,
    env: 'PAYSIGNAL_WORKER_HEAP_MB',
    min: 16,
    max: 65536,
  }),
});

/**
 * The number of worker threads for `processing.workers` on a machine with `cores` cores: `auto` keeps
 * one core for the main thread (fetching, committing, the alert engine) and gives every other core a
 * worker, but at least one.
 */
export function workerCount(setting: number | 'auto', cores: number): number {
  return setting === 'auto' ? Math.max(1, cores - 1) : setting;
}

/**
 * Batches in hand at once by default (`kafka.partitions_consumed_concurrently`): one without workers;
 * with workers, two per worker, so a worker has the next partition's batch queued while the main
 * thread commits the previous one.
 */
export function defaultConcurrency(raw: RawConfig): number {
  const workers = (raw.processing as { workers?: unknown } | undefined)?.workers;
  const n = workerCount(typeof workers === 'number' ? workers : 'auto', availableParallelism());
  return n === 0 ? 1 : 2 * n;
}
