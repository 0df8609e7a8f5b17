// The notifier side of the engine: at every tick, the full set of alerts Alertmanager should know
// (firing ones, and resolved ones that were sent, until retention ends), and the firing gauge. An
// alert that fired longer than max_alert_age ago (wall time) without having been sent is stale: it is
// counted once and not sent, so catching up on a backlog does not page for history.
import type { Clock } from '../clock.ts';
import type { AlertingMetrics } from '../metrics.ts';
import type { RuleRuntime } from './rule-runtime.ts';
import type { Alert } from './state-machine.ts';

/** One alert as the engine wants Alertmanager to know it. */
export interface AlertUpdate {
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** Event-time ms the alert became active. */
  readonly startsAt: number;
  /** Null while firing; the resolve time (event-time ms, never after now) once resolved. */
  readonly endsAt: number | null;
}

/** Receives, at every tick, the full set of alerts Alertmanager should know (alertmanager.ts). */
export interface AlertNotifier {
  update(alerts: readonly AlertUpdate[]): void;
}

export interface AlertPublisher {
  /** Hands the current alerts (and `retired` ones, resolved by a reload) to the notifier; updates the gauge. */
  publish(runtimes: readonly RuleRuntime[], retired: readonly AlertUpdate[]): void;
  /** Counts an alert that fired at evaluation time T as stale when T is older than max_alert_age. */
  markIfStale(alert: Alert, T: number): void;
}

export function createAlertPublisher(options: {
  readonly clock: Clock;
  readonly maxAgeMs: number;
  readonly notifier: AlertNotifier | null;
  readonly metrics: AlertingMetrics | null;
}): AlertPublisher {
  const { clock, maxAgeMs, notifier, metrics } = options;
  /** Firing gauge children set last time, so vanished ones go back to 0. */
  let firingSeen = new Map<string, { rule: string; severity: string }>();

  const countStale = (a: Alert): void => {
    a.staleCounted = true;
    metrics?.notifications.inc({ result: 'stale' });
  };

  return {
    markIfStale(alert, T) {
      if (clock.now() - T > maxAgeMs) countStale(alert);
    },

    publish(runtimes, retired) {
      const now = clock.now();
      const updates: AlertUpdate[] = [...retired];
      const firingCounts = new Map<string, { rule: string; severity: string; n: number }>();
      for (const rt of runtimes) {
        const fresh = rt.lastEvaluated !== null && now - rt.lastEvaluated <= maxAgeMs;
        for (const a of rt.alerts.values()) {
          if (a.state === 'firing') {
            const id = `${rt.rule.name}\u0000${rt.rule.severity}`;
            const c = firingCounts.get(id) ?? { rule: rt.rule.name, severity: rt.rule.severity, n: 0 };
            c.n++;
            firingCounts.set(id, c);
            if (fresh || a.sent) {
              a.sent = true;
              updates.push({ labels: a.labels, annotations: rt.renderAnnotations(a), startsAt: Math.min(a.activeAt, now), endsAt: null });
            } else if (!a.staleCounted) countStale(a);
          } else if (a.state === 'inactive' && a.sent) {
            const startsAt = Math.min(a.activeAt, now);
            updates.push({ labels: a.labels, annotations: rt.renderAnnotations(a), startsAt, endsAt: Math.max(startsAt, Math.min(a.resolvedAt ?? now, now)) });
          }
        }
      }
      if (metrics) {
        const next = new Map<string, { rule: string; severity: string }>();
        for (const [id, c] of firingCounts) {
          metrics.firing.set({ rule: c.rule, severity: c.severity }, c.n);
          next.set(id, c);
        }
        for (const [id, c] of firingSeen) if (!next.has(id)) metrics.firing.set({ rule: c.rule, severity: c.severity }, 0);
        firingSeen = next;
      }
      notifier?.update(updates);
    },
  };
}
