// Decode cost of two source trees, interleaved (issue 13): which of two versions of src/events decodes
// the benchmark dataset with less CPU, on a shared host where wall-clock rates are noise.
//
//   node bench/classify/decode-ab.ts --tree A=DIR --tree B=DIR [--tree ...] [--lines N (200000)] [--rounds R (5)] [--passes K (3)]
//
// A tree is a checkout of the repository (e.g. `git worktree add` or `git archive main | tar -x`, with
// node_modules linked). Every round runs one fresh process per tree, in turn (A, B, A, B ...); each
// process decodes the N lines held in memory once to warm up, then K times measured, and reports
// the main thread's CPU (process.threadCpuUsage: decode plus the garbage collection it triggers on
// that thread) and the whole process's CPU (adds V8's helper threads) per event, best pass. The
// table gives each tree's median over the rounds. Every tree decodes with the catalogs' id headers of
// this tree's classifier, so only the decoder differs.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createClassifier } from '../../src/classify/classifier.ts';
import { DEFAULT_SEED, ensureDataset, readDatasetLines } from './generate.ts';

const { values } = parseArgs({
  options: {
    tree: { type: 'string', multiple: true, default: [] },
    lines: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '5' },
    passes: { type: 'string', default: '3' },
    child: { type: 'string' },
  },
});

interface Measured {
  threadUsPerEvent: number;
  processUsPerEvent: number;
  accepted: number;
}

async function measure(tree: string): Promise<Measured> {
  const { dataset } = ensureDataset(Number(values.lines), DEFAULT_SEED);
  const lines = readDatasetLines(dataset.file);
  const classifier = await createClassifier();
  const { createDecoder } = (await import(pathToFileURL(resolve(tree, 'src/events/decode.ts')).href)) as typeof import('../../src/events/decode.ts');
  const decoder = createDecoder({ idHeaders: classifier.idHeaders });
  let accepted = 0;
  const pass = (): void => {
    accepted = 0;
    for (let i = 0; i < lines.length; i++) if (decoder.decode(lines[i]!).ok) accepted++;
  };
  pass();
  let best: Measured = { threadUsPerEvent: Infinity, processUsPerEvent: Infinity, accepted: 0 };
  for (let k = 0; k < Number(values.passes); k++) {
    const thread0 = process.threadCpuUsage();
    const process0 = process.cpuUsage();
    pass();
    const thread = process.threadCpuUsage(thread0);
    const proc = process.cpuUsage(process0);
    const m = { threadUsPerEvent: (thread.user + thread.system) / lines.length, processUsPerEvent: (proc.user + proc.system) / lines.length, accepted };
    if (m.threadUsPerEvent < best.threadUsPerEvent) best = m;
  }
  return best;
}

if (values.child !== undefined) {
  process.stdout.write(`${JSON.stringify(await measure(values.child))}\n`);
  process.exit(0);
}

const trees = values.tree.map((t) => {
  const at = t.indexOf('=');
  if (at <= 0) throw new Error(`--tree takes NAME=DIR, got ${t}`);
  return { name: t.slice(0, at), dir: resolve(t.slice(at + 1)) };
});
if (trees.length < 2) throw new Error('give at least two --tree NAME=DIR');
ensureDataset(Number(values.lines), DEFAULT_SEED);
const runs = new Map<string, Measured[]>(trees.map((t) => [t.name, []]));
for (let round = 0; round < Number(values.rounds); round++) {
  for (const tree of trees) {
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', tree.dir, '--lines', values.lines, '--passes', values.passes], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (child.status !== 0) throw new Error(`${tree.name} failed: ${child.stderr}`);
    const m = JSON.parse(child.stdout.trim().split('\n').pop()!) as Measured;
    runs.get(tree.name)!.push(m);
    process.stderr.write(`round ${round + 1} ${tree.name}: thread ${m.threadUsPerEvent.toFixed(3)} us, process ${m.processUsPerEvent.toFixed(3)} us per event, ${m.accepted} accepted\n`);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const [loadOne] = (await import('node:os')).loadavg();
process.stdout.write(`decode CPU per event on ${values.lines} lines, best of ${values.passes} passes per process, median of ${values.rounds} rounds (load average at the end ${loadOne!.toFixed(2)}):\n`);
process.stdout.write('| tree | main-thread CPU per event | process CPU per event | accepted |\n|---|---:|---:|---:|\n');
for (const tree of trees) {
  const r = runs.get(tree.name)!;
  process.stdout.write(`| ${tree.name} | ${median(r.map((m) => m.threadUsPerEvent)).toFixed(2)} us | ${median(r.map((m) => m.processUsPerEvent)).toFixed(2)} us | ${r[0]!.accepted} |\n`);
}
