// spike: the window's count against a baseline from the same group's history — the trailing
// lookback scaled to one window, the same window in earlier weeks, or a z-score over earlier windows.
import { formatDuration } from '../../kernel/duration.ts';
import { WEEK_MS, type Baseline, type SpikeRule } from '../types.ts';
import type { RuleKindDefinition } from './kind.ts';
import { num } from './promql.ts';

function spanMs(rule: SpikeRule): number {
  const b = rule.baseline;
  return b.method === 'same_time_last_week' ? b.weeks * WEEK_MS + rule.windowMs : rule.windowMs + b.lookbackMs;
}

interface RawBaseline {
  method: Baseline['method'];
  lookback?: string;
  factor?: number;
  weeks?: number;
  z?: number;
}

export const spike: RuleKindDefinition<SpikeRule> = {
  kind: 'spike',
  loading: {
    defaultGroupBy: ['provider'],
    defaultSignal: null,
    fixedSignal: null,
    insteadOfWindow: null,
    groupLabels: null,
    needsSelector: true,
    mustGroupBy: null,
    parse(base, read) {
      const b = read.raw.baseline as RawBaseline;
      const w = base.windowMs;
      if (b.method === 'same_time_last_week') {
        if (w > 24 * 3600_000) read.problem('E_WINDOW_EXCEEDS_LOOKBACK', read.windowPath, `same_time_last_week compares windows of at most 1d (window is ${formatDuration(w)})`);
        return { ...base, kind: 'spike', baseline: { method: 'same_time_last_week', weeks: b.weeks ?? 1, factor: b.factor as number } };
      }
      const lookbackPath = read.at('baseline', 'lookback');
      const lookbackMs = read.duration(lookbackPath, b.lookback, null) ?? 0;
      read.multipleOfInterval(lookbackPath, lookbackMs, 'lookback');
      if (lookbackMs !== 0 && w > lookbackMs) {
        read.problem('E_WINDOW_EXCEEDS_LOOKBACK', lookbackPath, `window ${formatDuration(w)} is longer than the baseline lookback ${formatDuration(lookbackMs)}; the baseline must cover at least one window`);
      }
      if (b.method === 'trailing') return { ...base, kind: 'spike', baseline: { method: 'trailing', lookbackMs, factor: b.factor as number } };
      if (w > 0 && lookbackMs >= w) {
        const k = lookbackMs / w;
        if (!Number.isInteger(k) || k < 2 || k > 24) {
          read.problem('E_ZSCORE_WINDOWS', lookbackPath, `zscore compares the window with the lookback/window earlier windows; lookback ${formatDuration(lookbackMs)} must be 2 to 24 whole windows of ${formatDuration(w)}`);
        }
      }
      return { ...base, kind: 'spike', baseline: { method: 'zscore', lookbackMs, z: b.z as number } };
    },
  },
  spanMs,
  bucketSpanMs: spanMs,
  comparesWithHistory: true,
  countsCalls: false,
  evaluator(rule, stepMs) {
    const wB = rule.windowMs / stepMs;
    const min = rule.minEvents;
    const b = rule.baseline;
    if (b.method === 'trailing') {
      const lb = b.lookbackMs / stepMs;
      // Computed once, so the engine and the compiler multiply by the same double.
      const ratio = rule.windowMs / b.lookbackMs;
      return (g, k) => {
        const cur = g.count(k - wB, k - 1);
        const baseline = g.count(k - wB - lb, k - wB - 1) * ratio;
        return cur > baseline * b.factor && cur >= min ? cur : null;
      };
    }
    if (b.method === 'same_time_last_week') {
      const weekB = WEEK_MS / stepMs;
      return (g, k) => {
        const cur = g.count(k - wB, k - 1);
        let total = 0;
        for (let j = 1; j <= b.weeks; j++) total += g.count(k - j * weekB - wB, k - j * weekB - 1);
        return cur > (total / b.weeks) * b.factor && cur >= min ? cur : null;
      };
    }
    // zscore over the lookback/window whole windows before the current one, missing history = 0.
    const windows = b.lookbackMs / stepMs / wB;
    return (g, k) => {
      const cur = g.count(k - wB, k - 1);
      let total = 0;
      let squares = 0;
      for (let i = 1; i <= windows; i++) {
        const c = g.count(k - (i + 1) * wB, k - i * wB - 1);
        total += c;
        squares += c * c;
      }
      const mean = total / windows;
      const stddev = Math.sqrt(Math.max(squares / windows - mean * mean, 0));
      return cur >= min && (cur - mean) / stddev > b.z ? cur : null;
    };
  },
  promql(rule, q) {
    const w = rule.windowMs;
    const min = num(rule.minEvents);
    const windowCount = q.record('window_count', q.counts.between(0, w));
    const b = rule.baseline;
    if (b.method === 'trailing') {
      const baseline = q.record('baseline', `(${q.counts.between(w, w + b.lookbackMs)}) * ${num(w / b.lookbackMs)}`);
      return `${windowCount} > ${baseline} * ${num(b.factor)} >= ${min}`;
    }
    if (b.method === 'same_time_last_week') {
      const weeks: string[] = [];
      for (let j = 1; j <= b.weeks; j++) weeks.push(`(${q.counts.between(j * WEEK_MS, j * WEEK_MS + w)})`);
      const baseline = q.record('baseline', `(${weeks.join(' + ')}) / ${num(b.weeks)}`);
      return `${windowCount} > ${baseline} * ${num(b.factor)} >= ${min}`;
    }
    const k = b.lookbackMs / w;
    const parts: string[] = [];
    for (let i = 1; i <= k; i++) {
      parts.push(`label_replace(${q.counts.between(i * w, (i + 1) * w)}, "baseline_window", "${i}", "", "")`);
    }
    const windows = q.record('baseline_windows', parts.join(' or '));
    const mean = q.record('baseline_mean', `sum without (baseline_window) (${windows}) / ${num(k)}`);
    const stddev = q.record('baseline_stddev', `sqrt(clamp_min(sum without (baseline_window) (${windows} ^ 2) / ${num(k)} - ${mean} * ${mean}, 0))`);
    return `${windowCount} >= ${min} and (${windowCount} - ${mean}) / ${stddev} > ${num(b.z)}`;
  },
};
