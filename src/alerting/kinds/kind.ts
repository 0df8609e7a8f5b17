// What a rule kind is: one meaning, written twice — for the in-process engine (over the event-time
// buckets of one group) and as PromQL (over the counters paysignal exports). Both live in the kind's
// own module, so adding a kind is adding a file here and a line in index.ts; the agreement tests
// (test/alerting/agreement.test.ts) run every kind of the registry through both.
import type { Rule } from '../types.ts';
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

export interface RuleKindDefinition<R extends Rule = Rule> {
  readonly kind: R['kind'];
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
