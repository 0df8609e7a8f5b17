// The one duration notation of paysignal, Prometheus's: one or more `<integer><unit>` parts, largest
// unit first, units ms, s, m, h, d, w, y (`90s`, `1h30m`, `7d`); `0` alone is zero. Configuration and
// rule files both use it, and the rule compiler prints it back, so a duration reads the same in
// paysignal.yaml, in a rule file and in Prometheus.

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
const UNIT_RANK = new Map(UNITS.map(([unit], rank) => [unit, rank]));
const PART = /(\d+)(ms|s|m|h|d|w|y)/y;
// What paysignal's configuration accepted before it settled on Prometheus's notation: decimal parts
// (`1.5s`) in any order (`30m1h`). Such a value is refused with its replacement spelled out.
const LOOSE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w|y))+$/;
const LOOSE_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/g;

/** JSON Schema `pattern` of a duration; the parser below has the last word (unit order). */
export const DURATION_PATTERN = '^(0|([0-9]+(ms|s|m|h|d|w|y))+)$';

/** Milliseconds of a duration string, or null when it is not one. */
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
    const rank = UNIT_RANK.get(unit) as number;
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

/**
 * Why `value` is not a duration, in words that say how to write it; null when it is one. A decimal
 * (`1.5s`) gets its exact replacement (`1s500ms`).
 */
export function durationProblem(value: unknown): string | null {
  if (typeof value === 'string' && parseDuration(value) !== null) return null;
  const shown = JSON.stringify(value);
  if (typeof value === 'string' && LOOSE.test(value)) {
    let ms = 0;
    for (const m of value.matchAll(LOOSE_PART)) ms += Number(m[1]) * (UNIT_MS.get(m[2] as string) as number);
    if (!value.includes('.')) return `${shown} is not a duration: units go from largest to smallest, each once; write ${formatDuration(ms)}`;
    if (Number.isInteger(ms)) return `${shown} is not a duration: parts are whole numbers (Prometheus notation); write ${formatDuration(ms)}`;
    return `${shown} is not a duration: parts are whole numbers and ${ms}ms is not a whole number of milliseconds`;
  }
  return `${shown} is not a duration; write whole numbers with units ms, s, m, h, d, w, y, largest first (e.g. 500ms, 30s, 1h30m, 7d)`;
}
