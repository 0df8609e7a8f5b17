// Fills the report model from Prometheus' HTTP API (docs/architecture.md#metrics metrics):
// - week totals: `increase(...[1w])` evaluated at the week's end (Monday 00:00 UTC),
// - the week before: the same with `offset 1w`,
// - the daily chart: `query_range` with 1 h steps of `increase(...[1h])` over the week,
// - alerts fired: Prometheus' own `ALERTS` series and paysignal's `paysignal_alerts_firing` gauge,
//   per hour with `max_over_time(...[1h])`.
import { PaysignalError, usageError } from '../errors.ts';
import { HOUR_MS, HOURS_PER_WEEK, shiftWeek, type IsoWeek } from './week.ts';
import type { AlertsInfo, CallCount, ErrorCount, FiredAlert, HourlySeries, ProviderCount, ReportInput, ViolationCount, WeekCounts } from './model.ts';

export interface PrometheusSourceOptions {
  /** Base URL, e.g. `http://prometheus:9090` (a path prefix is kept). */
  readonly url: string;
  /** Per request; default 30 s. */
  readonly timeoutMs?: number;
  /** Wall clock for the "week not over" note; default Date.now. */
  readonly now?: () => number;
  /** Extra request headers (e.g. Authorization for a proxy in front of Prometheus). */
  readonly headers?: Readonly<Record<string, string>>;
}

interface PromSample {
  readonly metric: Record<string, string>;
  readonly value?: [number, string];
  readonly values?: Array<[number, string]>;
}

interface PromResponse {
  status: 'success' | 'error';
  data?: { resultType: string; result: PromSample[] };
  errorType?: string;
  error?: string;
}

export const QUERIES = {
  calls: 'sum by (provider, outcome) (increase(payment_provider_calls_total[1w]))',
  errors: 'sum by (provider, code, category, retry) (increase(payment_provider_errors_total[1w]))',
  violations: 'sum by (provider, code, retry) (increase(payment_provider_retry_violations_total[1w]))',
  retries: 'sum by (provider) (increase(payment_provider_retries_total[1w]))',
  stormAttempts: 'sum by (provider) (increase(payment_provider_retry_storm_attempts_total[1w]))',
  hourlyErrors: 'sum by (provider) (increase(payment_provider_errors_total[1h]))',
  alerts: 'max by (alertname, severity) (max_over_time(ALERTS{alertstate="firing"}[1h]))',
  engineAlerts: 'max by (rule, severity) (max_over_time(paysignal_alerts_firing[1h])) > 0',
} as const;

/** `increase(x[1w])` -> `increase(x[1w] offset 1w)`. */
export function withOffset(expr: string, offset: string): string {
  return expr.replace(/\[(\w+)\]/g, `[$1] offset ${offset}`);
}

const seconds = (ms: number): string => (ms / 1000).toFixed(3);

export function createPrometheusClient(options: PrometheusSourceOptions) {
  const base = options.url.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 30_000;
  try {
    const parsed = new URL(base);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`unsupported protocol ${parsed.protocol}`);
  } catch (error) {
    throw usageError(`--prometheus-url "${options.url}" is not an http(s) URL: ${(error as Error).message}`, '--prometheus-url');
  }

  async function call(path: string, params: Record<string, string>): Promise<PromSample[]> {
    const url = `${base}${path}`;
    const body = new URLSearchParams(params).toString();
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...options.headers },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const cause = error as Error & { cause?: { code?: string; message?: string } };
      const reason = cause.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : cause.cause?.code ?? cause.cause?.message ?? cause.message;
      throw new PaysignalError('PROMETHEUS_UNREACHABLE', `cannot reach Prometheus at ${base} (${reason})`, { cause: error });
    }
    const text = await response.text();
    let parsed: PromResponse | null = null;
    try {
      parsed = JSON.parse(text) as PromResponse;
    } catch {
      parsed = null;
    }
    if (parsed === null || typeof parsed !== 'object' || !('status' in parsed)) {
      throw new PaysignalError(
        'PROMETHEUS_BAD_RESPONSE',
        `${base}${path} answered HTTP ${response.status} with something that is not the Prometheus API (${JSON.stringify(text.slice(0, 120))}); is --prometheus-url right?`,
      );
    }
    if (parsed.status !== 'success' || !parsed.data) {
      throw new PaysignalError('PROMETHEUS_QUERY_FAILED', `Prometheus at ${base} rejected ${JSON.stringify(params.query)}: ${parsed.errorType ?? 'error'}: ${parsed.error ?? `HTTP ${response.status}`}`);
    }
    return parsed.data.result;
  }

  return {
    url: base,
    /** Instant query at `timeMs`. */
    async instant(query: string, timeMs: number): Promise<Array<{ metric: Record<string, string>; value: number }>> {
      const result = await call('/api/v1/query', { query, time: seconds(timeMs) });
      return result.map((r) => ({ metric: r.metric, value: Number(r.value?.[1] ?? 'NaN') })).filter((r) => Number.isFinite(r.value));
    },
    /** Range query; points as [epoch ms, value]. */
    async range(query: string, startMs: number, endMs: number, stepMs: number): Promise<Array<{ metric: Record<string, string>; points: Array<[number, number]> }>> {
      const result = await call('/api/v1/query_range', { query, start: seconds(startMs), end: seconds(endMs), step: String(stepMs / 1000) });
      return result.map((r) => ({
        metric: r.metric,
        points: (r.values ?? []).map(([t, v]): [number, number] => [Math.round(t * 1000), Number(v)]).filter(([, v]) => Number.isFinite(v)),
      }));
    },
  };
}

type Client = ReturnType<typeof createPrometheusClient>;

const label = (metric: Record<string, string>, name: string, fallback = ''): string => metric[name] ?? fallback;

async function weekCounts(client: Client, timeMs: number, offset: string | null): Promise<WeekCounts> {
  const q = (expr: string): string => (offset === null ? expr : withOffset(expr, offset));
  const [calls, errors, violations, retries, stormAttempts] = await Promise.all([
    client.instant(q(QUERIES.calls), timeMs),
    client.instant(q(QUERIES.errors), timeMs),
    client.instant(q(QUERIES.violations), timeMs),
    client.instant(q(QUERIES.retries), timeMs),
    client.instant(q(QUERIES.stormAttempts), timeMs),
  ]);
  const perProvider = (series: typeof retries): ProviderCount[] =>
    series.filter((s) => s.value > 0).map((s): ProviderCount => ({ provider: label(s.metric, 'provider'), count: s.value }));
  return {
    calls: calls
      .filter((s) => s.value > 0)
      .map((s): CallCount => ({ provider: label(s.metric, 'provider'), outcome: label(s.metric, 'outcome') === 'error' ? 'error' : 'success', count: s.value })),
    errors: errors
      .filter((s) => s.value > 0)
      .map((s): ErrorCount => ({
        provider: label(s.metric, 'provider'),
        code: label(s.metric, 'code', 'none'),
        category: label(s.metric, 'category', 'unknown'),
        retry: label(s.metric, 'retry', 'do_not_retry'),
        count: s.value,
      })),
    violations: violations
      .filter((s) => s.value > 0)
      .map((s): ViolationCount => ({ provider: label(s.metric, 'provider'), code: label(s.metric, 'code', 'none'), retry: label(s.metric, 'retry'), count: s.value })),
    retries: perProvider(retries),
    stormAttempts: perProvider(stormAttempts),
  };
}

/** Hour index (0..167) of a range point evaluated at `t` over the hour before it. */
function hourIndex(week: IsoWeek, t: number): number {
  return Math.round((t - week.startMs) / HOUR_MS) - 1;
}

async function hourlyErrors(client: Client, week: IsoWeek): Promise<HourlySeries[]> {
  const series = await client.range(QUERIES.hourlyErrors, week.startMs + HOUR_MS, week.endMs, HOUR_MS);
  return series.map((s) => {
    const hours = new Array<number>(HOURS_PER_WEEK).fill(0);
    for (const [t, v] of s.points) {
      const i = hourIndex(week, t);
      if (i >= 0 && i < HOURS_PER_WEEK) hours[i] = v;
    }
    return { provider: label(s.metric, 'provider'), hours };
  });
}

async function alertsFired(client: Client, week: IsoWeek): Promise<AlertsInfo> {
  // Evaluated 1 ms before each hour's end, so `[1h]` covers [hour start, hour end) and a sample at
  // the boundary counts for one hour only.
  const start = week.startMs + HOUR_MS - 1;
  const end = week.endMs - 1;
  const [prom, engine] = await Promise.all([
    client.range(QUERIES.alerts, start, end, HOUR_MS),
    client.range(QUERIES.engineAlerts, start, end, HOUR_MS),
  ]);
  const fired: FiredAlert[] = [];
  const collect = (origin: FiredAlert['origin'], nameLabel: string, series: Awaited<ReturnType<Client['range']>>): void => {
    for (const s of series) {
      const hours = s.points.filter(([, v]) => v > 0).map(([t]) => week.startMs + (Math.round((t + 1 - week.startMs) / HOUR_MS) - 1) * HOUR_MS);
      if (hours.length === 0) continue;
      fired.push({
        name: label(s.metric, nameLabel, '(unnamed)'),
        severity: label(s.metric, 'severity', 'none'),
        origin,
        firingHours: hours.length,
        firstHourMs: Math.min(...hours),
        lastHourMs: Math.max(...hours),
      });
    }
  };
  collect('ALERTS', 'alertname', prom);
  collect('paysignal_alerts_firing', 'rule', engine);
  fired.sort((a, b) => b.firingHours - a.firingHours || a.firstHourMs - b.firstHourMs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { available: true, fired };
}

export async function fromPrometheus(week: IsoWeek, options: PrometheusSourceOptions): Promise<ReportInput> {
  const client = createPrometheusClient(options);
  const now = (options.now ?? Date.now)();
  // One cheap query first, so an unreachable or wrong URL fails with one clear message.
  await client.instant('vector(1)', Math.min(now, week.endMs));
  const [current, previous, hourly, alerts] = await Promise.all([
    weekCounts(client, week.endMs, null),
    weekCounts(client, week.endMs, '1w'),
    hourlyErrors(client, week),
    alertsFired(client, week),
  ]);
  const notes: string[] = [];
  if (week.endMs > now) notes.push(`Week ${week.label} is not over yet: this week's numbers cover it only up to the time of the report.`);
  const all = [current, previous].flatMap((w) => [...w.calls, ...w.errors, ...w.violations, ...w.retries, ...w.stormAttempts].map((r) => r.count));
  if (all.some((n) => !Number.isInteger(n))) {
    notes.push('Counts are Prometheus `increase()` estimates (extrapolated between scrapes) and are rounded for display.');
  }
  return {
    week,
    previousWeek: shiftWeek(week, -1),
    source: { kind: 'prometheus', description: client.url },
    current,
    previous,
    hourlyErrors: hourly,
    alerts,
    notes,
  };
}
