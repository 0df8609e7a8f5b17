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
 * bytes bind instead of the count, and each byte in hand costs several in RSS and in collections:
 * the record's buffer on the main thread, its copy for the worker, both garbage until their
 * thread's next full collection. With one worker the memory benchmark peaked at 296 MB RSS with
 * 10 MB in hand (`kafka.max_bytes`, the bound before), 251 and 260 MB with 4 MB, 230 to 252 MB with
 * 2 MB (bench/RESULTS.md, "Memory in worker mode"). 1 MB took 5 to 9% less CPU per event than 2 MB
 * on the Kafka path, at the same or higher throughput, also with 4 partitions; 512 KB starved the
 * worker (bench/RESULTS.md, "Fetch-ahead bytes").
 */
export const FETCH_AHEAD_BYTES_PER_WORKER = 2 ** 20;

/** The fetch-ahead bound of `workers` processing workers when kafka.max_bytes is `fetchMaxBytes`. */
export function fetchAheadBound(workers: number, fetchMaxBytes: number, perWorker = { batches: FETCH_AHEAD_BATCHES_PER_WORKER, bytes: FETCH_AHEAD_BYTES_PER_WORKER }): FetchAheadBound {
  return { maxBatches: perWorker.batches * workers, maxBytes: Math.min(fetchMaxBytes, perWorker.bytes * workers) };
}
