// Compiles rule sets to Prometheus rule groups (and a PrometheusRule resource) with the same meaning
// as the in-process engine (engine.ts). One rule set becomes one group whose `interval` is the set's
// interval; each rule becomes a few recording rules (`paysignal:<rule_id>:...`, useful on dashboards)
// and one alerting rule named after the rule.
//
// Counting: the engine counts events in [T − w, T). Prometheus sees counters; the count in that window
// is `counter(T) − counter(T − w)`, written `x − (x offset w or x * 0)` so a series that did not exist
// yet at T − w counts from zero (prom-client creates a labelled series at its first increment). This is
// exact where `increase()` would extrapolate and miss a new series' first increment. A counter reset (a
// paysignal restart) makes the difference negative: that window undercounts, it never overcounts.
// Every threshold is computed in JavaScript once and printed with full precision, so the engine and
// Prometheus compare the same doubles.
import { stringify } from 'yaml';
import { formatDuration } from './duration.ts';
import { ruleId } from './loader.ts';
import { promMatchers } from './selector.ts';
import { burnThreshold, ruleSpanMs, SIGNAL_METRIC, WEEK_MS, type LabelMatcher, type Rule, type RuleSet } from './types.ts';

export interface PromRecordingRule {
  record: string;
  expr: string;
  labels?: Record<string, string>;
}
export interface PromAlertingRule {
  alert: string;
  expr: string;
  for?: string;
  keep_firing_for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
export type PromRule = PromRecordingRule | PromAlertingRule;
export interface PromRuleGroup {
  name: string;
  interval: string;
  rules: PromRule[];
}

/** A number as a PromQL literal that parses back to the same double. */
function num(n: number): string {
  return String(n);
}

class Counts {
  private readonly selector: string;
  private readonly by: string;
  constructor(metric: string, matchers: readonly LabelMatcher[], groupBy: readonly string[]) {
    const m = promMatchers(matchers);
    this.selector = m === '' ? metric : `${metric}{${m}}`;
    this.by = `sum by (${groupBy.join(', ')})`;
  }
  /** Cumulative count at T − offset; zero for a group whose series did not exist yet. */
  cumulative(offsetMs: number): string {
    const now = `${this.by} (${this.selector})`;
    if (offsetMs === 0) return now;
    return `(${this.by} (${this.selector} offset ${formatDuration(offsetMs)}) or ${now} * 0)`;
  }
  /** Events in [T − toMs, T − fromMs). */
  between(fromMs: number, toMs: number): string {
    return `${this.cumulative(fromMs)} - ${this.cumulative(toMs)}`;
  }
}

/** The recording and alerting rules of one rule. */
export function compileRule(rule: Rule): PromRule[] {
  const id = ruleId(rule.name);
  const name = (what: string): string => `paysignal:${id}:${what}`;
  const out: PromRule[] = [];
  const w = rule.windowMs;
  const min = num(rule.minEvents);
  const counts = new Counts(SIGNAL_METRIC[rule.signal], rule.selector, rule.groupBy);
  const windowCount = name('window_count');
  const record = (what: string, expr: string): string => {
    out.push({ record: name(what), expr });
    return name(what);
  };
  let expr: string;
  switch (rule.kind) {
    case 'threshold': {
      record('window_count', counts.between(0, w));
      expr = `${windowCount} ${rule.op} ${num(rule.value)} >= ${min}`;
      break;
    }
    case 'spike': {
      record('window_count', counts.between(0, w));
      const b = rule.baseline;
      if (b.method === 'trailing') {
        const baseline = record('baseline', `(${counts.between(w, w + b.lookbackMs)}) * ${num(w / b.lookbackMs)}`);
        expr = `${windowCount} > ${baseline} * ${num(b.factor)} >= ${min}`;
      } else if (b.method === 'same_time_last_week') {
        const weeks: string[] = [];
        for (let j = 1; j <= b.weeks; j++) weeks.push(`(${counts.between(j * WEEK_MS, j * WEEK_MS + w)})`);
        const baseline = record('baseline', `(${weeks.join(' + ')}) / ${num(b.weeks)}`);
        expr = `${windowCount} > ${baseline} * ${num(b.factor)} >= ${min}`;
      } else {
        const k = b.lookbackMs / w;
        const parts: string[] = [];
        for (let i = 1; i <= k; i++) {
          parts.push(`label_replace(${counts.between(i * w, (i + 1) * w)}, "baseline_window", "${i}", "", "")`);
        }
        const windows = record('baseline_windows', parts.join(' or '));
        const mean = record('baseline_mean', `sum without (baseline_window) (${windows}) / ${num(k)}`);
        const stddev = record(
          'baseline_stddev',
          `sqrt(clamp_min(sum without (baseline_window) (${windows} ^ 2) / ${num(k)} - ${mean} * ${mean}, 0))`,
        );
        expr = `${windowCount} >= ${min} and (${windowCount} - ${mean}) / ${stddev} > ${num(b.z)}`;
      }
      break;
    }
    case 'error_ratio': {
      const errors = new Counts(SIGNAL_METRIC.errors, rule.selector, rule.groupBy);
      const calls = new Counts(
        SIGNAL_METRIC.calls,
        rule.selector.filter((m) => m.label === 'provider' || m.label === 'operation'),
        rule.groupBy,
      );
      const durations = [...new Set(rule.windows.flatMap((p) => [p.longMs, p.shortMs]))].sort((a, b) => a - b);
      for (const d of durations) {
        record(`error_ratio_${formatDuration(d)}`, `(${errors.between(0, d)}) / (${calls.between(0, d)})`);
      }
      for (const d of [...new Set(rule.windows.map((p) => p.longMs))].sort((a, b) => a - b)) {
        record(`calls_${formatDuration(d)}`, calls.between(0, d));
      }
      expr = rule.windows
        .map((p) => {
          const t = num(burnThreshold(rule.objective, p.factor));
          return `(${name(`error_ratio_${formatDuration(p.longMs)}`)} > ${t} and ${name(`error_ratio_${formatDuration(p.shortMs)}`)} > ${t} and ${name(`calls_${formatDuration(p.longMs)}`)} >= ${min})`;
        })
        .join(' or ');
      break;
    }
    case 'new_error_code': {
      record('window_count', counts.between(0, w));
      const lookback = record('lookback_count', counts.between(w, w + rule.lookbackMs));
      expr = `${windowCount} >= ${min} and ${lookback} == 0`;
      break;
    }
    case 'absence': {
      record('window_count', counts.between(0, w));
      const lookback = record('lookback_count', counts.between(w, w + rule.lookbackMs));
      expr = `${lookback} >= ${min} and ${windowCount} == 0`;
      break;
    }
  }
  if (rule.kind === 'spike' || rule.kind === 'new_error_code') {
    // Silent until the signal has history as long as the rule's span (see engine.ts, warmupBuckets).
    expr = `(${expr}) and on() (count(${SIGNAL_METRIC[rule.signal]} offset ${formatDuration(ruleSpanMs(rule))}) > 0)`;
  }
  const alert: PromAlertingRule = {
    alert: rule.name,
    expr,
    labels: { ...rule.labels, severity: rule.severity },
    annotations: { ...rule.annotations },
  };
  if (rule.forMs > 0) alert.for = formatDuration(rule.forMs);
  if (rule.keepFiringForMs > 0) alert.keep_firing_for = formatDuration(rule.keepFiringForMs);
  out.push(alert);
  return out;
}

export function compileRuleSet(set: RuleSet): PromRuleGroup {
  return { name: `paysignal.${set.name}`, interval: formatDuration(set.intervalMs), rules: set.rules.flatMap(compileRule) };
}

const YAML_OPTIONS = { lineWidth: 0, minContentWidth: 0 } as const;

function header(sets: readonly RuleSet[]): string {
  const sources = [...new Set(sets.map((s) => s.file))].join(', ');
  return `# Generated by \`paysignal rules compile\` from ${sources}. Do not edit; edit the rule files.\n`;
}

/** A Prometheus rule file (`rule_files:` entry) holding one group per rule set. */
export function toPrometheusRuleFile(sets: readonly RuleSet[]): string {
  return header(sets) + stringify({ groups: sets.map(compileRuleSet) }, YAML_OPTIONS);
}

export interface PrometheusRuleOptions {
  readonly name?: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

/** A PrometheusRule custom resource (monitoring.coreos.com/v1) for the Prometheus Operator / Helm chart. */
export function toPrometheusRule(sets: readonly RuleSet[], options: PrometheusRuleOptions = {}): string {
  const metadata: Record<string, unknown> = {
    name: options.name ?? 'paysignal-rules',
    ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
    labels: { 'app.kubernetes.io/name': 'paysignal', 'app.kubernetes.io/component': 'alert-rules', ...(options.labels ?? {}) },
  };
  return header(sets) + stringify({ apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata, spec: { groups: sets.map(compileRuleSet) } }, YAML_OPTIONS);
}
