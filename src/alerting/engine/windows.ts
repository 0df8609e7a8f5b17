// The window store of one rule and group: event counts in event-time buckets, one per evaluation
// step, in a ring. Bucket k holds [k·step, (k+1)·step); a window [T − w, T) is the sum of its buckets.
// Buckets older than the ring are forgotten except the newest non-empty one (`olderMax`), which is
// all new_error_code asks of its lookback.
//
// The ring's base length covers what evaluations at the watermark read plus the allowed lateness. When
// partitions are consumed unevenly, events arrive far ahead of (or behind) the buckets the next
// evaluations still need (from `keepFrom`); the ring then grows instead of dropping them, by at most
// MAX_EXTRA_BUCKETS. Past that, the oldest needed buckets are dropped and their events counted as lost.
import type { GroupCounts } from '../kinds/index.ts';
import type { GroupCheckpoint } from './checkpoint.ts';

export const NONE = -Infinity;

/** How far a ring may grow beyond its base length for unevenly consumed partitions (a day at 1m). */
export const MAX_EXTRA_BUCKETS = 1440;

function mod(i: number, n: number): number {
  const r = i % n;
  return r < 0 ? r + n : r;
}

/** The non-zero buckets of a ring as [head − bucket, count] pairs. */
function pairsOf(ring: Uint32Array, head: number): number[] {
  const out: number[] = [];
  const n = ring.length;
  for (let back = 0; back < n; back++) {
    const c = ring[mod(head - back, n)] as number;
    if (c !== 0) out.push(back, c);
  }
  return out;
}

/** Sum of buckets from..to (inclusive bucket indices) of one ring whose newest bucket is `head`. */
function sumRange(ring: Uint32Array, head: number, from: number, to: number): number {
  const n = ring.length;
  const lo = Math.max(from, head - n + 1);
  const hi = Math.min(to, head);
  let s = 0;
  for (let i = lo; i <= hi; i++) s += ring[mod(i, n)] as number;
  return s;
}

export class GroupWindow implements GroupCounts {
  readonly key: string;
  /** The group's label values (group_by names to values; empty values left out). */
  readonly labels: Readonly<Record<string, string>>;
  /** Newest bucket index held (buckets head − ring length + 1 .. head); NONE while empty. */
  head = NONE;
  olderMax = NONE;
  /** Selected events per bucket. */
  counts: Uint32Array;
  /** Calls per bucket, for kinds that divide by calls; null otherwise. */
  totals: Uint32Array | null;

  constructor(key: string, labels: Readonly<Record<string, string>>, ringLength: number, countsCalls: boolean) {
    this.key = key;
    this.labels = labels;
    this.counts = new Uint32Array(ringLength);
    this.totals = countsCalls ? new Uint32Array(ringLength) : null;
  }

  count(from: number, to: number): number {
    return sumRange(this.counts, this.head, from, to);
  }

  calls(from: number, to: number): number {
    return this.totals === null ? 0 : sumRange(this.totals, this.head, from, to);
  }

  /**
   * Adds one event to bucket `idx`: to the selected count when `selected`, to the calls when `call`.
   * `keepFrom` is the oldest bucket evaluations still need. Returns how many events this cost: 0, 1
   * when the event's bucket is older than the ring can hold, or the events of needed buckets that had
   * to be dropped to make room.
   */
  add(idx: number, selected: boolean, call: boolean, keepFrom: number, baseLength: number): number {
    let lost = 0;
    if (this.head === NONE) this.head = idx;
    else if (idx > this.head) {
      const oldest = idx - this.counts.length + 1;
      if (oldest > keepFrom) this.grow(idx - Math.max(keepFrom, this.head - this.counts.length + 1) + 1, baseLength);
      lost = this.advance(idx, keepFrom);
    } else if (idx <= this.head - this.counts.length) {
      if (idx >= keepFrom) this.grow(this.head - idx + 1, baseLength);
      if (idx <= this.head - this.counts.length) {
        if (selected) this.olderMax = Math.max(this.olderMax, idx);
        return 1;
      }
    }
    const n = this.counts.length;
    const slot = mod(idx, n);
    if (selected) this.counts[slot] = (this.counts[slot] as number) + 1;
    if (call && this.totals !== null) this.totals[slot] = (this.totals[slot] as number) + 1;
    return lost;
  }

  /** Widens the ring to hold `wanted` buckets (a quarter more, for fewer copies; at most MAX_EXTRA_BUCKETS beyond the base length). */
  private grow(wanted: number, baseLength: number): void {
    const n = this.counts.length;
    if (wanted <= n) return;
    this.resize(Math.min(Math.max(wanted, Math.ceil(n * 1.25)), baseLength + MAX_EXTRA_BUCKETS));
  }

  /**
   * Gives a stretched ring its base length back once the buckets from `keepFrom` to the head fit in
   * it (the partitions have caught up); the buckets let go are remembered as `olderMax`.
   */
  shrink(baseLength: number, keepFrom: number): void {
    const n = this.counts.length;
    if (n <= baseLength || this.head === NONE || this.head - keepFrom + 1 > baseLength) return;
    for (let j = this.head - baseLength; j > this.head - n; j--) {
      if (this.counts[mod(j, n)] !== 0) {
        if (j > this.olderMax) this.olderMax = j;
        break;
      }
    }
    this.resize(baseLength);
  }

  /** Copies the newest min(old, new length) buckets into rings of `length`. */
  private resize(length: number): void {
    const n = this.counts.length;
    const counts = new Uint32Array(length);
    const totals = this.totals === null ? null : new Uint32Array(length);
    for (let j = this.head - Math.min(n, length) + 1; j <= this.head; j++) {
      counts[mod(j, length)] = this.counts[mod(j, n)] as number;
      if (totals !== null) totals[mod(j, length)] = (this.totals as Uint32Array)[mod(j, n)] as number;
    }
    this.counts = counts;
    this.totals = totals;
  }

  /** Moves the newest bucket to `idx`, clearing the buckets that leave the ring; returns the needed events lost. */
  private advance(idx: number, keepFrom: number): number {
    const n = this.counts.length;
    let lost = 0;
    const from = this.head - n + 1;
    const to = Math.min(idx - n, this.head);
    for (let j = from; j <= to; j++) {
      const c = this.counts[mod(j, n)] as number;
      if (c !== 0) {
        if (j > this.olderMax) this.olderMax = j;
        if (j >= keepFrom) lost += c;
      }
    }
    if (idx - this.head >= n) {
      this.counts.fill(0);
      this.totals?.fill(0);
    } else {
      for (let j = this.head + 1; j <= idx; j++) {
        const slot = mod(j, n);
        this.counts[slot] = 0;
        if (this.totals !== null) this.totals[slot] = 0;
      }
    }
    this.head = idx;
    return lost;
  }

  toCheckpoint(): GroupCheckpoint {
    const empty = this.head === NONE;
    return {
      key: this.key,
      head: empty ? null : this.head,
      olderMax: this.olderMax === NONE ? null : this.olderMax,
      counts: empty ? [] : pairsOf(this.counts, this.head),
      ...(this.totals === null ? {} : { calls: empty ? [] : pairsOf(this.totals, this.head) }),
    };
  }

  /** A group as checkpointed; the ring is at least `baseLength` and holds every bucket of the checkpoint. */
  static fromCheckpoint(c: GroupCheckpoint, labels: Readonly<Record<string, string>>, baseLength: number, countsCalls: boolean): GroupWindow {
    let length = baseLength;
    for (const pairs of [c.counts, c.calls ?? []]) for (let i = 0; i < pairs.length; i += 2) length = Math.max(length, (pairs[i] as number) + 1);
    const g = new GroupWindow(c.key, labels, length, countsCalls);
    g.olderMax = c.olderMax ?? NONE;
    if (c.head === null) return g;
    g.head = c.head;
    const fill = (ring: Uint32Array, pairs: readonly number[]): void => {
      for (let i = 0; i < pairs.length; i += 2) ring[mod(c.head! - (pairs[i] as number), length)] = pairs[i + 1] as number;
    };
    fill(g.counts, c.counts);
    if (g.totals !== null) fill(g.totals, c.calls ?? []);
    return g;
  }
}
