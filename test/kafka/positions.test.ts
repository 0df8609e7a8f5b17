// Where a newly assigned partition starts, and what counts as jumped over (src/sources/kafka/positions.ts).
import { describe, expect, it } from 'vitest';
import { jumpedOver, startPosition } from '../../src/sources/kafka/positions.ts';

const retained = { low: 100n, high: 250n };

describe('start position of an assigned partition', () => {
  it('continues at a committed offset that is still retained, including the end of the log', () => {
    expect(startPosition(100n, retained, false)).toEqual({ kind: 'committed', next: 100n });
    expect(startPosition(180n, retained, true)).toEqual({ kind: 'committed', next: 180n });
    expect(startPosition(250n, retained, true)).toEqual({ kind: 'committed', next: 250n });
  });

  it('starts a partition without a committed offset at the earliest or the latest offset', () => {
    expect(startPosition(-1n, retained, true)).toEqual({ kind: 'new', next: 100n });
    expect(startPosition(-1n, retained, false)).toEqual({ kind: 'new', next: 250n });
  });

  it('counts offsets below the earliest retained one as skipped and resumes there, whatever from_beginning says', () => {
    expect(startPosition(40n, retained, false)).toEqual({ kind: 'skipped', next: 100n, committed: 40n, skipped: 60n });
    expect(startPosition(0n, retained, true)).toEqual({ kind: 'skipped', next: 100n, committed: 0n, skipped: 100n });
  });

  it('reads a partition whose committed offset lies beyond its end from the earliest offset', () => {
    expect(startPosition(900n, retained, false)).toEqual({ kind: 'ahead', next: 100n, committed: 900n });
  });
});

describe('offsets jumped over between batches', () => {
  it('is the distance from the expected offset to where kafkajs fetched from, when it moved forward', () => {
    expect(jumpedOver(10n, 110n)).toBe(100n);
    expect(jumpedOver(10n, 10n)).toBe(0n);
  });

  it('is nothing for a batch fetched again from an earlier offset, or before the start is known', () => {
    expect(jumpedOver(50n, 20n)).toBe(0n);
    expect(jumpedOver(undefined, 500n)).toBe(0n);
  });
});
