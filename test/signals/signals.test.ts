// createSignals: the wiring `paysignal run` uses, with the real classifier's catalogs bounding labels.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClassifier, type Classifier } from '../../src/classify/classifier.ts';
import { createMetricsRegistry } from '../../src/sinks/exposition.ts';
import { OVERFLOW } from '../../src/sinks/label-guard.ts';
import { createSignals, type Signals, type SignalsOptions } from '../../src/sinks/signals.ts';
import { event, processed } from './fixtures.ts';
import { DEFAULT_CONFIG } from '../support/config.ts';

let classifier: Classifier;
const open: Signals[] = [];

beforeAll(async () => {
  classifier = await createClassifier();
});
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

function signals(options: { metrics?: SignalsOptions['metrics']; tracing?: Partial<SignalsOptions['tracing']> }): Signals {
  const s = createSignals({
    classifier,
    registry: createMetricsRegistry({ defaultMetrics: false }),
    metrics: options.metrics ?? DEFAULT_CONFIG.metrics,
    correlation: DEFAULT_CONFIG.correlation,
    tracing: { ...DEFAULT_CONFIG.tracing, ...options.tracing },
  });
  open.push(s);
  return s;
}

describe('createSignals', () => {
  it('catalog codes stay labels even when the unknown-code cap is 0; unknown codes overflow', () => {
    const s = signals({ tracing: { enabled: false }, metrics: { ...DEFAULT_CONFIG.metrics, unknown_code_cap: 0 } });
    const err = (code: string) => processed(event({ provider: 'kustom', statusCode: 403 }), { code, category: 'merchant_config', retry: 'contact_provider' });
    s.metrics.onEvent(err('MERCHANT_INACTIVE'));
    s.metrics.onEvent(err('SOMETHING_NEW'));
    const labels = { provider: 'kustom', operation: 'create_order', category: 'merchant_config', retry: 'contact_provider' };
    expect(s.metrics.families.errors.valueOf({ ...labels, code: 'MERCHANT_INACTIVE' })).toBe(1);
    expect(s.metrics.families.errors.valueOf({ ...labels, code: OVERFLOW })).toBe(1);
  });

  it('providers with a catalog are never capped; other provider ids are', () => {
    const s = signals({ tracing: { enabled: false }, metrics: { ...DEFAULT_CONFIG.metrics, maxProviders: 1 } });
    for (const provider of ['acme', 'globex', 'mercadopago', 'setel', 'digitalriver', 'stablegenius', 'kustom']) s.metrics.onEvent(processed(event({ provider })));
    const providers = ['acme', OVERFLOW, 'mercadopago', 'setel', 'digitalriver', 'stablegenius', 'kustom'];
    for (const provider of providers) expect(s.metrics.families.calls.valueOf({ provider, operation: 'create_order', outcome: 'success' })).toBe(1);
  });

  it('tracing off (config or OTEL_TRACES_EXPORTER=none): metrics only, and no exemplars', async () => {
    const off = signals({ tracing: { enabled: false } });
    expect(off.traces).toBeNull();
    expect(off.sinks.map((k) => k.name)).toEqual(['metrics']);
    const none = signals({ tracing: { env: { OTEL_TRACES_EXPORTER: 'none' } } });
    expect(none.traces).toBeNull();
    none.metrics.onEvent(processed(event({ statusCode: 500 }), { code: null, category: 'provider_error', retry: 'retry_with_backoff' }));
    expect((await none.exposition.render(true)).body).not.toContain('trace_id');
  });

  it('tracing on: metrics then spans, sharing the trace identity, with the span counters on the same registry', async () => {
    const s = signals({ tracing: { otlp: { url: 'http://127.0.0.1:9/v1/traces' }, success_sample_ratio: 0 } });
    expect(s.sinks.map((k) => k.name)).toEqual(['metrics', 'traces']);
    const text = await s.registry.metrics();
    expect(text).toContain('# TYPE paysignal_spans_dropped_total counter');
    const success = processed(event({ correlationId: 'c' }));
    expect(s.traces!.exemplarTraceId(success)).toBeNull(); // ratio 0: success spans are not kept, so no exemplar
  });
});
