// `paysignal demo --duration 120`, unattended, as a user runs it: with a real Alertmanager as
// ALERTMANAGER_URL and a real Prometheus scraping its /metrics. The scripted incidents must alert,
// the quiet provider must not, the output must read well, and every dashboard query over what the
// demo emits must return data from that Prometheus.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allQueries, metricNames, substituteVariables, variableSelector } from '../../scripts/dashboard-queries.ts';
import { startAlertmanager, type RunningAlertmanager } from '../support/alertmanager.ts';
import { PAYSIGNAL_BIN, PROJECT_NODE, ROOT } from '../support/cli.ts';
import { freePort } from '../support/ports.ts';
import { startPrometheus, type RunningPrometheus } from '../support/prometheus.ts';

let alertmanager: RunningAlertmanager;
let prometheus: RunningPrometheus;
let stdout = '';
let stderr = '';
let exitCode: number | null = null;
let endedAt = 0;
const seenAtAlertmanager = new Map<string, Record<string, string>>();

// Panels whose metrics the demo legitimately leaves empty: nothing overflows its label caps, and one
// instance sees every attempt, so no retry is unmatched.
const NOT_EMITTED_BY_DEMO = /^paysignal_(label_overflow_total|correlation_unmatched_retries_total)$/;

beforeAll(async () => {
  alertmanager = await startAlertmanager();
  const port = await freePort();
  prometheus = await startPrometheus({ targets: [`127.0.0.1:${port}`] });
  const child = spawn(PROJECT_NODE, [PAYSIGNAL_BIN, 'demo', '--duration', '120', '--port', String(port)], {
    cwd: ROOT,
    env: { ...process.env, ALERTMANAGER_URL: alertmanager.url, PAYSIGNAL_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const poll = setInterval(() => {
    alertmanager.alerts().then((alerts) => {
      for (const a of alerts) seenAtAlertmanager.set(JSON.stringify(a.labels), a.labels);
    }, () => undefined);
  }, 1000);
  exitCode = await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  endedAt = Date.now();
  clearInterval(poll);
}, 240_000);

afterAll(async () => {
  await prometheus?.stop();
  await alertmanager?.close();
});

function firedInOutput(): string[] {
  const section = stdout.slice(stdout.indexOf('alerts fired'));
  return section.split('\n').slice(1).filter((l) => l.startsWith('  ')).map((l) => l.trim());
}

describe('paysignal demo --duration 120', () => {
  it('exits 0 and ends with a readable summary', () => {
    expect(exitCode, stderr).toBe(0);
    expect(stdout).toContain('scripted incidents:');
    expect(stdout).toMatch(/paysignal demo finished: \d+ events produced, \d+ classified, \d+ rejected to the dead-letter topic/);
    expect(stdout).not.toContain('"level"');
    expect(stderr).not.toMatch(/"level":"(error|fatal)"/);
    expect(stderr).not.toContain('    at ');
  });

  it('alerts on every scripted incident', () => {
    const fired = firedInOutput();
    const has = (alert: string, provider: string) => fired.some((l) => l.startsWith(`${alert} `) && l.includes(`provider=${provider}`));
    expect(has('MerchantInactiveSpike', 'kustom'), fired.join('\n')).toBe(true);
    expect(has('InvalidTotalAmountSpike', 'mercadopago'), fired.join('\n')).toBe(true);
    expect(has('RateLimitBurst', 'stablegenius'), fired.join('\n')).toBe(true);
    expect(fired.some((l) => l.startsWith('NewErrorCode ') && l.includes('provider=setel') && l.includes('code=9300777')), fired.join('\n')).toBe(true);
    expect(has('RetryViolations', 'kustom'), fired.join('\n')).toBe(true);
  });

  it('does not alert on the quiet provider', () => {
    expect(firedInOutput().filter((l) => l.includes('provider=digitalriver'))).toEqual([]);
  });

  it('delivers the alerts to the real Alertmanager', () => {
    const names = new Set([...seenAtAlertmanager.values()].map((l) => `${l.alertname} ${l.provider}`));
    expect(names).toContain('MerchantInactiveSpike kustom');
    expect(names).toContain('RateLimitBurst stablegenius');
    expect([...seenAtAlertmanager.values()].some((l) => 'instance' in l)).toBe(false);
  });

  it('every dashboard query over the metrics the demo emits returns data from Prometheus', async () => {
    // Evaluated over the time the demo ran: its series go stale when it stops, and some panels
    // (alerts firing) only have data while something happens.
    const start = (endedAt - 125_000) / 1000;
    const end = (endedAt - 5_000) / 1000;
    const concrete = (expr: string): string =>
      substituteVariables(expr.replace(/=~"\$\{?([A-Za-z_]+)\}?"/g, '=~".*"').replace(/="\$\{?provider\}?"/g, '="kustom"'));
    const empty: string[] = [];
    let checked = 0;
    for (const q of allQueries()) {
      const source = q.kind === 'variable' ? variableSelector(q.expr) : q.expr;
      const metrics = metricNames(substituteVariables(source));
      if (metrics.length === 0 || metrics.some((m) => NOT_EMITTED_BY_DEMO.test(m))) continue;
      checked++;
      const url = `${prometheus.url}/api/v1/query_range?query=${encodeURIComponent(concrete(source))}&start=${start}&end=${end}&step=5`;
      const body = (await (await fetch(url)).json()) as { status: string; data: { result: unknown[] }; error?: string };
      if (body.status !== 'success') empty.push(`${q.dashboard} ${q.where}: error ${body.error}`);
      else if (body.data.result.length === 0) empty.push(`${q.dashboard} ${q.where}: ${concrete(source)}`);
    }
    expect(empty).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(40);
  });
});
