// PromQL building blocks the kinds share. Counting: the engine counts events in [T − w, T).
// Prometheus sees counters; the count in that window is `counter(T) − counter(T − w)`, written
// `x − (x offset w or x * 0)` so a series that did not exist yet at T − w counts from zero (prom-client
// creates a labelled series at its first increment). This is exact where `increase()` would
// extrapolate and miss a new series' first increment. A counter reset (a paysignal restart) makes the
// difference negative: that window undercounts, it never overcounts.
import { formatDuration } from '../../kernel/duration.ts';
import { promMatchers } from '../selector.ts';
import type { LabelMatcher } from '../types.ts';

/** A number as a PromQL literal that parses back to the same double. */
export function num(n: number): string {
  return String(n);
}

/** Windowed counts of one counter, summed by the rule's group labels. */
export class Counts {
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

/** What a kind's PromQL is built with: the rule's signal counts and a way to record helper series. */
export interface PromQueryBuilder {
  /** The rule's signal counter with its selector, grouped by the rule's group_by. */
  readonly counts: Counts;
  /** Adds the recording rule `paysignal:<rule_id>:<what>` and returns that series name. */
  record(what: string, expr: string): string;
}
