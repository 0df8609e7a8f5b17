// error_ratio: multi-window, multi-burn-rate alerting on an error budget (SRE workbook): errors the
// selector matches over all calls of the same provider/operation, in a long and a short window.
import { formatDuration } from '../../kernel/duration.ts';
import { burnThreshold, SIGNAL_METRIC, type ErrorRatioRule } from '../types.ts';
import type { RuleKindDefinition } from './kind.ts';
import { Counts, num } from './promql.ts';

function spanMs(rule: ErrorRatioRule): number {
  return Math.max(...rule.windows.map((w) => w.longMs));
}

export const errorRatio: RuleKindDefinition<ErrorRatioRule> = {
  kind: 'error_ratio',
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
