// The demo's live terminal summary: a sink that counts what the pipeline processed, and a renderer.
import type { SignalEvent, SignalSink } from '../pipeline/types.ts';
import type { AlertSnapshot } from '../alerting/engine/index.ts';

export interface ProviderTally {
  calls: number;
  errors: number;
  readonly codes: Map<string, number>;
}

export interface DemoTally extends SignalSink {
  processed: number;
  invalid: number;
  violations: number;
  readonly providers: Map<string, ProviderTally>;
}

export function createDemoTally(): DemoTally {
  const tally: DemoTally = {
    name: 'demo-tally',
    processed: 0,
    invalid: 0,
    violations: 0,
    providers: new Map(),
    onEvent(p: SignalEvent) {
      tally.processed++;
      const c = p.classification;
      let t = tally.providers.get(c.provider);
      if (!t) {
        t = { calls: 0, errors: 0, codes: new Map() };
        tally.providers.set(c.provider, t);
      }
      t.calls++;
      if (c.outcome === 'error') {
        t.errors++;
        const code = c.code ?? c.errorType ?? `HTTP ${c.statusCode}`;
        t.codes.set(code, (t.codes.get(code) ?? 0) + 1);
      }
      if (p.correlation?.violationOf) tally.violations++;
    },
    onInvalid() {
      tally.invalid++;
    },
  };
  return tally;
}

export interface SummaryFrame {
  readonly elapsedS: number;
  readonly durationS: number;
  readonly produced: number;
  readonly eventsPerSecond: number;
  readonly eventTime: number;
  readonly tally: DemoTally;
  readonly alerts: readonly AlertSnapshot[];
  readonly metricsUrl: string;
}

function topCodes(codes: Map<string, number>, n: number): string {
  return [...codes.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([code, count]) => `${code} ${count}`).join(', ');
}

export function alertLine(a: AlertSnapshot): string {
  const labels = Object.entries(a.labels).filter(([k]) => k !== 'alertname' && k !== 'severity').map(([k, v]) => `${k}=${v}`).join(' ');
  return `${a.labels.alertname ?? a.rule} [${a.labels.severity ?? 'none'}] ${labels} — ${a.annotations.summary ?? ''}`.trimEnd();
}

export function renderSummary(f: SummaryFrame): string {
  const lines = [
    `paysignal demo  ${f.elapsedS.toFixed(0)}/${f.durationS}s  event time ${new Date(f.eventTime).toISOString().slice(0, 16)}Z  metrics ${f.metricsUrl}/metrics`,
    `events: produced ${f.produced}  processed ${f.tally.processed}  invalid→dead-letter ${f.tally.invalid}  ${f.eventsPerSecond.toFixed(0)} events/s  retry violations ${f.tally.violations}`,
    '',
    'provider        calls   errors  error%  top codes',
  ];
  for (const [provider, t] of [...f.tally.providers.entries()].sort()) {
    const ratio = t.calls === 0 ? 0 : (100 * t.errors) / t.calls;
    lines.push(`${provider.padEnd(14)} ${String(t.calls).padStart(6)} ${String(t.errors).padStart(8)} ${ratio.toFixed(1).padStart(6)}%  ${topCodes(t.codes, 3)}`);
  }
  const firing = f.alerts.filter((a) => a.state === 'firing');
  const pending = f.alerts.filter((a) => a.state === 'pending');
  lines.push('', `alerts firing: ${firing.length}  pending: ${pending.length}`);
  for (const a of firing) lines.push(`  FIRING  ${alertLine(a)}`);
  for (const a of pending) lines.push(`  pending ${alertLine(a)}`);
  return lines.join('\n');
}
