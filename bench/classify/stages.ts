// Cost of each stage of `paysignal classify`, in one process on lines already in memory (no I/O, no
// startup): how far each step moves paysignal away from the JSON.parse ceiling.
//
//   node bench/classify/stages.ts [--lines N (200000)] [--seed S] [--passes K (3)]
//
// Stages are cumulative: parse -> decode (parse + validate + normalise + redact) -> + classify ->
// + format the output line. "redaction alone" re-runs just the redaction calls decode makes (every
// header value and every body string) on already-parsed events. Each stage runs in a fresh child
// process so one stage's JIT and heap state do not colour the next.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createClassifier } from '../../src/classify/classifier.ts';
import { LineBuffer } from '../../src/cli/classify/line-buffer.ts';
import { formatClassification } from '../../src/cli/commands/classify.ts';
import { createDecoder } from '../../src/events/decode.ts';
import { redactParsed, redactString } from '../../src/events/redact.ts';
import { COMMON_HEADERS } from '../../src/events/decode.ts';
import { DEFAULT_SEED, ensureDataset, readDatasetLines } from './generate.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      lines: { type: 'string', default: '200000' },
      seed: { type: 'string', default: String(DEFAULT_SEED) },
      passes: { type: 'string', default: '3' },
      stage: { type: 'string' },
    },
  });
  const { dataset } = ensureDataset(Number(values.lines), Number(values.seed));
  const lines = readDatasetLines(dataset.file);
  const classifier = await createClassifier();
  const decoder = createDecoder({ idHeaders: classifier.idHeaders });
  const keptHeaders = new Set([...COMMON_HEADERS, ...classifier.idHeaders]);
  type Parsed = { request?: { headers?: Record<string, unknown> }; response?: { headers?: Record<string, unknown>; body?: unknown } };
  // Only the last stage needs the parsed events; built lazily so they do not weigh on the others' GC.
  let parsed: Parsed[] = [];
  let sink = 0;
  const outputLines = new LineBuffer();
  const LINES_PER_CHUNK = 1700;

  const stages: [string, () => void][] = [
    [
      'toString + JSON.parse (the ceiling core)',
      () => {
        for (const l of lines) sink += (JSON.parse(l.toString('utf8')) as object) === null ? 1 : 0;
      },
    ],
    [
      'decode (parse, validate, normalise, redact)',
      () => {
        for (const l of lines) sink += decoder.decode(l).ok ? 1 : 0;
      },
    ],
    [
      'decode + classify',
      () => {
        for (const l of lines) {
          const d = decoder.decode(l);
          if (d.ok) sink += classifier.classify(d.event).known ? 1 : 0;
        }
      },
    ],
    [
      'decode + classify + format output line, as UTF-8 (a chunk of output per 1,700 lines, as from 1 MiB of input)',
      () => {
        for (let i = 0; i < lines.length; i++) {
          const d = decoder.decode(lines[i]!);
          if (d.ok) outputLines.push(formatClassification(classifier.classify(d.event)));
          if (i % LINES_PER_CHUNK === LINES_PER_CHUNK - 1) sink += outputLines.take().length;
        }
        sink += outputLines.take().length;
      },
    ],
    [
      'redaction alone (headers + body, on parsed events)',
      () => {
        if (parsed.length === 0) parsed = lines.map((l) => JSON.parse(l.toString('utf8')) as Parsed);
        for (const e of parsed) {
          for (const headers of [e.request?.headers, e.response?.headers]) {
            if (headers === undefined) continue;
            // As decode does: only the headers paysignal keeps are redacted, the rest are dropped.
            for (const name of Object.keys(headers)) {
              if (keptHeaders.has(name.toLowerCase())) sink += redactString(String(headers[name])).length;
            }
          }
          const body = e.response?.body;
          if (body !== undefined && body !== null) sink += typeof body === 'string' ? redactString(body).length : redactParsed(body) === null ? 1 : 0;
        }
      },
    ],
  ];

  const passes = Number(values.passes);
  if (values.stage !== undefined) {
    // Child: time one stage and print its best pass in milliseconds.
    const fn = stages[Number(values.stage)]![1];
    fn(); // warm-up
    let best = Infinity;
    for (let i = 0; i < passes; i++) {
      const t = performance.now();
      fn();
      best = Math.min(best, performance.now() - t);
    }
    if (sink < 0) process.stderr.write('unreachable\n');
    process.stdout.write(`${best}\n`);
    return;
  }
  const results: [string, number][] = [];
  for (let i = 0; i < stages.length; i++) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--lines', values.lines, '--seed', values.seed, '--passes', values.passes, '--stage', String(i)], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (r.status !== 0) throw new Error(`stage ${stages[i]![0]} failed: ${r.stderr}`);
    results.push([stages[i]![0], Number(r.stdout.trim())]);
  }
  const base = results[0]![1];
  process.stdout.write(`stage costs on ${lines.length} lines in memory (each stage in a fresh process, best of ${passes} passes after a warm-up):\n`);
  process.stdout.write('| stage | ms | events/s | x ceiling core |\n|---|---:|---:|---:|\n');
  for (const [name, ms] of results) {
    process.stdout.write(`| ${name} | ${ms.toFixed(0)} | ${Math.round((lines.length * 1000) / ms).toLocaleString('en-US')} | ${(ms / base).toFixed(2)} |\n`);
  }
}

await main();
