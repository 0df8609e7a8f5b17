// What a rule kind is: how rule files spell it, and one meaning written twice — for the in-process
// engine (over the event-time buckets of one group) and as PromQL (over the counters paysignal
// exports). All of it lives in the kind's own module, so adding a kind is adding a file here and a
// line in index.ts (plus its fields in ruleset.schema.json and its Rule type in types.ts); the
// agreement tests (test/alerting/agreement.test.ts) run every kind of the registry through both.
import type { RuleProblemCode } from '../../error-codes.ts';
import type { PathSegment } from '../../kernel/diagnostic.ts';
import type { LabelName, Rule, RuleBase, Signal } from '../types.ts';
import type { PromQueryBuilder } from './promql.ts';

/**
 * The counts of one group as the engine holds them: one bucket per evaluation step, bucket k holding
 * the events of [k·step, (k+1)·step). Reading buckets no longer held gives 0.
 */
export interface GroupCounts {
  /** Events the rule selects, in buckets from..to (inclusive indices). */
  count(from: number, to: number): number;
  /** Calls (error_ratio's denominator) in buckets from..to. */
  calls(from: number, to: number): number;
  /** Newest non-empty bucket that is no longer held individually; -Infinity when none. */
  readonly olderMax: number;
}

/**
 * Value of the rule's expression for a group at grid index k (evaluation time k·step), or null when
 * the condition is false. Built once per rule, with every derived number precomputed.
 */
export type GroupEvaluator = (group: GroupCounts, k: number) => number | null;

/** What the loader hands a kind to read its own fields of one rule with; problems are collected, never thrown. */
export interface KindFieldReader {
  /** The rule's mapping as written (valid against the rule schema). */
  readonly raw: Readonly<Record<string, unknown>>;
  /** Path of a field of this rule, for problems. */
  at(...segments: PathSegment[]): PathSegment[];
  /** Where the rule's window came from (the rule or the defaults block). */
  readonly windowPath: PathSegment[];
  /** A duration in ms; `fallback` when absent; null, with a problem, when it is not a duration. */
  duration(segments: PathSegment[], text: string | undefined, fallback: number | null): number | null;
  /** Adds a problem when `ms` is not a multiple of the rule set's interval. */
  multipleOfInterval(segments: PathSegment[], ms: number | null, what: string): void;
  problem(code: RuleProblemCode, segments: PathSegment[], message: string): void;
}

/** How rule files spell a kind, beyond the fields every rule has (rules/README.md, "Kinds"). */
export interface KindLoading<R extends Rule> {
  /** group_by when neither the rule nor the defaults give one. */
  readonly defaultGroupBy: readonly LabelName[];
  /** The signal when none is given; null: `calls` when the selector names `outcome`, else `errors`. */
  readonly defaultSignal: Signal | null;
  /** The one signal the kind counts, and why; null when the rule chooses. */
  readonly fixedSignal: { readonly signal: Signal; readonly why: string } | null;
  /** null when the rule needs a `window`; else what the kind takes instead. */
  readonly insteadOfWindow: string | null;
  /** The labels the kind can group by, and why, when fewer than its signal's; null otherwise. */
  readonly groupLabels: { readonly labels: readonly LabelName[]; readonly why: string } | null;
  /** Counting every error (or call) is almost always a mistake: a selector is required (not for retry violations). */
  readonly needsSelector: boolean;
  /** A label group_by must include; null when none. */
  readonly mustGroupBy: LabelName | null;
  /** The rule from the common fields and the kind's own (checked, problems through `read`). */
  parse(base: RuleBase, read: KindFieldReader): R;
}

export interface RuleKindDefinition<R extends Rule = Rule> {
  readonly kind: R['kind'];
  readonly loading: KindLoading<R>;
  /** How far back (ms before the evaluation time) the rule reads events. */
  spanMs(rule: R): number;
  /**
   * How far back the engine must hold buckets one by one; older non-empty buckets are remembered only
   * as `olderMax`. Equal to spanMs unless the kind reads older history only as "was there any".
   */
  bucketSpanMs(rule: R): number;
  /**
   * The kind compares the present with history, so it stays silent until the rule's signal has
   * existed for spanMs (see rules/README.md, "Warm-up").
   */
  readonly comparesWithHistory: boolean;
  /** The kind counts every call of the group (the denominator) beside the events it selects. */
  readonly countsCalls: boolean;
  /** The engine's meaning. */
  evaluator(rule: R, stepMs: number): GroupEvaluator;
  /** The PromQL meaning: records helper series through `q` and returns the alert condition. */
  promql(rule: R, q: PromQueryBuilder): string;
}
