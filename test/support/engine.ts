// What the alert-engine tests share: rule sets written inline as YAML, and synthetic events fed at
// the partitions and offsets a Kafka consumer would hand them over with.
import type { AlertEngine } from '../../src/alerting/engine/index.ts';
import { formatProblem, parseRuleSet } from '../../src/alerting/loader.ts';
import { toEngineSignal, type SyntheticEvent } from '../../src/alerting/testing.ts';
import type { RuleSet } from '../../src/alerting/types.ts';

/** The rule set `yaml` loads to (as file `file`); one that does not load throws its problems, so the test fails with them. */
export function ruleSetFromYaml(yaml: string, file: string): RuleSet {
  const { ruleSet: set, problems } = parseRuleSet(yaml, file);
  if (set === null) throw new Error(problems.map(formatProblem).join('\n'));
  return set;
}

/** A synthetic event as a record of a Kafka partition. */
export interface LocatedEvent {
  readonly event: SyntheticEvent;
  readonly partition: number;
  readonly offset: number;
}

/** Hands `records` of `topic` to the engine, in order. */
export function feedRecords(engine: AlertEngine, topic: string, records: readonly LocatedEvent[]): void {
  for (const r of records) engine.onSignal(toEngineSignal(r.event, { topic, partition: r.partition, offset: r.offset }));
}
