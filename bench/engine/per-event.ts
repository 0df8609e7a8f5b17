// CPU per event of the alert engine's `onEvent` with the shipped rules (rules/), on the classify
// benchmark's events already decoded, classified and correlated (issue 13).
//
//   node bench/engine/per-event.ts [--lines N (20000)] [--passes P (24)]
//
// Each pass hands the engine every event once more, later by the data's time span and with offsets
// that continue, so every pass is counted (not late, not already in the engine's state). Passes 1
// and 2 warm up; prints the median CPU per event of the others, as one JSON line.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createClassifier } from '../../src/classify/classifier.ts';
import { createCorrelationTracker } from '../../src/classify/correlation.ts';
import { parseConfig } from '../../src/config/config.ts';
import { createDecoder } from '../../src/events/decode.ts';
import { startAlertingFromConfig } from '../../src/pipeline/from-config.ts';
import type { ProcessedEvent } from '../../src/pipeline/types.ts';
import { createMetricsRegistry } from '../../src/sinks/exposition.ts';
import { DEFAULT_SEED, ensureDataset, ROOT } from '../classify/generate.ts';

const { values } = parseArgs({ options: { lines: { type: 'string', default: '20000' }, passes: { type: 'string', default: '24' } } });
const { dataset } = ensureDataset(Number(values.lines), DEFAULT_SEED);
const config = parseConfig(null, 'bench.yaml', { KAFKA_BROKERS: '127.0.0.1:9', KAFKA_TOPIC: 'bench' });
const classifier = await createClassifier();
const decoder = createDecoder({ idHeaders: classifier.idHeaders });
const tracker = createCorrelationTracker({ correlation: config.correlation });
const decoded: Omit<ProcessedEvent, 'record'>[] = [];
for (const line of readFileSync(dataset.file, 'utf8').split('\n')) {
  if (line === '') continue;
  const d = decoder.decode(Buffer.from(line));
  if (!d.ok) continue;
  const classification = classifier.classify(d.event);
  decoded.push({ event: d.event, classification, correlation: tracker.observe(d.event, classification) });
}
const alerting = await startAlertingFromConfig({ ...config, rules: { ...config.rules, dir: join(ROOT, 'rules') } }, createMetricsRegistry(), undefined, {
  alertmanager: { ...config.alertmanager, url: null },
  watch: false,
  reloadSignal: null,
});
const engine = alerting!.engine;
const span = decoded[decoded.length - 1]!.event.timestampMs - decoded[0]!.event.timestampMs + 1000;
const cpuUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const perPass: number[] = [];
for (let pass = 0; pass < Number(values.passes); pass++) {
  const events: ProcessedEvent[] = decoded.map((p, i) => ({
    ...p,
    event: { ...p.event, timestampMs: p.event.timestampMs + pass * span },
    record: { value: null, source: 'kafka', topic: 'bench', partition: 0, offset: String(pass * decoded.length + i), key: null, headers: {} },
  }));
  const t0 = cpuUs();
  for (let i = 0; i < events.length; i++) engine.onEvent(events[i]!);
  if (pass > 1) perPass.push((cpuUs() - t0) / events.length);
}
perPass.sort((a, b) => a - b);
process.stdout.write(`${JSON.stringify({ events: decoded.length, engineUsPerEvent: perPass[Math.floor(perPass.length / 2)] })}\n`);
await alerting?.close();
process.exit(0);
