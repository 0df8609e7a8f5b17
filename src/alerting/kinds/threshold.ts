// threshold: the window's count compared with a fixed value.
// Engine: C(0, w) op value and C(0, w) ≥ min_events; value C(0, w).
import type { ThresholdOp, ThresholdRule } from '../types.ts';
import type { RuleKindDefinition } from './kind.ts';
import { num } from './promql.ts';

function compare(a: number, op: ThresholdOp, b: number): boolean {
  switch (op) {
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
  }
}

export const threshold: RuleKindDefinition<ThresholdRule> = {
  kind: 'threshold',
  loading: {
    defaultGroupBy: ['provider'],
    defaultSignal: null,
    fixedSignal: null,
    insteadOfWindow: null,
    groupLabels: null,
    needsSelector: true,
    mustGroupBy: null,
    parse(base, read) {
      const t = read.raw.threshold as { op?: ThresholdOp; value: number };
      return { ...base, kind: 'threshold', op: t.op ?? '>', value: t.value };
    },
  },
  spanMs: (rule) => rule.windowMs,
  bucketSpanMs: (rule) => rule.windowMs,
  comparesWithHistory: false,
  countsCalls: false,
  evaluator(rule, stepMs) {
    const wB = rule.windowMs / stepMs;
    return (g, k) => {
      const cur = g.count(k - wB, k - 1);
      return compare(cur, rule.op, rule.value) && cur >= rule.minEvents ? cur : null;
    };
  },
  promql(rule, q) {
    const windowCount = q.record('window_count', q.counts.between(0, rule.windowMs));
    return `${windowCount} ${rule.op} ${num(rule.value)} >= ${num(rule.minEvents)}`;
  },
};
