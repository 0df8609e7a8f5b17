// Two weeks of synthetic payment-provider traffic with a known truth, written two ways:
// - as NDJSON events (what services log), for `--source logs`, and
// - as the counters paysignal would have exported for those events (docs/architecture.md#metrics), hour by
//   hour, for backfilling a real Prometheus, for `--source prometheus`.
// The labels each group carries are the classification docs/architecture.md#taxonomy prescribes; the logs source
// derives them with the real classifier, so both sources agree only if the classifier does too.
import { callEvent } from '../support/events.ts';
import { HOUR_MS, type IsoWeek } from '../../src/report/week.ts';
import type { CounterSeries, GaugeSeries } from '../support/prometheus-backfill.ts';

export interface Group {
  readonly provider: string;
  readonly operation: string;
  /** HTTP status; absent for a call that got no response. */
  readonly status?: number;
  readonly body?: unknown;
  readonly networkError?: string;
  /** Expected classification (errors only). */
  readonly code?: string;
  readonly category?: string;
  readonly retry?: string;
  /** Calls in the week before the report week, and in the report week. */
  readonly previous: number;
  readonly current: number;
  /**
   * Calls that are sent twice under one idempotency key: each pair adds two calls and one retry
   * violation (the second attempt ignores the first one's non-retryable decision).
   */
  readonly violationPairs?: { readonly previous: number; readonly current: number };
  /**
   * The group's calls of each week are all attempts of one request: one idempotency key, 30 s apart.
   * Each attempt after the first is a retry, and each beyond STORM_THRESHOLD a retry-storm attempt.
   */
  readonly storm?: boolean;
}

/** `correlation.storm_threshold` by default. */
export const STORM_THRESHOLD = 5;

const mpError = (code: string, message: string) => ({ errors: [{ code, message, details: [] }] });
const kustomError = (code: string, message: string) => ({ error_code: code, error_messages: [message] });

export const GROUPS: readonly Group[] = [
  // Successes.
  { provider: 'mercadopago', operation: 'create_order', status: 201, previous: 400, current: 500 },
  { provider: 'kustom', operation: 'create_order', status: 200, previous: 300, current: 240 },
  { provider: 'setel', operation: 'authorize', status: 200, previous: 200, current: 200 },
  { provider: 'stablegenius', operation: 'create_payment_intent', status: 201, previous: 100, current: 150 },
  // digitalriver had no traffic at all the week before.
  { provider: 'digitalriver', operation: 'create_order', status: 201, previous: 0, current: 60 },
  // Errors.
  {
    provider: 'mercadopago', operation: 'create_order', status: 400, body: mpError('invalid_total_amount', 'total_amount must equal the sum of the items'),
    code: 'invalid_total_amount', category: 'validation', retry: 'fix_and_resubmit', previous: 20, current: 45,
  },
  {
    provider: 'mercadopago', operation: 'create_order', status: 500, body: mpError('internal_error', 'internal error'),
    code: 'internal_error', category: 'provider_error', retry: 'retry_same_key_later', previous: 10, current: 4,
  },
  {
    provider: 'kustom', operation: 'create_order', status: 400, body: kustomError('BAD_VALUE', 'BAD_VALUE : order_lines[3].tax_rate'),
    code: 'BAD_VALUE', category: 'validation', retry: 'fix_and_resubmit', previous: 30, current: 12,
  },
  {
    provider: 'kustom', operation: 'create_order', status: 403, body: kustomError('REJECTED', 'Rejected by the risk check'),
    code: 'REJECTED', category: 'declined', retry: 'new_checkout', previous: 4, current: 6, violationPairs: { previous: 2, current: 5 },
  },
  {
    provider: 'kustom', operation: 'create_order', status: 403, body: kustomError('MERCHANT_INACTIVE', 'Merchant is inactive'),
    code: 'MERCHANT_INACTIVE', category: 'merchant_config', retry: 'contact_provider', previous: 0, current: 9,
  },
  {
    provider: 'setel', operation: 'authorize', status: 500, body: { errorCode: 9300001, message: 'Internal error' },
    code: '9300001', category: 'provider_error', retry: 'retry_with_backoff', previous: 15, current: 15,
  },
  {
    provider: 'setel', operation: 'authorize', networkError: 'timeout',
    code: 'none', category: 'timeout', retry: 'reconcile_before_retry', previous: 5, current: 7,
  },
  {
    provider: 'stablegenius', operation: 'create_payment_intent', status: 429,
    body: { error: { type: 'rate_limit_error', code: 'rate_limit_exceeded', message: 'Too many requests' } },
    code: 'rate_limit_exceeded', category: 'rate_limit', retry: 'retry_with_backoff', previous: 12, current: 3, storm: true,
  },
  {
    provider: 'digitalriver', operation: 'create_order', status: 400,
    body: { type: 'bad_request', errors: [{ code: 'invalid_parameter', parameter: 'currency', message: 'currency is not supported' }] },
    code: 'invalid_parameter', category: 'validation', retry: 'fix_and_resubmit', previous: 0, current: 6,
  },
];

export interface SyntheticEvent {
  readonly timestampMs: number;
  readonly group: Group;
  /** The event as logged (NDJSON line content). */
  readonly json: Record<string, unknown>;
  /** Set on the second attempt of a violation pair: the decision it ignored. */
  readonly violation: { readonly code: string; readonly retry: string } | null;
  /** Which attempt of its request this call is (1 for a call without an idempotency key). */
  readonly attempt: number;
}

const isError = (g: Group): boolean => g.status === undefined || g.status >= 400;

/** Events of both weeks, in time order. Timestamps are spread over the hours of each week deterministically. */
export function syntheticEvents(previousWeek: IsoWeek, week: IsoWeek): SyntheticEvent[] {
  const events: SyntheticEvent[] = [];
  GROUPS.forEach((g, gi) => {
    for (const [w, n, pairs] of [
      [previousWeek, g.previous, g.violationPairs?.previous ?? 0],
      [week, g.current, g.violationPairs?.current ?? 0],
    ] as const) {
      const at = (i: number): number => w.startMs + ((i * 37 + gi * 11) % 168) * HOUR_MS + ((i * 13 + gi) % 60) * 60_000 + (i % 50) * 1000;
      const make = (ts: number, extra: Partial<Parameters<typeof callEvent>[0]>, violation: SyntheticEvent['violation'], attempt = 1): SyntheticEvent => ({
        timestampMs: ts,
        group: g,
        violation,
        attempt,
        json: callEvent({
          provider: g.provider,
          operation: g.operation,
          ...(g.status === undefined ? {} : { status: g.status }),
          ...(g.body === undefined ? {} : { body: g.body }),
          ...(g.networkError === undefined ? {} : { networkError: g.networkError }),
          timestamp: new Date(ts).toISOString(),
          durationMs: 120,
          ...extra,
        }),
      });
      if (g.storm === true) {
        const first = w.startMs + (20 + gi) * HOUR_MS;
        for (let i = 0; i < n; i++) events.push(make(first + i * 30_000, { idempotencyKey: `storm-${w.label}-${g.provider}` }, null, i + 1));
      } else {
        for (let i = 0; i < n; i++) events.push(make(at(i), {}, null));
      }
      for (let p = 0; p < pairs; p++) {
        // First attempt, then the same request again 90 s later under the same idempotency key.
        const ts = w.startMs + ((p * 29 + 3) % 160) * HOUR_MS + 5 * 60_000;
        const key = `idem-${w.label}-${g.provider}-${p}`;
        events.push(make(ts, { idempotencyKey: key }, null));
        events.push(make(ts + 90_000, { idempotencyKey: key }, { code: g.code ?? 'none', retry: g.retry ?? 'do_not_retry' }, 2));
      }
    }
  });
  return events.sort((a, b) => a.timestampMs - b.timestampMs);
}

export function ndjson(events: readonly SyntheticEvent[]): string {
  return events.map((e) => JSON.stringify(e.json)).join('\n') + '\n';
}

/**
 * The counters paysignal exports for these events, sampled at every full hour from `fromMs` to
 * `toMs` inclusive: the value at T counts the events before T (so one hour's increase is exactly
 * that hour's events). Every series starts at 0 at `fromMs`.
 */
export function counterSeries(events: readonly SyntheticEvent[], fromMs: number, toMs: number): CounterSeries[] {
  const series = new Map<string, { name: string; labels: Record<string, string>; times: number[] }>();
  const add = (name: string, labels: Record<string, string>, ts: number): void => {
    const key = name + JSON.stringify(labels);
    let s = series.get(key);
    if (s === undefined) {
      s = { name, labels, times: [] };
      series.set(key, s);
    }
    s.times.push(ts);
  };
  for (const e of events) {
    const g = e.group;
    add('payment_provider_calls', { provider: g.provider, operation: g.operation, outcome: isError(g) ? 'error' : 'success' }, e.timestampMs);
    if (isError(g)) {
      add('payment_provider_errors', { provider: g.provider, operation: g.operation, code: g.code!, category: g.category!, retry: g.retry! }, e.timestampMs);
    }
    if (e.violation) add('payment_provider_retry_violations', { provider: g.provider, code: e.violation.code, retry: e.violation.retry }, e.timestampMs);
    if (e.attempt > 1) add('payment_provider_retries', { provider: g.provider, operation: g.operation }, e.timestampMs);
    if (e.attempt > STORM_THRESHOLD) add('payment_provider_retry_storm_attempts', { provider: g.provider, operation: g.operation }, e.timestampMs);
  }
  const out: CounterSeries[] = [];
  for (const s of series.values()) {
    const times = [...s.times].sort((a, b) => a - b);
    const samples: Array<[number, number]> = [];
    let i = 0;
    for (let t = fromMs; t <= toMs; t += HOUR_MS) {
      while (i < times.length && times[i]! < t) i++;
      samples.push([t, i]);
    }
    out.push({ name: s.name, labels: s.labels, samples });
  }
  return out;
}

/** Alerts in the report week: what Prometheus' rule evaluation and paysignal's engine would have recorded. */
export const ALERT_TRUTH = [
  { name: 'KustomRejectedSpike', severity: 'warning', origin: 'ALERTS', hours: [50, 51, 52, 53] },
  { name: 'MerchantInactiveSpike', severity: 'critical', origin: 'paysignal_alerts_firing', hours: [100, 101] },
] as const;

export function alertSeries(previousWeek: IsoWeek, week: IsoWeek): GaugeSeries[] {
  const at = (w: IsoWeek, hours: readonly number[]): Array<[number, number]> => hours.map((h) => [w.startMs + h * HOUR_MS, 1]);
  const engineSamples: Array<[number, number]> = [];
  for (let h = 0; h < 168; h++) engineSamples.push([week.startMs + h * HOUR_MS, h === 100 || h === 101 ? 1 : 0]);
  return [
    { name: 'ALERTS', labels: { alertname: 'KustomRejectedSpike', alertstate: 'firing', severity: 'warning', provider: 'kustom' }, samples: at(week, [50, 51, 52, 53]) },
    // Pending only: never fired, so not in the report.
    { name: 'ALERTS', labels: { alertname: 'SetelTimeouts', alertstate: 'pending', severity: 'warning', provider: 'setel' }, samples: at(week, [10, 11]) },
    // Fired the week before only.
    { name: 'ALERTS', labels: { alertname: 'StableGeniusRateLimited', alertstate: 'firing', severity: 'warning', provider: 'stablegenius' }, samples: at(previousWeek, [20, 21, 22]) },
    { name: 'paysignal_alerts_firing', labels: { rule: 'MerchantInactiveSpike', severity: 'critical' }, samples: engineSamples },
  ];
}
