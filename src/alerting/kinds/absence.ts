// absence: a group that had at least min_events in the lookback and none in the window.
import type { AbsenceRule } from '../types.ts';
import type { RuleKindDefinition } from './kind.ts';
import { readLookback } from './lookback.ts';
import { num } from './promql.ts';

export const absence: RuleKindDefinition<AbsenceRule> = {
  kind: 'absence',
  loading: {
    defaultGroupBy: ['provider'],
    defaultSignal: 'calls',
    fixedSignal: null,
    insteadOfWindow: null,
    groupLabels: null,
    needsSelector: false,
    mustGroupBy: null,
    parse(base, read) {
      return { ...base, kind: 'absence', lookbackMs: readLookback(base, read) };
    },
  },
  spanMs: (rule) => rule.windowMs + rule.lookbackMs,
  bucketSpanMs: (rule) => rule.windowMs + rule.lookbackMs,
  comparesWithHistory: false,
  countsCalls: false,
  evaluator(rule, stepMs) {
    const wB = rule.windowMs / stepMs;
    const lb = rule.lookbackMs / stepMs;
    return (g, k) => {
      if (g.count(k - wB, k - 1) !== 0) return null;
      const base = g.count(k - wB - lb, k - wB - 1);
      return base >= rule.minEvents ? base : null;
    };
  },
  promql(rule, q) {
    const w = rule.windowMs;
    const windowCount = q.record('window_count', q.counts.between(0, w));
    const lookback = q.record('lookback_count', q.counts.between(w, w + rule.lookbackMs));
    return `${lookback} >= ${num(rule.minEvents)} and ${windowCount} == 0`;
  },
};
