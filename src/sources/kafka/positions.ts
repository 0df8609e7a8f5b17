// Where the source starts reading a newly assigned partition, decided from the group's committed
// offset and the partition's retained range, so that no offset reset is ever silent.
//
// kafkajs would ask the broker and, on OFFSET_OUT_OF_RANGE, jump to its default offset (the latest
// one unless `fromBeginning`), skipping everything in between without a trace. Deciding here first
// lets the source count and log what retention removed and resume at the earliest retained offset.

/** The offsets a partition still holds: [low, high). */
export interface RetainedRange {
  readonly low: bigint;
  readonly high: bigint;
}

export type StartPosition =
  /** The committed offset is retained: continue there (kafkajs does that by itself). */
  | { readonly kind: 'committed'; readonly next: bigint }
  /** Nothing committed yet: the earliest or the latest offset (`from_beginning`). */
  | { readonly kind: 'new'; readonly next: bigint }
  /** The committed offset is no longer retained: offsets [committed, low) are lost, resume at low. */
  | { readonly kind: 'skipped'; readonly next: bigint; readonly committed: bigint; readonly skipped: bigint }
  /** The committed offset lies beyond the log end (topic recreated or truncated): start at the earliest. */
  | { readonly kind: 'ahead'; readonly next: bigint; readonly committed: bigint };

/** `committed` is the group's next offset to process, or a negative value when it has none. */
export function startPosition(committed: bigint, retained: RetainedRange, fromBeginning: boolean): StartPosition {
  if (committed < 0n) return { kind: 'new', next: fromBeginning ? retained.low : retained.high };
  if (committed < retained.low) return { kind: 'skipped', next: retained.low, committed, skipped: retained.low - committed };
  if (committed > retained.high) return { kind: 'ahead', next: retained.low, committed };
  return { kind: 'committed', next: committed };
}

/**
 * Offsets jumped over between the position the source expects and the offset kafkajs fetched a
 * batch from. Gaps inside a fetch (compaction, transaction markers) do not count: the broker answers
 * a fetch from the requested offset, so only a moved fetch position means messages were never read.
 */
export function jumpedOver(expected: bigint | undefined, fetchedFrom: bigint): bigint {
  return expected !== undefined && fetchedFrom > expected ? fetchedFrom - expected : 0n;
}
