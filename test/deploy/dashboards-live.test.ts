// Every dashboard query against a real Prometheus (Debian prometheus 2.x) that scrapes the real signal
// pipeline (decode -> classify -> correlate -> metrics + spans, as `paysignal run` wires it, fed
// directly instead of through Kafka). Every query must evaluate; every query over the metrics this
// pipeline emits without Kafka and the alert engine must return data; exemplars must come back for
// the panels that ask for them.
//
// The Kafka-source, dead-letter and alert-engine metrics (paysignal_kafka_*, paysignal_dead_letter_*,
// paysignal_alerts_firing, paysignal_alert_notifications_total) and label overflow are not produced
// here; their panels are only evaluated, and checked against the metric list of docs/architecture.md#metrics in dashboards.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allQueries, metricNames, substituteVariables, variableSelector, type DashboardQuery } from '../../scripts/dashboard-queries.ts';
import { startStack, type Stack } from '../signals/stack.ts';
import { callEvent } from '../support/events.ts';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.ts';
import { startPrometheus, type RunningPrometheus } from '../support/prometheus.ts';

let stack: Stack;
let prometheus: RunningPrometheus;
let receiver: OtlpReceiver;

/** Metrics the pipeline emits as soon as events flow (no Kafka source, no alert engine). */
const FED = /^(payment_provider_(calls_total|errors_total|call_duration_seconds_bucket|retries_total|retry_violations_total)|paysignal_(events_total|invalid_events_total|correlation_unmatched_retries_total)|process_.*|nodejs_.*)$/;

/** Dashboard variables -> values present in the fed data; regex matchers match everything. */
function concrete(expr: string): string {
  const withVars = expr
    .replace(/=~"\$\{?([A-Za-z_]+)\}?"/g, '=~".*"')
    .replace(/="\$\{?provider\}?"/g, '="kustom"');
  return substituteVariables(withVars);
}

let round = 0;
function traffic(): unknown[] {
  round++;
  const now = Date.now();
  const at = (i: number): string => new Date(now - 5_000 + i * 10).toISOString();
  const events: unknown[] = [];
  for (let i = 0; i < 6; i++) {
    events.push(callEvent({
      provider: 'kustom', operation: 'create_order', method: 'POST', route: '/checkout/v3/orders', status: 403, durationMs: 120 + i,
      body: { error_code: 'MERCHANT_INACTIVE', error_messages: [], correlation_id: `kc-${round}-${i}` }, timestamp: at(i),
      // the same key twice: a retry after contact_provider, i.e. a retry violation
      idempotencyKey: `mi-${round}-${Math.floor(i / 2)}`,
    }));
  }
  for (let i = 0; i < 8; i++) events.push(callEvent({ provider: 'kustom', operation: 'create_session', method: 'POST', route: '/payments/v1/sessions', status: 200, durationMs: 80 + i, timestamp: at(10 + i) }));
  // A second attempt whose first went to another replica: an unmatched retry.
  events.push(callEvent({ provider: 'kustom', operation: 'create_session', status: 200, durationMs: 85, timestamp: at(19), idempotencyKey: `elsewhere-${round}`, extra: { attempt: 2 } }));
  for (let i = 0; i < 3; i++) {
    events.push(callEvent({ provider: 'mercadopago', operation: 'create_order', status: 400, durationMs: 60, timestamp: at(20 + i), body: { errors: [{ code: 'invalid_total_amount', message: 'bad total', details: [] }] } }));
  }
  events.push(callEvent({ provider: 'setel', operation: 'authorize', status: 500, durationMs: 900, timestamp: at(30), body: { errorCode: 9300001 } }));
  events.push('not json at all', '{"provider":"kustom"}');
  return events;
}

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  stack = await startStack({ tracing: { otlp: { url: receiver.tracesUrl }, scheduledDelayMillis: 50 } });
  prometheus = await startPrometheus({ targets: [`127.0.0.1:${stack.server.port}`] });
  // Traffic in several rounds between scrapes, so rates and increases are not zero.
  for (let i = 0; i < 4; i++) {
    await stack.feed(traffic());
    await prometheus.waitForScrapes(2);
  }
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
  await stack?.close();
  await receiver?.close();
});

const queries: DashboardQuery[] = allQueries();

describe('dashboard queries against Prometheus scraping the pipeline', () => {
  it('every query evaluates in the real Prometheus engine', async () => {
    const failures: string[] = [];
    for (const q of queries) {
      const expr = concrete(q.kind === 'variable' ? variableSelector(q.expr) : q.expr);
      try {
        await prometheus.query(expr);
      } catch (error) {
        failures.push(`${q.dashboard} ${q.where}: ${(error as Error).message}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('every query over the metrics the pipeline emitted returns data', async () => {
    const empty: string[] = [];
    let checked = 0;
    for (const q of queries) {
      const source = q.kind === 'variable' ? variableSelector(q.expr) : q.expr;
      const metrics = metricNames(substituteVariables(source));
      if (metrics.length === 0 || !metrics.every((m) => FED.test(m))) continue;
      checked++;
      const samples = await prometheus.query(concrete(source));
      if (samples.length === 0) empty.push(`${q.dashboard} ${q.where}: ${concrete(source)}`);
    }
    expect(empty).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(30);
  });

  it('the provider variables list the providers, operations and codes that were fed', async () => {
    const values = async (expr: string, label: string): Promise<string[]> => [...new Set((await prometheus.query(expr)).map((s) => s.metric[label]!))].sort();
    expect(await values('payment_provider_calls_total', 'provider')).toEqual(['kustom', 'mercadopago', 'setel']);
    expect(await values('payment_provider_calls_total{provider="kustom"}', 'operation')).toEqual(['create_order', 'create_session']);
    expect(await values('payment_provider_errors_total{provider="kustom", operation=~".*"}', 'code')).toEqual(['MERCHANT_INACTIVE']);
  });

  it('exemplars come back for the latency and error panels that ask for them', async () => {
    const withExemplars = queries.filter((q) => q.kind === 'panel' && /payment_provider_(call_duration_seconds_bucket|errors_total)/.test(q.expr));
    expect(withExemplars.length).toBeGreaterThan(0);
    const latency = withExemplars.find((q) => q.expr.includes('histogram_quantile'))!;
    const found = await prometheus.exemplars(concrete(latency.expr), 300);
    const traceIds = found.flatMap((s) => s.exemplars.map((e) => e.labels.trace_id));
    expect(traceIds.length).toBeGreaterThan(0);
    for (const id of traceIds) expect(id).toMatch(/^[0-9a-f]{32}$/);
  });
});
