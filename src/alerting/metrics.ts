// The alerting metrics, on an explicit prom-client Registry. Get-or-create, so the engine, the
// Alertmanager client, the reloader (and the metrics sink, should it define the DESIGN section 6
// names too) share one series per name instead of failing on a second registration.
import { Counter, Gauge, type Registry } from 'prom-client';

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter<L>({ name, help, labelNames: [...labelNames], registers: [registry] });
}

function gauge<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Gauge<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<L>;
  return new Gauge<L>({ name, help, labelNames: [...labelNames], registers: [registry] });
}

export interface AlertingMetrics {
  readonly firing: Gauge<'rule' | 'severity'>;
  /** result: sent | failed | dropped | stale */
  readonly notifications: Counter<'result'>;
  readonly queueLength: Gauge<string>;
  readonly lateEvents: Counter<'rule'>;
  readonly droppedGroups: Counter<'rule'>;
  readonly reloadFailures: Counter<string>;
  readonly lastReloadSuccess: Gauge<string>;
  readonly rulesLoaded: Gauge<string>;
}

const cache = new WeakMap<Registry, AlertingMetrics>();

export function alertingMetrics(registry: Registry): AlertingMetrics {
  const hit = cache.get(registry);
  if (hit) return hit;
  const m: AlertingMetrics = {
    firing: gauge(registry, 'paysignal_alerts_firing', 'Alerts the in-process engine has firing, by rule and severity.', ['rule', 'severity']),
    notifications: counter(
      registry,
      'paysignal_alert_notifications_total',
      'Alert notifications by result: sent (accepted by Alertmanager), failed (attempt failed, will retry), dropped (queue full), stale (older than max_alert_age, not sent).',
      ['result'],
    ),
    queueLength: gauge(registry, 'paysignal_alert_queue_length', 'Alerts waiting to be posted to Alertmanager.', []),
    lateEvents: counter(registry, 'paysignal_alert_late_events_total', 'Events older than a rule window still held (later than the allowed lateness allows); not counted by that rule.', ['rule']),
    droppedGroups: counter(registry, 'paysignal_alert_dropped_group_events_total', 'Events not counted because their rule already tracks the maximum number of groups.', ['rule']),
    reloadFailures: counter(registry, 'paysignal_rules_reload_failures_total', 'Rule reloads that failed; the previous rules stay in force.', []),
    lastReloadSuccess: gauge(registry, 'paysignal_rules_last_reload_success', '1 when the last rule (re)load succeeded, 0 when it failed.', []),
    rulesLoaded: gauge(registry, 'paysignal_rules_loaded', 'Alert rules in force.', []),
  };
  for (const r of ['sent', 'failed', 'dropped', 'stale']) m.notifications.inc({ result: r }, 0);
  cache.set(registry, m);
  return m;
}
