// The normalised form of a rule after loading: defaults merged, durations in ms, selectors parsed.
// The engine and the compiler both read only this shape, so a rule has one meaning for both.

export const RULE_KINDS = ['threshold', 'spike', 'error_ratio', 'new_error_code', 'absence'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

export const LABEL_NAMES = ['provider', 'operation', 'code', 'category', 'retry', 'outcome'] as const;
export type LabelName = (typeof LABEL_NAMES)[number];

/** What a rule counts, and the Prometheus counter that holds the same count. */
export type Signal = 'errors' | 'calls' | 'retry_violations';

export const SIGNAL_METRIC: Readonly<Record<Signal, string>> = {
  calls: 'payment_provider_calls_total',
  errors: 'payment_provider_errors_total',
  retry_violations: 'payment_provider_retry_violations_total',
};

/** Labels each counter carries (docs/architecture.md#metrics). */
export const SIGNAL_LABELS: Readonly<Record<Signal, readonly LabelName[]>> = {
  calls: ['provider', 'operation', 'outcome'],
  errors: ['provider', 'operation', 'code', 'category', 'retry'],
  retry_violations: ['provider', 'code', 'retry'],
};

export type MatchOp = 'eq' | 'in' | 'neq' | 'nin' | 're' | 'nre';

export interface LabelMatcher {
  readonly label: LabelName;
  readonly op: MatchOp;
  /** For eq/neq one value, for in/nin the list. */
  readonly values: readonly string[];
  /** For re/nre: the pattern as written (anchored when used). */
  readonly pattern: string | null;
}

export type ThresholdOp = '>' | '>=' | '<' | '<=';

export type Baseline =
  | { readonly method: 'trailing'; readonly lookbackMs: number; readonly factor: number }
  | { readonly method: 'same_time_last_week'; readonly weeks: number; readonly factor: number }
  | { readonly method: 'zscore'; readonly lookbackMs: number; readonly z: number };

export interface BurnWindow {
  readonly longMs: number;
  readonly shortMs: number;
  readonly factor: number;
}

export interface RuleBase {
  /** The alert name (`alertname` label). Unique over every loaded rule set. */
  readonly name: string;
  readonly description: string | null;
  readonly signal: Signal;
  readonly selector: readonly LabelMatcher[];
  readonly groupBy: readonly LabelName[];
  readonly windowMs: number;
  readonly forMs: number;
  readonly keepFiringForMs: number;
  readonly minEvents: number;
  readonly severity: string;
  /** Extra alert labels (severity is added from `severity`). */
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** Evaluation step of the rule's set, ms. */
  readonly intervalMs: number;
  readonly ruleSet: string;
  readonly file: string;
  /** Stable text of the rule's meaning; a reload keeps engine state of rules whose fingerprint is unchanged. */
  readonly fingerprint: string;
}

export interface ThresholdRule extends RuleBase {
  readonly kind: 'threshold';
  readonly op: ThresholdOp;
  readonly value: number;
}
export interface SpikeRule extends RuleBase {
  readonly kind: 'spike';
  readonly baseline: Baseline;
}
export interface ErrorRatioRule extends RuleBase {
  readonly kind: 'error_ratio';
  /** Success objective in percent. */
  readonly objective: number;
  readonly windows: readonly BurnWindow[];
}
export interface NewErrorCodeRule extends RuleBase {
  readonly kind: 'new_error_code';
  readonly lookbackMs: number;
}
export interface AbsenceRule extends RuleBase {
  readonly kind: 'absence';
  readonly lookbackMs: number;
}

export type Rule = ThresholdRule | SpikeRule | ErrorRatioRule | NewErrorCodeRule | AbsenceRule;

export interface RuleSet {
  readonly name: string;
  readonly file: string;
  readonly intervalMs: number;
  readonly rules: readonly Rule[];
}

/** Error budget of an objective in percent (99 → 0.01), computed once so engine and compiler use the same double. */
export function errorBudget(objective: number): number {
  return 1 - objective / 100;
}

/** Burn-rate threshold on the error ratio for one window pair. */
export function burnThreshold(objective: number, factor: number): number {
  return factor * errorBudget(objective);
}

export const WEEK_MS = 7 * 24 * 3600_000;
