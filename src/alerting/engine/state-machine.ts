// The alert state machine of one rule, Prometheus's (rules/alerting.go, Eval) step for step:
// pending at the first evaluation whose condition holds (activeAt), firing once T − activeAt ≥ for;
// when the condition stops, a firing alert keeps firing while T − (first evaluation without the
// condition) < keep_firing_for, then becomes inactive (resolved) and is kept RESOLVED_RETENTION_MS for
// re-sends; a pending alert whose condition stops is dropped. Every time here is an evaluation time
// (event time), never the wall clock, so the same stream gives the same timeline.

export type AlertState = 'pending' | 'firing' | 'inactive';

/** How long a resolved alert stays known (and is re-sent as resolved), as in Prometheus. */
export const RESOLVED_RETENTION_MS = 15 * 60_000;

export interface Alert {
  readonly key: string;
  /** alertname, severity, the group labels and the rule's labels. */
  readonly labels: Readonly<Record<string, string>>;
  readonly groupLabels: Readonly<Record<string, string>>;
  state: AlertState;
  value: number;
  /** Event-time ms of the evaluation that made it pending. */
  activeAt: number;
  firedAt: number | null;
  resolvedAt: number | null;
  /** First evaluation without the condition while firing (keep_firing_for runs from it). */
  keepFiringSince: number | null;
  /** Handed to the notifier at least once. */
  sent: boolean;
  /** Counted once as stale (fired too long ago to be sent). */
  staleCounted: boolean;
}

export interface AlertTiming {
  readonly forMs: number;
  readonly keepFiringForMs: number;
}

/**
 * Applies one evaluation at time T. `results` maps the keys of the groups whose condition holds to
 * their values; `open` makes the pending alert of a key that has none; `fired` is told of every
 * alert that turns firing at T.
 */
export function applyEvaluation(
  alerts: Map<string, Alert>,
  results: ReadonlyMap<string, number>,
  T: number,
  timing: AlertTiming,
  open: (key: string, value: number, T: number) => Alert,
  fired: (alert: Alert, T: number) => void,
): void {
  for (const [key, value] of results) {
    const a = alerts.get(key);
    if (a !== undefined && a.state !== 'inactive') a.value = value;
    else alerts.set(key, open(key, value, T));
  }
  for (const [key, a] of alerts) {
    if (!results.has(key)) {
      let keepFiring = false;
      if (a.state === 'firing' && timing.keepFiringForMs > 0) {
        if (a.keepFiringSince === null) a.keepFiringSince = T;
        if (T - a.keepFiringSince < timing.keepFiringForMs) keepFiring = true;
      }
      if (a.state === 'pending' || (a.resolvedAt !== null && T - a.resolvedAt > RESOLVED_RETENTION_MS)) alerts.delete(key);
      if (a.state !== 'inactive' && !keepFiring) {
        a.state = 'inactive';
        a.resolvedAt = T;
      }
      if (!keepFiring) continue;
    } else a.keepFiringSince = null;
    if (a.state === 'pending' && T - a.activeAt >= timing.forMs) {
      a.state = 'firing';
      a.firedAt = T;
      fired(a, T);
    }
  }
}
