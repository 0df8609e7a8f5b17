// What the worker's per-event signal tuples cost (src/pipeline/workers/signal-tuples.ts), on the
// classify benchmark's events: the worker's `SignalPacker.add` and `take`, and the main thread's
// `SignalUnpacker.engineSignal` + `event` for every tuple, CPU per event.
//
//   node bench/kafka/signal-tuples.ts [--lines N (5000)] [--passes P (40)] [--rounds R (5)] [--batch B (62)]
//
// Events are decoded, classified and correlated once, up front; then each round packs them in
// batches of B (the size kafkajs handed over in the Kafka runs), P times over, and unpacks every
// batch, timing the two sides separately with the thread's CPU clock (which ticks coarsely on some
// hosts: hence whole passes, not batches). Prints the median of the rounds. Few lines keep the
// events in the CPU caches, as in the worker, where the event was just processed.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { emptySignal } from '../../src/alerting/engine/signal.ts';
import { createClassifier } from '../../src/classify/classifier.ts';
import { createCorrelationTracker } from '../../src/classify/correlation.ts';
import { createDecoder } from '../../src/events/decode.ts';
import type { ProcessedEvent } from '../../src/pipeline/types.ts';
import { SignalPacker, SignalUnpacker } from '../../src/pipeline/workers/signal-tuples.ts';
import type { SourceRecord } from '../../src/sources/record.ts';
import { DEFAULT_CONFIG } from '../../test/support/config.ts';
import { DEFAULT_SEED, ensureDataset } from '../classify/generate.ts';

const { values } = parseArgs({
  options: { lines: { type: 'string', default: '5000' }, passes: { type: 'string', default: '40' }, rounds: { type: 'string', default: '5' }, batch: { type: 'string', default: '62' } },
});
const { dataset } = ensureDataset(Number(values.lines), DEFAULT_SEED);
const classifier = await createClassifier();
const decoder = createDecoder({ idHeaders: classifier.idHeaders });
const tracker = createCorrelationTracker({ correlation: DEFAULT_CONFIG.correlation });
const events: ProcessedEvent[] = [];
const records: SourceRecord[] = [];
for (const line of readFileSync(dataset.file, 'utf8').split('\n')) {
  if (line === '') continue;
  const record: SourceRecord = { value: Buffer.from(line), source: 'kafka', topic: 'bench', partition: 0, offset: String(records.length), key: null, headers: {} };
  const decoded = decoder.decode(record.value!);
  if (!decoded.ok) continue;
  const classification = classifier.classify(decoded.event);
  events.push({ record, event: decoded.event, classification, correlation: tracker.observe(decoded.event, classification) });
  records.push(record);
}
const batch = Number(values.batch);
const passes = Number(values.passes);
const batches: SourceRecord[][] = [];
for (let from = 0; from < records.length; from += batch) batches.push(records.slice(from, from + batch));
const cpuUs = (): number => {
  const u = process.threadCpuUsage();
  return u.user + u.system;
};
const packUs: number[] = [];
const unpackUs: number[] = [];
const into = emptySignal();
let sink = 0;
for (let round = 0; round <= Number(values.rounds); round++) {
  // A fresh pair per round, as a worker starts with empty tables; round 0 warms up.
  const packer = new SignalPacker();
  const unpacker = new SignalUnpacker(records[0]!);
  // Packing all batches, then unpacking all of them, so each side is timed in one piece (a thread's
  // CPU clock may tick more coarsely than one batch takes).
  const replies: ReturnType<SignalPacker['take']>[] = [];
  const t0 = cpuUs();
  for (let pass = 0; pass < passes; pass++) {
    for (let from = 0; from < events.length; from += batch) {
      const to = Math.min(events.length, from + batch);
      for (let i = from; i < to; i++) packer.add(i - from, events[i]!);
      replies.push(packer.take());
    }
  }
  const t1 = cpuUs();
  for (let b = 0; b < replies.length; b++) {
    const reply = replies[b]!;
    const slice = batches[b % batches.length]!;
    unpacker.learn(reply);
    const n = reply.signals.length / 4;
    for (let k = 0; k < n; k++) {
      sink += unpacker.engineSignal(reply.signals, k, slice, into).timestampMs;
      sink += unpacker.event(reply.signals, k, slice).event.timestampMs;
    }
  }
  const t2 = cpuUs();
  const packed = t1 - t0;
  const unpacked = t2 - t1;
  if (round > 0) {
    packUs.push(packed / (passes * events.length));
    unpackUs.push(unpacked / (passes * events.length));
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
process.stdout.write(`${JSON.stringify({ events: events.length, batch, packUsPerEvent: median(packUs), unpackUsPerEvent: median(unpackUs), packRounds: packUs.map((x) => +x.toFixed(3)), unpackRounds: unpackUs.map((x) => +x.toFixed(3)), sink: sink > 0 })}\n`);
