// The rule kinds paysignal knows. The engine, the compiler and the agreement tests go through this
// registry; a kind's whole meaning is in its own module (kind.ts says what one holds).
import type { Rule, RuleKind } from '../types.ts';
import { absence } from './absence.ts';
import { errorRatio } from './error-ratio.ts';
import type { RuleKindDefinition } from './kind.ts';
import { newErrorCode } from './new-error-code.ts';
import { spike } from './spike.ts';
import { threshold } from './threshold.ts';

const KINDS: { readonly [K in RuleKind]: RuleKindDefinition<Extract<Rule, { kind: K }>> } = {
  threshold,
  spike,
  error_ratio: errorRatio,
  new_error_code: newErrorCode,
  absence,
};

/** Every kind, in the order rules/README.md lists them. */
export const RULE_KIND_DEFINITIONS: readonly RuleKindDefinition[] = Object.values(KINDS) as RuleKindDefinition[];

/** The definition of a kind, by name or by one of its rules. */
export function kindOf(of: Rule | RuleKind): RuleKindDefinition {
  return KINDS[typeof of === 'string' ? of : of.kind] as RuleKindDefinition;
}

/** How far back (ms before the evaluation time) a rule reads events. */
export function ruleSpanMs(rule: Rule): number {
  return kindOf(rule).spanMs(rule);
}

export type { GroupCounts, GroupEvaluator, KindFieldReader, KindLoading, RuleKindDefinition } from './kind.ts';
