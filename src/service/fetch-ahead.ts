// How much the Kafka source may hand to the processing workers before they finished it (fetch-ahead,
// docs/architecture.md#worker-threads; the bound itself is src/sources/kafka/in-flight.ts).
import type { FetchAheadBound } from '../sources/kafka/in-flight.ts';

/**
 * Batches in hand per processing worker. Enough that the workers are still busy while kafkajs
 * fetches the next response (bench/RESULTS.md, "Fetch-ahead"): with many partitions a batch is
 * small (about 60 events with 32 partitions), so the count is what binds.
 */
export const FETCH_AHEAD_BATCHES_PER_WORKER = 64;

/**
 * Bytes of record values in hand per processing worker. With large batches (few partitions) the
 * bytes bind instead of the count, and each byte in hand costs several in RSS: the record's buffer
 * on the main thread, its copy for the worker, both garbage until their thread's next full
 * collection. 10 MB (`kafka.max_bytes`, the bound before) and 4 MB kept the memory benchmark's peak
 * RSS with one worker at 296 and 251 to 260 MB, 2 MB at 242 MB, under the 250 MB target
 * (bench/RESULTS.md, "Memory in worker mode").
 */
export const FETCH_AHEAD_BYTES_PER_WORKER = 2 * 2 ** 20;

/** The fetch-ahead bound of `workers` processing workers when kafka.max_bytes is `fetchMaxBytes`. */
export function fetchAheadBound(workers: number, fetchMaxBytes: number, perWorker = { batches: FETCH_AHEAD_BATCHES_PER_WORKER, bytes: FETCH_AHEAD_BYTES_PER_WORKER }): FetchAheadBound {
  return { maxBatches: perWorker.batches * workers, maxBytes: Math.min(fetchMaxBytes, perWorker.bytes * workers) };
}
