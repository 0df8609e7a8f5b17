// Where `paysignal classify` spends its time: runs it under `node --cpu-prof` on a generated file and
// prints the top functions by self time and by inclusive time, and self time per source file.
//
//   node bench/classify/profile.ts [--lines N (200000)] [--seed S] [--top K (25)] [--interval US (200)] [--workers N (0)]
//
// The .cpuprofile is kept in bench/out/profile/ (open it in Chrome DevTools or speedscope).
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_SEED, ensureDataset, OUT_DIR, ROOT } from './generate.ts';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

function where(frame: CallFrame): string {
  if (frame.url === '') return '';
  let url = frame.url;
  if (url.startsWith('file://')) url = relative(ROOT, fileURLToPath(url));
  return `${url}:${frame.lineNumber + 1}`;
}

function fileOf(frame: CallFrame): string {
  if (frame.url === '') return frame.functionName.startsWith('(') ? frame.functionName : '(native/builtin)';
  return frame.url.startsWith('file://') ? relative(ROOT, fileURLToPath(frame.url)) : frame.url;
}

function keyOf(frame: CallFrame): string {
  const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
  const at = where(frame);
  return at === '' ? name : `${name}  ${at}`;
}

export interface ProfileSummary {
  totalMs: number;
  self: [string, number][];
  inclusive: [string, number][];
  files: [string, number][];
}

export function summarize(profile: CpuProfile): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const files = new Map<string, number>();
  let totalUs = 0;
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    // A sample lasts until the next one (the DevTools convention); the last gets the end time.
    const us = i + 1 < timeDeltas.length ? timeDeltas[i + 1]! : Math.max(0, profile.endTime - profile.startTime - totalUs);
    if (us <= 0) continue;
    totalUs += us;
    const leaf = byId.get(samples[i]!)!;
    const k = keyOf(leaf.callFrame);
    self.set(k, (self.get(k) ?? 0) + us);
    const f = fileOf(leaf.callFrame);
    files.set(f, (files.get(f) ?? 0) + us);
    const seen = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const key = keyOf(byId.get(id)!.callFrame);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }
  const sorted = (m: Map<string, number>): [string, number][] => [...m].map(([k, v]): [string, number] => [k, v / 1000]).sort((a, b) => b[1] - a[1]);
  return { totalMs: totalUs / 1000, self: sorted(self), inclusive: sorted(inclusive), files: sorted(files) };
}

function main(): void {
  const { values } = parseArgs({
    options: {
      lines: { type: 'string', default: '200000' },
      seed: { type: 'string', default: String(DEFAULT_SEED) },
      top: { type: 'string', default: '25' },
      interval: { type: 'string', default: '200' },
      // 0 profiles the whole pipeline on the main thread; --cpu-prof writes one profile per thread.
      workers: { type: 'string', default: '0' },
    },
  });
  const lines = Number(values.lines);
  const top = Number(values.top);
  const { dataset } = ensureDataset(lines, Number(values.seed));
  const dir = join(OUT_DIR, 'profile');
  mkdirSync(dir, { recursive: true });
  const name = `classify-${lines}.cpuprofile`;
  rmSync(join(dir, name), { force: true });
  const devNull = openSync('/dev/null', 'w');
  const started = performance.now();
  const r = spawnSync(
    process.execPath,
    ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-name', name, '--cpu-prof-interval', values.interval, join(ROOT, 'bin', 'paysignal.js'), 'classify', dataset.file, '--workers', values.workers],
    { stdio: ['ignore', devNull, 'inherit'] },
  );
  closeSync(devNull);
  const wallMs = performance.now() - started;
  if (r.status !== 0) throw new Error(`paysignal classify exited with ${r.status}`);
  const profile = JSON.parse(readFileSync(join(dir, name), 'utf8')) as CpuProfile;
  const s = summarize(profile);
  const pct = (ms: number): string => `${((ms / s.totalMs) * 100).toFixed(1).padStart(5)}%`;
  const rows = (list: [string, number][]): string => list.slice(0, top).map(([k, ms]) => `${pct(ms)} ${ms.toFixed(0).padStart(7)} ms  ${k}`).join('\n');
  process.stdout.write(
    `profile of paysignal classify on ${lines} lines (${(dataset.manifest.bytes / 1e6).toFixed(1)} MB): wall ${(wallMs / 1000).toFixed(2)} s under the profiler, ` +
      `${(s.totalMs / 1000).toFixed(2)} s sampled; ${join(relative(ROOT, dir), name)}\n\n` +
      `top ${top} by self time:\n${rows(s.self)}\n\n` +
      `top ${top} by inclusive time:\n${rows(s.inclusive)}\n\n` +
      `self time by file:\n${rows(s.files)}\n`,
  );
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) main();
