// Event time per source partition, as Kafka Streams and Flink keep it. Each partition's watermark is
// the newest event time seen in it less the allowed lateness; an event older than its own partition's
// watermark is late (and not counted), whatever the other partitions did. The engine's watermark is
// the minimum over the partitions that are not idle, so a partition consumed later than the others
// (kafkajs hands over one partition's batch at a time) holds evaluation back instead of turning its
// events late. A partition is idle after `idleTimeoutMs` of wall time without an event (Flink's
// withIdleness: the wall clock of the last arrival, or of the assignment for a partition that has
// delivered nothing yet); an idle partition stops holding the watermark back until its next event.
// When every partition is idle, the watermark follows the wall clock from the newest partition's
// watermark, so `absence` rules fire when everything goes quiet.
//
// The file/stdin path is one pseudo-partition (topic ''), so it keeps one watermark.
//
// Exactly-once per offset: a partition's `nextOffset` is the offset after the last event the state
// holds, and an event below it is already in the state (a batch the source retried after a failed
// sink flush or checkpoint write, records committed behind a restored checkpoint, a partition
// regained after a rebalance), so it is ignored. Events without offsets (-1: file/stdin) are never
// ignored. A revoked partition's `nextOffset` is remembered: the windows still hold its events, so if
// it comes back, what it delivers again must not count twice (rules/README.md, "Durable state").

import { NONE } from './windows.ts';

export interface PartitionRef {
  readonly topic: string;
  readonly partition: number;
}

export interface PartitionState extends PartitionRef {
  /** Newest event time seen, ms; NONE before the first event. */
  maxEventTs: number;
  /** Wall ms of the last event (or of the assignment before any). */
  lastArrivalWall: number;
  /** Offset after the last event the engine's state holds (smaller ones are ignored); -1 without offsets. */
  nextOffset: number;
  idle: boolean;
  /** This partition's child of the late-events counter, made at its first late event. */
  lateCounter: { inc(): void } | null;
}

export type Arrival = 'counted' | 'late' | 'already_in_state';

export class PartitionClocks {
  private readonly latenessMs: number;
  private readonly idleTimeoutMs: number | null;
  /** topic → partition number → state (two levels, so a lookup builds no key string). */
  private readonly byTopic = new Map<string, (PartitionState | undefined)[]>();
  /** The same states as a flat list, for the scans. */
  private list: PartitionState[] = [];
  /** The minimum over non-idle partitions as last computed; NONE while one has no event yet. */
  private activeMin = NONE;
  /** topic → partition number → nextOffset of partitions revoked after their events reached the state. */
  private readonly revokedNextOffsets = new Map<string, (number | undefined)[]>();

  constructor(latenessMs: number, idleTimeoutMs: number | null) {
    this.latenessMs = latenessMs;
    this.idleTimeoutMs = idleTimeoutMs;
  }

  /** The partitions known, in no particular order. */
  all(): readonly PartitionState[] {
    return this.list;
  }

  get(topic: string, partition: number): PartitionState | undefined {
    return this.byTopic.get(topic)?.[partition];
  }

  /** The partition's state, created (active, without events) when unknown. */
  ensure(topic: string, partition: number, wallNow: number): PartitionState {
    let list = this.byTopic.get(topic);
    if (list === undefined) {
      list = [];
      this.byTopic.set(topic, list);
    }
    let p = list[partition];
    if (p === undefined) {
      const nextOffset = this.revokedNextOffsets.get(topic)?.[partition] ?? -1;
      p = { topic, partition, maxEventTs: NONE, lastArrivalWall: wallNow, nextOffset, idle: false, lateCounter: null };
      list[partition] = p;
      this.list.push(p);
      // A partition without events holds the watermark back until it delivers or goes idle.
      this.activeMin = NONE;
    }
    return p;
  }

  /**
   * Makes the known set exactly `partitions`: new ones are added, the others forgotten except for the
   * offsets their events in the state reach (a partition assigned again resumes from them).
   */
  assign(partitions: readonly PartitionRef[], wallNow: number): void {
    const keep = new Set(partitions.map((p) => `${p.topic}\u0000${p.partition}`));
    for (const [topic, list] of this.byTopic) {
      list.forEach((p, i) => {
        if (p === undefined || keep.has(`${topic}\u0000${i}`)) return;
        list[i] = undefined;
        if (p.nextOffset < 0) return;
        let revoked = this.revokedNextOffsets.get(topic);
        if (revoked === undefined) {
          revoked = [];
          this.revokedNextOffsets.set(topic, revoked);
        }
        revoked[i] = p.nextOffset;
      });
    }
    this.list = this.list.filter((p) => keep.has(`${p.topic}\u0000${p.partition}`));
    for (const p of partitions) this.ensure(p.topic, p.partition, wallNow);
    this.recompute();
  }

  /**
   * Takes one event of partition `p` at event time `ts`: `already_in_state` when its offset is below
   * the partition's `nextOffset`, `late` when older than the partition's watermark.
   */
  arrive(p: PartitionState, ts: number, offset: number, wallNow: number): Arrival {
    // One comparison for sources without offsets (-1); NaN compares false.
    if (offset >= 0 && offset < p.nextOffset) return 'already_in_state';
    p.lastArrivalWall = wallNow;
    if (p.idle) {
      p.idle = false;
      this.recompute();
    }
    if (offset >= 0) p.nextOffset = offset + 1;
    if (p.maxEventTs !== NONE && ts < p.maxEventTs - this.latenessMs) return 'late';
    if (ts > p.maxEventTs) {
      const before = p.maxEventTs === NONE ? NONE : p.maxEventTs - this.latenessMs;
      p.maxEventTs = ts;
      // Only the partition holding the minimum can move it.
      if (before <= this.activeMin) this.recompute();
    }
    return 'counted';
  }

  /** Forgets every partition, revoked ones included (a restore replaces them all). */
  clear(): void {
    this.byTopic.clear();
    this.revokedNextOffsets.clear();
    this.list = [];
    this.activeMin = NONE;
  }

  /** The engine's watermark as the partitions see it: min over non-idle ones; NONE when one is still empty. */
  watermark(): number {
    return this.activeMin;
  }

  /**
   * Marks partitions idle after the idle timeout (wall clock) and returns the watermark; when every
   * partition is idle, the newest partition watermark moved on by the wall time beyond the timeout.
   */
  refreshIdle(wallNow: number): number {
    if (this.idleTimeoutMs === null || this.list.length === 0) return this.activeMin;
    let allIdle = true;
    let newestArrival = NONE;
    let newestWatermark = NONE;
    for (const p of this.list) {
      if (!p.idle && wallNow - p.lastArrivalWall > this.idleTimeoutMs) p.idle = true;
      if (!p.idle) allIdle = false;
      if (p.lastArrivalWall > newestArrival) newestArrival = p.lastArrivalWall;
      if (p.maxEventTs !== NONE && p.maxEventTs - this.latenessMs > newestWatermark) newestWatermark = p.maxEventTs - this.latenessMs;
    }
    this.recompute();
    if (allIdle && newestWatermark !== NONE) return newestWatermark + (wallNow - newestArrival - this.idleTimeoutMs);
    return this.activeMin;
  }

  /** Recomputes the minimum over non-idle partitions (after their states were changed from outside). */
  recompute(): void {
    let min = Infinity;
    let any = false;
    for (let i = 0; i < this.list.length; i++) {
      const p = this.list[i] as PartitionState;
      if (p.idle) continue;
      any = true;
      if (p.maxEventTs === NONE) {
        min = NONE;
        break;
      }
      const wm = p.maxEventTs - this.latenessMs;
      if (wm < min) min = wm;
    }
    this.activeMin = any ? min : NONE;
  }
}
