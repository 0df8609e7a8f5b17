// Memory benchmark (issue 8): 5M events with distinct correlation ids through `paysignal run`'s
// pipeline, in process (no Kafka: the records go to pipeline.processRecord in batches the way the
// Kafka source hands them over), measuring RSS over time.
//
//   node bench/memory/run.ts [--events 5000000] [--batch 1000] [--warmup 1000000] [--json FILE] [--heap-snapshot-at N]
//                            [--node-options=FLAGS (default: the shipped ones, src/service-node-options.ts; '' for V8's defaults)]
//
// The pipeline is the one startService builds: decoder, classifier, correlation tracker (config
// defaults: 100k keys, 1 h TTL), metrics sink on a registry with process metrics, spans
// (success_sample_ratio 0.1, every error span) exported over OTLP/HTTP protobuf to a black-hole
// receiver in a child process (bench/support/otlp-black-hole.ts), the alert engine with the shipped rules (rules/, no Alertmanager), and a
// dead-letter sink that only counts. Events: the first 10,000 lines of the classify benchmark's data
// as templates; each event gets a new correlation id (`c<n>`), idempotency-key headers are removed
// so the id is the correlation key, and event time advances 1 ms per event (5M events: 83 min of
// event time, so the 1 h correlation TTL and the rule windows roll over). Between batches the
// pipeline is flushed and the event loop turns (span export and rule timers run); /metrics is
// rendered every 250k events. Target: RSS < 250 MB and flat after warm-up.
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { writeHeapSnapshot } from 'node:v8';
import { signalsFromConfig, startAlertingFromConfig } from '../../src/pipeline/from-config.ts';
import { createClassifier } from '../../src/classify/classifier.ts';
import { parseConfig } from '../../src/config/config.ts';
import { createDecoder } from '../../src/events/decode.ts';
import { loadMapping } from '../../src/events/mapping.ts';
import { createPipeline } from '../../src/pipeline/pipeline.ts';
import type { DeadLetterSink } from '../../src/pipeline/types.ts';
import { createMetricsRegistry } from '../../src/sinks/exposition.ts';
import type { SourceRecord } from '../../src/sources/record.ts';
import { DEFAULT_SEED, ensureDataset, OUT_DIR, ROOT } from '../classify/generate.ts';
import { startOtlpBlackHole } from '../support/otlp-black-hole.ts';
import { SERVICE_NODE_OPTIONS } from '../../src/service-node-options.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '5000000' },
    batch: { type: 'string', default: '1000' },
    warmup: { type: 'string', default: '1000000' },
    json: { type: 'string' },
    // Writes a heap snapshot after this many events (after a full GC when run with --expose-gc).
    'heap-snapshot-at': { type: 'string' },
    // V8 flags of the measured process; default the ones the image and the chart ship with.
    'node-options': { type: 'string', default: SERVICE_NODE_OPTIONS },
  },
});

// The measurement runs in a child started with the V8 flags under test (and this process' own
// flags, such as --expose-gc), because a heap limit cannot be changed once Node runs.
if (process.env.PAYSIGNAL_BENCH_MEMORY_CHILD !== '1') {
  const flags = values['node-options'].split(/\s+/).filter((f) => f !== '');
  const child = spawnSync(process.execPath, [...process.execArgv, ...flags, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, PAYSIGNAL_BENCH_MEMORY_CHILD: '1' },
  });
  process.exit(child.status ?? 1);
}
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
const templateLines = readFileSync(dataset.file, 'utf8').split('\n').filter((l) => l.length > 0).slice(0, 10_000);
const templates = templateLines.map((line) => {
  const event = JSON.parse(line) as Record<string, unknown>;
  delete event.timestamp;
  delete event.correlation_id;
  delete event.idempotency_key;
  const headers = (event.request as { headers?: Record<string, string> } | undefined)?.headers;
  if (headers) for (const name of Object.keys(headers)) if (/idempotency/i.test(name)) delete headers[name];
  return `,${JSON.stringify(event).slice(1)}`; // `,"service":...}`
});

// --- the pipeline, as startService builds it --------------------------------------------------------
const config = parseConfig('{}\n', 'bench-memory.yaml', { KAFKA_BROKERS: '127.0.0.1:9', KAFKA_TOPIC: 'bench' });
const registry = createMetricsRegistry();
const [classifier, mapping] = await Promise.all([createClassifier(), loadMapping(config.input.mapping)]);
const decoder = createDecoder({ maxBytes: config.input.max_event_bytes, mapping, idHeaders: classifier.idHeaders });
const signals = signalsFromConfig(config, classifier, registry);
// The shipped rules, evaluated but not sent anywhere, and not watched.
const alerting = (await startAlertingFromConfig({ ...config, rules: { ...config.rules, dir: join(ROOT, 'rules') } }, registry, undefined, { alertmanager: { ...config.alertmanager, url: null }, watch: false, reloadSignal: null }))!;
let rejected = 0;
const deadLetter: DeadLetterSink = { add: () => void rejected++, flush: async () => {} };
const pipeline = createPipeline({ decoder, classifier, tracker: signals.tracker, sinks: [...signals.sinks, alerting.engine], deadLetter });

// --- run --------------------------------------------------------------------------------------------
interface Sample { events: number; seconds: number; rssMb: number; heapUsedMb: number; externalMb: number; trackerKeys: number; liveHeapMb: number | null }
// With --expose-gc, each sample also records the heap that survives a full GC (what is retained).
const gc = (globalThis as { gc?: () => void }).gc;
const samples: Sample[] = [];
const t0 = performance.now();
// CPU of the whole process (main thread and V8's GC threads): on a shared host, a steadier measure of cost than wall time.
const cpu0 = process.cpuUsage();
const baseTs = Date.UTC(2026, 10, 22, 0, 0, 0);
const sample = (events: number): void => {
  const m = process.memoryUsage();
  let liveHeapMb: number | null = null;
  if (gc !== undefined) {
    gc();
    liveHeapMb = process.memoryUsage().heapUsed / 2 ** 20;
  }
  samples.push({ events, seconds: (performance.now() - t0) / 1000, rssMb: m.rss / 2 ** 20, heapUsedMb: m.heapUsed / 2 ** 20, externalMb: (m.external + m.arrayBuffers) / 2 ** 20, trackerKeys: signals.tracker.size, liveHeapMb });
};
sample(0);
const records: SourceRecord[] = new Array(BATCH);
let n = 0;

while (n < TOTAL) {
  const size = Math.min(BATCH, TOTAL - n);
  records.length = size;
  for (let i = 0; i < size; i++, n++) {
    const text = `{"timestamp":${baseTs + n},"correlation_id":"c${n}"${templates[n % templates.length]}`;
    records[i] = { value: Buffer.from(text), source: 'kafka', topic: 'bench', partition: 0, offset: String(n), key: null, headers: {} };
  }
  await pipeline.handleBatch(records);
  await turn();
  if (n % SAMPLE_EVERY === 0) {
    sample(n);
    const s = samples[samples.length - 1]!;
    log(`${String(n).padStart(8)} events  ${s.seconds.toFixed(1).padStart(6)} s  RSS ${s.rssMb.toFixed(0).padStart(4)} MB  heap ${s.heapUsedMb.toFixed(0).padStart(4)} MB  ext+ab ${s.externalMb.toFixed(0).padStart(4)} MB${s.liveHeapMb === null ? '' : `  live heap ${s.liveHeapMb.toFixed(0).padStart(4)} MB`}  tracker keys ${s.trackerKeys}`);
  }
  if (n % 250_000 === 0) await signals.exposition.render(n % 500_000 === 0);
  if (n === SNAPSHOT_AT) {
    (globalThis as { gc?: () => void }).gc?.();
    log(`heap snapshot: ${writeHeapSnapshot(join(OUT_DIR, `memory-${n}.heapsnapshot`))}`);
  }
}
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const cpuUsPerEvent = (cpu.user + cpu.system) / TOTAL;
const stats = signals.traces?.stats();
await pipeline.close();
await alerting.close();
await signals.close();
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
const slopeHeap = fit(after.map((s) => s.events / 1e6), after.map((s) => s.heapUsedMb));
const maxRss = Math.max(...samples.map((s) => s.rssMb));
const live = after.filter((s) => s.liveHeapMb !== null);
const slopeLive = live.length > 1 ? fit(live.map((s) => s.events / 1e6), live.map((s) => s.liveHeapMb!)) : null;
const afterRss = after.map((s) => s.rssMb);
const summary = {
  date: new Date().toISOString(),
  nodeFlags: process.execArgv,
  machine: { cpus: cpus().length, model: cpus()[0]?.model, memGiB: totalmem() / 2 ** 30, node: process.version },
  events: TOTAL,
  seconds,
  eventsPerSec: TOTAL / seconds,
  cpuUsPerEvent,
  rejected,

  spans: stats,
  otlpRequests,
  maxRssMb: maxRss,
  afterWarmup: { fromEvents: WARMUP, minRssMb: Math.min(...afterRss), maxRssMb: Math.max(...afterRss), rssSlopeMbPerMillion: slopeRss, heapSlopeMbPerMillion: slopeHeap, liveHeapSlopeMbPerMillion: slopeLive },
  samples,
};
const curve = samples.filter((_, i) => i % 5 === 0 || i === samples.length - 1).map((s) => `${(s.events / 1e6).toFixed(1)}M:${s.rssMb.toFixed(0)}`).join(' ');
process.stdout.write(
  `node flags: ${process.execArgv.join(' ') || '(none)'}\n` +
  `memory: ${TOTAL} events with distinct correlation ids in ${seconds.toFixed(1)} s (${Math.round(TOTAL / seconds)} events/s, ${cpuUsPerEvent.toFixed(1)} us CPU per event), ${rejected} rejected\n` +
    `  RSS curve (events:MB): ${curve}\n` +
    `  max RSS ${maxRss.toFixed(0)} MB (target < 250 MB: ${maxRss < 250 ? 'met' : 'MISSED'}); ratio to the 250 MB ceiling ${(maxRss / 250).toFixed(2)}\n` +
    `  after warm-up (>= ${WARMUP} events): RSS ${Math.min(...afterRss).toFixed(0)}..${Math.max(...afterRss).toFixed(0)} MB, slope ${slopeRss.toFixed(2)} MB per 1M events (heap ${slopeHeap.toFixed(2)} MB per 1M${slopeLive === null ? '' : `; heap live after a full GC ${Math.min(...live.map((s) => s.liveHeapMb!)).toFixed(0)}..${Math.max(...live.map((s) => s.liveHeapMb!)).toFixed(0)} MB, slope ${slopeLive.toFixed(2)} MB per 1M`})\n` +
    `  tracker keys at end ${samples[samples.length - 1]!.trackerKeys}; spans started ${stats?.started ?? 0}, dropped ${(stats?.droppedQueueFull ?? 0) + (stats?.droppedExportFailed ?? 0)}, OTLP requests ${otlpRequests}\n`,
);
if (values.json) writeFileSync(values.json, JSON.stringify(summary, null, 2) + '\n');
