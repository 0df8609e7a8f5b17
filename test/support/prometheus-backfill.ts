// A real Prometheus (Debian `prometheus` 2.x) serving historical data: series are written as
// OpenMetrics, turned into TSDB blocks by `promtool tsdb create-blocks-from openmetrics`, and
// Prometheus starts on a loopback port over that data directory (no scraping).
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningProcess } from './processes.ts';
import { launchPrometheus, PROMTOOL_BIN } from './prometheus.ts';

export interface CounterSeries {
  /** Family name without `_total`, e.g. `payment_provider_calls`. */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** [epoch ms, value], ascending. */
  readonly samples: ReadonlyArray<readonly [number, number]>;
}

export type GaugeSeries = CounterSeries;

function labelText(labels: Readonly<Record<string, string>>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/** OpenMetrics text (with `# EOF`) for counters and gauges, grouped by family as the format requires. */
export function openMetrics(counters: readonly CounterSeries[], gauges: readonly GaugeSeries[] = []): string {
  const out: string[] = [];
  const families = new Map<string, { type: 'counter' | 'gauge'; series: CounterSeries[] }>();
  for (const [type, list] of [['counter', counters], ['gauge', gauges]] as const) {
    for (const s of list) {
      const f = families.get(s.name) ?? { type, series: [] };
      f.series.push(s);
      families.set(s.name, f);
    }
  }
  for (const [name, f] of families) {
    out.push(`# TYPE ${name} ${f.type}`);
    const sample = f.type === 'counter' ? `${name}_total` : name;
    for (const s of f.series) {
      const labels = labelText(s.labels);
      for (const [t, v] of s.samples) out.push(`${sample}${labels} ${v} ${(t / 1000).toFixed(3)}`);
    }
  }
  out.push('# EOF');
  return `${out.join('\n')}\n`;
}

async function run(command: string, args: readonly string[]): Promise<string> {
  return await new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${output}`))));
  });
}

export interface BackfilledPrometheus {
  readonly url: string;
  readonly process: RunningProcess;
  stop(): Promise<void>;
}

/** Backfills `openmetricsText` with promtool and starts Prometheus over the blocks. */
export async function startBackfilledPrometheus(openmetricsText: string): Promise<BackfilledPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'paysignal-backfill-'));
  const data = join(dir, 'data');
  try {
    const input = join(dir, 'input.om');
    await writeFile(input, openmetricsText);
    // One block per day keeps promtool's passes over the input few (it reads the input once per block).
    await run(PROMTOOL_BIN, ['tsdb', 'create-blocks-from', 'openmetrics', '--max-block-duration=24h', input, data]);
    // Backfilled blocks are weeks old: the default 15 d retention would delete them at start.
    return await launchPrometheus(dir, 'global:\n  evaluation_interval: 1m\nscrape_configs: []\n', data, ['--storage.tsdb.retention.time=10y']);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
