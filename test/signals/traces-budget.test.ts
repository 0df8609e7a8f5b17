// The error-span budget (docs/architecture.md#spans): error spans up to tracing.max_error_spans_per_second, then
// sampled per (provider, code) so every code keeps spans every second; each kept span carries the
// number of calls it stands for, what the budget dropped is counted, and exemplars only name kept
// spans. Decisions are checked on a clock the test moves; the spans travel over OTLP to a receiver.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ProcessedEvent } from '../../src/pipeline/types.ts';
import { createExposition, createMetricsRegistry } from '../../src/sinks/exposition.ts';
import { createMetricsSink } from '../../src/sinks/metrics.ts';
import { ErrorSpanBudget, waterLevel, type BudgetWindow } from '../../src/sinks/span-budget.ts';
import { createSpanIdentityResolver, traceIdFromKey } from '../../src/sinks/trace-identity.ts';
import { createTraceSink, type TraceSink } from '../../src/sinks/traces.ts';
import { waitFor } from '../support/processes.ts';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.ts';
import { BAD_VALUE, event, MERCHANT_INACTIVE, processed, T0, type ErrorSpec } from './fixtures.ts';
import { DEFAULT_CONFIG } from '../support/config.ts';

/** Admits `n` errors of one pair at `ms`; returns how many were kept and the pair's window. */
function admit(budget: ErrorSpanBudget, provider: string, code: string, n: number, ms: number): { kept: number; window: BudgetWindow | null } {
  let kept = 0;
  let window: BudgetWindow | null = null;
  for (let i = 0; i < n; i++) {
    const w = budget.admit(provider, code, ms);
    if (w !== null) {
      kept++;
      window = w;
    }
  }
  return { kept, window };
}

describe('error-span budget: decisions', () => {
  it('under the budget every error span is kept and stands for itself', () => {
    const budget = new ErrorSpanBudget(10);
    const a = admit(budget, 'kustom', 'MERCHANT_INACTIVE', 6, T0);
    const b = admit(budget, 'setel', '4001', 4, T0 + 999);
    expect([a.kept, b.kept]).toEqual([6, 4]);
    expect(a.window).toMatchObject({ seen: 6, kept: 6 });
    expect(b.window).toMatchObject({ seen: 4, kept: 4 });
    expect(budget.dropped).toBe(0);
  });

  it('over the budget: the second keeps the budget, every other pair still keeps one span, the rest is counted as dropped', () => {
    const budget = new ErrorSpanBudget(10);
    const loud = admit(budget, 'kustom', 'MERCHANT_INACTIVE', 100, T0);
    const rare = admit(budget, 'setel', '4001', 3, T0 + 500);
    expect(loud.kept).toBe(10);
    expect(rare.kept).toBe(1);
    expect(budget.dropped).toBe(100 - 10 + 3 - 1);
    // Weights: each kept span stands for seen / kept calls, so the weights add up to what was seen.
    expect(loud.window!.seen / loud.window!.kept).toBe(10);
    expect(rare.window!.seen / rare.window!.kept).toBe(3);
  });

  it('the next second shares the budget fairly by what each pair needed in the second before', () => {
    const budget = new ErrorSpanBudget(10);
    admit(budget, 'kustom', 'MERCHANT_INACTIVE', 100, T0);
    admit(budget, 'setel', '4001', 3, T0);
    // Demands 100 and 3 over a budget of 10: setel needs 3, the remaining 7 go to kustom.
    const next = T0 + 1000;
    const kept = { loud: 0, rare: 0 };
    for (let i = 0; i < 100; i++) {
      if (budget.admit('kustom', 'MERCHANT_INACTIVE', next) !== null) kept.loud++;
      if (i < 3 && budget.admit('setel', '4001', next) !== null) kept.rare++;
    }
    expect(budget.pairCap).toBe(7);
    expect(kept).toEqual({ loud: 7, rare: 3 });
  });

  it('after a second without errors there is no per-pair cap again, only the budget', () => {
    const budget = new ErrorSpanBudget(10);
    admit(budget, 'kustom', 'MERCHANT_INACTIVE', 100, T0);
    admit(budget, 'setel', '4001', 3, T0);
    expect(admit(budget, 'kustom', 'MERCHANT_INACTIVE', 20, T0 + 2000).kept).toBe(10);
    expect(budget.pairCap).toBe(Infinity);
  });

  it('a clock that steps back does not reopen a closed second', () => {
    const budget = new ErrorSpanBudget(2);
    const later = budget.admit('kustom', 'A', T0 + 1000);
    const earlier = budget.admit('kustom', 'A', T0);
    expect(earlier).toBe(later);
    expect(later).toMatchObject({ second: (T0 + 1000) / 1000, seen: 2, kept: 2 });
    expect(budget.admit('kustom', 'A', T0)).toBeNull();
  });

  it('garbage codes cannot grow the budget without bound: pairs beyond the cap share one overflow pair', () => {
    const budget = new ErrorSpanBudget(5, 3);
    let kept = 0;
    for (let i = 0; i < 1000; i++) if (budget.admit('kustom', `junk-${i}`, T0) !== null) kept++;
    // Three pairs keep their first span; the overflow pair keeps one more, and the budget holds the total.
    expect(kept).toBe(5);
    expect(budget.dropped).toBe(995);
  });

  it.each([
    [[100, 3], 10, 7],
    [[5, 5, 5], 9, 3],
    [[1, 1, 1], 10, Infinity],
    [[50, 50, 1, 1], 10, 4],
    [[1000, 1000], 1, 1],
  ])('water level of demands %j over %i is %s', (demands, budget, level) => {
    expect(waterLevel([...demands], budget)).toBe(level);
  });

  it('refuses a budget that is not a positive integer (0 means no budget object at all)', () => {
    expect(() => new ErrorSpanBudget(0)).toThrow(RangeError);
    expect(() => createSpanIdentityResolver({ maxErrorSpansPerSecond: -1 })).toThrow(/non-negative integer/);
    expect(createSpanIdentityResolver({ maxErrorSpansPerSecond: 0 }).budget).toBeNull();
  });
});

describe('error-span budget: spans, weights, counts and exemplars', () => {
  let receiver: OtlpReceiver;
  const sinks: TraceSink[] = [];
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
  });
  afterAll(async () => {
    await receiver.close();
  });
  afterEach(async () => {
    for (const s of sinks.splice(0)) await s.close();
    receiver.spans.length = 0;
  });

  function errorCall(provider: string, spec: ErrorSpec, i: number, ms: number): ProcessedEvent {
    return processed(event({ provider, operation: 'create_order', statusCode: 403, correlationId: `${provider}-${i}`, timestampMs: ms }), spec);
  }

  it('kept error spans carry payment.sample_weight adding up to the calls seen; the rest is counted in paysignal_spans_dropped_total{reason="budget"}; exemplars name only kept spans', async () => {
    let clock = T0;
    const identity = createSpanIdentityResolver({ successSampleRatio: 0.5, maxErrorSpansPerSecond: 5, now: () => clock });
    const registry = createMetricsRegistry({ defaultMetrics: false });
    const traces = createTraceSink({ otlp: { url: receiver.tracesUrl }, scheduledDelayMillis: 20, registry, identity });
    sinks.push(traces);
    const offered: (string | null)[] = [];
    const metrics = createMetricsSink({
      registry,
      metrics: DEFAULT_CONFIG.metrics,
      exemplarTraceId: (p) => {
        const id = traces.exemplarTraceId(p);
        offered.push(id);
        return id;
      },
    });

    // One second: 50 calls fail with MERCHANT_INACTIVE, then 2 with BAD_VALUE, then 40 succeed.
    const calls: ProcessedEvent[] = [];
    for (let i = 0; i < 50; i++) calls.push(errorCall('kustom', MERCHANT_INACTIVE, i, T0 + i));
    for (let i = 0; i < 2; i++) calls.push(errorCall('setel', BAD_VALUE, i, T0 + i));
    for (let i = 0; i < 40; i++) calls.push(processed(event({ provider: 'digitalriver', operation: 'capture', statusCode: 200, correlationId: `ok-${i}` })));
    for (const p of calls) {
      metrics.onEvent(p);
      traces.onEvent(p);
    }
    // The kept error spans wait for their second to end: their weight is not known before.
    expect(traces.stats().held).toBe(6);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(traces.stats().held).toBe(6);
    clock += 1000;
    await waitFor('the held spans to be released when their second is over', () => (traces.stats().held === 0 ? true : undefined));
    await traces.forceFlush();

    const successesKept = calls.filter((p) => p.classification.outcome === 'success' && identity.resolve(p).sampled).length;
    await waitFor('all kept spans', () => (receiver.spans.length === 6 + successesKept ? true : undefined));
    const byName = (name: string) => receiver.spans.filter((s) => s.name === name);
    const loud = byName('kustom create_order');
    const rare = byName('setel create_order');
    expect(loud.length).toBe(5);
    expect(rare.length).toBe(1);
    expect(loud.map((s) => s.attributes['payment.sample_weight'])).toEqual([10, 10, 10, 10, 10]);
    expect(rare[0]!.attributes['payment.sample_weight']).toBe(2);
    // Successes are sampled by ratio 0.5: each kept one stands for 2 calls.
    expect(new Set(byName('digitalriver capture').map((s) => s.attributes['payment.sample_weight']))).toEqual(new Set([2]));

    const dropped = 50 - 5 + 2 - 1;
    expect(traces.stats().droppedBudget).toBe(dropped);
    const om = await createExposition(registry).render(true);
    expect(om.body).toMatch(new RegExp(`^paysignal_spans_dropped_total\\{reason="budget"\\} ${dropped}$`, 'm'));

    // Exemplars: offered exactly for the events whose span was exported, and the scraped ones name them.
    const exported = new Set(receiver.spans.map((s) => s.traceId));
    const offeredIds = offered.filter((id): id is string => id !== null);
    expect(offered.length).toBe(calls.length);
    expect(new Set(offeredIds)).toEqual(exported);
    expect(calls.filter((p) => p.classification.outcome === 'error').map((p) => traceIdFromKey(p.event.correlationId!)).filter((id) => !exported.has(id)).length).toBe(dropped);
    const scraped = [...om.body.matchAll(/trace_id="([0-9a-f]{32})"/g)].map((m) => m[1]!);
    expect(scraped.length).toBeGreaterThan(0);
    for (const id of scraped) expect(exported.has(id)).toBe(true);
  });

  it('without a budget (0) every error span is exported at once with weight 1', async () => {
    const traces = createTraceSink({ otlp: { url: receiver.tracesUrl }, scheduledDelayMillis: 20, maxErrorSpansPerSecond: 0 });
    sinks.push(traces);
    for (let i = 0; i < 30; i++) traces.onEvent(errorCall('kustom', MERCHANT_INACTIVE, i, T0));
    expect(traces.stats().held).toBe(0);
    await traces.forceFlush();
    const spans = await waitFor('30 spans', () => (receiver.spans.length === 30 ? receiver.spans : undefined));
    expect(new Set(spans.map((s) => s.attributes['payment.sample_weight']))).toEqual(new Set([1]));
    expect(traces.stats().droppedBudget).toBe(0);
  });
});
