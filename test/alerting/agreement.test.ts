// The two implementations of every rule kind agree: the same synthetic history is fed to the
// in-process engine and (as the counter series paysignal exports) to `promtool test rules` on the
// compiled rules; promtool must see exactly the alerts the engine fires (labels and rendered
// annotations) at every evaluation time.
import { describe, expect, it } from 'vitest';
import { checkWithPromtool, eventsFromCounts, runEngine, runRuleTests, type SyntheticEvent } from '../../src/alerting/testing.ts';
import { RULE_KIND_DEFINITIONS } from '../../src/alerting/kinds/index.ts';
import type { RuleKind, RuleSet } from '../../src/alerting/types.ts';
import { ruleSetFromYaml } from '../support/engine.ts';
import { rng } from '../support/random.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;


const ruleSet = (yaml: string): RuleSet => ruleSetFromYaml(yaml, 'agreement.yaml');

/** Counts per step: base rate with noise, plus overrides for [from, to) step ranges. */
function profile(steps: number, seed: number, base: number, bursts: { from: number; to: number; rate: number }[] = []): number[] {
  const r = rng(seed);
  return Array.from({ length: steps }, (_, i) => {
    const burst = bursts.find((b) => i >= b.from && i < b.to);
    const rate = burst ? burst.rate : base;
    return Math.max(0, Math.round(rate * (0.5 + r())));
  });
}

const ERR = { category: 'merchant_config', retry: 'contact_provider' };

async function agree(set: RuleSet, events: SyntheticEvent[], endMs: number, times?: number[]): Promise<void> {
  const evalTimes = times ?? Array.from({ length: Math.floor(endMs / set.intervalMs) + 1 }, (_, i) => i * set.intervalMs);
  const observed = runEngine([set], events, evalTimes);
  const firing = observed.filter((o) => o.firing.length > 0).length;
  // The history must exercise the rule: some evaluations fire, some do not.
  expect(firing, 'evaluations with alerts firing').toBeGreaterThan(0);
  expect(observed.length - firing, 'evaluations without alerts').toBeGreaterThan(0);
  const result = await checkWithPromtool([set], events, observed);
  expect(result.ok, result.output).toBe(true);
}

/** Histories that exercise each kind; every kind of the registry must have at least one. */
const SCENARIOS: readonly { kind: RuleKind; name: string; run(): Promise<void> }[] = [
  {
    kind: 'threshold',
    name: 'threshold (for, keep_firing_for, min_events, two groups)',
    async run() {
      const set = ruleSet(`
apiVersion: paysignal/v1
kind: RuleSet
metadata: { name: t }
rules:
  - name: BadValueBurst
    kind: threshold
    selector: { code: [BAD_VALUE, MERCHANT_INACTIVE] }
    group_by: [provider, code]
    window: 5m
    for: 2m
    keep_firing_for: 3m
    min_events: 3
    threshold: { op: '>', value: 12 }
    annotations: { summary: "{{ $labels.provider }} {{ $labels.code }}: {{ $value }} errors in 5m" }
`);
      const steps = 180;
      const events = [
        ...eventsFromCounts(profile(steps, 1, 1, [{ from: 40, to: 60, rate: 6 }, { from: 100, to: 104, rate: 8 }]), MIN, { provider: 'kustom', operation: 'create_order', code: 'BAD_VALUE', ...ERR }),
        ...eventsFromCounts(profile(steps, 2, 0.5, [{ from: 120, to: 150, rate: 5 }]), MIN, { provider: 'kustom', operation: 'update_session', code: 'MERCHANT_INACTIVE', ...ERR }),
        ...eventsFromCounts(profile(steps, 3, 5), MIN, { provider: 'setel', operation: 'authorize', code: '9300001', ...ERR }),
      ];
      await agree(set, events, steps * MIN);
    },
  },
  {
    kind: 'spike',
    name: 'spike with a trailing baseline',
    async run() {
      const set = ruleSet(`
apiVersion: paysignal/v1
kind: RuleSet
metadata: { name: s }
rules:
  - name: MerchantInactiveSpike
    kind: spike
    selector: { code: MERCHANT_INACTIVE, provider: kustom }
    group_by: [provider, code, operation]
    window: 10m
    for: 2m
    keep_firing_for: 5m
    min_events: 10
    baseline: { method: trailing, lookback: 1h, factor: 3 }
    annotations: { summary: "{{ $labels.operation }} {{ $value }}" }
`);
      const steps = 200;
      const events = [
        ...eventsFromCounts(profile(steps, 4, 1, [{ from: 80, to: 95, rate: 8 }, { from: 150, to: 152, rate: 20 }]), MIN, { provider: 'kustom', operation: 'create_order', code: 'MERCHANT_INACTIVE', ...ERR }),
        ...eventsFromCounts(profile(steps, 5, 2, [{ from: 30, to: 60, rate: 9 }]), MIN, { provider: 'kustom', operation: 'authorize', code: 'MERCHANT_INACTIVE', ...ERR }),
      ];
      await agree(set, events, steps * MIN);
    },
  },
  {
    kind: 'spike',
    name: 'spike against the same time last week',
    async run() {
      const set = ruleSet(`
apiVersion: paysignal/v1
kind: RuleSet
metadata: { name: w }
interval: 10m
rules:
  - name: WeeklySpike
    kind: spike
    selector: { provider: mercadopago, code: invalid_total_amount }
    window: 30m
    for: 20m
    min_events: 20
    baseline: { method: same_time_last_week, factor: 2 }
    annotations: { summary: "{{ $value }}" }
`);
      const stepMs = 10 * MIN;
      const steps = (8 * DAY) / stepMs + 12;
      const r = rng(6);
      const counts = Array.from({ length: steps }, (_, i) => {
        const hour = ((i * stepMs) % DAY) / HOUR;
        const daily = hour >= 8 && hour < 22 ? 12 : 3;
        // Day 8, 10:00–12:00: an incident, triple traffic.
        const t = i * stepMs;
        const incident = t >= 7 * DAY + 10 * HOUR && t < 7 * DAY + 12 * HOUR ? 3 : 1;
        return Math.round(daily * incident * (0.7 + 0.6 * r()));
      });
      const events = eventsFromCounts(counts, stepMs, { provider: 'mercadopago', operation: 'create_order', code: 'invalid_total_amount', category: 'validation', retry: 'fix_and_resubmit' });
      const end = 7 * DAY + 14 * HOUR;
      // Every evaluation of the last day and a half, and every tenth before.
      const times: number[] = [];
      for (let t = 0; t <= end; t += stepMs) if (t >= 6 * DAY + 12 * HOUR || (t / stepMs) % 10 === 0) times.push(t);
      await agree(set, events, end, times);
    },
  },
  {
    kind: 'spike',
    name: 'spike by z-score',
    async run() {
      const set = ruleSet(`
apiVersion: paysignal/v1
kind: RuleSet
metadata: { name: z }
rules:
  - name: ZSpike
    kind: spike
    selector: { category: rate_limit }
    group_by: [provider]
    window: 5m
    for: 1m
    keep_firing_for: 2m
    min_events: 5
    baseline: { method: zscore, lookback: 1h, z: 3 }
    annotations: { summary: "{{ $labels.provider }} {{ $value }}" }
`);
      const steps = 240;
      const rl = { code: 'rate_limit_exceeded', category: 'rate_limit', retry: 'retry_with_backoff' };
      const events = [
        ...eventsFromCounts(profile(steps, 7, 2, [{ from: 90, to: 97, rate: 9 }, { from: 180, to: 200, rate: 6 }]), MIN, { provider: 'stablegenius', operation: 'create_payment_intent', ...rl }),
        ...eventsFromCounts(profile(steps, 8, 0, [{ from: 150, to: 155, rate: 4 }]), MIN, { provider: 'digitalriver', operation: 'create_order', ...rl }),
      ];
      await agree(set, events, steps * MIN);
    },
  },
  {
    kind: 'error_ratio',
    name: 'error ratio burn rate (multi-window, multi-burn-rate)',
    async run() {
      const set = ruleSet(`
apiVersion: paysignal/v1
kind: RuleSet
metadata: { name: e }
rules:
  - name: ProviderErrorBudgetBurn
    kind: error_ratio
    selector: { category: [provider_error, timeout] }
    group_by: [provider]
    objective: 99
    windows:
      - { long: 1h, short: 5m, factor: 14.4 }
      - { long: 6h, short: 30m, factor: 6 }
    for: 2m
    min_events: 100
    annotations: { summary: "{{ $labels.provider }} error ratio {{ $value }}" }
`);
      const steps = 9 * 60;
      const ok = profile(steps, 9, 50);
      const errs = profile(steps, 10, 0.3, [{ from: 100, to: 140, rate: 40 }, { from: 200, to: 520, rate: 8 }]);
      const events = [
        ...eventsFromCounts(ok, MIN, { provider: 'setel', operation: 'authorize', outcome: 'success' }),
        ...eventsFromCounts(errs, MIN, { provider: 'setel', operation: 'authorize', code: '9300001', category: 'provider_error', retry: 'retry_with_backoff' }),
        // Validation errors do not burn this budget.
        ...eventsFromCounts(profile(steps, 11, 10), MIN, { provider: 'setel', operation: 'authorize', code: '9300004', category: 'validation', retry: 'fix_and_resubmit' }),
        ...eventsFromCounts(profile(steps, 12, 30), MIN, { provider: 'kustom', operation: 'create_order', outcome: 'success' }),
        ...eventsFromCounts(profile(steps, 13, 0.1), MIN, { provider: 'kustom', operation: 'create_order', code: 'INTERNAL_SERVER_ERROR', category: 'provider_error', retry: 'new_checkout' }),
      ];
      await agree(set, events, steps * MIN);
    },
  },
  {
    kind: 'new_error_code',
    name: 'new error code',
    async run() {
      const set = ruleSet(`
apiVersion: paysignal/v1
kind: RuleSet
metadata: { name: n }
rules:
  - name: NewErrorCode
    kind: new_error_code
    group_by: [provider, code]
    window: 10m
    lookback: 1h
    min_events: 2
    annotations: { summary: "{{ $labels.provider }} started returning {{ $labels.code }} ({{ $value }}x)" }
`);
      const steps = 200;
      const at = (from: number, to: number, n: number): number[] => Array.from({ length: steps }, (_, i) => (i >= from && i < to ? n : 0));
      const e = (code: string, counts: number[]): SyntheticEvent[] => eventsFromCounts(counts, MIN, { provider: 'stablegenius', operation: 'create_payment_intent', code, category: 'validation', retry: 'fix_and_resubmit' });
      const events = [
        ...e('amount_out_of_range', profile(steps, 14, 1)), // always there: never new after the first hour
        ...e('invalid_currency', at(30, 32, 3)), // new at 30m
        ...e('ttl_out_of_range', at(50, 51, 1)), // once, below min_events
        ...e('invalid_currency', at(70, 75, 2)), // seen 40m ago: not new
        ...e('invalid_webhook_url', at(120, 140, 1)), // new
        ...e('invalid_currency', at(160, 170, 1)), // last seen 85m ago: new again
      ];
      await agree(set, events, steps * MIN);
    },
  },
  {
    kind: 'absence',
    name: 'absence (provider silent)',
    async run() {
      const set = ruleSet(`
apiVersion: paysignal/v1
kind: RuleSet
metadata: { name: a }
rules:
  - name: ProviderSilent
    kind: absence
    group_by: [provider]
    window: 10m
    lookback: 1h
    for: 5m
    min_events: 30
    annotations: { summary: "no calls to {{ $labels.provider }}; {{ $value }} in the hour before" }
`);
      const steps = 240;
      const gap = (from: number, to: number, counts: number[]): number[] => counts.map((c, i) => (i >= from && i < to ? 0 : c));
      const events = [
        ...eventsFromCounts(gap(90, 130, profile(steps, 15, 5)), MIN, { provider: 'kustom', operation: 'create_order', outcome: 'success' }),
        ...eventsFromCounts(gap(200, 240, profile(steps, 16, 3)), MIN, { provider: 'setel', operation: 'authorize', outcome: 'success' }),
        ...eventsFromCounts(profile(steps, 17, 0.2), MIN, { provider: 'digitalriver', operation: 'create_order', outcome: 'success' }),
      ];
      await agree(set, events, steps * MIN);
    },
  },
  {
    kind: 'threshold',
    name: 'threshold on retry violations',
    async run() {
      const set = ruleSet(`
apiVersion: paysignal/v1
kind: RuleSet
metadata: { name: v }
rules:
  - name: RetryViolations
    kind: threshold
    signal: retry_violations
    selector: { retry: [do_not_retry, new_checkout, contact_provider, fix_and_resubmit] }
    group_by: [provider, retry]
    window: 15m
    keep_firing_for: 5m
    threshold: { op: '>=', value: 5 }
    annotations: { summary: "{{ $labels.provider }} retried after {{ $labels.retry }} {{ $value }} times" }
`);
      const steps = 150;
      const events = [
        ...eventsFromCounts(profile(steps, 18, 0.1, [{ from: 60, to: 70, rate: 1.5 }]), MIN, { provider: 'kustom', operation: 'create_order', code: 'BAD_VALUE', category: 'validation', retry: 'fix_and_resubmit' }, { code: 'BAD_VALUE', retry: 'fix_and_resubmit' }),
        ...eventsFromCounts(profile(steps, 19, 0.1, [{ from: 100, to: 104, rate: 2 }]), MIN, { provider: 'mercadopago', operation: 'cancel_order', code: 'cannot_cancel_order', category: 'state_conflict', retry: 'do_not_retry' }, { code: 'cannot_cancel_order', retry: 'do_not_retry' }),
      ];
      await agree(set, events, steps * MIN);
    },
  },
  {
    kind: 'threshold',
    name: 'selectors (regex, not, not_regex, lists) and an empty group_by',
    async run() {
      const set = ruleSet(`
apiVersion: paysignal/v1
kind: RuleSet
metadata: { name: sel }
rules:
  - name: CreateErrorsExceptValidation
    kind: threshold
    selector: { operation: { regex: "create_.*" }, category: { not: [validation, declined] }, code: { not_regex: "9300.*" } }
    group_by: []
    window: 3m
    keep_firing_for: 1m
    threshold: { op: '>=', value: 8 }
    annotations: { summary: "{{ $value }} create_* errors" }
`);
      const steps = 90;
      const events = [
        ...eventsFromCounts(profile(steps, 20, 1, [{ from: 30, to: 40, rate: 4 }]), MIN, { provider: 'kustom', operation: 'create_order', code: 'INTERNAL_SERVER_ERROR', category: 'provider_error', retry: 'new_checkout' }),
        ...eventsFromCounts(profile(steps, 21, 1, [{ from: 60, to: 70, rate: 3 }]), MIN, { provider: 'stablegenius', operation: 'create_payment_intent', code: 'api_error', category: 'provider_error', retry: 'retry_with_backoff' }),
        // Excluded by the selector: validation errors, Setel codes, other operations.
        ...eventsFromCounts(profile(steps, 22, 5), MIN, { provider: 'kustom', operation: 'create_order', code: 'BAD_VALUE', category: 'validation', retry: 'fix_and_resubmit' }),
        ...eventsFromCounts(profile(steps, 23, 5), MIN, { provider: 'setel', operation: 'create_order', code: '9300001', category: 'provider_error', retry: 'retry_with_backoff' }),
        ...eventsFromCounts(profile(steps, 24, 5), MIN, { provider: 'kustom', operation: 'authorize', code: 'INTERNAL_SERVER_ERROR', category: 'provider_error', retry: 'new_checkout' }),
      ];
      await agree(set, events, steps * MIN);
    },
  },

];

describe('engine and compiled Prometheus rules fire the same alerts, kind by kind', () => {
  for (const definition of RULE_KIND_DEFINITIONS) {
    describe(definition.kind, () => {
      it('has agreement scenarios', () => {
        expect(SCENARIOS.filter((sc) => sc.kind === definition.kind).length).toBeGreaterThan(0);
      });
      for (const scenario of SCENARIOS.filter((sc) => sc.kind === definition.kind)) it(scenario.name, () => scenario.run());
    });
  }
});

describe('the cross-check', () => {
  it('notices a disagreement (an alert the compiled rules do not fire)', async () => {
    const set = ruleSet(`
apiVersion: paysignal/v1
kind: RuleSet
metadata: { name: c }
rules:
  - name: Canary
    kind: threshold
    selector: { code: X }
    window: 5m
    threshold: { value: 3 }
`);
    const events = eventsFromCounts([1, 1, 1, 1, 1, 1, 1, 1, 1, 1], MIN, { provider: 'kustom', code: 'X', category: 'validation', retry: 'fix_and_resubmit' });
    const observed = runEngine([set], events, [5 * MIN, 8 * MIN]);
    expect(observed.map((o) => o.firing.length)).toEqual([1, 1]);
    // Claim nothing fires at 8m: promtool must disagree.
    const wrong = observed.map((o) => (o.at === 8 * MIN ? { ...o, firing: [] } : o));
    const result = await checkWithPromtool([set], events, wrong);
    expect(result.ok).toBe(false);
    expect(result.output).toContain('alertname: Canary, time: 8m');
  });

  it('every shipped rule test also passes on the compiled rules (promtool test rules)', async () => {
    const { results, errors } = await runRuleTests(['rules/tests/kustom.yaml', 'rules/tests/mercadopago.yaml', 'rules/tests/provider-health.yaml'], { promtool: 'promtool' });
    expect(errors).toEqual([]);
    expect(results.length).toBe(15);
    for (const r of results) expect(r.failures, `${r.file}: ${r.test}`).toEqual([]);
  });
});
