// The merge of the workers' metrics into one exposition (src/pipeline/workers/merged-metrics.ts):
// series added up by name and labels, the newest exemplar kept, every worker asked once per scrape.
import { describe, expect, it } from 'vitest';
import { createExposition, createMetricsRegistry } from '../../src/sinks/exposition.ts';
import { mergeSnapshots, registerMergedMetrics } from '../../src/pipeline/workers/merged-metrics.ts';
import type { MetricSnapshot } from '../../src/pipeline/workers/protocol.ts';

const errors = (values: MetricSnapshot['values']): MetricSnapshot => ({ name: 'payment_provider_errors_total', help: 'Failed calls.', type: 'counter', aggregator: 'sum', values });
const exemplar = (traceId: string, timestamp: number) => ({ labelSet: { trace_id: traceId }, value: 1, timestamp });

describe('merging worker metrics', () => {
  it('adds up series with the same labels and keeps the newest exemplar', () => {
    const merged = mergeSnapshots([
      errors([
        { labels: { provider: 'kustom', code: 'A' }, value: 3, exemplar: exemplar('a'.repeat(32), 100) },
        { labels: { provider: 'setel', code: 'B' }, value: 1, exemplar: null },
      ]),
      errors([
        { labels: { code: 'A', provider: 'kustom' }, value: 4, exemplar: exemplar('b'.repeat(32), 200) },
        { labels: { provider: 'setel', code: 'C' }, value: 2, exemplar: exemplar('c'.repeat(32), 50) },
      ]),
    ]);
    expect(merged.values).toEqual([
      { labels: { provider: 'kustom', code: 'A' }, value: 7, exemplar: exemplar('b'.repeat(32), 200) },
      { labels: { provider: 'setel', code: 'B' }, value: 1, exemplar: null },
      { labels: { provider: 'setel', code: 'C' }, value: 2, exemplar: exemplar('c'.repeat(32), 50) },
    ]);
  });

  it('keeps histogram lines apart by metric name and le, and honours max for gauges that say so', () => {
    const bucket = (le: number | string, value: number) => ({ labels: { le, provider: 'kustom' }, value, metricName: 'd_bucket' });
    const histogram = (values: MetricSnapshot['values']): MetricSnapshot => ({ name: 'd', help: 'h', type: 'histogram', aggregator: 'sum', values });
    expect(mergeSnapshots([histogram([bucket(0.1, 1), bucket('+Inf', 2)]), histogram([bucket(0.1, 5), bucket('+Inf', 5)])]).values.map((v) => v.value)).toEqual([6, 7]);
    const gauge = (value: number): MetricSnapshot => ({ name: 'g', help: 'h', type: 'gauge', aggregator: 'max', values: [{ labels: {}, value }] });
    expect(mergeSnapshots([gauge(3), gauge(9), gauge(4)]).values[0]!.value).toBe(9);
  });

  it('renders one exposition with exemplars in OpenMetrics, asking each worker once per scrape', async () => {
    const registry = createMetricsRegistry({ defaultMetrics: false });
    let collections = 0;
    const calls: MetricSnapshot = { name: 'payment_provider_calls_total', help: 'Calls.', type: 'counter', aggregator: 'sum', values: [{ labels: { provider: 'kustom' }, value: 2 }] };
    registerMergedMetrics(registry, [errors([]), calls], {
      async collect() {
        collections++;
        return [
          [errors([{ labels: { provider: 'kustom' }, value: 1, exemplar: exemplar('d'.repeat(32), 1700000000) }]), calls],
          [errors([{ labels: { provider: 'kustom' }, value: 2 }]), calls],
        ];
      },
    });
    const exposition = createExposition(registry);
    const open = await exposition.render(true);
    expect(collections).toBe(1);
    expect(open.body).toContain(`payment_provider_errors_total{provider="kustom"} 3 # {trace_id="${'d'.repeat(32)}"} 1 1700000000`);
    expect(open.body).toContain('payment_provider_calls_total{provider="kustom"} 4');
    const text = await exposition.render(false);
    expect(collections).toBe(2);
    expect(text.body).toContain('# TYPE payment_provider_errors_total counter\npayment_provider_errors_total{provider="kustom"} 3\n');
  });
});
