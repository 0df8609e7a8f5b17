// The window store of one rule and group: event counts in event-time buckets, one per evaluation
// step, in a ring. Bucket k holds [k·step, (k+1)·step); a window [T − w, T) is the sum of its buckets.
// Buckets older than the ring are forgotten except the newest non-empty one (`olderMax`), which is
// all new_error_code asks of its lookback.
import type { GroupCounts } from '../kinds/index.ts';

export const NONE = -Infinity;

function mod(i: number, n: number): number {
  const r = i % n;
  return r < 0 ? r + n : r;
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
   * Returns false when the bucket is older than the ring holds (the event is not counted).
   */
  add(idx: number, selected: boolean, call: boolean): boolean {
    const n = this.counts.length;
    if (this.head === NONE) this.head = idx;
    else if (idx > this.head) this.advance(idx);
    else if (idx <= this.head - n) {
      if (selected) this.olderMax = Math.max(this.olderMax, idx);
      return false;
    }
    const slot = mod(idx, n);
    if (selected) this.counts[slot] = (this.counts[slot] as number) + 1;
    if (call && this.totals !== null) this.totals[slot] = (this.totals[slot] as number) + 1;
    return true;
  }

  /** Moves the newest bucket to `idx`, clearing the buckets that leave the ring. */
  private advance(idx: number): void {
    const n = this.counts.length;
    if (idx - this.head >= n) {
      // The whole ring is overwritten: remember its newest non-empty bucket, then clear it.
      for (let j = this.head; j > this.head - n; j--) {
        if (this.counts[mod(j, n)] !== 0) {
          this.olderMax = Math.max(this.olderMax, j);
          break;
        }
      }
      this.counts.fill(0);
      this.totals?.fill(0);
    } else {
      for (let j = this.head + 1; j <= idx; j++) {
        const slot = mod(j, n);
        if (this.counts[slot] !== 0) {
          this.olderMax = Math.max(this.olderMax, j - n);
          this.counts[slot] = 0;
        }
        if (this.totals !== null) this.totals[slot] = 0;
      }
    }
    this.head = idx;
  }
}
