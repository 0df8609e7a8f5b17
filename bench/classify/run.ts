// The classify benchmark (issue 2): `paysignal classify` over N generated provider-native lines,
// against (a) the ceiling, a plain readline + JSON.parse loop in a child Node process on the same
// file, and (b) mtail counting the same lines by provider and code, in the same run.
//
//   node bench/classify/run.ts [--lines N] [--runs K (5)] [--seed S] [--json FILE] [--strict] [--wait-idle]
//
// Every tool runs as a child process on the same file (already in the page cache), K times each,
// interleaved; the median wall time (startup included) gives events/s. Peak RSS and CPU time come
// from /usr/bin/time -v when it is installed, else VmHWM is sampled from /proc/<pid>/status.
// Correctness is checked too: paysignal must write exactly N lines whose outcomes and (provider,
// code) counts match what the generator wrote into the lines, and mtail's counts must add up to N
// and match the same per-code counts. Exit status: 1 when a correctness check fails; with --strict,
// 2 when a target ratio is missed. Each run also reports how many cores other processes kept busy
// meanwhile. On a shared machine, --wait-idle waits (up to 3 min) before each timed run until the
// CPUs are less than 15% busy, and measures a run again when others used over 0.25 cores during it.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { codeKey, DEFAULT_LINES, DEFAULT_SEED, ensureDataset, NO_CODE, OUT_DIR, ROOT, type Manifest } from './generate.ts';

const TARGET_CEILING = 0.7;
const TARGET_MTAIL = 5;
const NOISY_CORES = 0.25;
const NODE = process.execPath;
const PAYSIGNAL_BIN = join(ROOT, 'bin', 'paysignal.js');
const CEILING = join(ROOT, 'bench', 'classify', 'ceiling.ts');
const MTAIL_PROGS = join(ROOT, 'bench', 'classify', 'mtail');
const TIME = '/usr/bin/time';

type ToolName = 'paysignal' | 'ceiling' | 'mtail';

interface Measurement {
  wallMs: number;
  /** Peak resident set size in KiB; null when it could not be measured. */
  maxRssKb: number | null;
  /** user + system CPU seconds; null without /usr/bin/time. */
  cpuS: number | null;
  exitCode: number | null;
  /** Average number of cores other processes kept busy during the run (needs /usr/bin/time); null when unknown. */
  otherCores: number | null;
  stdout: string;
  stderr: string;
}

interface Tool {
  name: ToolName;
  label: string;
  command: string;
  args: string[];
  /** Where the child's stdout goes: /dev/null, or captured (small outputs only). */
  stdout: 'null' | 'capture';
  /** Throws when the run's output is wrong. */
  check(m: Measurement): void;
}

// ---------------------------------------------------------------------------------------------
// Running one child and measuring it.

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/** [total, busy] CPU seconds over all cores since boot, from /proc/stat; null where unavailable. */
function cpuSeconds(): [number, number] | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    return [total / CLK_TCK, (total - idle) / CLK_TCK];
  } catch {
    return null;
  }
}

/** Fraction of CPU time (all cores) spent busy over the next `ms` milliseconds. */
async function busyFraction(ms: number): Promise<number | null> {
  const a = cpuSeconds();
  await new Promise((r) => setTimeout(r, ms));
  const b = cpuSeconds();
  if (a === null || b === null || b[0] === a[0]) return null;
  return (b[1] - a[1]) / (b[0] - a[0]);
}

/** Waits (up to `maxWaitMs`) until other processes leave the CPUs mostly idle; returns the last busy fraction seen. */
async function waitIdle(threshold: number, maxWaitMs: number): Promise<number | null> {
  const deadline = Date.now() + maxWaitMs;
  let busy = await busyFraction(1000);
  while (busy !== null && busy > threshold && Date.now() < deadline) busy = await busyFraction(1000);
  return busy;
}


const hasGnuTime = existsSync(TIME) && spawnSync(TIME, ['-v', 'true'], { stdio: 'ignore' }).status === 0;

function parseTimeReport(text: string): { maxRssKb: number | null; cpuS: number | null } {
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(text);
  const user = /User time \(seconds\): ([\d.]+)/.exec(text);
  const sys = /System time \(seconds\): ([\d.]+)/.exec(text);
  return {
    maxRssKb: rss ? Number(rss[1]) : null,
    cpuS: user && sys ? Number(user[1]) + Number(sys[1]) : null,
  };
}

function readVmHwm(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

async function measure(command: string, args: string[], stdoutMode: 'null' | 'capture'): Promise<Measurement> {
  mkdirSync(OUT_DIR, { recursive: true });
  const timeFile = join(OUT_DIR, `time-${process.pid}.txt`);
  const devNull = stdoutMode === 'null' ? openSync('/dev/null', 'w') : null;
  const argv = hasGnuTime ? ['-v', '-o', timeFile, command, ...args] : args;
  const cpuBefore = cpuSeconds();
  const started = performance.now();
  const child = spawn(hasGnuTime ? TIME : command, argv, { stdio: ['ignore', devNull ?? 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-20000)));
  let hwm: number | null = null;
  const sampler = hasGnuTime
    ? null
    : setInterval(() => {
        const v = child.pid === undefined ? null : readVmHwm(child.pid);
        if (v !== null) hwm = Math.max(hwm ?? 0, v);
      }, 20);
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  const wallMs = performance.now() - started;
  const cpuAfter = cpuSeconds();
  if (sampler) clearInterval(sampler);
  if (devNull !== null) closeSync(devNull);
  let maxRssKb: number | null = hwm;
  let cpuS: number | null = null;
  if (hasGnuTime) {
    const report = existsSync(timeFile) ? readFileSync(timeFile, 'utf8') : '';
    rmSync(timeFile, { force: true });
    ({ maxRssKb, cpuS } = parseTimeReport(report));
  }
  const otherCores = cpuBefore === null || cpuAfter === null || cpuS === null ? null : Math.max(0, cpuAfter[1] - cpuBefore[1] - cpuS) / (wallMs / 1000);
  return { wallMs, maxRssKb, cpuS, exitCode, otherCores, stdout, stderr };
}

// ---------------------------------------------------------------------------------------------
// Checks.

function compareCounts(what: string, expected: Record<string, number>, actual: Map<string, number>): string[] {
  const problems: string[] = [];
  const keys = new Set([...Object.keys(expected), ...actual.keys()]);
  for (const key of [...keys].sort()) {
    const want = expected[key] ?? 0;
    const got = actual.get(key) ?? 0;
    if (want !== got) problems.push(`${what} ${key.replace('\t', ' code=')}: expected ${want}, got ${got}`);
  }
  return problems;
}

function fail(message: string): never {
  throw new Error(message);
}

function checkExit(name: string, m: Measurement): void {
  if (m.exitCode !== 0) fail(`${name} exited with ${m.exitCode}: ${m.stderr.trim().split('\n').slice(-5).join(' | ')}`);
}

/** Parses mtail's one-shot Prometheus output into (lines, counts by provider<TAB>code). */
function parseMtail(text: string): { lines: number | null; counts: Map<string, number>; total: number } {
  const counts = new Map<string, number>();
  let lines: number | null = null;
  let total = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\w+)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const value = Number(m[3]);
    if (m[1] === 'paysignal_mtail_lines_total') lines = value;
    if (m[1] === 'paysignal_mtail_events_total') {
      const labels = new Map<string, string>();
      for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels.set(l[1]!, l[2]!);
      const key = codeKey(labels.get('provider') ?? '?', labels.get('code') === NO_CODE ? null : labels.get('code') ?? '?');
      counts.set(key, (counts.get(key) ?? 0) + value);
      total += value;
    }
  }
  return { lines, counts, total };
}

/** One untimed run of paysignal with its output read back: line count, outcomes, codes. */
async function verifyPaysignal(file: string, manifest: Manifest): Promise<string[]> {
  const child = spawn(NODE, [PAYSIGNAL_BIN, 'classify', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-20000)));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const outcomes = { success: 0, error: 0, invalid: 0 };
  const codes = new Map<string, number>();
  const problems: string[] = [];
  let lines = 0;
  const reasons = new Map<string, number>();
  for await (const line of createInterface({ input: child.stdout, crlfDelay: Infinity })) {
    lines++;
    let out: { outcome: keyof typeof outcomes; provider: string | null; code: string | null; reason: string | null };
    try {
      out = JSON.parse(line) as typeof out;
    } catch {
      if (problems.length < 5) problems.push(`output line ${lines} is not JSON: ${line.slice(0, 120)}`);
      continue;
    }
    outcomes[out.outcome] = (outcomes[out.outcome] ?? 0) + 1;
    if (out.outcome === 'invalid') reasons.set(out.reason ?? '?', (reasons.get(out.reason ?? '?') ?? 0) + 1);
    else {
      const key = codeKey(out.provider ?? '?', out.code);
      codes.set(key, (codes.get(key) ?? 0) + 1);
    }
  }
  const code = await exited;
  if (code !== 0) problems.push(`paysignal classify exited with ${code}: ${stderr.trim().split('\n').slice(-5).join(' | ')}`);
  if (lines !== manifest.lines) problems.push(`paysignal wrote ${lines} lines for ${manifest.lines} input lines`);
  for (const k of ['success', 'error', 'invalid'] as const) {
    if (outcomes[k] !== manifest.outcomes[k]) problems.push(`paysignal outcome ${k}: expected ${manifest.outcomes[k]}, got ${outcomes[k]}`);
  }
  if (reasons.size > 0) problems.push(`invalid reasons: ${[...reasons].map(([r, n]) => `${r}=${n}`).join(', ')}`);
  problems.push(...compareCounts('paysignal', manifest.codes, codes));
  return problems;
}

// ---------------------------------------------------------------------------------------------

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function warmPageCache(file: string): void {
  const fd = openSync(file, 'r');
  const buf = Buffer.allocUnsafe(4 << 20);
  while (readSync(fd, buf, 0, buf.length, null) > 0);
  closeSync(fd);
}

function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] ?? '';
}

const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
const fmtS = (ms: number): string => (ms / 1000).toFixed(2);
const fmtMb = (kb: number | null): string => (kb === null ? 'n/a' : (kb / 1024).toFixed(0));

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      lines: { type: 'string', default: String(DEFAULT_LINES) },
      runs: { type: 'string', default: '5' },
      seed: { type: 'string', default: String(DEFAULT_SEED) },
      json: { type: 'string' },
      strict: { type: 'boolean', default: false },
      'wait-idle': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write('usage: node bench/classify/run.ts [--lines N] [--runs K] [--seed S] [--json FILE] [--strict] [--wait-idle]\n');
    return 0;
  }
  const lines = Number(values.lines);
  const runs = Number(values.runs);
  const seed = Number(values.seed);
  if (!Number.isInteger(lines) || lines <= 0) throw new Error(`--lines must be a positive integer, got ${values.lines}`);
  if (!Number.isInteger(runs) || runs <= 0) throw new Error(`--runs must be a positive integer, got ${values.runs}`);
  if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);
  if (Number(process.versions.node.split('.')[0]) < 24) throw new Error(`run this with Node 24 (node_modules/.bin/node), not ${process.version}`);
  const mtailVersion = firstLine('mtail', ['--version']);
  if (!mtailVersion.startsWith('mtail')) throw new Error('mtail is not installed: run `node scripts/bootstrap.mjs bench` (Debian package mtail)');

  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const genStart = performance.now();
  const { dataset, generated } = ensureDataset(lines, seed);
  const { file, manifest } = dataset;
  log(`${generated ? 'generated' : 'reusing'} ${file} (${fmtInt(lines)} lines, ${(manifest.bytes / 1e6).toFixed(1)} MB${generated ? `, ${fmtS(performance.now() - genStart)} s` : ''})`);
  warmPageCache(file);

  const problems: string[] = [];
  log('checking paysignal output against the generator manifest ...');
  const verify = await verifyPaysignal(file, manifest);
  problems.push(...verify);
  log(verify.length === 0 ? `  ok: ${fmtInt(lines)} lines, outcomes and per-code counts match` : `  ${verify.length} problem(s)`);

  const tools: Tool[] = [
    {
      name: 'paysignal',
      label: 'paysignal classify FILE > /dev/null',
      command: NODE,
      args: [PAYSIGNAL_BIN, 'classify', file],
      stdout: 'null',
      check: (m) => checkExit('paysignal', m),
    },
    {
      name: 'ceiling',
      label: 'ceiling: readline + JSON.parse (Node)',
      command: NODE,
      args: [CEILING, file],
      stdout: 'capture',
      check(m) {
        checkExit('ceiling', m);
        const r = JSON.parse(m.stdout) as { lines: number };
        if (r.lines !== lines) fail(`ceiling read ${r.lines} lines, expected ${lines}`);
      },
    },
    {
      name: 'mtail',
      label: 'mtail --one_shot (count by provider, code)',
      command: 'mtail',
      args: ['--one_shot', '--one_shot_format=prometheus', '--progs', MTAIL_PROGS, '--logs', file, '--logtostderr', '--port', '0'],
      stdout: 'capture',
      check(m) {
        checkExit('mtail', m);
        const r = parseMtail(m.stdout);
        if (r.lines !== lines) fail(`mtail counted ${r.lines} lines, expected ${lines}`);
        if (r.total !== lines) fail(`mtail's per-provider/code counts add up to ${r.total}, expected ${lines}`);
        const diff = compareCounts('mtail', manifest.codes, r.counts);
        if (diff.length > 0) fail(`mtail counts differ from the manifest: ${diff.slice(0, 10).join('; ')}`);
      },
    },
  ];

  // paysignal's fixed cost: the same command on an empty file.
  const empty = join(OUT_DIR, 'classify-empty.ndjson');
  writeFileSync(empty, '');
  const startup: number[] = [];
  for (let i = 0; i < runs; i++) {
    const m = await measure(NODE, [PAYSIGNAL_BIN, 'classify', empty], 'null');
    checkExit('paysignal (empty input)', m);
    startup.push(m.wallMs);
  }

  const loadBefore = loadavg();
  const results = new Map<ToolName, Measurement[]>(tools.map((t) => [t.name, []]));
  for (let r = 0; r < runs; r++) {
    // Rotate the order each round so no tool always runs first (or right after another).
    for (let i = 0; i < tools.length; i++) {
      const tool = tools[(i + r) % tools.length]!;
      let m: Measurement;
      for (let attempt = 1; ; attempt++) {
        if (values['wait-idle']) await waitIdle(0.15, 180_000);
        m = await measure(tool.command, tool.args, tool.stdout);
        // Under --wait-idle, a run during which other processes took more than a quarter of a core
        // on average is measured again (at most twice more); the quietest attempt is kept.
        if (!values['wait-idle'] || m.otherCores === null || m.otherCores <= NOISY_CORES || attempt === 3) break;
        log(`run ${r + 1}/${runs} ${tool.name.padEnd(9)} ${fmtS(m.wallMs).padStart(7)} s  discarded: other processes used ${m.otherCores.toFixed(2)} cores meanwhile`);
      }
      try {
        tool.check(m);
      } catch (error) {
        problems.push(`run ${r + 1}: ${(error as Error).message}`);
      }
      results.get(tool.name)!.push(m);
      log(`run ${r + 1}/${runs} ${tool.name.padEnd(9)} ${fmtS(m.wallMs).padStart(7)} s  ${fmtInt((lines * 1000) / m.wallMs).padStart(9)} events/s  peak RSS ${fmtMb(m.maxRssKb)} MB  other load ${m.otherCores === null ? 'n/a' : m.otherCores.toFixed(2)} cores`);
    }
  }
  const loadAfter = loadavg();

  const summary = tools.map((t) => {
    const ms = results.get(t.name)!;
    const wall = median(ms.map((m) => m.wallMs));
    const cpu = ms.every((m) => m.cpuS !== null) ? median(ms.map((m) => m.cpuS!)) : null;
    const rss = ms.some((m) => m.maxRssKb !== null) ? Math.max(...ms.map((m) => m.maxRssKb ?? 0)) : null;
    const other = ms.every((m) => m.otherCores !== null) ? Math.max(...ms.map((m) => m.otherCores!)) : null;
    return { name: t.name, label: t.label, wallMs: wall, runsMs: ms.map((m) => m.wallMs), eventsPerS: (lines * 1000) / wall, cpuS: cpu, maxRssKb: rss, maxOtherCores: other };
  });
  const by = (n: ToolName) => summary.find((s) => s.name === n)!;
  const vsCeiling = by('paysignal').eventsPerS / by('ceiling').eventsPerS;
  const vsMtail = by('paysignal').eventsPerS / by('mtail').eventsPerS;
  // The same ratios from CPU time (user + sys), less sensitive to other load on the machine.
  const cpuRatio = (other: ToolName): number | null => {
    const p = by('paysignal').cpuS;
    const o = by(other).cpuS;
    return p === null || o === null ? null : o / p;
  };
  const fmtRatio = (r: number | null): string => (r === null ? 'n/a' : `${r.toFixed(2)}x`);

  const out: string[] = [];
  out.push(`classify benchmark: ${fmtInt(lines)} lines (${(manifest.bytes / 1e6).toFixed(1)} MB, seed ${seed}), ${runs} runs each, median wall time (startup included)`);
  out.push(`machine: ${cpus().length} CPUs, ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; node ${process.version}; ${mtailVersion}`);
  out.push(`load average before/after: ${loadBefore.map((l) => l.toFixed(2)).join(' ')} / ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`);
  out.push('');
  out.push('| tool | median wall (s) | runs (s) | events/s | CPU user+sys (s) | peak RSS (MB) | other load (cores, max) |');
  out.push('|---|---:|---:|---:|---:|---:|---:|');
  for (const s of summary) {
    out.push(
      `| ${s.label} | ${fmtS(s.wallMs)} | ${s.runsMs.map(fmtS).join(', ')} | ${fmtInt(s.eventsPerS)} | ${s.cpuS === null ? 'n/a' : s.cpuS.toFixed(2)} | ${fmtMb(s.maxRssKb)} | ${s.maxOtherCores === null ? 'n/a' : s.maxOtherCores.toFixed(2)} |`,
    );
  }
  out.push('');
  out.push(`paysignal startup (same command on an empty file): ${fmtS(median(startup))} s median`);
  out.push('');
  out.push('| ratio (events/s) | from wall time | target | | from CPU time |');
  out.push('|---|---:|---:|---|---:|');
  out.push(`| paysignal / ceiling | ${vsCeiling.toFixed(2)}x | >= ${TARGET_CEILING}x | ${vsCeiling >= TARGET_CEILING ? 'met' : 'MISSED'} | ${fmtRatio(cpuRatio('ceiling'))} |`);
  out.push(`| paysignal / mtail | ${vsMtail.toFixed(2)}x | >= ${TARGET_MTAIL}x | ${vsMtail >= TARGET_MTAIL ? 'met' : 'MISSED'} | ${fmtRatio(cpuRatio('mtail'))} |`);
  out.push('');
  out.push(problems.length === 0 ? `correctness: ok (paysignal wrote ${fmtInt(lines)} lines; outcomes and per-(provider, code) counts match the generator; mtail counted ${fmtInt(lines)} lines with the same per-code counts; the ceiling read ${fmtInt(lines)} lines)` : `correctness: ${problems.length} PROBLEM(S)`);
  for (const p of problems.slice(0, 40)) out.push(`  - ${p}`);
  if (problems.length > 40) out.push(`  - ... and ${problems.length - 40} more`);
  process.stdout.write(`${out.join('\n')}\n`);

  if (values.json !== undefined) {
    const report = {
      date: new Date().toISOString(),
      lines,
      bytes: manifest.bytes,
      seed,
      runs,
      node: process.version,
      mtail: mtailVersion,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? null,
      memoryBytes: totalmem(),
      loadBefore,
      loadAfter,
      startupMs: median(startup),
      tools: summary,
      ratios: { paysignalOverCeiling: vsCeiling, paysignalOverMtail: vsMtail, cpuPaysignalOverCeiling: cpuRatio('ceiling'), cpuPaysignalOverMtail: cpuRatio('mtail') },
      targets: { paysignalOverCeiling: TARGET_CEILING, paysignalOverMtail: TARGET_MTAIL },
      manifest: { outcomes: manifest.outcomes, networkErrors: manifest.networkErrors, unknownCodes: manifest.unknownCodes, stringBodies: manifest.stringBodies, htmlBodies: manifest.htmlBodies, numericCodes: manifest.numericCodes },
      problems,
    };
    writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
  }
  if (problems.length > 0) return 1;
  if (values.strict && (vsCeiling < TARGET_CEILING || vsMtail < TARGET_MTAIL)) return 2;
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`bench/classify: ${(error as Error).message}\n`);
    process.exitCode = 1;
  },
);
