// Durations in rule files use the Prometheus notation: one or more `<integer><unit>` parts, largest unit
// first, units ms, s, m, h, d, w, y (`90s`, `1h30m`, `7d`). The compiler prints them back in the same
// notation, so a rule means the same in the engine and in Prometheus.

const UNITS: ReadonlyArray<readonly [string, number]> = [
  ['y', 365 * 24 * 3600_000],
  ['w', 7 * 24 * 3600_000],
  ['d', 24 * 3600_000],
  ['h', 3600_000],
  ['m', 60_000],
  ['s', 1000],
  ['ms', 1],
];
const UNIT_MS = new Map(UNITS);
const PART = /(\d+)(ms|s|m|h|d|w|y)/y;

export const DURATION_PATTERN = '^(0|([0-9]+(ms|s|m|h|d|w|y))+)$';

/** Milliseconds of a duration string, or null when it is not one. `0` alone is allowed (zero). */
export function parseDuration(text: string): number | null {
  if (text === '0') return 0;
  if (text.length === 0) return null;
  let total = 0;
  let lastUnitRank = -1;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const start = PART.lastIndex;
    const m = PART.exec(text);
    if (m === null || m.index !== start) return null;
    const unit = m[2] as string;
    const rank = UNITS.findIndex(([u]) => u === unit);
    // Units must go from large to small and not repeat, as in Prometheus.
    if (rank <= lastUnitRank) return null;
    lastUnitRank = rank;
    total += Number(m[1]) * (UNIT_MS.get(unit) as number);
  }
  return Number.isSafeInteger(total) ? total : null;
}

/** Prometheus notation of a duration in ms, largest units first (`5400000` → `1h30m`); `0s` for zero. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const [unit, size] of UNITS) {
    // Years are ambiguous for readers; stop at weeks.
    if (unit === 'y') continue;
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}
