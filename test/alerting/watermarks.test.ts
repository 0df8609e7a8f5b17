// Event time per partition: each partition has its own watermark, an event is late only relative to
// its own partition, and the engine evaluates up to the minimum over the partitions that are not idle
// — so a backlog consumed one partition at a time counts every event and fires exactly what the same
// events in time order fire.
import { describe, expect, it } from 'vitest';
import { createFakeClock } from '../../src/alerting/clock.ts';
import { createAlertEngine, signalOf, type AlertEngine } from '../../src/alerting/engine/index.ts';
import { eventsFromCounts, toEngineSignal, toProcessedEvent, type SyntheticEvent } from '../../src/alerting/testing.ts';
import type { RuleSet } from '../../src/alerting/types.ts';
import { feedRecords, ruleSetFromYaml, type LocatedEvent } from '../support/engine.ts';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 2, 9, 0, 0);
const TOPIC = 'payments';

const ruleSet = (yaml: string): RuleSet => ruleSetFromYaml(yaml, 'watermarks.yaml');

const RULES = ruleSet(`
apiVersion: paysignal/v1
kind: RuleSet
metadata: { name: wm }
rules:
  - name: InactiveSpike
    kind: spike
    selector: { code: MERCHANT_INACTIVE }
    group_by: [provider, code]
    window: 10m
    for: 2m
    keep_firing_for: 5m
    min_events: 20
    baseline: { method: trailing, lookback: 1h, factor: 3 }
  - name: InactiveBurst
    kind: threshold
    selector: { code: MERCHANT_INACTIVE }
    group_by: [provider]
    window: 5m
    threshold: { op: '>', value: 40 }
`);

const INACTIVE = { provider: 'kustom', operation: 'create_order', code: 'MERCHANT_INACTIVE', category: 'merchant_config', retry: 'contact_provider' };

/** Events spread round-robin over `partitions` partitions (each partition in time order, with offsets). */
function spread(events: readonly SyntheticEvent[], partitions: number): LocatedEvent[] {
  const next = new Array<number>(partitions).fill(0);
  return [...events]
    .sort((a, b) => a.ts - b.ts)
    .map((event, i) => {
      const partition = i % partitions;
      const offset = next[partition] as number;
      next[partition] = offset + 1;
      return { event, partition, offset };
    });
}

function recordFirings(engine: AlertEngine): string[] {
  const out: string[] = [];
  engine.onStep((rule, at, firing) => {
    for (const a of firing) out.push(`${rule}@${(at - T0) / MIN}m:${a.labels.provider}:${a.activeAt - T0}`);
  });
  return out;
}

const assignment = (n: number): { topic: string; partition: number }[] => Array.from({ length: n }, (_, partition) => ({ topic: TOPIC, partition }));

describe('per-partition watermarks', () => {
  // 100 minutes of steady MERCHANT_INACTIVE errors, 2 a minute, and a burst of 15 a minute at 80–90m.
  const counts = Array.from({ length: 100 }, (_, i) => (i >= 80 && i < 90 ? 15 : 2));
  const history = eventsFromCounts(counts, MIN, INACTIVE).map((e) => ({ ...e, ts: T0 + e.ts }));
  const located = spread(history, 12);

  it('a backlog consumed one partition at a time counts every event and fires what the same events in time order fire', () => {
    const clock = createFakeClock(T0 + 3 * 60 * MIN);
    const inOrder = createAlertEngine({ ruleSets: [RULES], clock, allowedLatenessMs: 0, idleTimeoutMs: null, tickIntervalMs: 5_000, maxAlertAgeMs: 15 * 60_000 });
    const expected = recordFirings(inOrder);
    inOrder.assignPartitions(assignment(12));
    feedRecords(inOrder, TOPIC, located);
    inOrder.advanceWatermark(T0 + 100 * MIN);

    const byPartition = createAlertEngine({ ruleSets: [RULES], clock, allowedLatenessMs: 0, idleTimeoutMs: null, tickIntervalMs: 5_000, maxAlertAgeMs: 15 * 60_000 });
    const got = recordFirings(byPartition);
    byPartition.assignPartitions(assignment(12));
    // kafkajs hands over one partition's batch at a time: partition 0's whole history, then 1's, ...
    for (let p = 0; p < 12; p++) feedRecords(byPartition, TOPIC, located.filter((l) => l.partition === p));
    // Nothing could be evaluated before the last partition delivered.
    byPartition.advanceWatermark(T0 + 100 * MIN);

    expect(expected.some((f) => f.startsWith('InactiveSpike@'))).toBe(true);
    expect(expected.some((f) => f.startsWith('InactiveBurst@'))).toBe(true);
    // Each rule's evaluations in order (rules may take turns differently when a watermark jumps far).
    expect(got.sort()).toEqual(expected.sort());
    expect(byPartition.stats().lateEvents).toBe(0);
    expect(inOrder.stats().lateEvents).toBe(0);
  });

  it('an event is late only relative to its own partition', () => {
    const engine = createAlertEngine({ ruleSets: [RULES], clock: createFakeClock(T0 + 60 * MIN), allowedLatenessMs: 30_000, idleTimeoutMs: null, tickIntervalMs: 5_000, maxAlertAgeMs: 15 * 60_000 });
    engine.assignPartitions(assignment(2));
    const at = (partition: number, offset: number, ts: number): void => engine.onSignal(toEngineSignal({ ts, labels: INACTIVE, violation: null }, { topic: TOPIC, partition, offset }));
    at(0, 0, T0 + 50 * MIN);
    // Partition 1 is 50 minutes behind partition 0: not late, and it holds the watermark back.
    at(1, 0, T0);
    at(1, 1, T0 + MIN);
    expect(engine.stats().lateEvents).toBe(0);
    expect(engine.watermark()).toBe(T0 + MIN - 30_000);
    // 40 s behind partition 1's newest event: late for partition 1, whatever partition 0 holds.
    at(1, 2, T0 + 20_000);
    expect(engine.stats().lateEvents).toBe(1);
    expect(engine.partitions().map((p) => [p.partition, p.watermark, p.nextOffset])).toEqual([
      [0, T0 + 50 * MIN - 30_000, 1],
      [1, T0 + MIN - 30_000, 3],
    ]);
  });

  it('an assigned partition without events holds the watermark back until it is idle; its next event makes it active again', () => {
    const clock = createFakeClock(T0 + 10 * MIN);
    const engine = createAlertEngine({ ruleSets: [RULES], clock, allowedLatenessMs: 0, idleTimeoutMs: 60_000, tickIntervalMs: 5_000, maxAlertAgeMs: 15 * 60_000 });
    engine.assignPartitions(assignment(2));
    const at = (partition: number, offset: number, ts: number): void => engine.onSignal(toEngineSignal({ ts, labels: INACTIVE, violation: null }, { topic: TOPIC, partition, offset }));
    at(0, 0, T0 + 5 * MIN);
    expect(engine.watermark()).toBeNull();
    engine.start();
    clock.advance(30_000);
    at(0, 1, T0 + 6 * MIN);
    clock.advance(36_000); // partition 1: more than 60 s since its assignment (next tick at 65 s), nothing delivered: idle
    expect(engine.watermark()).toBe(T0 + 6 * MIN);
    expect(engine.partitions().map((p) => p.idle)).toEqual([false, true]);
    at(0, 2, T0 + 7 * MIN);
    expect(engine.watermark()).toBe(T0 + 7 * MIN);
    // Partition 1 delivers: active again; the engine's watermark never goes back.
    at(1, 0, T0 + 6 * MIN + 30_000);
    expect(engine.partitions().map((p) => p.idle)).toEqual([false, false]);
    expect(engine.watermark()).toBe(T0 + 7 * MIN);
    at(0, 3, T0 + 9 * MIN);
    expect(engine.watermark()).toBe(T0 + 7 * MIN); // held by partition 1 (6m30s) — and never back
    at(1, 1, T0 + 8 * MIN);
    expect(engine.watermark()).toBe(T0 + 8 * MIN);
    expect(engine.stats().lateEvents).toBe(0);
    void engine.close();
  });

  it('assignment changes: a revoked partition stops holding the watermark, a newly assigned one starts', () => {
    const engine = createAlertEngine({ ruleSets: [RULES], clock: createFakeClock(T0 + 60 * MIN), allowedLatenessMs: 0, idleTimeoutMs: null, tickIntervalMs: 5_000, maxAlertAgeMs: 15 * 60_000 });
    const at = (partition: number, offset: number, ts: number): void => engine.onSignal(toEngineSignal({ ts, labels: INACTIVE, violation: null }, { topic: TOPIC, partition, offset }));
    engine.assignPartitions(assignment(3));
    at(0, 0, T0 + 10 * MIN);
    at(1, 0, T0 + 20 * MIN);
    expect(engine.watermark()).toBeNull(); // partition 2 has delivered nothing
    engine.assignPartitions(assignment(2)); // rebalance: partition 2 goes to another instance
    expect(engine.watermark()).toBe(T0 + 10 * MIN);
    engine.assignPartitions([...assignment(2), { topic: TOPIC, partition: 5 }]);
    at(0, 1, T0 + 30 * MIN);
    expect(engine.watermark()).toBe(T0 + 10 * MIN); // partition 5 holds it until it delivers
    at(5, 0, T0 + 25 * MIN);
    expect(engine.watermark()).toBe(T0 + 20 * MIN);
    expect(engine.partitions().map((p) => p.partition).sort()).toEqual([0, 1, 5]);
  });

  it('the file/stdin path is one pseudo-partition: one watermark, no offsets', () => {
    const engine = createAlertEngine({ ruleSets: [RULES], clock: createFakeClock(T0 + 60 * MIN), allowedLatenessMs: 0, idleTimeoutMs: null, tickIntervalMs: 5_000, maxAlertAgeMs: 15 * 60_000 });
    for (const [i, source] of ['file', 'stdin'].entries()) {
      const p = toProcessedEvent({ ts: T0 + i * MIN, labels: INACTIVE, violation: null });
      engine.onEvent({ ...p, record: { ...p.record, source, topic: `/var/log/calls-${i}.ndjson`, partition: 0, offset: String(i + 1) } });
    }
    expect(engine.partitions()).toEqual([{ topic: '', partition: 0, watermark: T0 + MIN, idle: false, nextOffset: null }]);
    const kafka = toProcessedEvent({ ts: T0, labels: INACTIVE, violation: null });
    expect(signalOf({ ...kafka, record: { ...kafka.record, source: 'kafka', topic: TOPIC, partition: 7, offset: '42' } })).toMatchObject({ topic: TOPIC, partition: 7, offset: 42 });
  });
});
