// Evaluation on the event-time grid: every rule is evaluated at T = k·interval for every k with
// T ≤ watermark, in order, as soon as the watermark passes T (also from inside onEvent, so replaying a
// backlog never outruns the windows). Each evaluation runs the kind's evaluator over the groups and
// feeds the results to the state machine.
import type { AlertPublisher } from './notifier.ts';
import type { RuleRuntime } from './rule-runtime.ts';
import { applyEvaluation } from './state-machine.ts';
import type { StepListener } from './types.ts';
import { NONE } from './windows.ts';

export class Scheduler {
  private readonly publisher: AlertPublisher;
  private readonly listeners: StepListener[] = [];
  /** Reused across evaluations: keys of the groups whose condition holds, and their values. */
  private readonly results = new Map<string, number>();

  constructor(publisher: AlertPublisher) {
    this.publisher = publisher;
  }

  onStep(listener: StepListener): void {
    this.listeners.push(listener);
  }

  /** Evaluates every rule's due grid times up to `watermarkMs`. */
  evaluateDue(runtimes: readonly RuleRuntime[], watermarkMs: number): void {
    if (watermarkMs === NONE) return;
    for (const rt of runtimes) {
      const target = Math.floor(watermarkMs / rt.step);
      if (rt.nextK === NONE) rt.nextK = target;
      while (rt.nextK <= target) {
        // Nothing tracked: every step until the target is empty; skip ahead.
        if (rt.groups.size === 0 && rt.alerts.size === 0) rt.nextK = target;
        this.evaluateStep(rt, rt.nextK);
        rt.nextK++;
      }
    }
  }

  private evaluateStep(rt: RuleRuntime, k: number): void {
    const T = k * rt.step;
    const rule = rt.rule;
    const results = this.results;
    results.clear();
    if (rt.warmAt(k)) {
      for (const g of rt.groups.values()) {
        const v = rt.evaluate(g, k);
        if (v !== null) results.set(g.key, v);
      }
    }
    applyEvaluation(rt.alerts, results, T, rule, (key, value, at) => rt.openAlert(key, value, at), (a, at) => this.publisher.markIfStale(a, at));
    rt.lastEvaluated = T;
    rt.afterEvaluation(k);
    if (this.listeners.length > 0) {
      const firing = [];
      for (const a of rt.alerts.values()) if (a.state === 'firing') firing.push(rt.snapshotOf(a));
      for (const l of this.listeners) l(rule.name, T, firing);
    }
  }
}
