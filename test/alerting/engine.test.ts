// The in-process engine on a fake clock: alert states, watermark and lateness, max_alert_age, volume
// guards, bounded groups, idle watermark, reload keeping state; and the Alertmanager client's queue,
// backoff and re-sends against a fake fetch.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createAlertmanagerClient, type PostableAlert } from '../../src/alerting/alertmanager.ts';
import { createFakeClock } from '../../src/alerting/clock.ts';
import { createAlertEngine, type AlertUpdate } from '../../src/alerting/engine/index.ts';
import { loadRules } from '../../src/alerting/loader.ts';
import { eventsFromCounts, toProcessedEvent, type SyntheticEvent } from '../../src/alerting/testing.ts';
import type { RuleSet } from '../../src/alerting/types.ts';
import { ruleSetFromYaml } from '../support/engine.ts';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 2, 9, 0, 0);

const ruleSet = (yaml: string): RuleSet => ruleSetFromYaml(yaml, 'engine.yaml');

const BURST_YAML = `
apiVersion: paysignal/v1
kind: RuleSet
metadata: { name: burst }
rules:
  - name: Burst
    kind: threshold
    selector: { category: rate_limit }
    group_by: [provider]
    window: 5m
    for: 2m
    keep_firing_for: 3m
    min_events: 4
    threshold: { op: '>', value: 3 }
    annotations: { summary: "{{ $labels.provider }}: {{ $value }}" }
`;
const BURST = ruleSet(BURST_YAML);

const rl = (provider: string, ts: number): SyntheticEvent => ({
  ts,
  labels: { provider, operation: 'create_order', code: 'rate_limited', category: 'rate_limit', retry: 'retry_with_backoff' },
  violation: null,
});

function recorder(): { updates: AlertUpdate[][]; update(a: readonly AlertUpdate[]): void; last(): readonly AlertUpdate[] } {
  const updates: AlertUpdate[][] = [];
  return { updates, update: (a) => void updates.push([...a]), last: () => updates.at(-1) ?? [] };
}

describe('alert engine', () => {
  it('pending → firing → (keep firing) → resolved, with for and keep_firing_for; notifications follow', async () => {
    const clock = createFakeClock(T0);
    const notifier = recorder();
    const registry = new Registry();
    const engine = createAlertEngine({ ruleSets: [BURST], clock, notifier, registry, allowedLatenessMs: 0, idleTimeoutMs: null, tickIntervalMs: 5_000, maxAlertAgeMs: 15 * 60_000 });
    // 6 events in minute 0, nothing after.
    for (let i = 0; i < 6; i++) engine.onEvent(toProcessedEvent(rl('kustom', T0 + i * 1000)));
    const states: string[] = [];
    engine.onStep((_rule, at, firing) => states.push(`${(at - T0) / MIN}:${firing.length}`));
    const stateAt = (m: number): string => {
      clock.set(T0 + m * MIN);
      engine.advanceWatermark(T0 + m * MIN);
      return engine.alerts(true).map((a) => a.state).join(',') || 'none';
    };
    expect(stateAt(1)).toBe('pending'); // window [−4m, 1m) holds 6
    expect(stateAt(2)).toBe('pending');
    expect(stateAt(3)).toBe('firing'); // for: 2m
    engine.tick();
    expect(notifier.last()).toHaveLength(1);
    expect(notifier.last()[0]).toMatchObject({ labels: { alertname: 'Burst', provider: 'kustom', severity: 'warning' }, annotations: { summary: 'kustom: 6' }, endsAt: null, startsAt: T0 + MIN });
    expect(await registry.metrics()).toContain('paysignal_alerts_firing{rule="Burst",severity="warning"} 1');
    expect(stateAt(6)).toBe('firing'); // condition false from 6m (window [1m, 6m) empty); keep_firing_for 3m
    expect(stateAt(8)).toBe('firing');
    expect(stateAt(9)).toBe('inactive');
    engine.tick();
    expect(notifier.last()[0]).toMatchObject({ labels: { provider: 'kustom' }, endsAt: T0 + 9 * MIN });
    expect(await registry.metrics()).toContain('paysignal_alerts_firing{rule="Burst",severity="warning"} 0');
    // (step 0 was evaluated by the first event, before the listener was added)
    expect(states.slice(0, 9)).toEqual(['1:0', '2:0', '3:1', '4:1', '5:1', '6:1', '7:1', '8:1', '9:0']);
  });

  it('min_events guards low volume', () => {
    const engine = createAlertEngine({ ruleSets: [BURST], clock: createFakeClock(T0), allowedLatenessMs: 0, idleTimeoutMs: null, tickIntervalMs: 5_000, maxAlertAgeMs: 15 * 60_000 });
    // Only 3 events: below both the threshold and min_events.
    for (let i = 0; i < 3; i++) engine.onEvent(toProcessedEvent(rl('kustom', T0 + i)));
    engine.advanceWatermark(T0 + 10 * MIN);
    expect(engine.alerts(true)).toEqual([]);
  });

  it('counts events within the allowed lateness of their partition; older ones are late (counted, not in any window)', async () => {
    const set = ruleSet(`
apiVersion: paysignal/v1
kind: RuleSet
metadata: { name: late }
rules:
  - name: Late
    kind: threshold
    selector: { category: rate_limit }
    group_by: [provider]
    window: 2m
    threshold: { op: '>=', value: 3 }
`);
    const registry = new Registry();
    const engine = createAlertEngine({ ruleSets: [set], registry, clock: createFakeClock(T0 + 60 * MIN), allowedLatenessMs: 30_000, idleTimeoutMs: null, tickIntervalMs: 5_000, maxAlertAgeMs: 15 * 60_000 });
    engine.onEvent(toProcessedEvent(rl('setel', T0 + 10_000)));
    engine.onEvent(toProcessedEvent(rl('setel', T0 + 70_000))); // watermark T0+40s
    engine.onEvent(toProcessedEvent(rl('setel', T0 + 45_000))); // 25 s behind the newest: within the lateness, counted
    engine.onEvent(toProcessedEvent(rl('setel', T0 + 20_000))); // 50 s behind: late
    engine.onEvent(toProcessedEvent(rl('setel', T0 + 95_000))); // watermark T0+65s: step 1m evaluated with 2 events in [−1m, 1m)
    expect(engine.alerts()).toEqual([]);
    engine.advanceWatermark(T0 + 2 * MIN); // [0, 2m) holds the 4 counted events
    expect(engine.alerts().map((a) => a.value)).toEqual([4]);
    expect(engine.stats().lateEvents).toBe(1);
    expect(await registry.metrics()).toContain('paysignal_alert_partition_late_events_total{topic="",partition="0"} 1');
  });

  it('max_alert_age: a backlog replay evaluates history but does not send it; current alerts are sent', async () => {
    const now = T0 + 24 * 60 * MIN;
    const clock = createFakeClock(now);
    const notifier = recorder();
    const registry = new Registry();
    const engine = createAlertEngine({ ruleSets: [BURST], clock, notifier, registry, allowedLatenessMs: 0, idleTimeoutMs: null, tickIntervalMs: 5_000, maxAlertAgeMs: 15 * 60_000 });
    // A burst 5 hours ago and one 40 minutes ago: both fire and resolve in history.
    for (let i = 0; i < 6; i++) engine.onEvent(toProcessedEvent(rl('kustom', now - 5 * 60 * MIN + i)));
    for (let i = 0; i < 6; i++) engine.onEvent(toProcessedEvent(rl('setel', now - 40 * MIN + i)));
    engine.advanceWatermark(now - 30 * MIN);
    engine.tick();
    expect(notifier.last()).toEqual([]);
    expect(await registry.metrics()).toContain('paysignal_alert_notifications_total{result="stale"} 2');
    // A burst 4 minutes ago fires within max_alert_age: sent.
    for (let i = 0; i < 6; i++) engine.onEvent(toProcessedEvent(rl('setel', now - 4 * MIN + i)));
    engine.advanceWatermark(now);
    engine.tick();
    // Only the fresh alert; the old ones were never sent, so there is nothing to resolve either.
    expect(notifier.last().map((a) => [a.labels.provider, a.endsAt])).toEqual([['setel', null]]);
  });

  it('bounds the groups per rule', () => {
    const engine = createAlertEngine({ ruleSets: [BURST], clock: createFakeClock(T0), allowedLatenessMs: 1000, idleTimeoutMs: null, maxGroupsPerRule: 2, tickIntervalMs: 5_000, maxAlertAgeMs: 15 * 60_000 });
    for (const p of ['a', 'b', 'c', 'd']) for (let i = 0; i < 5; i++) engine.onEvent(toProcessedEvent(rl(p, T0 + i)));
    expect(engine.stats().groups).toBe(2);
    expect(engine.stats().droppedEvents).toBe(10);
  });

  it('the watermark follows the wall clock when events stop, so absence fires', () => {
    const set = ruleSet(`
apiVersion: paysignal/v1
kind: RuleSet
metadata: { name: quiet }
rules:
  - name: Quiet
    kind: absence
    window: 5m
    lookback: 30m
    min_events: 10
`);
    const clock = createFakeClock(T0 + 30 * MIN);
    const engine = createAlertEngine({ ruleSets: [set], clock, allowedLatenessMs: 10_000, idleTimeoutMs: 60_000, tickIntervalMs: 5_000, maxAlertAgeMs: 15 * 60_000 });
    for (const e of eventsFromCounts(Array(30).fill(2), MIN, { provider: 'kustom', outcome: 'success' })) engine.onEvent(toProcessedEvent({ ...e, ts: T0 + e.ts }));
    engine.start();
    clock.advance(4 * MIN);
    expect(engine.alerts()).toEqual([]);
    clock.advance(3 * MIN); // idle 7 min: watermark ≈ last event + 6 min: window [.., +6m) empty
    expect(engine.alerts().map((a) => a.labels.provider)).toEqual(['kustom']);
    void engine.close();
  });

  it('a reload keeps the windows and alerts of unchanged rules and resolves the alerts of removed ones', () => {
    const other = ruleSet(`
apiVersion: paysignal/v1
kind: RuleSet
metadata: { name: other }
rules:
  - name: Other
    kind: threshold
    selector: { category: rate_limit }
    window: 5m
    threshold: { value: 1 }
`);
    const clock = createFakeClock(T0 + 5 * MIN);
    const notifier = recorder();
    const engine = createAlertEngine({ ruleSets: [BURST, other], clock, notifier, allowedLatenessMs: 0, idleTimeoutMs: null, tickIntervalMs: 5_000, maxAlertAgeMs: 15 * 60_000 });
    for (let i = 0; i < 6; i++) engine.onEvent(toProcessedEvent(rl('kustom', T0 + i)));
    engine.advanceWatermark(T0 + 3 * MIN);
    engine.tick();
    expect(notifier.last().map((a) => a.labels.alertname).sort()).toEqual(['Burst', 'Other']);
    // Reload: Burst unchanged (same meaning, new object), Other removed.
    const reloaded = ruleSet(BURST_YAML);
    engine.setRuleSets([reloaded]);
    expect(engine.alerts().map((a) => `${a.rule}:${a.state}`)).toEqual(['Burst:firing']);
    engine.tick();
    const byName = new Map(notifier.last().map((a) => [a.labels.alertname, a]));
    expect(byName.get('Burst')?.endsAt).toBeNull();
    expect(byName.get('Other')?.endsAt).toBeTypeOf('number');
  });

  it('replaying a day of events at once keeps every evaluation exact (windows never outrun)', async () => {
    const { ruleSets, problems } = await loadRules(['rules']);
    expect(problems).toEqual([]);
    const firings: string[] = [];
    const engine = createAlertEngine({ ruleSets, clock: createFakeClock(T0 + 2 * 24 * 60 * MIN), allowedLatenessMs: 30_000, idleTimeoutMs: null, tickIntervalMs: 5_000, maxAlertAgeMs: 15 * 60_000 });
    engine.onStep((rule, at, firing) => {
      if (firing.length > 0) firings.push(`${rule}@${(at - T0) / MIN}`);
    });
    const counts = Array.from({ length: 24 * 60 }, (_, i) => (i >= 600 && i < 615 ? 12 : 1));
    const events = eventsFromCounts(counts, MIN, { provider: 'kustom', operation: 'create_order', code: 'MERCHANT_INACTIVE', category: 'merchant_config', retry: 'contact_provider' });
    const started = performance.now();
    for (const e of events) engine.onEvent(toProcessedEvent({ ...e, ts: T0 + e.ts }));
    engine.advanceWatermark(T0 + 24 * 60 * MIN);
    const ms = performance.now() - started;
    expect(firings.filter((f) => f.startsWith('MerchantInactiveSpike')).length).toBeGreaterThan(5);
    expect(firings.every((f) => f.startsWith('MerchantInactiveSpike'))).toBe(true);
    expect(ms).toBeLessThan(5_000);
  });
});

describe('Alertmanager client (fake fetch)', () => {
  const alert = (provider: string, endsAt: number | null = null): AlertUpdate => ({
    labels: { alertname: 'Burst', provider, severity: 'warning' },
    annotations: { summary: provider },
    startsAt: T0,
    endsAt,
  });

  it('posts firing alerts with endsAt in the future, backs off exponentially while failing, re-sends periodically', async () => {
    const clock = createFakeClock(T0);
    const posts: { at: number; alerts: PostableAlert[] }[] = [];
    let up = false;
    const fakeFetch = (async (_url: string, init: { body: string }) => {
      posts.push({ at: clock.now(), alerts: JSON.parse(init.body) as PostableAlert[] });
      return up ? new Response('', { status: 200 }) : new Response('down', { status: 503 });
    }) as unknown as typeof fetch;
    const registry = new Registry();
    const client = createAlertmanagerClient({ url: 'http://am:9093/', clock, fetch: fakeFetch, registry, initialBackoffMs: 100, maxBackoffMs: 800, resendIntervalMs: 60_000, queueSize: 1000 });
    client.start();
    client.update([alert('a'), alert('b')]);
    const settle = async (): Promise<void> => {
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    };
    await settle();
    for (let i = 0; i < 6; i++) {
      clock.advance(1000);
      await settle();
    }
    const gaps = posts.slice(1).map((p, i) => p.at - (posts[i] as { at: number }).at);
    // 100, 200, 400, 800, 800 ... (timer resolution: the fake clock advances in 1 s steps)
    expect(posts.length).toBeGreaterThanOrEqual(4);
    expect(gaps.every((g) => g >= 0)).toBe(true);
    expect(client.queued()).toBe(2);
    up = true;
    clock.advance(1000);
    await settle();
    const ok = posts.at(-1) as { at: number; alerts: PostableAlert[] };
    expect(ok.alerts.map((a) => a.labels.provider)).toEqual(['a', 'b']);
    expect(Date.parse(ok.alerts[0]!.endsAt)).toBe(ok.at + 4 * 60_000);
    expect(Object.keys(ok.alerts[0]!.labels).sort()).toEqual(['alertname', 'provider', 'severity']);
    expect(client.queued()).toBe(0);
    const n = posts.length;
    clock.advance(61_000);
    await settle();
    expect(posts.length).toBe(n + 1); // periodic re-send of both
    expect(posts.at(-1)!.alerts).toHaveLength(2);
    client.update([alert('a'), alert('b', T0 + 5 * MIN)]);
    await settle();
    expect(posts.at(-1)!.alerts.map((a) => [a.labels.provider, a.endsAt])).toEqual([['b', new Date(T0 + 5 * MIN).toISOString()]]);
    const text = await registry.metrics();
    expect(text).toMatch(/paysignal_alert_notifications_total\{result="failed"\} [1-9]/);
    await client.close(100);
  });

  it('the queue is bounded: one entry per alert, oldest dropped beyond capacity (counted)', async () => {
    const clock = createFakeClock(T0);
    const fakeFetch = (async () => new Response('down', { status: 503 })) as unknown as typeof fetch;
    const registry = new Registry();
    const client = createAlertmanagerClient({ url: 'http://am:9093', clock, fetch: fakeFetch, registry, queueSize: 3, resendIntervalMs: 60_000, initialBackoffMs: 60_000, batchSize: 1 });
    client.update([alert('a')]);
    await new Promise((r) => setImmediate(r));
    client.update([alert('a'), alert('b'), alert('c'), alert('d'), alert('e')]);
    expect(client.queued()).toBeLessThanOrEqual(3);
    expect(client.stats().dropped).toBeGreaterThanOrEqual(2);
    expect(await registry.metrics()).toMatch(/paysignal_alert_notifications_total\{result="dropped"\} [2-9]/);
    await client.close(10);
  });
});
