// What decoding costs per event depending on what else runs in the process and on the V8 heap flags
// (issue 13: decode looked twice as expensive in `paysignal run` as in `paysignal classify`).
//
//   node bench/classify/decode-in-context.ts [--lines N (200000)] [--rounds R (3)] [--fetch N (17000)] [--heap-flags FLAGS]
//
// Each measurement is a fresh process over the same N lines held in memory (after a warm-up over N
// others), in one of two contexts:
// - `decode`: only decoding, as the classify workers spend most of their time;
// - `pipeline`: decode -> classify -> correlate -> metrics, spans (shipped settings: success ratio
//   0.1, error-span budget 1000/s, OTLP to a black hole in another process) and the shipped rules,
//   as `paysignal run` does per record,
// and with either V8's defaults (what `paysignal classify` runs with) or the shipped heap flags
// (src/service-node-options.ts, what `paysignal run` runs with in the image and the chart).
// With --fetch N, records come from simulated Kafka fetches as kafkajs hands them over: one Buffer
// per N records holding all their bytes, and a message object (value slice, offset, timestamp,
// headers) per record, all alive until the last of the N is processed (a 10 MB fetch of 592-byte
// events is about 17,000 records).
// Records are handled 50 at a time: decode the 50 (timed), then pass them on, so that no more than
// 50 decoded events are alive because of the measurement itself. Time is the main thread's CPU
// (process.threadCpuUsage), so it includes the garbage collection decoding triggers on that thread
// but not other processes on a shared host; process CPU adds V8's helper threads.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { setImmediate as turn } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createClassifier } from '../../src/classify/classifier.ts';
import { parseConfig } from '../../src/config/config.ts';
import { createDecoder, type DecodeResult } from '../../src/events/decode.ts';
import { signalsFromConfig, startAlertingFromConfig } from '../../src/pipeline/from-config.ts';
import type { EventSink, ProcessedEvent } from '../../src/pipeline/types.ts';
import { SERVICE_NODE_OPTIONS } from '../../src/service-node-options.ts';
import { createMetricsRegistry } from '../../src/sinks/exposition.ts';
import { startOtlpBlackHole } from '../support/otlp-black-hole.ts';
import { DEFAULT_SEED, ensureDataset, readDatasetLines, ROOT } from './generate.ts';

const { values } = parseArgs({
  options: {
    lines: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '3' },
    context: { type: 'string' },
    'heap-flags': { type: 'string', default: SERVICE_NODE_OPTIONS },
    // Records per simulated Kafka fetch (0: none); see `fetched` below.
    fetch: { type: 'string', default: '0' },
  },
});

const WARM_UP_EARLIER_MS = 7 * 86_400_000;

interface Measured {
  decodeUsPerEvent: number;
  processCpuUsPerEvent: number;
  scavenges: number;
  markCompacts: number;
}

async function measure(context: 'decode' | 'pipeline'): Promise<Measured> {
  // The warm-up pass reads other lines (another seed) than the measured one: replaying the same
  // lines would meet the tracker's keys again (a lookup instead of an insert) and the alert engine
  // would skip offsets it has already seen. Both datasets start at the same event time, so the
  // warm-up's events are moved a week earlier: otherwise the measured ones would reach the engine
  // as late events.
  const datasetLines = (seed: number): Buffer[] => readDatasetLines(ensureDataset(Number(values.lines), seed).dataset.file);
  const classifier = await createClassifier();
  const decoder = createDecoder({ idHeaders: classifier.idHeaders });
  const otlp = context === 'pipeline' ? await startOtlpBlackHole() : null;
  if (otlp !== null) process.env.OTEL_EXPORTER_OTLP_ENDPOINT = otlp.url;
  const config = parseConfig(`tracing:\n  enabled: ${context === 'pipeline'}\n`, 'bench.yaml', { KAFKA_BROKERS: '127.0.0.1:9', KAFKA_TOPIC: 'bench' });
  const registry = createMetricsRegistry();
  const signals = signalsFromConfig(config, classifier, registry);
  const alerting =
    context === 'pipeline'
      ? await startAlertingFromConfig({ ...config, rules: { ...config.rules, dir: join(ROOT, 'rules') } }, registry, undefined, { alertmanager: { ...config.alertmanager, url: null }, watch: false, reloadSignal: null })
      : null;
  const sinks: EventSink[] = context === 'pipeline' ? [...signals.sinks, ...(alerting !== null ? [alerting.engine] : [])] : [];

  const gcs = { scavenges: 0, markCompacts: 0 };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as unknown as { detail: { kind: number } }).detail.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gcs.scavenges++;
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) gcs.markCompacts++;
    }
  }).observe({ entryTypes: ['gc'] });
  const threadMs = (): number => {
    const u = process.threadCpuUsage();
    return (u.user + u.system) / 1000;
  };
  const FETCH = Number(values.fetch);
  interface FetchedMessage { value: Buffer; offset: string; timestamp: string; key: null; headers: Record<string, Buffer> }
  let lines: Buffer[] = [];
  let offsetBase = 0;
  let fetched: FetchedMessage[] = [];
  const fetch = (from: number): FetchedMessage[] => {
    const bytes = Buffer.concat(lines.slice(from, from + FETCH));
    const messages: FetchedMessage[] = [];
    let at = 0;
    for (let i = from; i < Math.min(lines.length, from + FETCH); i++) {
      messages.push({ value: bytes.subarray(at, at + lines[i]!.length), offset: String(offsetBase + i), timestamp: String(1_795_000_000_000 + offsetBase + i), key: null, headers: {} });
      at += lines[i]!.length;
    }
    return messages;
  };
  const input = (i: number): Buffer => (FETCH > 0 ? fetched[i % FETCH]!.value : lines[i]!);
  const decoded: DecodeResult[] = new Array(50);
  let decodeMs = 0;
  let cpu0 = process.cpuUsage();
  // Pass 0 warms up (JIT, tracker filling) on the warm-up lines; pass 1 is measured. Offsets go on
  // counting across passes, as a partition's would.
  for (let pass = 0; pass < 2; pass++) {
    lines = datasetLines(pass === 0 ? DEFAULT_SEED + 1 : DEFAULT_SEED);
    offsetBase = pass * lines.length;
    if (pass === 1) {
      decodeMs = 0;
      cpu0 = process.cpuUsage();
      gcs.scavenges = gcs.markCompacts = 0;
    }
    for (let from = 0; from < lines.length; from += 50) {
      const to = Math.min(lines.length, from + 50);
      if (FETCH > 0 && from % FETCH === 0) fetched = fetch(from);
      const t0 = threadMs();
      for (let i = from; i < to; i++) decoded[i - from] = decoder.decode(input(i));
      decodeMs += threadMs() - t0;
      if (sinks.length > 0) {
        for (let i = from; i < to; i++) {
          const d = decoded[i - from]!;
          if (!d.ok) continue;
          if (pass === 0) (d.event as { timestampMs: number }).timestampMs -= WARM_UP_EARLIER_MS;
          const classification = classifier.classify(d.event);
          const record = { value: input(i), source: 'kafka', topic: 'bench', partition: 0, offset: String(offsetBase + i), key: null, headers: {} };
          const processed: ProcessedEvent = { record, event: d.event, classification, correlation: signals.tracker.observe(d.event, classification) };
          for (let s = 0; s < sinks.length; s++) sinks[s]!.onEvent(processed);
        }
      }
      decoded.fill(undefined as unknown as DecodeResult);
      if (to % 1000 === 0) await turn();
    }
  }
  await turn();
  const cpu = process.cpuUsage(cpu0);
  const events = lines.length;
  await alerting?.close();
  await signals.close();
  await otlp?.close();
  return { decodeUsPerEvent: (decodeMs * 1000) / events, processCpuUsPerEvent: (cpu.user + cpu.system) / events, ...gcs };
}

if (values.context === 'decode' || values.context === 'pipeline') {
  process.stdout.write(`${JSON.stringify(await measure(values.context))}\n`);
  process.exit(0);
}
const heapFlags = values['heap-flags'].split(/\s+/).filter((f) => f !== '');
const cases: [string, 'decode' | 'pipeline', string[], string][] = [
  ['decode only, V8 defaults', 'decode', [], '0'],
  ['decode only, heap flags', 'decode', heapFlags, '0'],
  ['pipeline, V8 defaults', 'pipeline', [], '0'],
  ['pipeline, heap flags', 'pipeline', heapFlags, '0'],
  ['pipeline + Kafka-like fetches, V8 defaults', 'pipeline', [], values.fetch === '0' ? '17000' : values.fetch],
  ['pipeline + Kafka-like fetches, heap flags', 'pipeline', heapFlags, values.fetch === '0' ? '17000' : values.fetch],
];
const runs = new Map<string, Measured[]>(cases.map(([name]) => [name, []]));
for (let round = 0; round < Number(values.rounds); round++) {
  for (const [name, context, flags, fetch] of cases) {
    const child = spawnSync(process.execPath, [...flags, fileURLToPath(import.meta.url), '--context', context, '--lines', values.lines, '--fetch', fetch], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (child.status !== 0) throw new Error(`${name} failed: ${child.stderr}`);
    const m = JSON.parse(child.stdout.trim().split('\n').pop()!) as Measured;
    runs.get(name)!.push(m);
    process.stderr.write(`round ${round + 1} ${name}: decode ${m.decodeUsPerEvent.toFixed(2)} us, process CPU ${m.processCpuUsPerEvent.toFixed(2)} us per event, ${m.scavenges} scavenges, ${m.markCompacts} mark-compacts\n`);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
process.stdout.write(`decode cost on ${values.lines} lines (one measured pass, after a warm-up pass over other lines), heap flags '${heapFlags.join(' ')}', median of ${values.rounds}:\n`);
process.stdout.write('| case | decode, main-thread CPU per event | process CPU per event | scavenges | mark-compacts |\n|---|---:|---:|---:|---:|\n');
for (const [name] of cases) {
  const r = runs.get(name)!;
  process.stdout.write(
    `| ${name} | ${median(r.map((m) => m.decodeUsPerEvent)).toFixed(2)} us | ${median(r.map((m) => m.processCpuUsPerEvent)).toFixed(2)} us | ${median(r.map((m) => m.scavenges))} | ${median(r.map((m) => m.markCompacts))} |\n`,
  );
}
