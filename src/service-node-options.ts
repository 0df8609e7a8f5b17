// The memory settings `paysignal run` ships with: the image sets them as NODE_OPTIONS and
// MALLOC_ARENA_MAX (Dockerfile), and the chart passes NODE_OPTIONS on (values.yaml `nodeOptions`);
// tests keep them equal. bench/RESULTS.md, "Heap settings" and "Memory in worker mode", has the runs.
//
// The V8 flags apply to every isolate: the main thread and each processing worker get an old space
// and semi-spaces of these sizes (V8's flags override a Worker's `resourceLimits`).
//
// Without them V8 sizes its heap for the whole machine and lets garbage pile up: 5M events through
// the service peaked at 493 MB RSS on a 24 GB machine. 160 MB of old space holds the correlation
// tracker at its default 100k keys (about 25 MB) with room to spare; raise it together with
// `correlation.max_keys`. The old space was 192 MB before: RSS grows with the event rate, and at 40k
// to 70k events/s 192 MB reached 247 to 265 MB on one thread.
//
// The semi-space is 4 MB: with the default worker there are two young generations, and 8 MB ones
// cost 8 to 22 MB more RSS with no CPU per event saved that this host could measure.
export const SERVICE_NODE_OPTIONS = '--max-old-space-size=160 --max-semi-space-size=4';

// glibc gives every thread that allocates its own malloc arena and keeps what was freed in it. With
// a worker, buffers allocated on one thread and freed on another (each batch's bytes, each reply)
// spread over arenas that are each kept at their high-water mark: one arena saved 28 to 35 MB of RSS.
export const SERVICE_MALLOC_ARENA_MAX = '1';
