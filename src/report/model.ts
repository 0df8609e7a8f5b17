// The weekly report's one data model. A source (Prometheus or log files) fills a ReportInput with
// plain counts for the week and the week before; buildReport derives everything a reader sees
// (ratios, week-over-week changes, movers, new codes, remediation); renderers only read the result.
import type { CatalogEntry } from '../classify/classification.ts';
import { DEFAULT_OWNER, type Category, type Owner } from '../classify/taxonomy.ts';
import { DAY_MS, HOURS_PER_WEEK, isoDate, WEEKDAYS, type IsoWeek } from './week.ts';

/** `code` label value when an error carried no provider code (the metrics sink's NO_CODE). */
export const NO_CODE = 'none';

// ---------------------------------------------------------------------------------------------
// What a source fills.

export interface CallCount {
  readonly provider: string;
  readonly outcome: 'success' | 'error';
  readonly count: number;
}

export interface ErrorCount {
  readonly provider: string;
  readonly code: string;
  readonly category: string;
  readonly retry: string;
  readonly count: number;
}

export interface ViolationCount {
  readonly provider: string;
  /** The code of the decision that was ignored. */
  readonly code: string;
  /** The decision that was ignored (do_not_retry, new_checkout, contact_provider, fix_and_resubmit). */
  readonly retry: string;
  readonly count: number;
}

/** A count per provider (retries, retry-storm attempts). */
export interface ProviderCount {
  readonly provider: string;
  readonly count: number;
}

/** Counts over one week. Rows with a zero count may be left out. */
export interface WeekCounts {
  readonly calls: readonly CallCount[];
  readonly errors: readonly ErrorCount[];
  readonly violations: readonly ViolationCount[];
  /** Attempts that repeat an earlier one under the same key (`payment_provider_retries_total`). */
  readonly retries: readonly ProviderCount[];
  /** Attempts beyond `correlation.storm_threshold` under one key (`payment_provider_retry_storm_attempts_total`). */
  readonly stormAttempts: readonly ProviderCount[];
}

/** Errors per hour of the report week (168 values, hour 0 = Monday 00:00-01:00 UTC). */
export interface HourlySeries {
  readonly provider: string;
  readonly hours: readonly number[];
}

export interface FiredAlert {
  readonly name: string;
  readonly severity: string;
  /** Which series said so: Prometheus' own `ALERTS` or paysignal's in-process engine gauge. */
  readonly origin: 'ALERTS' | 'paysignal_alerts_firing';
  /** Hours of the week in which the alert was firing at least once. */
  readonly firingHours: number;
  /** Start of the first and the last of those hours (epoch ms). */
  readonly firstHourMs: number;
  readonly lastHourMs: number;
}

export type AlertsInfo =
  | { readonly available: true; readonly fired: readonly FiredAlert[] }
  | { readonly available: false; readonly reason: string };

export interface ReportSource {
  readonly kind: 'prometheus' | 'logs';
  /** The Prometheus URL or the file names. */
  readonly description: string;
}

export interface ReportInput {
  readonly week: IsoWeek;
  readonly previousWeek: IsoWeek;
  readonly source: ReportSource;
  readonly current: WeekCounts;
  readonly previous: WeekCounts;
  readonly hourlyErrors: readonly HourlySeries[];
  readonly alerts: AlertsInfo;
  /** Things the reader should know about the data (skipped lines, unfinished week, ...). */
  readonly notes: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// What renderers read.

export interface Change {
  readonly current: number;
  readonly previous: number;
  readonly delta: number;
  /** Relative change in percent; null when the previous week had none (no division by zero). */
  readonly percent: number | null;
  /** True when there was nothing last week and something this week. */
  readonly isNew: boolean;
}

export interface RatioChange {
  /** errors / calls; null when there were no calls. */
  readonly current: number | null;
  readonly previous: number | null;
  /** Difference in percentage points; null when either side is null. */
  readonly deltaPoints: number | null;
}

export interface ProviderRow {
  readonly provider: string;
  readonly calls: Change;
  readonly errors: Change;
  readonly errorRatio: RatioChange;
}

export interface CodeRow {
  readonly provider: string;
  readonly code: string;
  readonly errors: Change;
  /** The category and retry decision most of this code's errors got (this week, else last week). */
  readonly category: string;
  readonly retry: string;
  readonly owner: string;
  /** True when the provider's catalog has the code. */
  readonly known: boolean;
  readonly summary: string | null;
  readonly remediation: string | null;
}

export interface BreakdownRow {
  readonly key: string;
  readonly errors: Change;
  /** Share of this week's errors, 0..1; null when the week had no errors. */
  readonly share: number | null;
}

export interface ViolationRow {
  readonly provider: string;
  readonly code: string;
  readonly retry: string;
  readonly count: Change;
}

export interface RetryRow {
  readonly provider: string;
  readonly retries: Change;
  readonly stormAttempts: Change;
}

export interface DailySeries {
  readonly provider: string;
  /** Errors per day, Monday first. */
  readonly days: readonly number[];
  readonly total: number;
}

export interface ReportModel {
  readonly week: IsoWeek;
  readonly previousWeek: IsoWeek;
  readonly source: ReportSource;
  /** `Mon 2026-11-16` ... `Sun 2026-11-22`. */
  readonly days: readonly string[];
  readonly headline: {
    readonly calls: Change;
    readonly errors: Change;
    readonly errorRatio: RatioChange;
    /** No calls and no errors in either week. */
    readonly empty: boolean;
  };
  readonly providers: readonly ProviderRow[];
  readonly dailyErrors: readonly DailySeries[];
  readonly topMovers: readonly CodeRow[];
  readonly newCodes: readonly CodeRow[];
  readonly categories: readonly BreakdownRow[];
  readonly retryDecisions: readonly BreakdownRow[];
  readonly retryViolations: readonly ViolationRow[];
  /** Retries and retry-storm attempts per provider. */
  readonly retries: readonly RetryRow[];
  readonly alerts: AlertsInfo;
  /** The codes with the most errors this week, with the catalog's remediation and owner. */
  readonly topCodes: readonly CodeRow[];
  readonly notes: readonly string[];
}

/** The part of the classifier the report needs: catalog entries for remediation and owner. */
export interface CatalogLookup {
  explain(provider: string, code: string): readonly CatalogEntry[];
}

export interface BuildOptions {
  /** Rows in top movers and top codes; default 10. */
  readonly top?: number;
}

// ---------------------------------------------------------------------------------------------

export function change(current: number, previous: number): Change {
  return {
    current,
    previous,
    delta: current - previous,
    percent: previous === 0 ? null : ((current - previous) / previous) * 100,
    isNew: previous === 0 && current > 0,
  };
}

export function ratioChange(errorsNow: number, callsNow: number, errorsBefore: number, callsBefore: number): RatioChange {
  const current = callsNow > 0 ? errorsNow / callsNow : null;
  const previous = callsBefore > 0 ? errorsBefore / callsBefore : null;
  return { current, previous, deltaPoints: current === null || previous === null ? null : (current - previous) * 100 };
}

function add(map: Map<string, number>, key: string, n: number): void {
  map.set(key, (map.get(key) ?? 0) + n);
}

const SEP = '\u0000';
const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

interface CodeStats {
  current: number;
  previous: number;
  /** category SEP retry -> count, this week and last week. */
  verdictsNow: Map<string, number>;
  verdictsBefore: Map<string, number>;
}

function dominant(verdicts: Map<string, number>): [string, string] | null {
  let best: string | null = null;
  let bestCount = -1;
  for (const [key, n] of [...verdicts].sort((a, b) => byName(a[0], b[0]))) {
    if (n > bestCount) {
      best = key;
      bestCount = n;
    }
  }
  if (best === null) return null;
  const [category, retry] = best.split(SEP) as [string, string];
  return [category, retry];
}

function breakdown(now: Map<string, number>, before: Map<string, number>, totalNow: number): BreakdownRow[] {
  const keys = new Set([...now.keys(), ...before.keys()]);
  return [...keys]
    .map((key) => {
      const errors = change(now.get(key) ?? 0, before.get(key) ?? 0);
      return { key, errors, share: totalNow > 0 ? errors.current / totalNow : null };
    })
    .filter((r) => r.errors.current > 0 || r.errors.previous > 0)
    .sort((a, b) => b.errors.current - a.errors.current || b.errors.previous - a.errors.previous || byName(a.key, b.key));
}

export function buildReport(input: ReportInput, catalog: CatalogLookup, options: BuildOptions = {}): ReportModel {
  const top = options.top ?? 10;

  // Calls and errors per provider.
  const callsNow = new Map<string, number>();
  const callsBefore = new Map<string, number>();
  const callErrorsNow = new Map<string, number>();
  const callErrorsBefore = new Map<string, number>();
  for (const c of input.current.calls) {
    add(callsNow, c.provider, c.count);
    if (c.outcome === 'error') add(callErrorsNow, c.provider, c.count);
  }
  for (const c of input.previous.calls) {
    add(callsBefore, c.provider, c.count);
    if (c.outcome === 'error') add(callErrorsBefore, c.provider, c.count);
  }

  // Errors per code, category and retry decision.
  const codes = new Map<string, CodeStats>();
  const stats = (provider: string, code: string): CodeStats => {
    const key = provider + SEP + code;
    let s = codes.get(key);
    if (s === undefined) {
      s = { current: 0, previous: 0, verdictsNow: new Map(), verdictsBefore: new Map() };
      codes.set(key, s);
    }
    return s;
  };
  const categoriesNow = new Map<string, number>();
  const categoriesBefore = new Map<string, number>();
  const retryNow = new Map<string, number>();
  const retryBefore = new Map<string, number>();
  for (const e of input.current.errors) {
    const s = stats(e.provider, e.code);
    s.current += e.count;
    add(s.verdictsNow, e.category + SEP + e.retry, e.count);
    add(categoriesNow, e.category, e.count);
    add(retryNow, e.retry, e.count);
  }
  for (const e of input.previous.errors) {
    const s = stats(e.provider, e.code);
    s.previous += e.count;
    add(s.verdictsBefore, e.category + SEP + e.retry, e.count);
    add(categoriesBefore, e.category, e.count);
    add(retryBefore, e.retry, e.count);
  }

  const totalCallsNow = sum(callsNow.values());
  const totalCallsBefore = sum(callsBefore.values());
  const totalErrorsNow = sum(callErrorsNow.values());
  const totalErrorsBefore = sum(callErrorsBefore.values());

  const providerNames = [...new Set([...callsNow.keys(), ...callsBefore.keys(), ...input.hourlyErrors.map((h) => h.provider)])].sort(byName);
  const providers: ProviderRow[] = providerNames
    .map((provider) => ({
      provider,
      calls: change(callsNow.get(provider) ?? 0, callsBefore.get(provider) ?? 0),
      errors: change(callErrorsNow.get(provider) ?? 0, callErrorsBefore.get(provider) ?? 0),
      errorRatio: ratioChange(callErrorsNow.get(provider) ?? 0, callsNow.get(provider) ?? 0, callErrorsBefore.get(provider) ?? 0, callsBefore.get(provider) ?? 0),
    }))
    .filter((p) => p.calls.current > 0 || p.calls.previous > 0 || p.errors.current > 0 || p.errors.previous > 0)
    .sort((a, b) => b.errors.current - a.errors.current || b.calls.current - a.calls.current || byName(a.provider, b.provider));

  const codeRows: CodeRow[] = [...codes].map(([key, s]) => {
    const [provider, code] = key.split(SEP) as [string, string];
    const [category, retry] = dominant(s.verdictsNow) ?? dominant(s.verdictsBefore) ?? ['unknown', 'do_not_retry'];
    const entries = code === NO_CODE ? [] : catalog.explain(provider, code);
    const entry = entries.find((e) => e.category === category && e.retry === retry) ?? entries[0] ?? null;
    const owner: Owner | string = entry?.owner ?? DEFAULT_OWNER[category as Category] ?? 'integration';
    return {
      provider,
      code,
      errors: change(s.current, s.previous),
      category,
      retry,
      owner,
      known: entry !== null,
      summary: entry?.summary ?? null,
      remediation: entry?.remediation ?? null,
    };
  });
  const byCode = (a: CodeRow, b: CodeRow): number => byName(a.provider, b.provider) || byName(a.code, b.code);

  const topMovers = codeRows
    .filter((r) => r.errors.delta !== 0)
    .sort((a, b) => Math.abs(b.errors.delta) - Math.abs(a.errors.delta) || b.errors.current - a.errors.current || byCode(a, b))
    .slice(0, top);
  const newCodes = codeRows.filter((r) => r.errors.isNew).sort((a, b) => b.errors.current - a.errors.current || byCode(a, b));
  const topCodes = codeRows
    .filter((r) => r.errors.current > 0)
    .sort((a, b) => b.errors.current - a.errors.current || byCode(a, b))
    .slice(0, top);

  const violations = new Map<string, [number, number]>();
  for (const v of input.current.violations) {
    const key = [v.provider, v.code, v.retry].join(SEP);
    const slot = violations.get(key) ?? [0, 0];
    slot[0] += v.count;
    violations.set(key, slot);
  }
  for (const v of input.previous.violations) {
    const key = [v.provider, v.code, v.retry].join(SEP);
    const slot = violations.get(key) ?? [0, 0];
    slot[1] += v.count;
    violations.set(key, slot);
  }
  const retryViolations: ViolationRow[] = [...violations]
    .map(([key, [now, before]]) => {
      const [provider, code, retry] = key.split(SEP) as [string, string, string];
      return { provider, code, retry, count: change(now, before) };
    })
    .filter((v) => v.count.current > 0 || v.count.previous > 0)
    .sort((a, b) => b.count.current - a.count.current || b.count.previous - a.count.previous || byName(a.provider, b.provider) || byName(a.code, b.code));

  const perProvider = (rows: readonly ProviderCount[]): Map<string, number> => {
    const out = new Map<string, number>();
    for (const r of rows) add(out, r.provider, r.count);
    return out;
  };
  const retriesNow = perProvider(input.current.retries);
  const retriesBefore = perProvider(input.previous.retries);
  const stormsNow = perProvider(input.current.stormAttempts);
  const stormsBefore = perProvider(input.previous.stormAttempts);
  const retries: RetryRow[] = [...new Set([...retriesNow.keys(), ...retriesBefore.keys(), ...stormsNow.keys(), ...stormsBefore.keys()])]
    .map((provider) => ({
      provider,
      retries: change(retriesNow.get(provider) ?? 0, retriesBefore.get(provider) ?? 0),
      stormAttempts: change(stormsNow.get(provider) ?? 0, stormsBefore.get(provider) ?? 0),
    }))
    .filter((r) => r.retries.current > 0 || r.retries.previous > 0 || r.stormAttempts.current > 0 || r.stormAttempts.previous > 0)
    .sort(
      (a, b) =>
        b.stormAttempts.current - a.stormAttempts.current || b.retries.current - a.retries.current || b.retries.previous - a.retries.previous || byName(a.provider, b.provider),
    );

  const dailyErrors: DailySeries[] = input.hourlyErrors
    .map((h) => {
      const days = [0, 0, 0, 0, 0, 0, 0];
      for (let i = 0; i < HOURS_PER_WEEK && i < h.hours.length; i++) days[Math.floor(i / 24)]! += h.hours[i]!;
      return { provider: h.provider, days, total: sum(days) };
    })
    .filter((d) => d.total > 0)
    .sort((a, b) => b.total - a.total || byName(a.provider, b.provider));

  return {
    week: input.week,
    previousWeek: input.previousWeek,
    source: input.source,
    days: WEEKDAYS.map((d, i) => `${d} ${isoDate(input.week.startMs + i * DAY_MS)}`),
    headline: {
      calls: change(totalCallsNow, totalCallsBefore),
      errors: change(totalErrorsNow, totalErrorsBefore),
      errorRatio: ratioChange(totalErrorsNow, totalCallsNow, totalErrorsBefore, totalCallsBefore),
      empty: totalCallsNow === 0 && totalCallsBefore === 0 && codes.size === 0,
    },
    providers,
    dailyErrors,
    topMovers,
    newCodes,
    categories: breakdown(categoriesNow, categoriesBefore, sum(categoriesNow.values())),
    retryDecisions: breakdown(retryNow, retryBefore, sum(retryNow.values())),
    retryViolations,
    retries,
    alerts: input.alerts,
    topCodes,
    notes: input.notes,
  };
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}
