// CPU per event of everything `paysignal run` does to a record after decoding it, on one thread:
// classify -> correlate -> metrics (with exemplars) -> spans (shipped sampling, OTLP to a black hole
// in another process) -> the alert engine with the shipped rules (issue 13).
//
//   node bench/classify/after-decode.ts [--lines N (50000)] [--passes P (5)]
//
// The lines are decoded once, up front, so decode's cost and garbage stay out of the measurement;
// then P passes run the decoded events through the stages (the correlation tracker is cleared
// before each pass, so every pass sees the same attempts as the first; event times and offsets move
// on). Pass 1 warms up (JIT, series, groups); passes 2 to P are measured with process CPU (helper
// threads, e.g. GC, included) and the main thread's CPU. Prints one JSON line.
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { setImmediate as turn } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createClassifier } from '../../src/classify/classifier.ts';
import { parseConfig } from '../../src/config/config.ts';
import { createDecoder } from '../../src/events/decode.ts';
import type { PaymentCallEvent } from '../../src/events/event.ts';
import { signalsFromConfig, startAlertingFromConfig } from '../../src/pipeline/from-config.ts';
import type { EventSink, ProcessedEvent } from '../../src/pipeline/types.ts';
import { createMetricsRegistry } from '../../src/sinks/exposition.ts';
import type { SourceRecord } from '../../src/sources/record.ts';
import { startOtlpBlackHole } from '../support/otlp-black-hole.ts';
import { DEFAULT_SEED, ensureDataset, ROOT } from './generate.ts';

const { values } = parseArgs({ options: { lines: { type: 'string', default: '50000' }, passes: { type: 'string', default: '5' } } });
const { dataset } = ensureDataset(Number(values.lines), DEFAULT_SEED);
const classifier = await createClassifier();
const decoder = createDecoder({ idHeaders: classifier.idHeaders });
const events: PaymentCallEvent[] = [];
const records: SourceRecord[] = [];
for (const line of readFileSync(dataset.file, 'utf8').split('\n')) {
  if (line === '') continue;
  const value = Buffer.from(line);
  const decoded = decoder.decode(value);
  if (!decoded.ok) continue;
  events.push(decoded.event);
  records.push({ value, source: 'kafka', topic: 'bench', partition: 0, offset: String(records.length), key: null, headers: {} });
}
const otlp = await startOtlpBlackHole();
process.env.OTEL_EXPORTER_OTLP_ENDPOINT = otlp.url;
const config = parseConfig('tracing:\n  enabled: true\n', 'bench.yaml', { KAFKA_BROKERS: '127.0.0.1:9', KAFKA_TOPIC: 'bench' });
const registry = createMetricsRegistry();
const signals = signalsFromConfig(config, classifier, registry);
const alerting = await startAlertingFromConfig({ ...config, rules: { ...config.rules, dir: join(ROOT, 'rules') } }, registry, undefined, {
  alertmanager: { ...config.alertmanager, url: null },
  watch: false,
  reloadSignal: null,
});
const sinks: EventSink[] = [...signals.sinks, ...(alerting !== null ? [alerting.engine] : [])];
const threadUs = (): number => {
  const u = process.threadCpuUsage();
  return u.user + u.system;
};
const passes = Number(values.passes);
// Each pass is later than the one before by the data's time span plus an hour, with offsets that
// continue, so the alert engine counts every pass (not as late events or offsets already in its
// state) and the correlation tracker's clock moves on.
const span = events[events.length - 1]!.timestampMs - events[0]!.timestampMs + 3_600_000;
let processUs = 0;
let mainUs = 0;
for (let pass = 0; pass < passes; pass++) {
  const shifted = events.map((e) => ({ ...e, timestampMs: e.timestampMs + pass * span }));
  const passRecords = records.map((r, i) => ({ ...r, offset: String(pass * records.length + i) }));
  signals.tracker.clear();
  const process0 = process.cpuUsage();
  const thread0 = threadUs();
  for (let i = 0; i < shifted.length; i++) {
    const event = shifted[i]!;
    const classification = classifier.classify(event);
    const processed: ProcessedEvent = { record: passRecords[i]!, event, classification, correlation: signals.tracker.observe(event, classification) };
    for (let s = 0; s < sinks.length; s++) sinks[s]!.onEvent(processed);
    // The event loop runs between batches, as between Kafka batches (span export, timers).
    if (i % 1000 === 999) await turn();
  }
  const cpu = process.cpuUsage(process0);
  // Pass 1 warms up (JIT, series, groups).
  if (pass > 0) {
    processUs += cpu.user + cpu.system;
    mainUs += threadUs() - thread0;
  }
}
const measured = (passes - 1) * events.length;
await alerting?.close();
await signals.close();
await otlp.close();
process.stdout.write(`${JSON.stringify({ events: events.length, processCpuUsPerEvent: processUs / measured, mainThreadCpuUsPerEvent: mainUs / measured })}\n`);
process.exit(0);
