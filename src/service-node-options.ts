// The memory settings `paysignal run` ships with: the image sets them as NODE_OPTIONS and glibc's
// malloc variables (Dockerfile), and the chart passes NODE_OPTIONS on (values.yaml `nodeOptions`);
// tests keep them equal. bench/RESULTS.md, "Heap settings", "Memory in worker mode" and "Heap
// growth per thread", has the runs.
//
// V8's flags apply to every isolate alike, so the flags say how a heap grows and the limits are per
// thread: each processing worker's old space is `processing.worker_heap_mb` (its resourceLimits,
// default 80 MB), and the main thread keeps V8's own limit, which Node derives from the memory the
// process may use (a container's limit, else the machine's). A --max-old-space-size here would
// override both.
//
// --heap-growing-percent=100: a heap may double what survived the last full collection before the
// next one. V8's own factor depends on the limit: at 160 MB it is at its minimum (1.1 to 1.3, or 8 MB
// more), so the main thread, where kafkajs's fetch buffers and decoded batches land, ran a full
// collection every 110 to 150 ms, 26 or 27 per 200k events, and kafkajs alone cost twice its CPU
// (a no-op consumer under those flags: 1.78 against 0.92 s). With it: 5 to 10. A worker's limit
// still binds it, since V8 grows a heap at most halfway to its limit: with 100k correlation keys a
// worker's heap peaked at 51 to 57 MB used, 65 to 66 MB reserved, in the memory benchmark.
//
// The semi-space is 4 MB: with the default worker there are two young generations, and 8 MB ones
// cost 8 to 22 MB more RSS with no CPU per event saved that this host could measure.
export const SERVICE_NODE_OPTIONS = '--max-semi-space-size=4 --heap-growing-percent=100';

/**
 * A worker's young generation (its resourceLimits), three 4 MB semi-spaces' worth as the flag above
 * gives: without the flag, as when paysignal runs outside the image, a worker would otherwise take
 * the main thread's (192 MB on a 24 GB machine). The flag overrides it when set.
 */
export const WORKER_YOUNG_GENERATION_MB = 12;

/**
 * glibc's malloc settings of the image (environment variables, read when the process starts).
 *
 * MALLOC_ARENA_MAX: glibc gives every thread that allocates its own malloc arena and keeps what was
 * freed in it. With a worker, buffers allocated on one thread and freed on another (each batch's
 * bytes, each reply) spread over arenas that are each kept at their high-water mark: one arena saved
 * 28 to 35 MB of RSS.
 *
 * MALLOC_MMAP_THRESHOLD_: glibc maps blocks above a threshold on their own and unmaps them when
 * freed, but raises the threshold to the size of every such block freed (up to 32 MB); from then on
 * the batches' bytes and kafkajs's fetch buffers come from the arena and stay in it when freed. Fixed
 * at 128 KB: 241 and 242 MB instead of 249 and 250 MB in the memory benchmark, 237 and 242 instead of
 * 258 and 264 MB on the Kafka path, no CPU per event measured (bench/RESULTS.md, "Heap growth per
 * thread").
 */
export const SERVICE_MALLOC_ENV: Readonly<Record<string, string>> = Object.freeze({
  MALLOC_ARENA_MAX: '1',
  MALLOC_MMAP_THRESHOLD_: '131072',
});
