// A real Alertmanager (Debian `prometheus-alertmanager`) on 127.0.0.1 free ports, with a temporary
// config and storage, clustering off. Optionally routes every notification to a webhook URL (the test's
// own receiver), with short group timings so notifications arrive within seconds.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { startProcess, waitForHttp, type RunningProcess } from './processes.ts';

export const ALERTMANAGER_BIN = '/usr/bin/prometheus-alertmanager';

export interface GettableAlert {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly startsAt: string;
  readonly endsAt: string;
  readonly generatorURL?: string;
  readonly status: { readonly state: string };
  readonly fingerprint: string;
}

export interface RunningAlertmanager {
  readonly url: string;
  readonly port: number;
  /** GET /api/v2/alerts (active, silenced and inhibited alike). */
  alerts(): Promise<GettableAlert[]>;
  /** Stops the process; `start()` brings it back on the same port and storage. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops and removes the temporary directory. */
  close(): Promise<void>;
  output(): string;
}

export async function startAlertmanager(options: { webhookUrl?: string; port?: number } = {}): Promise<RunningAlertmanager> {
  const dir = await mkdtemp(join(tmpdir(), 'paysignal-am-'));
  const port = options.port ?? (await freePort());
  const receiver = options.webhookUrl
    ? `  - name: test\n    webhook_configs:\n      - url: ${JSON.stringify(options.webhookUrl)}\n        send_resolved: true\n`
    : `  - name: test\n`;
  const config = `route:
  receiver: test
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
${receiver}`;
  await writeFile(join(dir, 'alertmanager.yml'), config);
  const url = `http://127.0.0.1:${port}`;
  let proc: RunningProcess | null = null;
  let log = '';
  const start = async (): Promise<void> => {
    proc = startProcess(ALERTMANAGER_BIN, [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ]);
    await waitForHttp(`${url}/-/ready`, 20_000);
  };
  const stop = async (): Promise<void> => {
    if (proc === null) return;
    const p: RunningProcess = proc;
    proc = null;
    await p.stop();
    log += p.output();
  };
  await start();
  return {
    url,
    port,
    async alerts() {
      const response = await fetch(`${url}/api/v2/alerts`);
      if (!response.ok) throw new Error(`GET /api/v2/alerts: HTTP ${response.status}`);
      return (await response.json()) as GettableAlert[];
    },
    stop,
    start,
    async close() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
    output: () => log + ((proc as RunningProcess | null)?.output() ?? ''),
  };
}
