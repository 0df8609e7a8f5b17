// Memory benchmark (issues 8 and 13): 5M events with distinct correlation ids through `paysignal run`'s
// processing, in process (no Kafka: records are handed over in batches the way the Kafka source does),
// measuring the RSS of the whole process and each thread's V8 heap over time.
//
//   node bench/memory/run.ts [--workers N (default: as `processing.workers: auto` on this machine; 0 = main thread)]
//                            [--events 5000000] [--batch 1000] [--partitions 6] [--fetch-ahead 64] [--fetch-ahead-mb 2] (in hand per worker; default the service's) [--warmup 1000000]
//                            [--compiled-workers (from dist/: npm run build first)] [--json FILE] [--heap-snapshot-at N]
//                            [--node-options=FLAGS (default: the shipped ones, src/service-node-options.ts; '' for V8's defaults)]
//                            [--glibc-malloc-defaults (without the image's malloc variables, SERVICE_MALLOC_ENV in the same file)]
//
// What runs is what startService builds (bench/memory/targets.ts): with --workers 0, decoder,
// classifier, correlation tracker (config defaults: 100k keys, 1 h TTL), metrics on a registry with
// process metrics, spans and the alert engine on the main thread; with N workers, the worker pool
// (src/pipeline/workers/pool.ts) with the alert engine on the main thread and up to 64 batches per
// worker and `kafka.max_bytes` in the workers' hands (fetch-ahead, as the source keeps them). Spans
// (success_sample_ratio 0.1, every error span) go over OTLP/HTTP protobuf to a black-hole receiver in
// a child process (bench/support/otlp-black-hole.ts); the shipped rules (rules/) are evaluated, no
// Alertmanager; rejected events only counted. Events: the first 10,000 lines of the classify
// benchmark's data as templates; each event gets a new correlation id (`c<n>`), idempotency-key
// headers are removed so the id is the correlation key, and event time advances 1 ms per event (5M
// events: 83 min of event time, so the 1 h correlation TTL and the rule windows roll over). Batches
// go round-robin over the partitions. Between batches the event loop turns (span export and rule
// timers run); /metrics is rendered every 250k events (with workers: collected from each, as a scrape
// does). Not covered: kafkajs's fetch buffers on the main thread (bench/kafka/run.ts measures those).
// Target: RSS < 250 MB and flat after warm-up.
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { writeHeapSnapshot } from 'node:v8';
import { parseConfig } from '../../src/config/config.ts';
import type { SourceRecord } from '../../src/sources/record.ts';
import { workerCount } from '../../src/pipeline/workers/config.ts';
import { FETCH_AHEAD_BATCHES_PER_WORKER, FETCH_AHEAD_BYTES_PER_WORKER } from '../../src/service/fetch-ahead.ts';
import { DEFAULT_SEED, ensureDataset, OUT_DIR } from '../classify/generate.ts';
import { startInThread, startOnWorkers, type ThreadHeap } from './targets.ts';
import { startOtlpBlackHole } from '../support/otlp-black-hole.ts';
import { SERVICE_MALLOC_ENV, SERVICE_NODE_OPTIONS } from '../../src/service-node-options.ts';

const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: String(workerCount('auto', availableParallelism())) },
    events: { type: 'string', default: '5000000' },
    batch: { type: 'string', default: '1000' },
    partitions: { type: 'string', default: '6' },
    // Batches in the workers' hands at most, per worker (the bytes stay bounded by kafka.max_bytes).
    'fetch-ahead': { type: 'string', default: String(FETCH_AHEAD_BATCHES_PER_WORKER) },
    'fetch-ahead-mb': { type: 'string', default: String(FETCH_AHEAD_BYTES_PER_WORKER / 2 ** 20) },
    // Workers from the compiled package (dist/, `npm run build` first), as the image runs them.
    'compiled-workers': { type: 'boolean', default: false },
    warmup: { type: 'string', default: '1000000' },
    json: { type: 'string' },
    // Writes a heap snapshot after this many events (after a full GC when run with --expose-gc).
    'heap-snapshot-at': { type: 'string' },
    // V8 flags of the measured process; default the ones the image and the chart ship with.
    'node-options': { type: 'string', default: SERVICE_NODE_OPTIONS },
    // Measure without the image's malloc variables (MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_): glibc's defaults.
    'glibc-malloc-defaults': { type: 'boolean', default: false },
  },
});

// The measurement runs in a child started with the V8 flags under test (and this process' own
// flags, such as --expose-gc) and the malloc settings, because neither can be changed once Node runs.
if (process.env.PAYSIGNAL_BENCH_MEMORY_CHILD !== '1') {
  const flags = values['node-options'].split(/\s+/).filter((f) => f !== '');
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !(name in SERVICE_MALLOC_ENV)));
  const malloc = values['glibc-malloc-defaults'] ? {} : SERVICE_MALLOC_ENV;
  const child = spawnSync(process.execPath, [...process.execArgv, ...flags, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...env, ...malloc, PAYSIGNAL_BENCH_MEMORY_CHILD: '1' },
  });
  process.exit(child.status ?? 1);
}
const WORKERS = Number(values.workers);
const PARTITIONS = Number(values.partitions);
const TOTAL = Number(values.events);
const BATCH = Number(values.batch);
const WARMUP = Number(values.warmup);
const SAMPLE_EVERY = 100_000;
const SNAPSHOT_AT = values['heap-snapshot-at'] === undefined ? -1 : Number(values['heap-snapshot-at']);
const log = (s: string): void => void process.stderr.write(`${s}\n`);

// --- black-hole OTLP receiver, in a process of its own ------------------------------------------
const otlp = await startOtlpBlackHole();
process.env.OTEL_EXPORTER_OTLP_ENDPOINT = otlp.url;
process.env.OTEL_SERVICE_NAME = 'paysignal-bench-memory';

// --- templates ------------------------------------------------------------------------------------
const { dataset } = ensureDataset(20_000, DEFAULT_SEED);
// Only the templates stay: the lines (slices of the whole 12 MB file) are not kept.
const templates = readFileSync(dataset.file, 'utf8').split('\n').filter((l) => l.length > 0).slice(0, 10_000).map((line) => {
  const event = JSON.parse(line) as Record<string, unknown>;
  delete event.timestamp;
  delete event.correlation_id;
  delete event.idempotency_key;
  const headers = (event.request as { headers?: Record<string, string> } | undefined)?.headers;
  if (headers) for (const name of Object.keys(headers)) if (/idempotency/i.test(name)) delete headers[name];
  return `,${JSON.stringify(event).slice(1)}`; // `,"service":...}`
});

// --- the pipeline, as startService builds it (on this thread, or on the worker pool) -------------------
const config = parseConfig('{}\n', 'bench-memory.yaml', { KAFKA_BROKERS: '127.0.0.1:9', KAFKA_TOPIC: 'bench' });
const target = WORKERS === 0 ? await startInThread(config) : await startOnWorkers(config, WORKERS, { inHandPerWorker: { batches: Number(values['fetch-ahead']), bytes: Number(values['fetch-ahead-mb']) * 2 ** 20 }, compiled: values['compiled-workers'] });

// --- run --------------------------------------------------------------------------------------------
interface Sample { events: number; seconds: number; rssMb: number; externalMb: number; heaps: ThreadHeap[]; trackerKeys: number | null; liveHeapMb: number | null }
// With --expose-gc, each sample also records the main thread's heap that survives a full GC (what is retained).
const gc = (globalThis as { gc?: () => void }).gc;
const samples: Sample[] = [];
const t0 = performance.now();
// CPU of the whole process (every thread and V8's GC threads): on a shared host, a steadier measure of cost than wall time.
const cpu0 = process.cpuUsage();
const baseTs = Date.UTC(2026, 10, 22, 0, 0, 0);
const sample = async (events: number): Promise<Sample> => {
  const m = process.memoryUsage();
  const heaps = await target.heaps();
  let liveHeapMb: number | null = null;
  if (gc !== undefined) {
    gc();
    liveHeapMb = process.memoryUsage().heapUsed / 2 ** 20;
  }
  const s: Sample = { events, seconds: (performance.now() - t0) / 1000, rssMb: m.rss / 2 ** 20, externalMb: (m.external + m.arrayBuffers) / 2 ** 20, heaps, trackerKeys: target.trackerKeys(), liveHeapMb };
  samples.push(s);
  return s;
};
const heapText = (h: ThreadHeap): string => `${h.thread} ${h.usedMb.toFixed(0)}/${h.committedMb.toFixed(0)}/${h.limitMb.toFixed(0)}`;
log(`start: RSS ${(await sample(0)).rssMb.toFixed(0)} MB, heaps ${samples[0]!.heaps.map(heapText).join(", ")}`);
let n = 0;
let batches = 0;

while (n < TOTAL) {
  const size = Math.min(BATCH, TOTAL - n);
  // A new array per batch: with workers, batches stay in hand after handOver resolves.
  const records: SourceRecord[] = new Array(size);
  const partition = batches++ % PARTITIONS;
  for (let i = 0; i < size; i++, n++) {
    const text = `{"timestamp":${baseTs + n},"correlation_id":"c${n}"${templates[n % templates.length]}`;
    records[i] = { value: Buffer.from(text), source: 'kafka', topic: 'bench', partition, offset: String(n), key: null, headers: {} };
  }
  await target.handOver(records);
  await turn();
  if (n % SAMPLE_EVERY === 0) {
    const s = await sample(n);
    log(
      `${String(n).padStart(8)} events  ${s.seconds.toFixed(1).padStart(6)} s  RSS ${s.rssMb.toFixed(0).padStart(4)} MB  ext+ab ${s.externalMb.toFixed(0).padStart(4)} MB  heap used/committed/limit MB: ${s.heaps.map(heapText).join(', ')}` +
        `${s.liveHeapMb === null ? '' : `  main live heap ${s.liveHeapMb.toFixed(0).padStart(4)} MB`}${s.trackerKeys === null ? '' : `  tracker keys ${s.trackerKeys}`}`,
    );
  }
  if (n % 250_000 === 0) await target.scrape(n % 500_000 === 0);
  if (n === SNAPSHOT_AT) {
    gc?.();
    log(`heap snapshot: ${writeHeapSnapshot(join(OUT_DIR, `memory-${n}.heapsnapshot`))}`);
  }
}
await target.close();
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const cpuUsPerEvent = (cpu.user + cpu.system) / TOTAL;
const stats = target.spans();
const rejected = target.rejected();
const failedBatches = target.failedBatches();
const processed = target.processed();
const { requests: otlpRequests } = await otlp.close();

// --- summary ------------------------------------------------------------------------------------------
const after = samples.filter((s) => s.events >= WARMUP);
const fit = (xs: number[], ys: number[]): number => {
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return num / den;
};
const slopeRss = fit(after.map((s) => s.events / 1e6), after.map((s) => s.rssMb));
const heapUsed = (s: Sample): number => s.heaps.reduce((sum, h) => sum + h.usedMb, 0);
const slopeHeap = fit(after.map((s) => s.events / 1e6), after.map(heapUsed));
// Per thread: the most heap it used and had committed at a sample, and its limit.
const threads = samples[0]!.heaps.map((first, t) => ({
  thread: first.thread,
  limitMb: first.limitMb,
  maxUsedMb: Math.max(...samples.map((s) => s.heaps[t]!.usedMb)),
  maxCommittedMb: Math.max(...samples.map((s) => s.heaps[t]!.committedMb)),
}));
const maxRss = Math.max(...samples.map((s) => s.rssMb));
const live = after.filter((s) => s.liveHeapMb !== null);
const slopeLive = live.length > 1 ? fit(live.map((s) => s.events / 1e6), live.map((s) => s.liveHeapMb!)) : null;
const afterRss = after.map((s) => s.rssMb);
const summary = {
  date: new Date().toISOString(),
  nodeFlags: process.execArgv,
  mallocArenaMax: process.env.MALLOC_ARENA_MAX ?? null,
  mallocMmapThreshold: process.env.MALLOC_MMAP_THRESHOLD_ ?? null,
  machine: { cpus: cpus().length, model: cpus()[0]?.model, memGiB: totalmem() / 2 ** 30, node: process.version },
  events: TOTAL,
  seconds,
  eventsPerSec: TOTAL / seconds,
  cpuUsPerEvent,
  workers: WORKERS,
  compiledWorkers: values['compiled-workers'],
  fetchAheadPerWorker: { batches: Number(values['fetch-ahead']), mb: Number(values['fetch-ahead-mb']) },
  processed,
  failedBatches,
  rejected,
  spans: stats,
  otlpRequests,
  maxRssMb: maxRss,
  threads,
  afterWarmup: { fromEvents: WARMUP, minRssMb: Math.min(...afterRss), maxRssMb: Math.max(...afterRss), rssSlopeMbPerMillion: slopeRss, heapSlopeMbPerMillion: slopeHeap, liveHeapSlopeMbPerMillion: slopeLive },
  samples,
};
const curve = samples.filter((_, i) => i % 5 === 0 || i === samples.length - 1).map((s) => `${(s.events / 1e6).toFixed(1)}M:${s.rssMb.toFixed(0)}`).join(' ');
process.stdout.write(
  `node flags: ${process.execArgv.join(' ') || '(none)'}; MALLOC_ARENA_MAX ${process.env.MALLOC_ARENA_MAX ?? '(unset)'}, MALLOC_MMAP_THRESHOLD_ ${process.env.MALLOC_MMAP_THRESHOLD_ ?? '(unset)'}; ${WORKERS === 0 ? 'no workers (main thread)' : `${WORKERS} worker${WORKERS === 1 ? '' : 's'} (${values['compiled-workers'] ? 'compiled, dist/' : 'TypeScript sources'}), ${values['fetch-ahead']} batches and ${values['fetch-ahead-mb']} MB in hand per worker at most`}\n` +
    `memory: ${TOTAL} events with distinct correlation ids in ${seconds.toFixed(1)} s (${Math.round(TOTAL / seconds)} events/s, ${cpuUsPerEvent.toFixed(1)} us CPU per event), ${processed} processed, ${failedBatches} batches failed, ${rejected} rejected\n` +
    `  RSS curve (events:MB): ${curve}\n` +
    `  max RSS ${maxRss.toFixed(0)} MB (target < 250 MB: ${maxRss < 250 ? 'met' : 'MISSED'}); ratio to the 250 MB ceiling ${(maxRss / 250).toFixed(2)}\n` +
    `  after warm-up (>= ${WARMUP} events): RSS ${Math.min(...afterRss).toFixed(0)}..${Math.max(...afterRss).toFixed(0)} MB, slope ${slopeRss.toFixed(2)} MB per 1M events (heap ${slopeHeap.toFixed(2)} MB per 1M${slopeLive === null ? '' : `; heap live after a full GC ${Math.min(...live.map((s) => s.liveHeapMb!)).toFixed(0)}..${Math.max(...live.map((s) => s.liveHeapMb!)).toFixed(0)} MB, slope ${slopeLive.toFixed(2)} MB per 1M`})\n` +
    `  heap per thread (max used / max committed / limit, MB): ${threads.map((t) => `${t.thread} ${t.maxUsedMb.toFixed(0)}/${t.maxCommittedMb.toFixed(0)}/${t.limitMb.toFixed(0)}`).join(', ')}\n` +
    `  tracker keys at end ${samples[samples.length - 1]!.trackerKeys}; spans started ${stats?.started ?? 0}, dropped ${(stats?.droppedQueueFull ?? 0) + (stats?.droppedExportFailed ?? 0)}, OTLP requests ${otlpRequests}\n`,
);
if (values.json) writeFileSync(values.json, JSON.stringify(summary, null, 2) + '\n');
