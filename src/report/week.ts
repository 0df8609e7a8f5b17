// ISO 8601 weeks in UTC: week 1 is the week with the year's first Thursday; a week runs from Monday
// 00:00 UTC to the next Monday 00:00 UTC (end exclusive).
import { usageError } from '../errors.ts';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
export const WEEK_MS = 7 * DAY_MS;
export const HOURS_PER_WEEK = 168;

export interface IsoWeek {
  /** `YYYY-Www`, e.g. `2026-W47`. */
  readonly label: string;
  readonly year: number;
  readonly week: number;
  /** Monday 00:00 UTC, epoch ms (inclusive). */
  readonly startMs: number;
  /** The next Monday 00:00 UTC, epoch ms (exclusive). */
  readonly endMs: number;
}

const WEEK_PATTERN = /^(\d{4})-W(\d{2})$/;

/** Monday 00:00 UTC of ISO week 1 of `year`. */
function week1Monday(year: number): number {
  const jan4 = Date.UTC(year, 0, 4);
  const weekday = (new Date(jan4).getUTCDay() + 6) % 7; // Monday 0 .. Sunday 6
  return jan4 - weekday * DAY_MS;
}

/** 52 or 53. */
export function weeksInYear(year: number): number {
  return isoWeekOf(Date.UTC(year, 11, 28)).week;
}

function make(year: number, week: number): IsoWeek {
  const startMs = week1Monday(year) + (week - 1) * WEEK_MS;
  return { label: `${year}-W${String(week).padStart(2, '0')}`, year, week, startMs, endMs: startMs + WEEK_MS };
}

/** The ISO week that contains the instant `ms`. */
export function isoWeekOf(ms: number): IsoWeek {
  const day = Math.floor(ms / DAY_MS) * DAY_MS;
  const weekday = (new Date(day).getUTCDay() + 6) % 7;
  const monday = day - weekday * DAY_MS;
  // The ISO year is the calendar year of the week's Thursday.
  const year = new Date(monday + 3 * DAY_MS).getUTCFullYear();
  const week = Math.round((monday - week1Monday(year)) / WEEK_MS) + 1;
  return make(year, week);
}

/** The week `n` weeks after `week` (negative for earlier weeks). */
export function shiftWeek(week: IsoWeek, n: number): IsoWeek {
  return isoWeekOf(week.startMs + n * WEEK_MS);
}

/** The last week that has ended at `nowMs`. */
export function lastCompleteWeek(nowMs: number): IsoWeek {
  return shiftWeek(isoWeekOf(nowMs), -1);
}

/** Parses `YYYY-Www` (or `last`, the last complete week); throws a USAGE error otherwise. */
export function parseIsoWeek(text: string, nowMs: number = Date.now()): IsoWeek {
  if (text === 'last') return lastCompleteWeek(nowMs);
  const match = WEEK_PATTERN.exec(text);
  if (!match) throw usageError(`--week must look like 2026-W47 (ISO year, "-W", two-digit week) or "last", got "${text}"`, '--week');
  const year = Number(match[1]);
  const week = Number(match[2]);
  if (year < 2000 || year > 2099) throw usageError(`--week year must be between 2000 and 2099, got ${year}`, '--week');
  const max = weeksInYear(year);
  if (week < 1 || week > max) throw usageError(`--week ${text}: ${year} has weeks 01 to ${max}`, '--week');
  return make(year, week);
}

/** `2026-11-16` for a UTC instant. */
export function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
