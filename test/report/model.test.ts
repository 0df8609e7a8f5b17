// The report model: what buildReport derives from the counts a source fills, and how the
// renderers show the awkward cases (empty weeks, a provider with no traffic last week).
import { beforeAll, describe, expect, it } from 'vitest';
import { createClassifier, type Classifier } from '../../src/classify/classifier.ts';
import { buildReport, change, type ReportInput, type WeekCounts } from '../../src/report/model.ts';
import { renderMarkdown } from '../../src/report/markdown.ts';
import { renderHtml } from '../../src/report/html.ts';
import { parseIsoWeek, shiftWeek } from '../../src/report/week.ts';

const week = parseIsoWeek('2026-W47');
const NONE: WeekCounts = { calls: [], errors: [], violations: [], retries: [], stormAttempts: [] };

function input(current: WeekCounts, previous: WeekCounts, hourly: ReportInput['hourlyErrors'] = []): ReportInput {
  return {
    week,
    previousWeek: shiftWeek(week, -1),
    source: { kind: 'logs', description: 'test.ndjson' },
    current,
    previous,
    hourlyErrors: hourly,
    alerts: { available: true, fired: [] },
    notes: [],
  };
}

/** Every number anywhere in the model is finite: no NaN or Infinity from a division by zero. */
function allNumbersFinite(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(allNumbersFinite);
  if (value !== null && typeof value === 'object') return Object.values(value).every(allNumbersFinite);
  return true;
}

let classifier: Classifier;
beforeAll(async () => {
  classifier = await createClassifier();
});

describe('week-over-week change', () => {
  it('is a percentage when last week had some, and "new" (no percentage) when it had none', () => {
    expect(change(150, 100)).toEqual({ current: 150, previous: 100, delta: 50, percent: 50, isNew: false });
    expect(change(7, 0)).toEqual({ current: 7, previous: 0, delta: 7, percent: null, isNew: true });
    expect(change(0, 0)).toEqual({ current: 0, previous: 0, delta: 0, percent: null, isNew: false });
    expect(change(0, 4)).toEqual({ current: 0, previous: 4, delta: -4, percent: -100, isNew: false });
  });
});

describe('an empty week', () => {
  const model = () => buildReport(input(NONE, NONE), classifier);

  it('has zero totals, no ratio, and nothing to list', () => {
    const m = model();
    expect(m.headline.empty).toBe(true);
    expect(m.headline.calls).toEqual(change(0, 0));
    expect(m.headline.errorRatio).toEqual({ current: null, previous: null, deltaPoints: null });
    expect([m.providers, m.topMovers, m.newCodes, m.categories, m.retryDecisions, m.retryViolations, m.topCodes, m.dailyErrors].every((l) => l.length === 0)).toBe(true);
    expect(allNumbersFinite(m)).toBe(true);
  });

  it('renders as Markdown and HTML that say so, with no charts', () => {
    const md = renderMarkdown(model());
    expect(md).toContain('No payment-provider calls were recorded in 2026-W47 or 2026-W46.');
    expect(md).toContain('No errors this week.');
    expect(md).not.toMatch(/NaN|Infinity|undefined/);
    const html = renderHtml(model());
    expect(html).toContain('No payment-provider calls were recorded');
    expect(html).not.toContain('<svg');
    expect(html).not.toMatch(/NaN|Infinity|undefined/);
  });

  it('after a busy week shows the drop, not a division by zero', () => {
    const before: WeekCounts = {
      calls: [{ provider: 'kustom', outcome: 'success', count: 90 }, { provider: 'kustom', outcome: 'error', count: 10 }],
      errors: [{ provider: 'kustom', code: 'BAD_VALUE', category: 'validation', retry: 'fix_and_resubmit', count: 10 }],
      violations: [],
      retries: [],
      stormAttempts: [],
    };
    const m = buildReport(input(NONE, before), classifier);
    expect(m.headline.calls).toMatchObject({ current: 0, previous: 100, percent: -100 });
    expect(m.headline.errorRatio).toEqual({ current: null, previous: 0.1, deltaPoints: null });
    expect(m.topMovers.map((r) => [r.code, r.errors.delta])).toEqual([['BAD_VALUE', -10]]);
    expect(m.newCodes).toEqual([]);
    expect(allNumbersFinite(m)).toBe(true);
    expect(renderMarkdown(m)).toContain('| kustom | 0 | −100 (−100%) | 0 | −10 (−100%) | — | — |');
  });
});

describe('a provider with no traffic last week', () => {
  const current: WeekCounts = {
    calls: [
      { provider: 'digitalriver', outcome: 'success', count: 40 },
      { provider: 'digitalriver', outcome: 'error', count: 10 },
      { provider: 'kustom', outcome: 'success', count: 100 },
    ],
    errors: [{ provider: 'digitalriver', code: 'invalid_parameter', category: 'validation', retry: 'fix_and_resubmit', count: 10 }],
    violations: [],
    retries: [],
    stormAttempts: [],
  };
  const previous: WeekCounts = { calls: [{ provider: 'kustom', outcome: 'success', count: 80 }], errors: [], violations: [], retries: [], stormAttempts: [] };
  const hourly = [{ provider: 'digitalriver', hours: Array.from({ length: 168 }, (_, h) => (h === 30 || h === 150 ? 5 : 0)) }];

  it('is marked new instead of getting a percentage', () => {
    const m = buildReport(input(current, previous, hourly), classifier);
    const dr = m.providers.find((p) => p.provider === 'digitalriver')!;
    expect(dr.calls).toEqual({ current: 50, previous: 0, delta: 50, percent: null, isNew: true });
    expect(dr.errorRatio).toEqual({ current: 0.2, previous: null, deltaPoints: null });
    expect(m.newCodes.map((r) => `${r.provider}/${r.code}`)).toEqual(['digitalriver/invalid_parameter']);
    expect(m.dailyErrors).toEqual([{ provider: 'digitalriver', days: [0, 5, 0, 0, 0, 0, 5], total: 10 }]);
    expect(allNumbersFinite(m)).toBe(true);
  });

  it('reads "new" in the Markdown', () => {
    const md = renderMarkdown(buildReport(input(current, previous, hourly), classifier));
    expect(md).toContain('| digitalriver | 50 | +50 (new) | 10 | +10 (new) | 20.00% | new |');
    expect(md).toContain('- digitalriver `invalid_parameter`: 10 errors (validation, fix_and_resubmit), not in the catalog');
  });
});

describe('top codes', () => {
  it('carry the catalog\'s remediation and owner for the verdict they got', () => {
    const current: WeekCounts = {
      calls: [{ provider: 'kustom', outcome: 'error', count: 12 }],
      errors: [
        { provider: 'kustom', code: 'MERCHANT_INACTIVE', category: 'merchant_config', retry: 'contact_provider', count: 9 },
        { provider: 'kustom', code: 'BAD_VALUE', category: 'state_conflict', retry: 'new_checkout', count: 3 },
      ],
      violations: [],
      retries: [],
      stormAttempts: [],
    };
    const m = buildReport(input(current, NONE), classifier);
    const [inactive, badValue] = m.topCodes;
    expect(inactive).toMatchObject({ code: 'MERCHANT_INACTIVE', owner: 'merchant_account', known: true });
    expect(inactive!.remediation).toMatch(/activ/i);
    // BAD_VALUE has two entries (400 and 409): the 409 one matches this verdict.
    const entry409 = classifier.explain('kustom', 'BAD_VALUE').find((e) => e.status === 409)!;
    expect(badValue).toMatchObject({ code: 'BAD_VALUE', category: 'state_conflict', retry: 'new_checkout', remediation: entry409.remediation, owner: entry409.owner });
  });

  it('fall back to the category\'s owner for codes outside the catalog and for errors without a code', () => {
    const current: WeekCounts = {
      calls: [{ provider: 'setel', outcome: 'error', count: 5 }],
      errors: [
        { provider: 'setel', code: 'none', category: 'timeout', retry: 'reconcile_before_retry', count: 3 },
        { provider: 'acme', code: 'E42', category: 'validation', retry: 'fix_and_resubmit', count: 2 },
      ],
      violations: [],
      retries: [],
      stormAttempts: [],
    };
    const m = buildReport(input(current, NONE), classifier);
    expect(m.topCodes.map((r) => [r.code, r.owner, r.known, r.remediation])).toEqual([
      ['none', 'provider', false, null],
      ['E42', 'integration', false, null],
    ]);
  });
});

describe('rendering', () => {
  it('escapes what providers put in codes (HTML and Markdown tables)', () => {
    const current: WeekCounts = {
      calls: [{ provider: 'acme', outcome: 'error', count: 1 }],
      errors: [{ provider: 'acme', code: '<img src=x onerror=alert(1)>|x', category: 'unknown', retry: 'do_not_retry', count: 1 }],
      violations: [],
      retries: [],
      stormAttempts: [],
    };
    const m = buildReport(input(current, NONE), classifier);
    const html = renderHtml(m);
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;|x');
    expect(renderMarkdown(m)).toContain('| acme | &lt;img src=x onerror=alert(1)&gt;\\|x |');
  });
});
