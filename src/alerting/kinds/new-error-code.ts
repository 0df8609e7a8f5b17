// new_error_code: a code (group) with events in the window and none in the lookback before it.
// The engine holds the window bucket by bucket and the lookback only as "newest older non-empty
// bucket" (olderMax), which is all the condition needs.
import type { NewErrorCodeRule } from '../types.ts';
import type { RuleKindDefinition } from './kind.ts';
import { readLookback } from './lookback.ts';
import { num } from './promql.ts';

export const newErrorCode: RuleKindDefinition<NewErrorCodeRule> = {
  kind: 'new_error_code',
  loading: {
    defaultGroupBy: ['provider', 'code'],
    defaultSignal: null,
    fixedSignal: null,
    insteadOfWindow: null,
    groupLabels: null,
    needsSelector: false,
    mustGroupBy: 'code',
    parse(base, read) {
      return { ...base, kind: 'new_error_code', lookbackMs: readLookback(base, read) };
    },
  },
  spanMs: (rule) => rule.windowMs + rule.lookbackMs,
  bucketSpanMs: (rule) => rule.windowMs,
  comparesWithHistory: true,
  countsCalls: false,
  evaluator(rule, stepMs) {
    const wB = rule.windowMs / stepMs;
    const lb = rule.lookbackMs / stepMs;
    return (g, k) => {
      const cur = g.count(k - wB, k - 1);
      if (cur < rule.minEvents) return null;
      const from = k - wB - lb;
      if (g.olderMax >= from) return null;
      return g.count(from, k - wB - 1) === 0 ? cur : null;
    };
  },
  promql(rule, q) {
    const w = rule.windowMs;
    const windowCount = q.record('window_count', q.counts.between(0, w));
    const lookback = q.record('lookback_count', q.counts.between(w, w + rule.lookbackMs));
    return `${windowCount} >= ${num(rule.minEvents)} and ${lookback} == 0`;
  },
};
