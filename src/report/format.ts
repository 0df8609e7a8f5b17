// Number and text formatting shared by the Markdown and HTML renderers.
import type { Change, RatioChange, ReportModel } from './model.ts';
import { isoDate, WEEKDAYS } from './week.ts';

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** Counts are whole numbers from log files and may be fractional estimates from Prometheus. */
export function count(n: number): string {
  return integer.format(Math.round(n));
}

export function signedCount(n: number): string {
  const r = Math.round(n);
  return r > 0 ? `+${integer.format(r)}` : r < 0 ? `−${integer.format(-r)}` : '0';
}

/** `+12.5%`, `new` when last week had none, `—` when both weeks had none. */
export function percentChange(c: Change): string {
  if (c.isNew) return 'new';
  if (c.percent === null) return '—';
  const p = c.percent;
  if (Math.abs(p) < 0.05) return '0%';
  const text = Math.abs(p) >= 100 ? Math.abs(p).toFixed(0) : Math.abs(p).toFixed(1);
  return `${p > 0 ? '+' : '−'}${text}%`;
}

/** `+12 (+4.0%)`, `+12 (new)`. */
export function changeText(c: Change): string {
  if (c.current === 0 && c.previous === 0) return '—';
  return `${signedCount(c.delta)} (${percentChange(c)})`;
}

export function ratio(r: number | null): string {
  return r === null ? '—' : `${(r * 100).toFixed(2)}%`;
}

export function ratioChangeText(r: RatioChange): string {
  if (r.deltaPoints === null) return r.current !== null && r.previous === null ? 'new' : '—';
  const d = r.deltaPoints;
  if (Math.abs(d) < 0.005) return '±0.00 pp';
  return `${d > 0 ? '+' : '−'}${Math.abs(d).toFixed(2)} pp`;
}

export function share(s: number | null): string {
  return s === null ? '—' : `${(s * 100).toFixed(1)}%`;
}

/** `Mon 2026-11-16 to Sun 2026-11-22` */
export function weekSpan(startMs: number, endMs: number): string {
  return `${WEEKDAYS[0]} ${isoDate(startMs)} to ${WEEKDAYS[6]} ${isoDate(endMs - 1)}`;
}

export function hourText(ms: number): string {
  const d = new Date(ms);
  return `${WEEKDAYS[(d.getUTCDay() + 6) % 7]} ${d.toISOString().slice(11, 16)}`;
}

export function title(model: ReportModel): string {
  return `Payment provider errors: week ${model.week.label}`;
}

export function sourceText(model: ReportModel): string {
  return model.source.kind === 'prometheus' ? `Prometheus at ${model.source.description}` : `log files (${model.source.description})`;
}

export const SECTION = {
  headline: 'Headline',
  providers: 'Providers',
  daily: 'Errors per provider and day',
  movers: 'Top movers',
  newCodes: 'New codes this week',
  categories: 'By category',
  retry: 'By retry decision',
  violations: 'Retry violations',
  retries: 'Retries and retry storms',
  alerts: 'Alerts fired',
  fixFirst: 'What to fix first',
  notes: 'Notes',
} as const;

export const RETRIES_INTRO =
  'Retries: attempts that repeat an earlier one under the same idempotency key or correlation id. Storm attempts: those past the first correlation.storm_threshold attempts of one request (a retry storm).';
