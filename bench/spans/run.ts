// What spans cost per event (issue 13): the signal stage of `paysignal run` (metrics, and spans over
// OTLP/HTTP protobuf to a black-hole receiver in another process) on events already decoded,
// classified and correlated in memory, with spans off and on, each in a fresh process.
//
//   node bench/spans/run.ts [--lines N (200000)] [--rounds R (3)] [--budget B (default 1000; 0 = no limit)]
//                           [--ratio R (0.1)] [--node-options=FLAGS]
//
// Events go through the sinks 1,000 at a time with an event-loop turn in between (span export runs
// there, as between Kafka batches); the clock and the CPU count include the final export. The export
// queue is raised so that no span is dropped for room (the shipped 8192 can fill here). Error
// spans' wall-clock budget sees the real clock, so at this speed the budget is in force.
// Prints CPU per event for each mode (median of rounds) and the difference: the spans' cost.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createClassifier } from '../../src/classify/classifier.ts';
import { createCorrelationTracker } from '../../src/classify/correlation.ts';
import { parseConfig } from '../../src/config/config.ts';
import { createDecoder } from '../../src/events/decode.ts';
import type { ProcessedEvent } from '../../src/pipeline/types.ts';
import { createMetricsRegistry } from '../../src/sinks/exposition.ts';
import { createSignals } from '../../src/sinks/signals.ts';
import { DEFAULT_SEED, ensureDataset } from '../classify/generate.ts';
import { startOtlpBlackHole } from '../support/otlp-black-hole.ts';

const { values } = parseArgs({
  options: {
    lines: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '3' },
    budget: { type: 'string', default: '1000' },
    ratio: { type: 'string', default: '0.1' },
    'node-options': { type: 'string', default: '' },
    mode: { type: 'string' },
  },
});

interface Measured {
  mode: string;
  events: number;
  cpuUsPerEvent: number;
  wallMs: number;
  spans: number;
  droppedBudget: number;
  droppedOther: number;
}

async function measure(mode: 'off' | 'on'): Promise<Measured> {
  const { dataset } = ensureDataset(Number(values.lines), DEFAULT_SEED);
  const classifier = await createClassifier();
  const decoder = createDecoder({ idHeaders: classifier.idHeaders });
  const tracker = createCorrelationTracker({ correlation: parseConfig(null, null, {}).correlation });
  const events: ProcessedEvent[] = [];
  for (const line of readFileSync(dataset.file).toString('utf8').split('\n')) {
    if (line === '') continue;
    const decoded = decoder.decode(Buffer.from(line));
    if (!decoded.ok) continue;
    const record = { value: Buffer.alloc(0), source: 'kafka', topic: 't', partition: 0, offset: '0', key: null, headers: {} };
    const classification = classifier.classify(decoded.event);
    events.push({ record, event: decoded.event, classification, correlation: tracker.observe(decoded.event, classification) });
  }
  const blackHole = mode === 'on' ? await startOtlpBlackHole() : null;
  const signals = createSignals({
    classifier,
    registry: createMetricsRegistry(),
    metrics: parseConfig(null, null, {}).metrics,
    correlation: parseConfig(null, null, {}).correlation,
    tracing:
      blackHole === null
        ? { enabled: false, success_sample_ratio: 0, max_error_spans_per_second: 0 }
        : { enabled: true, success_sample_ratio: Number(values.ratio), max_error_spans_per_second: Number(values.budget), otlp: { url: `${blackHole.url}/v1/traces` } },
  });
  const sinks = signals.sinks;
  // Warm-up on the first 10% (JIT), then the measured pass over everything.
  for (let i = 0; i < events.length / 10; i++) for (const s of sinks) s.onEvent(events[i]!);
  await signals.traces?.forceFlush();
  const before = signals.traces?.stats();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let from = 0; from < events.length; from += 1000) {
    const to = Math.min(events.length, from + 1000);
    for (let i = from; i < to; i++) for (let s = 0; s < sinks.length; s++) sinks[s]!.onEvent(events[i]!);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await signals.traces?.forceFlush();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const after = signals.traces?.stats();
  await signals.close();
  await blackHole?.close();
  return {
    mode,
    events: events.length,
    cpuUsPerEvent: (cpu.user + cpu.system) / events.length,
    wallMs,
    spans: (after?.started ?? 0) - (before?.started ?? 0),
    droppedBudget: (after?.droppedBudget ?? 0) - (before?.droppedBudget ?? 0),
    droppedOther: (after ? after.droppedQueueFull + after.droppedExportFailed : 0) - (before ? before.droppedQueueFull + before.droppedExportFailed : 0),
  };
}

if (values.mode === 'off' || values.mode === 'on') {
  process.stdout.write(`${JSON.stringify(await measure(values.mode))}\n`);
} else {
  const flags = values['node-options'].split(/\s+/).filter((f) => f !== '');
  const runs: Record<'off' | 'on', Measured[]> = { off: [], on: [] };
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const mode of round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      const args = [...flags, fileURLToPath(import.meta.url), '--mode', mode, '--lines', values.lines, '--budget', values.budget, '--ratio', values.ratio];
      // A queue that holds a whole run: the cost of every kept span is measured, none is dropped for lack of room.
      const env = { ...process.env, OTEL_BSP_MAX_QUEUE_SIZE: '262144' };
      const child = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 20, env });
      if (child.status !== 0) throw new Error(`${mode} run failed: ${child.stderr}`);
      const result = JSON.parse(child.stdout.trim().split('\n').pop()!) as Measured;
      runs[mode].push(result);
      process.stderr.write(`round ${round + 1} spans ${mode}: ${result.cpuUsPerEvent.toFixed(2)} us CPU/event, ${result.spans} spans, dropped by budget ${result.droppedBudget}, other drops ${result.droppedOther}\n`);
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const off = median(runs.off.map((r) => r.cpuUsPerEvent));
  const on = median(runs.on.map((r) => r.cpuUsPerEvent));
  process.stdout.write(
    `signal stage on ${runs.on[0]!.events} events (budget ${values.budget}/s, success ratio ${values.ratio}, flags '${flags.join(' ')}'), median of ${values.rounds}:\n` +
      `  metrics only:      ${off.toFixed(2)} us CPU per event\n` +
      `  metrics + spans:   ${on.toFixed(2)} us CPU per event (${median(runs.on.map((r) => r.spans))} spans)\n` +
      `  spans cost:        ${(on - off).toFixed(2)} us CPU per event\n`,
  );
}
