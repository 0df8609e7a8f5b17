// The engine's state is exactly-once per offset: a record whose offset is below the next offset the
// engine has reached in its partition is already in the state and is ignored (counted in
// paysignal_alert_events_already_in_state_total) — a batch the source delivers again after a failed
// sink flush or checkpoint write, or a partition regained after a rebalance, never counts twice.
// Sources without offsets (file/stdin) are never ignored.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createFakeClock } from '../../src/alerting/clock.ts';
import { createAlertEngine, type AlertEngine } from '../../src/alerting/engine/index.ts';
import { toEngineSignal, toProcessedEvent } from '../../src/alerting/testing.ts';
import type { RuleSet } from '../../src/alerting/types.ts';
import { feedRecords, ruleSetFromYaml, type LocatedEvent } from '../support/engine.ts';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 2, 9, 0, 0);
const TOPIC = 'payments';

const ruleSet = (yaml: string): RuleSet => ruleSetFromYaml(yaml, 'exactly-once.yaml');

// 25 refusals in a window stay below the threshold; the same 25 counted twice would cross it.
const RULES = ruleSet(`
apiVersion: paysignal/v1
kind: RuleSet
metadata: { name: exactly-once }
rules:
  - name: InactiveBurst
    kind: threshold
    selector: { code: MERCHANT_INACTIVE }
    group_by: [provider]
    window: 5m
    threshold: { op: '>', value: 40 }
`);

const INACTIVE = { provider: 'kustom', operation: 'create_order', code: 'MERCHANT_INACTIVE', category: 'merchant_config', retry: 'contact_provider' };

function engineFor(registry?: Registry): AlertEngine {
  return createAlertEngine({
    ruleSets: [RULES],
    clock: createFakeClock(T0 + 60 * MIN),
    allowedLatenessMs: 0,
    idleTimeoutMs: null,
    tickIntervalMs: 5_000,
    maxAlertAgeMs: 15 * 60_000,
    ...(registry === undefined ? {} : { registry }),
  });
}

/** `count` refusals of one partition from `firstOffset` on, one second apart from minute `minute`. */
function batch(partition: number, firstOffset: number, count: number, minute: number): LocatedEvent[] {
  return Array.from({ length: count }, (_, i) => ({ event: { ts: T0 + minute * MIN + i * 1000, labels: INACTIVE, violation: null }, partition, offset: firstOffset + i }));
}

/** The selected events each group's window holds, summed over the buckets (from the state the engine checkpoints). */
function countsInState(engine: AlertEngine): number {
  let total = 0;
  for (const r of engine.snapshot().rules) for (const g of r.groups) for (let i = 1; i < g.counts.length; i += 2) total += g.counts[i] as number;
  return total;
}

async function alreadyInStateCounter(registry: Registry): Promise<number> {
  const metric = await registry.getSingleMetric('paysignal_alert_events_already_in_state_total')?.get();
  return metric?.values[0]?.value ?? 0;
}

describe('exactly-once engine state per offset', () => {
  it('a batch handed over twice (retried after a failed flush) is counted once, and its repeats are counted as already in the state', async () => {
    const registry = new Registry();
    const retried = engineFor(registry);
    const once = engineFor();
    const refusals = batch(0, 0, 25, 1);
    feedRecords(retried, TOPIC, refusals);
    feedRecords(retried, TOPIC, refusals);
    feedRecords(once, TOPIC, refusals);
    // Later records of the partition count again.
    const after = batch(0, 25, 10, 2);
    feedRecords(retried, TOPIC, after);
    feedRecords(once, TOPIC, after);
    retried.advanceWatermark(T0 + 6 * MIN);
    once.advanceWatermark(T0 + 6 * MIN);

    expect(countsInState(retried)).toBe(35);
    expect(retried.snapshot()).toEqual(once.snapshot());
    // 35 in the window: below the threshold, as without the retry (60 if the batch counted twice).
    expect(retried.alerts(true)).toEqual([]);
    expect(retried.stats().alreadyInState).toBe(25);
    expect(await alreadyInStateCounter(registry)).toBe(25);
    expect(retried.partitions()).toEqual([{ topic: TOPIC, partition: 0, watermark: T0 + 2 * MIN + 9000, idle: false, nextOffset: 35 }]);
  });

  it('a batch partly applied before its retry counts only the records not yet applied', () => {
    const engine = engineFor();
    const refusals = batch(0, 100, 30, 1);
    feedRecords(engine, TOPIC, refusals.slice(0, 12));
    feedRecords(engine, TOPIC, refusals);
    expect(countsInState(engine)).toBe(30);
    expect(engine.stats().alreadyInState).toBe(12);
  });

  it('offsets are per partition: the same offsets in another partition or topic count', () => {
    const engine = engineFor();
    feedRecords(engine, TOPIC, batch(0, 0, 10, 1));
    feedRecords(engine, TOPIC, batch(1, 0, 10, 1));
    for (let i = 0; i < 10; i++) engine.onSignal(toEngineSignal({ ts: T0 + MIN + i, labels: INACTIVE, violation: null }, { topic: 'payments-eu', partition: 0, offset: i }));
    expect(countsInState(engine)).toBe(30);
    expect(engine.stats().alreadyInState).toBe(0);
  });

  it('a partition revoked and assigned again ignores what it delivers again below its next offset: the windows still hold those records', () => {
    const engine = engineFor();
    engine.assignPartitions([{ topic: TOPIC, partition: 0 }, { topic: TOPIC, partition: 1 }]);
    feedRecords(engine, TOPIC, batch(0, 0, 20, 1));
    feedRecords(engine, TOPIC, batch(1, 0, 5, 1));
    // Rebalance: partition 0 goes to another member, then comes back, its commit behind what the engine applied.
    engine.assignPartitions([{ topic: TOPIC, partition: 1 }]);
    expect(engine.partitions().map((p) => p.partition)).toEqual([1]);
    engine.assignPartitions([{ topic: TOPIC, partition: 0 }, { topic: TOPIC, partition: 1 }]);
    expect(engine.partitions().find((p) => p.partition === 0)).toMatchObject({ nextOffset: 20, watermark: null });
    feedRecords(engine, TOPIC, batch(0, 10, 15, 1));
    expect(countsInState(engine)).toBe(30);
    expect(engine.stats().alreadyInState).toBe(10);
  });

  it('a restore replaces the offsets: those of the checkpoint apply, those of the engine it replaces (revoked ones too) are forgotten', () => {
    const source = engineFor();
    source.assignPartitions([{ topic: TOPIC, partition: 0 }]);
    feedRecords(source, TOPIC, batch(0, 0, 8, 1));
    const checkpoint = source.snapshot();

    const engine = engineFor();
    engine.assignPartitions([{ topic: TOPIC, partition: 0 }, { topic: TOPIC, partition: 1 }]);
    feedRecords(engine, TOPIC, batch(0, 0, 20, 1));
    feedRecords(engine, TOPIC, batch(1, 0, 20, 1));
    engine.assignPartitions([{ topic: TOPIC, partition: 0 }]);
    expect(engine.restore(checkpoint)).toMatchObject({ ok: true });
    engine.assignPartitions([{ topic: TOPIC, partition: 0 }, { topic: TOPIC, partition: 1 }]);
    feedRecords(engine, TOPIC, batch(0, 0, 12, 1));
    feedRecords(engine, TOPIC, batch(1, 0, 3, 1));
    // 8 restored + 4 new in partition 0; partition 1 is not in the restored state, so its 3 count.
    expect(countsInState(engine)).toBe(15);
    expect(engine.stats().alreadyInState).toBe(8);
  });

  it('sources without offsets (file, stdin) are never ignored: the same line read twice counts twice', () => {
    const engine = engineFor();
    for (const source of ['file', 'stdin']) {
      for (let i = 0; i < 5; i++) {
        // One event time, so none is late: only offsets could make the engine ignore a line here.
        const p = toProcessedEvent({ ts: T0 + MIN, labels: INACTIVE, violation: null });
        // The file source numbers lines per file; those are not Kafka offsets and do not count as such.
        engine.onEvent({ ...p, record: { ...p.record, source, topic: '/var/log/calls.ndjson', partition: 0, offset: String(i) } });
      }
    }
    expect(countsInState(engine)).toBe(10);
    expect(engine.stats()).toMatchObject({ alreadyInState: 0, lateEvents: 0 });
    expect(engine.partitions()).toEqual([{ topic: '', partition: 0, watermark: T0 + MIN, idle: false, nextOffset: null }]);
  });
});
