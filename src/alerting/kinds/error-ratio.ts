// error_ratio: multi-window, multi-burn-rate alerting on an error budget (SRE workbook): errors the
// selector matches over all calls of the same provider/operation, in a long and a short window.
import { formatDuration } from '../../kernel/duration.ts';
import { burnThreshold, SIGNAL_METRIC, type BurnWindow, type ErrorRatioRule } from '../types.ts';
import type { RuleKindDefinition } from './kind.ts';
import { Counts, num } from './promql.ts';

function spanMs(rule: ErrorRatioRule): number {
  return Math.max(...rule.windows.map((w) => w.longMs));
}

/** The SRE workbook's page pair: 2% of a 30-day budget in an hour, 5% in six hours. */
const DEFAULT_BURN_WINDOWS = [
  { long: '1h', short: '5m', factor: 14.4 },
  { long: '6h', short: '30m', factor: 6 },
];

export const errorRatio: RuleKindDefinition<ErrorRatioRule> = {
  kind: 'error_ratio',
  loading: {
    defaultGroupBy: ['provider'],
    defaultSignal: null,
    fixedSignal: { signal: 'errors', why: 'error_ratio divides errors by calls' },
    insteadOfWindow: 'its windows from windows[].long and windows[].short',
    groupLabels: { labels: ['provider', 'operation'], why: 'error_ratio groups by provider and/or operation (the labels errors and calls share)' },
    needsSelector: false,
    mustGroupBy: null,
    parse(base, read) {
      const written = read.raw.windows as { long: string; short: string; factor: number }[] | undefined;
      const windows: BurnWindow[] = [];
      (written ?? DEFAULT_BURN_WINDOWS).forEach((pair, wi) => {
        const seg = written !== undefined ? read.at('windows', wi) : read.at();
        const longMs = read.duration([...seg, 'long'], pair.long, null);
        const shortMs = read.duration([...seg, 'short'], pair.short, null);
        read.multipleOfInterval([...seg, 'long'], longMs, 'long window');
        read.multipleOfInterval([...seg, 'short'], shortMs, 'short window');
        if (longMs !== null && shortMs !== null) {
          if (shortMs >= longMs) read.problem('E_WINDOW_ORDER', [...seg, 'short'], `short window ${pair.short} must be shorter than long window ${pair.long}`);
          if (shortMs === 0) read.problem('E_DURATION', [...seg, 'short'], 'short window must be longer than 0');
          windows.push({ longMs, shortMs, factor: pair.factor });
        }
      });
      return { ...base, kind: 'error_ratio', objective: read.raw.objective as number, windows };
    },
  },
  spanMs,
  bucketSpanMs: spanMs,
  comparesWithHistory: false,
  countsCalls: true,
  evaluator(rule, stepMs) {
    // Thresholds computed once, so the engine and the compiler compare with the same doubles.
    const pairs = rule.windows.map((w) => ({ longB: w.longMs / stepMs, shortB: w.shortMs / stepMs, threshold: burnThreshold(rule.objective, w.factor) }));
    return (g, k) => {
      for (const w of pairs) {
        const callsLong = g.calls(k - w.longB, k - 1);
        const ratioLong = g.count(k - w.longB, k - 1) / callsLong;
        const ratioShort = g.count(k - w.shortB, k - 1) / g.calls(k - w.shortB, k - 1);
        if (ratioLong > w.threshold && ratioShort > w.threshold && callsLong >= rule.minEvents) return ratioLong;
      }
      return null;
    };
  },
  promql(rule, q) {
    const errors = new Counts(SIGNAL_METRIC.errors, rule.selector, rule.groupBy);
    const calls = new Counts(
      SIGNAL_METRIC.calls,
      rule.selector.filter((m) => m.label === 'provider' || m.label === 'operation'),
      rule.groupBy,
    );
    const durations = [...new Set(rule.windows.flatMap((p) => [p.longMs, p.shortMs]))].sort((a, b) => a - b);
    const ratio = new Map<number, string>();
    for (const d of durations) ratio.set(d, q.record(`error_ratio_${formatDuration(d)}`, `(${errors.between(0, d)}) / (${calls.between(0, d)})`));
    const callsOf = new Map<number, string>();
    for (const d of [...new Set(rule.windows.map((p) => p.longMs))].sort((a, b) => a - b)) callsOf.set(d, q.record(`calls_${formatDuration(d)}`, calls.between(0, d)));
    const min = num(rule.minEvents);
    return rule.windows
      .map((p) => {
        const t = num(burnThreshold(rule.objective, p.factor));
        return `(${ratio.get(p.longMs)} > ${t} and ${ratio.get(p.shortMs)} > ${t} and ${callsOf.get(p.longMs)} >= ${min})`;
      })
      .join(' or ');
  },
};
