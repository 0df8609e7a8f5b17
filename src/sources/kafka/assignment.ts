// The partitions the consumer group assigned to this member, replaced at every join and emptied
// when the membership is lost. Whatever the source keeps per partition (next offset, lag series,
// offsets to commit, batches in hand, failure counts) listens for revocations and lets go of it.

export type Assignment = Map<string, Set<number>>;

/** How per-partition state is keyed across the source's parts. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export type RevocationListener = (topic: string, partition: number, key: string) => void;

export class AssignedPartitions {
  private current: Assignment = new Map();
  private readonly revocationListeners: RevocationListener[] = [];

  /** `listener` is called for every partition that a new assignment no longer holds. */
  onRevoked(listener: RevocationListener): void {
    this.revocationListeners.push(listener);
  }

  has(topic: string, partition: number): boolean {
    return this.current.get(topic)?.has(partition) ?? false;
  }

  get size(): number {
    return this.current.size;
  }

  topics(): string[] {
    return [...this.current.keys()];
  }

  partitionsOf(topic: string): ReadonlySet<number> | undefined {
    return this.current.get(topic);
  }

  replace(next: Assignment): void {
    for (const [topic, partitions] of this.current) {
      for (const partition of partitions) {
        if (next.get(topic)?.has(partition)) continue;
        const key = partitionKey(topic, partition);
        for (const listener of this.revocationListeners) listener(topic, partition, key);
      }
    }
    this.current = next;
  }

  /** Topic to sorted partition numbers, as status() reports and the join is logged. */
  toObject(): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const [topic, partitions] of this.current) out[topic] = [...partitions].sort((a, b) => a - b);
    return out;
  }
}
