// The engine's live state to and from a checkpoint (format and consistency contract: checkpoint.ts).
// What is kept: the engine's and every partition's event time, and per rule where its evaluation
// stands, its groups' buckets and its alerts with their whole state-machine history (pending since,
// firing since, keep_firing_for running since, resolved and kept). What is not: wall-clock facts
// (partition idleness restarts from the restore; alerts are re-sent to Alertmanager, which
// deduplicates), counters (the metrics), and resolves of rules removed by a reload before the snapshot.
import { CHECKPOINT_FORMAT_VERSION, ruleFingerprint, type EngineCheckpoint, type RuleCheckpoint } from './checkpoint.ts';
import type { PartitionClocks } from './partitions.ts';
import type { RuleRuntime } from './rule-runtime.ts';
import type { Alert } from './state-machine.ts';
import { GroupWindow, MAX_EXTRA_BUCKETS, NONE } from './windows.ts';

const orNull = (n: number): number | null => (n === NONE || n === Infinity ? null : n);

export function captureState(runtimes: readonly RuleRuntime[], partitions: PartitionClocks, watermarkMs: number, wallNow: number): EngineCheckpoint {
  return {
    version: CHECKPOINT_FORMAT_VERSION,
    createdAt: wallNow,
    watermark: orNull(watermarkMs),
    partitions: partitions.all().map((p) => ({
      topic: p.topic,
      partition: p.partition,
      maxEventTs: orNull(p.maxEventTs),
      nextOffset: p.nextOffset < 0 ? null : p.nextOffset,
    })),
    rules: runtimes.map(
      (rt): RuleCheckpoint => ({
        name: rt.rule.name,
        fingerprint: ruleFingerprint(rt.rule.fingerprint),
        nextK: orNull(rt.nextK),
        lastEvaluated: rt.lastEvaluated,
        firstBucket: orNull(rt.firstBucket),
        groups: [...rt.groups.values()].map((g) => g.toCheckpoint()),
        alerts: [...rt.alerts.values()].map((a) => ({
          key: a.key,
          state: a.state,
          value: a.value,
          activeAt: a.activeAt,
          firedAt: a.firedAt,
          resolvedAt: a.resolvedAt,
          keepFiringSince: a.keepFiringSince,
          sent: a.sent,
          staleCounted: a.staleCounted,
        })),
      }),
    ),
  };
}

/**
 * Why the checkpoint cannot be applied although its format is right (a bucket further back than any
 * window of its rule can hold: applying it would allocate without bound); null when it can.
 */
export function stateProblem(checkpoint: EngineCheckpoint, runtimes: readonly RuleRuntime[]): string | null {
  const byId = new Map(runtimes.map((rt) => [`${rt.rule.name}\u0000${ruleFingerprint(rt.rule.fingerprint)}`, rt]));
  for (const r of checkpoint.rules) {
    const rt = byId.get(`${r.name}\u0000${r.fingerprint}`);
    if (rt === undefined) continue;
    const limit = rt.ringLength + MAX_EXTRA_BUCKETS;
    for (const g of r.groups) {
      for (const pairs of [g.counts, g.calls ?? []]) {
        if (pairs.length % 2 !== 0) return `rule ${r.name}: a group's buckets are not [steps back, count] pairs`;
        for (let i = 0; i < pairs.length; i += 2) {
          if ((pairs[i] as number) >= limit) return `rule ${r.name}: a bucket ${pairs[i]} steps back, more than the ${limit} its windows can hold`;
        }
      }
    }
  }
  return null;
}

export interface AppliedState {
  /** Rules whose state came from the checkpoint. */
  readonly restored: readonly string[];
  /** Rules the checkpoint has no state for (new, or changed meaning): they start cold. */
  readonly cold: readonly string[];
  /** Rules in the checkpoint that are no longer loaded (or changed meaning): their state is dropped. */
  readonly dropped: readonly string[];
  readonly watermarkMs: number;
}

/** Replaces the live state with the checkpoint's: partitions, and each rule whose name and meaning match. */
export function applyState(checkpoint: EngineCheckpoint, runtimes: readonly RuleRuntime[], partitions: PartitionClocks, wallNow: number): AppliedState {
  partitions.clear();
  for (const c of checkpoint.partitions) {
    const p = partitions.ensure(c.topic, c.partition, wallNow);
    p.maxEventTs = c.maxEventTs ?? NONE;
    p.nextOffset = c.nextOffset ?? -1;
  }
  partitions.recompute();
  const saved = new Map(checkpoint.rules.map((r) => [`${r.name}\u0000${r.fingerprint}`, r]));
  const restored: string[] = [];
  const cold: string[] = [];
  const watermarkMs = checkpoint.watermark ?? NONE;
  for (const rt of runtimes) {
    const id = `${rt.rule.name}\u0000${ruleFingerprint(rt.rule.fingerprint)}`;
    const r = saved.get(id);
    rt.groups.clear();
    rt.alerts.clear();
    if (r === undefined) {
      rt.firstBucket = Infinity;
      rt.lastEvaluated = null;
      rt.nextK = watermarkMs === NONE ? NONE : Math.floor(watermarkMs / rt.step);
      cold.push(rt.rule.name);
      continue;
    }
    saved.delete(id);
    rt.nextK = r.nextK ?? NONE;
    rt.lastEvaluated = r.lastEvaluated;
    rt.firstBucket = r.firstBucket ?? Infinity;
    for (const g of r.groups) rt.groups.set(g.key, GroupWindow.fromCheckpoint(g, rt.labelsOfKey(g.key), rt.ringLength, rt.countsCalls));
    for (const a of r.alerts) {
      const alert: Alert = { ...rt.openAlert(a.key, a.value, a.activeAt), ...a };
      rt.alerts.set(a.key, alert);
    }
    restored.push(rt.rule.name);
  }
  return { restored, cold, dropped: [...saved.values()].map((r) => r.name), watermarkMs };
}
