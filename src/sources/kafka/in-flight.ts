// Batches handed to the processing workers but not processed yet (fetch-ahead, docs/architecture.md#worker-threads).
//
// kafkajs's fetch position moves on as soon as a batch is handed over, so what may be committed is
// tracked here instead: per partition, the batches in the order they were handed over, and the
// offset after the last one of an unbroken run of processed batches from the front. A batch that
// finishes early waits for the ones before it. A partition whose batch failed, or that is no longer
// ours, is dropped: its batches still in hand are abandoned (their outcome no longer moves the
// offset to commit) while they keep their share of the bound until they settle.

export interface FetchAheadBound {
  /** Batches in hand at most (all partitions together). */
  readonly maxBatches: number;
  /** Bytes of record values in hand at most; a single larger batch is let through when nothing else is in hand. */
  readonly maxBytes: number;
}

export interface HandedBatch {
  /** The offset the batch was fetched from: where reading resumes when it is to be read again. */
  readonly from: bigint;
  /** The offset after the batch's last record: what a commit covering it says. */
  readonly next: bigint;
  readonly bytes: number;
  processed: boolean;
  abandoned: boolean;
}

export class InFlightBatches {
  private readonly partitions = new Map<string, HandedBatch[]>();
  private count = 0;
  private bytes = 0;
  private readonly roomWaiters = new Set<() => void>();
  private readonly settledWaiters = new Set<() => void>();
  private closed = false;

  private readonly bound: FetchAheadBound;

  constructor(bound: FetchAheadBound) {
    this.bound = bound;
  }

  get batches(): number {
    return this.count;
  }

  get inHandBytes(): number {
    return this.bytes;
  }

  hasRoomFor(bytes: number): boolean {
    if (this.count === 0) return true;
    return this.count < this.bound.maxBatches && this.bytes + bytes <= this.bound.maxBytes;
  }

  /** No more batches are to be taken (stopping). */
  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Resolves when a batch in hand settled or the bound was closed. The caller checks the room again
   * and takes its batch in the same synchronous step, so concurrent callers do not overshoot.
   */
  roomFreed(): Promise<void> {
    return new Promise<void>((resolve) => this.roomWaiters.add(resolve));
  }

  /** Takes a batch of partition `key` into hand, behind the partition's earlier ones. */
  add(key: string, from: bigint, next: bigint, bytes: number): HandedBatch {
    const batch: HandedBatch = { from, next, bytes, processed: false, abandoned: false };
    const queue = this.partitions.get(key);
    if (queue === undefined) this.partitions.set(key, [batch]);
    else queue.push(batch);
    this.count += 1;
    this.bytes += bytes;
    return batch;
  }

  /**
   * The batch settled (processed or not): its share of the bound is free again. When processed and
   * not abandoned, returns the offset the partition may now be committed to, if that moved.
   */
  settle(key: string, batch: HandedBatch, processed: boolean): bigint | null {
    this.count -= 1;
    this.bytes -= batch.bytes;
    for (const wake of this.roomWaiters) wake();
    this.roomWaiters.clear();
    if (this.count === 0) {
      for (const wake of this.settledWaiters) wake();
      this.settledWaiters.clear();
    }
    if (!processed || batch.abandoned) return null;
    batch.processed = true;
    const queue = this.partitions.get(key);
    if (queue === undefined) return null;
    let next: bigint | null = null;
    while (queue.length > 0 && queue[0]!.processed) next = queue.shift()!.next;
    if (queue.length === 0) this.partitions.delete(key);
    return next;
  }

  /**
   * Abandons the partition's batches in hand: whatever they come to, none of them is committed.
   * Returns where the first of them was fetched from (the first offset not processed), if any.
   */
  drop(key: string): bigint | null {
    const queue = this.partitions.get(key);
    if (queue === undefined) return null;
    for (const batch of queue) batch.abandoned = true;
    this.partitions.delete(key);
    return queue[0]?.from ?? null;
  }

  dropAll(): void {
    for (const key of [...this.partitions.keys()]) this.drop(key);
  }

  /** No more batches are taken; waiters for room give up. */
  close(): void {
    this.closed = true;
    for (const wake of this.roomWaiters) wake();
    this.roomWaiters.clear();
  }

  /** Resolves once no batch is in hand. */
  async settled(): Promise<void> {
    while (this.count > 0) await new Promise<void>((resolve) => this.settledWaiters.add(resolve));
  }
}
