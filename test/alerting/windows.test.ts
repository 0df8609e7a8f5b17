// The window store of one group: buckets in a ring that stretches, instead of dropping buckets
// evaluations still need, when partitions are consumed far apart in event time — and only so far.
import { describe, expect, it } from 'vitest';
import { GroupWindow, MAX_EXTRA_BUCKETS, NONE } from '../../src/alerting/engine/windows.ts';

const BASE = 10;

function window(): GroupWindow {
  return new GroupWindow('kustom', { provider: 'kustom' }, BASE, false);
}

describe('group window', () => {
  it('holds the base length of buckets and forgets older ones into olderMax', () => {
    const g = window();
    expect(g.add(0, true, false, NONE, BASE)).toBe(0);
    expect(g.add(25, true, false, 20, BASE)).toBe(0); // bucket 0 is not needed any more (keepFrom 20)
    expect(g.counts.length).toBe(BASE);
    expect(g.count(0, 25)).toBe(1);
    expect(g.olderMax).toBe(0);
    expect(g.add(3, true, false, 20, BASE)).toBe(1); // older than the ring and not needed: late
  });

  it('stretches when an event arrives far ahead of the buckets the next evaluations need', () => {
    const g = window();
    for (let b = 0; b < 8; b++) g.add(b, true, false, 0, BASE);
    // Another partition is 40 buckets ahead; evaluations still need buckets from 0.
    expect(g.add(40, true, false, 0, BASE)).toBe(0);
    expect(g.counts.length).toBeGreaterThanOrEqual(41);
    expect(g.count(0, 7)).toBe(8);
    expect(g.count(0, 40)).toBe(9);
    // ...and backwards: a lagging partition's event for a needed bucket older than the ring.
    const h = window();
    h.add(30, true, false, 0, BASE);
    expect(h.add(2, true, false, 0, BASE)).toBe(0);
    expect(h.count(0, 30)).toBe(2);
  });

  it('gives the base length back once the needed buckets fit, remembering what it let go', () => {
    const g = window();
    for (const b of [0, 5, 40]) g.add(b, true, false, 0, BASE);
    g.shrink(BASE, 35);
    expect(g.counts.length).toBe(BASE);
    expect(g.count(31, 40)).toBe(1);
    expect(g.olderMax).toBe(5);
    // Not while needed buckets would not fit.
    const h = window();
    for (const b of [0, 40]) h.add(b, true, false, 0, BASE);
    h.shrink(BASE, 10);
    expect(h.count(0, 40)).toBe(2);
  });

  it('stretches by at most MAX_EXTRA_BUCKETS; beyond, the needed buckets dropped are counted as lost', () => {
    const g = window();
    g.add(0, true, false, 0, BASE);
    g.add(0, true, false, 0, BASE);
    const far = BASE + MAX_EXTRA_BUCKETS + 5;
    expect(g.add(far, true, false, 0, BASE)).toBe(2);
    expect(g.counts.length).toBe(BASE + MAX_EXTRA_BUCKETS);
    expect(g.count(0, far)).toBe(1);
  });
});
