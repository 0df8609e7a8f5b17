// ISO 8601 weeks in UTC, as `paysignal report --week` reads them.
import { describe, expect, it } from 'vitest';
import { isoWeekOf, lastCompleteWeek, parseIsoWeek, shiftWeek, weeksInYear } from '../../src/report/week.ts';
import { PaysignalError } from '../../src/errors.ts';

const utc = (s: string): number => Date.parse(s);

describe('ISO weeks', () => {
  it('run from Monday 00:00 UTC to the next Monday 00:00 UTC', () => {
    const w = parseIsoWeek('2026-W47');
    expect(new Date(w.startMs).toISOString()).toBe('2026-11-16T00:00:00.000Z');
    expect(new Date(w.endMs).toISOString()).toBe('2026-11-23T00:00:00.000Z');
    expect(w.label).toBe('2026-W47');
  });

  it('put week 1 where the year\'s first Thursday is, even when it starts in December', () => {
    expect(new Date(parseIsoWeek('2026-W01').startMs).toISOString()).toBe('2025-12-29T00:00:00.000Z');
    expect(isoWeekOf(utc('2027-01-01T12:00:00Z')).label).toBe('2026-W53');
    expect(weeksInYear(2026)).toBe(53);
    expect(weeksInYear(2025)).toBe(52);
    expect(parseIsoWeek('2026-W53').label).toBe('2026-W53');
  });

  it('know the week of any instant, the week before, and the last complete week', () => {
    expect(isoWeekOf(utc('2026-11-22T23:59:59.999Z')).label).toBe('2026-W47');
    expect(isoWeekOf(utc('2026-11-23T00:00:00.000Z')).label).toBe('2026-W48');
    expect(shiftWeek(parseIsoWeek('2026-W01'), -1).label).toBe('2025-W52');
    expect(lastCompleteWeek(utc('2026-11-18T10:00:00Z')).label).toBe('2026-W46');
    expect(parseIsoWeek('last', utc('2026-11-23T06:00:00Z')).label).toBe('2026-W47');
  });

  it.each(['2026-47', '2026-W5', '2026-W00', '2025-W53', '2026-W54', 'W47', '26-W47', '2026-w47', ''])('reject %j as a usage error', (text) => {
    let error: unknown;
    try {
      parseIsoWeek(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PaysignalError);
    expect((error as PaysignalError).code).toBe('USAGE');
  });
});
