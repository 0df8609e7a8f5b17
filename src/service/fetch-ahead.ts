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
 * Bytes of record values in hand per processing worker. With few partitions and large batches the
 * bytes bind instead of the count: each byte in hand costs the main thread and the worker about
 * twice more in RSS (the record's buffer, its copy for the worker, garbage awaiting the next full
 * collection), so the bound is kept under `kafka.max_bytes` (bench/RESULTS.md, "Memory in worker mode").
 */
export const FETCH_AHEAD_BYTES_PER_WORKER = 4 * 2 ** 20;

/** The fetch-ahead bound of `workers` processing workers when kafka.max_bytes is `fetchMaxBytes`. */
export function fetchAheadBound(workers: number, fetchMaxBytes: number, perWorker = { batches: FETCH_AHEAD_BATCHES_PER_WORKER, bytes: FETCH_AHEAD_BYTES_PER_WORKER }): FetchAheadBound {
  return { maxBatches: perWorker.batches * workers, maxBytes: Math.min(fetchMaxBytes, perWorker.bytes * workers) };
}
