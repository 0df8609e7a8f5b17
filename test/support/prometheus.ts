// A real Prometheus (Debian `prometheus` 2.x) for tests: loopback only, a free port, its own temporary
// data directory, a short scrape interval, exemplar storage on. Also `promtool check metrics`.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { startProcess, waitFor, type RunningProcess } from './processes.ts';

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? 'prometheus';
export const PROMTOOL_BIN = process.env.PROMTOOL_BIN ?? 'promtool';

export interface PrometheusOptions {
  /** `host:port` scrape targets (job `paysignal`, path /metrics). */
  readonly targets: readonly string[];
  /** Default 1s. */
  readonly scrapeInterval?: string;
}

export interface VectorSample {
  readonly metric: Record<string, string>;
  readonly value: number;
}

export interface RunningPrometheus {
  readonly url: string;
  readonly process: RunningProcess;
  /** Instant query over the HTTP API; throws on an API error. */
  query(expr: string): Promise<VectorSample[]>;
  /** The scrape targets as the API reports them. */
  targets(): Promise<Array<{ health: string; lastError: string; scrapeUrl: string; lastScrape: string }>>;
  /** Exemplars over the last `seconds`. */
  exemplars(expr: string, seconds?: number): Promise<Array<{ seriesLabels: Record<string, string>; exemplars: Array<{ labels: Record<string, string>; value: string; timestamp: number }> }>>;
  /** Resolves after Prometheus has completed `count` more scrapes of every target (by lastScrape time). */
  waitForScrapes(count?: number): Promise<void>;
  stop(): Promise<void>;
}

async function api<T>(url: string): Promise<T> {
  const response = await fetch(url);
  const body = (await response.json()) as { status: string; data: T; error?: string };
  if (body.status !== 'success') throw new Error(`Prometheus API error for ${url}: ${body.error ?? response.status}`);
  return body.data;
}

export interface LaunchedPrometheus {
  readonly url: string;
  readonly process: RunningProcess;
  /** Stops Prometheus and removes `dir`. */
  stop(): Promise<void>;
}

/**
 * Starts Prometheus on a free loopback port with `configText`, its data in `dataDir`, and waits until
 * it is ready. `dir` (which holds the config file) is removed on stop, and on a failed start.
 */
export async function launchPrometheus(dir: string, configText: string, dataDir: string, extraFlags: readonly string[] = []): Promise<LaunchedPrometheus> {
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(configFile, configText);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = startProcess(PROMETHEUS_BIN, [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${dataDir}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
    ...extraFlags,
  ]);
  const stop = async (): Promise<void> => {
    await proc.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      'Prometheus to be ready',
      async () => {
        if (proc.child.exitCode !== null) throw new Error(`prometheus exited: ${proc.output()}`);
        const response = await fetch(`${url}/-/ready`);
        return response.ok ? true : undefined;
      },
      30_000,
      100,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, process: proc, stop };
}

export async function startPrometheus(options: PrometheusOptions): Promise<RunningPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'paysignal-prometheus-'));
  const interval = options.scrapeInterval ?? '1s';
  const config = [
    'global:',
    `  scrape_interval: ${interval}`,
    `  scrape_timeout: ${interval}`,
    '  evaluation_interval: 1m',
    'scrape_configs:',
    '  - job_name: paysignal',
    '    metrics_path: /metrics',
    '    static_configs:',
    `      - targets: [${options.targets.map((t) => JSON.stringify(t)).join(', ')}]`,
    '',
  ].join('\n');
  const { url, process: proc, stop } = await launchPrometheus(dir, config, join(dir, 'data'), ['--enable-feature=exemplar-storage']);

  const targets = async () => {
    const data = await api<{ activeTargets: Array<{ health: string; lastError: string; scrapeUrl: string; lastScrape: string }> }>(`${url}/api/v1/targets`);
    return data.activeTargets;
  };

  return {
    url,
    process: proc,
    async query(expr) {
      const data = await api<{ resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(
        `${url}/api/v1/query?query=${encodeURIComponent(expr)}`,
      );
      if (data.resultType !== 'vector') throw new Error(`expected a vector for ${expr}, got ${data.resultType}`);
      return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    targets,
    async exemplars(expr, seconds = 300) {
      const end = Date.now() / 1000;
      return await api(`${url}/api/v1/query_exemplars?query=${encodeURIComponent(expr)}&start=${end - seconds}&end=${end + 60}`);
    },
    async waitForScrapes(count = 1) {
      const before = new Map((await targets()).map((t) => [t.scrapeUrl, Date.parse(t.lastScrape)]));
      let seen = 0;
      let last = before;
      await waitFor(
        `${count} more scrape(s)`,
        async () => {
          const now = await targets();
          const all = now.length > 0 && now.every((t) => Date.parse(t.lastScrape) > (last.get(t.scrapeUrl) ?? 0) && t.health !== 'unknown');
          if (all) {
            seen++;
            last = new Map(now.map((t) => [t.scrapeUrl, Date.parse(t.lastScrape)]));
          }
          return seen >= count ? true : undefined;
        },
        30_000,
        100,
      );
    },
    stop,
  };
}

/** `promtool check metrics` over an exposition (Prometheus text format); resolves with its exit code and output. */
export async function promtoolCheckMetrics(exposition: string): Promise<{ code: number | null; output: string }> {
  return await new Promise((resolve, reject) => {
    const child = spawn(PROMTOOL_BIN, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, output }));
    child.stdin.end(exposition);
  });
}
