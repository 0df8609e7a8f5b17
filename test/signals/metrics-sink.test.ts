// The metrics sink (docs/architecture.md#metrics): what each event adds to which series, bounded labels,
// exemplars only in OpenMetrics, and an allocation-free hot path.
import { PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { CorrelationFacts } from '../../src/pipeline/types.ts';
import { acceptsOpenMetrics, createExposition, createMetricsRegistry } from '../../src/sinks/exposition.ts';
import { OVERFLOW } from '../../src/sinks/label-guard.ts';
import { CALL_DURATION_BUCKETS, createMetricsSink } from '../../src/sinks/metrics.ts';
import { BAD_VALUE, event, INTERNAL_SERVER_ERROR, MERCHANT_INACTIVE, processed, record } from './fixtures.ts';
import { DEFAULT_CONFIG } from '../support/config.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function setup(options: Partial<Parameters<typeof createMetricsSink>[0]> = {}) {
  const registry = createMetricsRegistry({ defaultMetrics: false });
  const sink = createMetricsSink({ registry, metrics: DEFAULT_CONFIG.metrics, ...options });
  const exposition = createExposition(registry);
  return { registry, sink, exposition, f: sink.families };
}

const retryFacts = (violationOf: CorrelationFacts['violationOf'] = null, isStorm = false, unmatchedRetry = false): CorrelationFacts => ({
  key: 'idem',
  attemptNumber: 2,
  isRetry: true,
  isStorm,
  violationOf,
  unmatchedRetry,
});

describe('metrics sink: what an event counts', () => {
  it('a success counts one call and one duration observation, and no error series', () => {
    const { sink, f } = setup();
    sink.onEvent(processed(event({ provider: 'kustom', operation: 'create_order', statusCode: 201, durationMs: 240 })));
    expect(f.calls.valueOf({ provider: 'kustom', operation: 'create_order', outcome: 'success' })).toBe(1);
    expect(f.errors.seriesCount).toBe(0);
    expect(f.duration.seriesCount).toBe(1);
    expect(f.events.valueOf({ source: 'kafka', result: 'classified' })).toBe(1);
  });

  it('an error counts by provider code, category and retry decision', () => {
    const { sink, f } = setup();
    sink.onEvent(processed(event({ statusCode: 403 }), MERCHANT_INACTIVE));
    sink.onEvent(processed(event({ statusCode: 403 }), MERCHANT_INACTIVE));
    sink.onEvent(processed(event({ statusCode: 400 }), BAD_VALUE));
    expect(f.calls.valueOf({ provider: 'kustom', operation: 'create_order', outcome: 'error' })).toBe(3);
    expect(f.errors.valueOf({ provider: 'kustom', operation: 'create_order', code: 'MERCHANT_INACTIVE', category: 'merchant_config', retry: 'contact_provider' })).toBe(2);
    expect(f.errors.valueOf({ provider: 'kustom', operation: 'create_order', code: 'BAD_VALUE', category: 'validation', retry: 'fix_and_resubmit' })).toBe(1);
  });

  it('a call without an operation is counted under operation "unknown"; an error without a code under code "none"', () => {
    const { sink, f } = setup();
    sink.onEvent(processed(event({ operation: null, statusCode: null, networkError: 'timeout', durationMs: null }), { code: null, category: 'timeout', retry: 'reconcile_before_retry' }));
    expect(f.errors.valueOf({ provider: 'kustom', operation: 'unknown', code: 'none', category: 'timeout', retry: 'reconcile_before_retry' })).toBe(1);
    expect(f.duration.seriesCount).toBe(0); // no duration, no observation
  });

  it('retries, retry-storm attempts and retry violations come from the correlation facts', () => {
    const { sink, f } = setup();
    sink.onEvent(processed(event({ statusCode: 403 }), MERCHANT_INACTIVE, retryFacts({ code: 'MERCHANT_INACTIVE', retry: 'contact_provider' }, true)));
    sink.onEvent(processed(event({ statusCode: 201 }), null, retryFacts()));
    expect(f.retries.valueOf({ provider: 'kustom', operation: 'create_order' })).toBe(2);
    expect(f.retryStormAttempts.valueOf({ provider: 'kustom', operation: 'create_order' })).toBe(1);
    expect(f.retryViolations.valueOf({ provider: 'kustom', code: 'MERCHANT_INACTIVE', retry: 'contact_provider' })).toBe(1);
    expect(f.retryViolations.seriesCount).toBe(1);
    expect(f.unmatchedRetries.seriesCount).toBe(0);
  });

  it('an unmatched retry counts once per provider in paysignal_correlation_unmatched_retries_total', async () => {
    const { sink, f, exposition } = setup();
    sink.onEvent(processed(event({ statusCode: 201, attempt: 2 }), null, retryFacts(null, false, true)));
    sink.onEvent(processed(event({ statusCode: 201, attempt: 3 }), null, retryFacts(null, false, true)));
    sink.onEvent(processed(event({ statusCode: 201, attempt: 4 }), null, retryFacts()));
    expect(f.unmatchedRetries.valueOf({ provider: 'kustom' })).toBe(2);
    expect(f.retries.valueOf({ provider: 'kustom', operation: 'create_order' })).toBe(3);
    const text = (await exposition.render(false)).body;
    expect(text).toContain('paysignal_correlation_unmatched_retries_total{provider="kustom"} 2');
  });

  it('invalid events count by source and by reason', () => {
    const { sink, f } = setup();
    sink.onInvalid!(record('file'), { reason: 'not_json', detail: 'x' });
    sink.onInvalid!(record('file'), { reason: 'not_json', detail: 'x' });
    sink.onInvalid!(record('kafka'), { reason: 'missing_field', detail: 'x' });
    expect(f.events.valueOf({ source: 'file', result: 'invalid' })).toBe(2);
    expect(f.invalidEvents.valueOf({ reason: 'not_json' })).toBe(2);
    expect(f.invalidEvents.valueOf({ reason: 'missing_field' })).toBe(1);
  });

  it('durations land in seconds buckets from 10 ms to 60 s', async () => {
    const { sink, exposition } = setup();
    expect(CALL_DURATION_BUCKETS[0]).toBe(0.01);
    expect(CALL_DURATION_BUCKETS.at(-1)).toBe(60);
    for (const ms of [5, 120, 30_000, 90_000]) sink.onEvent(processed(event({ durationMs: ms })));
    const text = (await exposition.render(false)).body;
    const bucket = (le: string) => Number(new RegExp(`payment_provider_call_duration_seconds_bucket\\{le="${le.replace('+', '\\+')}",provider="kustom",operation="create_order",outcome="success"\\} (\\S+)`).exec(text)![1]);
    expect(bucket('0.01')).toBe(1);
    expect(bucket('0.25')).toBe(2);
    expect(bucket('30')).toBe(3);
    expect(bucket('60')).toBe(3);
    expect(bucket('+Inf')).toBe(4);
    expect(text).toContain('payment_provider_call_duration_seconds_sum{provider="kustom",operation="create_order",outcome="success"} 120.125');
  });
});

describe('metrics sink: bounded label values', () => {
  it('catalog codes pass freely; unknown codes up to the per-provider cap, then __overflow__, counted', () => {
    const catalog = new Set(['MERCHANT_INACTIVE', 'BAD_VALUE', 'REJECTED']);
    const { sink, f } = setup({ metrics: { ...DEFAULT_CONFIG.metrics, unknown_code_cap: 2 }, isCatalogCode: (p, c) => p === 'kustom' && catalog.has(c) });
    const err = (code: string) => processed(event({ statusCode: 400 }), { code, category: 'unknown', retry: 'do_not_retry' });
    for (const code of ['NEW_1', 'NEW_2', 'NEW_3', 'NEW_4', 'MERCHANT_INACTIVE', 'BAD_VALUE', 'REJECTED', 'NEW_1']) sink.onEvent(err(code));
    const seen = (code: string) => f.errors.valueOf({ provider: 'kustom', operation: 'create_order', code, category: 'unknown', retry: 'do_not_retry' });
    expect(seen('NEW_1')).toBe(2);
    expect(seen('NEW_2')).toBe(1);
    expect(seen('NEW_3')).toBe(0);
    expect(seen(OVERFLOW)).toBe(2);
    expect(seen('MERCHANT_INACTIVE') + seen('BAD_VALUE') + seen('REJECTED')).toBe(3);
    expect(f.labelOverflow.valueOf({ metric: 'payment_provider_errors_total', label: 'code' })).toBe(2);
  });

  it('the code cap is per provider', () => {
    const { sink, f } = setup({ metrics: { ...DEFAULT_CONFIG.metrics, unknown_code_cap: 1 } });
    sink.onEvent(processed(event({ provider: 'setel', statusCode: 400 }), { code: '9300004', category: 'validation', retry: 'fix_and_resubmit' }));
    sink.onEvent(processed(event({ provider: 'acme', statusCode: 400 }), { code: 'E1', category: 'validation', retry: 'fix_and_resubmit' }));
    expect(f.labelOverflow.valueOf({ metric: 'payment_provider_errors_total', label: 'code' })).toBe(0);
  });

  it('operations are capped per provider too, and provider ids without a catalog globally', () => {
    const { sink, f } = setup({ metrics: { ...DEFAULT_CONFIG.metrics, unknown_operation_cap: 1 }, maxProviders: 1, isKnownProvider: (p) => p === 'kustom' });
    sink.onEvent(processed(event({ operation: 'create_order' })));
    sink.onEvent(processed(event({ operation: 'invented_op' })));
    sink.onEvent(processed(event({ provider: 'acme' })));
    sink.onEvent(processed(event({ provider: 'other' })));
    expect(f.calls.valueOf({ provider: 'kustom', operation: OVERFLOW, outcome: 'success' })).toBe(1);
    expect(f.calls.valueOf({ provider: 'acme', operation: 'create_order', outcome: 'success' })).toBe(1);
    expect(f.calls.valueOf({ provider: OVERFLOW, operation: 'create_order', outcome: 'success' })).toBe(1);
    expect(f.labelOverflow.valueOf({ metric: 'payment_provider_calls_total', label: 'operation' })).toBe(1);
    expect(f.labelOverflow.valueOf({ metric: 'payment_provider_calls_total', label: 'provider' })).toBe(1);
  });

  it('a refused operation counts as __overflow__ on every event, not only the first', () => {
    const { sink, f } = setup({ metrics: { ...DEFAULT_CONFIG.metrics, unknown_operation_cap: 0 } });
    for (let i = 0; i < 3; i++) sink.onEvent(processed(event({ operation: 'invented_op' })));
    expect(f.calls.valueOf({ provider: 'kustom', operation: OVERFLOW, outcome: 'success' })).toBe(3);
    expect(f.labelOverflow.valueOf({ metric: 'payment_provider_calls_total', label: 'operation' })).toBe(3);
  });

  it('an operation admitted here and refused overall by the verdicts of other workers counts as __overflow__ from then on', () => {
    const { sink, f } = setup({ metrics: { ...DEFAULT_CONFIG.metrics, unknown_operation_cap: 1 } });
    sink.onEvent(processed(event({ operation: 'invented_op' })));
    sink.guard.settle({ providers: [], providersFull: false, byProvider: [{ provider: 'kustom', codes: [], codesFull: false, operations: [], operationsFull: true }] });
    sink.onEvent(processed(event({ operation: 'invented_op' })));
    expect(f.calls.valueOf({ provider: 'kustom', operation: 'invented_op', outcome: 'success' })).toBe(1);
    expect(f.calls.valueOf({ provider: 'kustom', operation: OVERFLOW, outcome: 'success' })).toBe(1);
  });

  it('label values are escaped in the exposition and cut to 128 characters', async () => {
    const { sink, exposition } = setup();
    sink.onEvent(processed(event({ statusCode: 400 }), { code: 'a"b\nc\\d', category: 'validation', retry: 'fix_and_resubmit' }));
    sink.onEvent(processed(event({ statusCode: 400 }), { code: 'L'.repeat(500), category: 'validation', retry: 'fix_and_resubmit' }));
    const text = (await exposition.render(false)).body;
    expect(text).toContain('code="a\\"b\\nc\\\\d"');
    expect(text).toContain(`code="${'L'.repeat(128)}"`);
    expect(text).not.toContain('L'.repeat(129));
  });

  it('cardinality attack: 100k distinct unknown codes keep the series count under the cap and the heap bounded', () => {
    const { sink, f } = setup({ metrics: { ...DEFAULT_CONFIG.metrics, unknown_code_cap: 100 } });
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < 100_000; i++) {
      sink.onEvent(processed(event({ statusCode: 400 }), { code: `ATTACK_${i}_${'x'.repeat(40)}`, category: 'unknown', retry: 'do_not_retry' }));
    }
    gc();
    // 100 admitted codes + __overflow__, one operation, one category/retry.
    expect(f.errors.seriesCount).toBe(101);
    expect(f.calls.seriesCount).toBe(1);
    expect(f.labelOverflow.valueOf({ metric: 'payment_provider_errors_total', label: 'code' })).toBe(99_900);
    const grown = process.memoryUsage().heapUsed - heapBefore;
    // Retaining the 100k codes would cost well over 10 MB; the sink keeps about 100 of them.
    expect(grown).toBeLessThan(10 * 1024 * 1024);
  });
});

describe('metrics sink: exposition and exemplars', () => {
  it('exemplars carry the trace id in OpenMetrics, on the error counter and the duration histogram only', async () => {
    const { sink, exposition } = setup({ exemplarTraceId: () => TRACE, now: () => 1_795_000_000_000 });
    sink.onEvent(processed(event({ statusCode: 500, durationMs: 1200 }), INTERNAL_SERVER_ERROR));
    const om = await exposition.render(true);
    expect(om.contentType).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(om.body).toMatch(/^payment_provider_errors_total\{[^}]*code="INTERNAL_SERVER_ERROR"[^}]*\} 1 # \{trace_id="4bf92f3577b34da6a3ce929d0e0e4736"\} 1 1795000000$/m);
    expect(om.body).toMatch(/^payment_provider_call_duration_seconds_bucket\{le="2.5",[^}]*\} 1 # \{trace_id="4bf92f3577b34da6a3ce929d0e0e4736"\} 1.2 1795000000$/m);
    expect(om.body).toMatch(/^payment_provider_calls_total\{[^#]*\} 1$/m);
    expect(om.body.endsWith('# EOF\n')).toBe(true);
  });

  it('Prometheus text 0.0.4 carries no exemplars, and counter names survive an OpenMetrics scrape in between', async () => {
    const { sink, exposition } = setup({ exemplarTraceId: () => TRACE });
    sink.onEvent(processed(event({ statusCode: 500 }), INTERNAL_SERVER_ERROR));
    const before = await exposition.render(false);
    await exposition.render(true);
    const [a, b] = await Promise.all([exposition.render(false), exposition.render(true)]);
    const after = await exposition.render(false);
    expect(before.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(before.body).not.toContain('trace_id');
    expect(before.body).toContain('# TYPE payment_provider_errors_total counter');
    expect(after.body).toBe(before.body);
    expect(a.body).toBe(before.body);
    expect(b.body).toContain('# TYPE payment_provider_errors counter');
  });

  it('no exemplar when the span for the event is not kept', async () => {
    const { sink, exposition } = setup({ exemplarTraceId: () => null });
    sink.onEvent(processed(event({ statusCode: 500 }), INTERNAL_SERVER_ERROR));
    expect((await exposition.render(true)).body).not.toContain('trace_id');
  });

  it.each([
    ['application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1', true],
    ['application/openmetrics-text; version=1.0.0', true],
    ['text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5', false],
    ['text/plain', false],
    ['*/*', false],
    ['', false],
    [undefined, false],
  ])('Accept %j -> OpenMetrics %s', (accept, expected) => {
    expect(acceptsOpenMetrics(accept)).toBe(expected);
  });
});

describe('metrics sink: hot path', () => {
  it('in steady state onEvent allocates nothing: a million events cause no young-generation collection', async () => {
    const { sink } = setup({ exemplarTraceId: () => TRACE });
    const events = [
      processed(event({ statusCode: 201, durationMs: 80 })),
      processed(event({ statusCode: 403, durationMs: 300 }), MERCHANT_INACTIVE, retryFacts({ code: 'MERCHANT_INACTIVE', retry: 'contact_provider' })),
      processed(event({ provider: 'mercadopago', operation: 'refund_order', statusCode: 400, durationMs: 15 }), { code: 'property_value', category: 'validation', retry: 'fix_and_resubmit' }),
      processed(event({ operation: null, statusCode: null, networkError: 'timeout', durationMs: 30_000 }), { code: null, category: 'timeout', retry: 'reconcile_before_retry' }),
    ];
    // Warm up: create the series and let the JIT settle.
    for (let i = 0; i < 200_000; i++) sink.onEvent(events[i & 3]!);
    const entries: PerformanceEntry[] = [];
    const observer = new PerformanceObserver((list) => entries.push(...list.getEntries()));
    observer.observe({ entryTypes: ['gc'] });
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    const started = performance.now();
    for (let i = 0; i < 1_000_000; i++) sink.onEvent(events[i & 3]!);
    const ended = performance.now();
    const elapsedMs = ended - started;
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    await new Promise((resolve) => setTimeout(resolve, 50));
    observer.disconnect();
    // Only collections that started while the loop ran count (not the forced one, not the test runner's).
    const collections = entries.filter((e) => e.startTime >= started && e.startTime <= ended).length;
    // A million events allocating even 16 bytes each would fill the young generation several times over.
    expect(collections).toBeLessThanOrEqual(1);
    expect(heapGrowth).toBeLessThan(2 * 1024 * 1024);
    console.log(`metrics sink: 1M events in ${elapsedMs.toFixed(0)} ms (${(elapsedMs * 1000 / 1_000_000).toFixed(3)} µs/event), ${collections} GC, heap +${heapGrowth} B`);
  });
});
