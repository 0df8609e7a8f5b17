// A real Prometheus scrapes a running paysignal fed through the whole pipeline (decode -> classify ->
// correlate -> sinks); its HTTP API answers with the expected counts, exemplars link to the spans the
// OTLP receiver got, and promtool accepts the exposition.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callEvent } from '../support/events.ts';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.ts';
import { promtoolCheckMetrics, startPrometheus, type RunningPrometheus } from '../support/prometheus.ts';
import { waitFor } from '../support/processes.ts';
import { startStack, type Stack } from './stack.ts';

let stack: Stack;
let prometheus: RunningPrometheus;
let receiver: OtlpReceiver;

const now = Date.now();
const at = (i: number): string => new Date(now - 60_000 + i * 100).toISOString();

const kustomError = (code: string, status: number, extra: Parameters<typeof callEvent>[0] = { provider: 'kustom' }) =>
  callEvent({ operation: 'create_order', method: 'POST', route: '/checkout/v3/orders', status, durationMs: 180, body: { error_code: code, error_messages: [], correlation_id: `kc-${Math.random()}` }, ...extra, provider: 'kustom' });

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  stack = await startStack({ tracing: { otlp: { url: receiver.tracesUrl }, scheduledDelayMillis: 50 } });
  prometheus = await startPrometheus({ targets: [`127.0.0.1:${stack.server.port}`] });

  const events: unknown[] = [];
  for (let i = 0; i < 3; i++) events.push(kustomError('MERCHANT_INACTIVE', 403, { provider: 'kustom', timestamp: at(i), idempotencyKey: `mi-${i}` }));
  for (let i = 0; i < 2; i++) events.push(kustomError('BAD_VALUE', 400, { provider: 'kustom', timestamp: at(10 + i), body: { error_code: 'BAD_VALUE', error_messages: ['BAD_VALUE : order_lines[3].tax_rate'] } }));
  for (let i = 0; i < 4; i++) {
    events.push(callEvent({ provider: 'mercadopago', operation: 'create_order', status: 423, durationMs: 40, timestamp: at(20 + i), body: { errors: [{ code: 'resource_locked', message: 'locked', details: [] }] }, requestHeaders: { 'X-Idempotency-Key': `mp-${i}` } }));
  }
  events.push(callEvent({ provider: 'setel', operation: 'authorize', status: 500, durationMs: 2500, timestamp: at(30), body: { errorCode: 9300001 } }));
  for (let i = 0; i < 5; i++) events.push(callEvent({ provider: 'digitalriver', operation: 'create_order', status: 201, durationMs: 90, timestamp: at(40 + i) }));
  events.push('this is not json', '{"provider":"kustom"}');
  await stack.feed(events);

  // Retry sequences under one idempotency key each.
  await stack.feed([
    kustomError('MERCHANT_INACTIVE', 403, { provider: 'kustom', timestamp: at(100), idempotencyKey: 'order-77' }),
    kustomError('MERCHANT_INACTIVE', 403, { provider: 'kustom', timestamp: at(101), idempotencyKey: 'order-77' }),
    callEvent({ provider: 'mercadopago', operation: 'refund_order', status: 423, timestamp: at(102), body: { errors: [{ code: 'resource_locked', message: 'locked' }] }, requestHeaders: { 'X-Idempotency-Key': 'refund-9' } }),
    callEvent({ provider: 'mercadopago', operation: 'refund_order', status: 201, timestamp: at(103), requestHeaders: { 'X-Idempotency-Key': 'refund-9' } }),
  ]);
  await prometheus.waitForScrapes(2);
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
  await stack?.close();
  await receiver?.close();
});

const byLabels = (samples: Array<{ metric: Record<string, string>; value: number }>, ...labels: string[]) =>
  Object.fromEntries(samples.map((s) => [labels.map((l) => s.metric[l]).join('/'), s.value]));

describe('Prometheus scrapes paysignal', () => {
  it('the target is up and scraped in OpenMetrics without errors', async () => {
    const [target] = await prometheus.targets();
    expect(target).toMatchObject({ health: 'up', lastError: '' });
    expect((await prometheus.query('up{job="paysignal"}'))[0]!.value).toBe(1);
  });

  it('errors by provider, code and category', async () => {
    const samples = await prometheus.query('sum by (provider, code, category) (payment_provider_errors_total)');
    expect(byLabels(samples, 'provider', 'code', 'category')).toEqual({
      'kustom/MERCHANT_INACTIVE/merchant_config': 5,
      'kustom/BAD_VALUE/validation': 2,
      'mercadopago/resource_locked/idempotency': 5,
      'setel/9300001/provider_error': 1,
    });
  });

  it('errors by retry decision', async () => {
    const samples = await prometheus.query('sum by (retry) (payment_provider_errors_total)');
    expect(byLabels(samples, 'retry')).toEqual({ contact_provider: 5, fix_and_resubmit: 2, retry_same_key_later: 5, retry_with_backoff: 1 });
  });

  it('calls by provider and outcome, and the duration histogram', async () => {
    const calls = await prometheus.query('sum by (provider, outcome) (payment_provider_calls_total)');
    expect(byLabels(calls, 'provider', 'outcome')).toEqual({
      'kustom/error': 7,
      'mercadopago/error': 5,
      'mercadopago/success': 1,
      'setel/error': 1,
      'digitalriver/success': 5,
    });
    const slow = await prometheus.query('sum by (provider) (payment_provider_call_duration_seconds_bucket{le="1"})');
    expect(byLabels(slow, 'provider')).toMatchObject({ setel: 0, digitalriver: 5 });
    const count = await prometheus.query('sum(payment_provider_call_duration_seconds_count)');
    expect(count[0]!.value).toBe(17); // the two Mercado Pago refund calls carry no duration
  });

  it('invalid events by reason, and events by result', async () => {
    const invalid = await prometheus.query('paysignal_invalid_events_total');
    expect(byLabels(invalid, 'reason')).toEqual({ not_json: 1, missing_field: 1 });
    const events = await prometheus.query('paysignal_events_total');
    expect(byLabels(events, 'source', 'result')).toEqual({ 'kafka/classified': 19, 'kafka/invalid': 2 });
  });

  it('retry violation: MERCHANT_INACTIVE then a retry with the same key counts; resource_locked then a retry does not', async () => {
    const violations = await prometheus.query('payment_provider_retry_violations_total');
    expect(byLabels(violations, 'provider', 'code', 'retry')).toEqual({ 'kustom/MERCHANT_INACTIVE/contact_provider': 1 });
    const retries = await prometheus.query('sum by (provider, operation) (payment_provider_retries_total)');
    expect(byLabels(retries, 'provider', 'operation')).toEqual({ 'kustom/create_order': 1, 'mercadopago/refund_order': 1 });
  });

  it('error exemplars carry trace ids of spans the OTLP receiver got', async () => {
    const exemplars = await waitFor('exemplars', async () => {
      const found = await prometheus.exemplars('payment_provider_errors_total');
      return found.length > 0 ? found : undefined;
    });
    const traceIds = exemplars.flatMap((series) => series.exemplars.map((e) => e.labels.trace_id));
    expect(traceIds.length).toBeGreaterThan(0);
    await stack.signals.traces!.forceFlush();
    const exported = new Set(receiver.spans.map((s) => s.traceId));
    for (const id of traceIds) expect(exported.has(id!)).toBe(true);
    const histogram = await prometheus.exemplars('payment_provider_call_duration_seconds_bucket');
    expect(histogram.length).toBeGreaterThan(0);
  });

  it('promtool check metrics accepts the exposition', async () => {
    const text = await stack.metricsText();
    const { code, output } = await promtoolCheckMetrics(text);
    expect(output).toBe('');
    expect(code).toBe(0);
  });

  it('no label Prometheus stored holds an id', async () => {
    const samples = await prometheus.query('{job="paysignal"}');
    const values = samples.flatMap((s) => Object.values(s.metric));
    for (const id of ['mi-0', 'order-77', 'refund-9', 'mp-1']) expect(values).not.toContain(id);
    expect(values.some((v) => v.startsWith('kc-'))).toBe(false);
  });
});
