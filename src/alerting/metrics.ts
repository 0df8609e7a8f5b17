// The alerting metrics, on an explicit prom-client Registry. Get-or-create, so the engine, the
// Alertmanager client, the reloader (and the metrics sink, should it define the docs/architecture.md#metrics
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
  readonly partitionLateEvents: Counter<'topic' | 'partition'>;
  readonly eventsAlreadyInState: Counter<string>;
  readonly droppedGroups: Counter<'rule'>;
  readonly stateBytes: Gauge<string>;
  /** result: restored | missing | corrupt | incompatible | oversized */
  readonly stateRestores: Counter<'result'>;
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
    lateEvents: counter(registry, 'paysignal_alert_late_events_total', 'Events of a rule that fell outside the buckets it holds (older than its windows, or beyond how far its windows can stretch for unevenly consumed partitions); not counted by that rule.', ['rule']),
    partitionLateEvents: counter(
      registry,
      'paysignal_alert_partition_late_events_total',
      'Events more than the allowed lateness older than the newest event of their own partition; not counted by any rule.',
      ['topic', 'partition'],
    ),
    eventsAlreadyInState: counter(registry, 'paysignal_alert_events_already_in_state_total', 'Events below the next offset the engine state holds for their partition (a retried batch, records committed behind a restored checkpoint), not counted again.', []),
    droppedGroups: counter(registry, 'paysignal_alert_dropped_group_events_total', 'Events not counted because their rule already tracks the maximum number of groups.', ['rule']),
    stateBytes: gauge(registry, 'paysignal_alert_state_bytes', 'Size of the alert engine state checkpoint last written or restored, bytes.', []),
    stateRestores: counter(
      registry,
      'paysignal_alert_state_restores_total',
      'Alert engine state restores at startup by result: restored, or missing, corrupt, incompatible, oversized (the engine started cold).',
      ['result'],
    ),
    reloadFailures: counter(registry, 'paysignal_rules_reload_failures_total', 'Rule reloads that failed; the previous rules stay in force.', []),
    lastReloadSuccess: gauge(registry, 'paysignal_rules_last_reload_success', '1 when the last rule (re)load succeeded, 0 when it failed.', []),
    rulesLoaded: gauge(registry, 'paysignal_rules_loaded', 'Alert rules in force.', []),
  };
  for (const r of ['sent', 'failed', 'dropped', 'stale']) m.notifications.inc({ result: r }, 0);
  for (const r of ['restored', 'missing', 'corrupt', 'incompatible', 'oversized']) m.stateRestores.inc({ result: r }, 0);
  cache.set(registry, m);
  return m;
}
