// `paysignal report` from both sources over the same synthetic traffic with a known truth:
// - Prometheus: two weeks of counters backfilled into a real Prometheus with
//   `promtool tsdb create-blocks-from openmetrics`, queried over the HTTP API;
// - log files: the same events as NDJSON, through the decoder, classifier and correlation tracker.
// Both must give the truth, week-over-week changes included, and therefore each other's numbers.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPaysignal, type CliResult } from '../support/cli.ts';
import { freePort } from '../support/ports.ts';
import { openMetrics, startBackfilledPrometheus, type BackfilledPrometheus } from '../support/prometheus-backfill.ts';
import type { ReportModel } from '../../src/report/model.ts';
import { DAY_MS, lastCompleteWeek, shiftWeek } from '../../src/report/week.ts';
import { ALERT_TRUTH, alertSeries, counterSeries, GROUPS, ndjson, syntheticEvents, type Group } from './fixtures.ts';

// Two complete weeks in the past: old enough to be history, recent enough that nothing is missing.
const week = lastCompleteWeek(Date.now());
const previousWeek = shiftWeek(week, -1);
const events = syntheticEvents(previousWeek, week);

let dir: string;
let logFile: string;
let prometheus: BackfilledPrometheus;
let fromPrometheus: ReportModel;
let fromLogs: ReportModel;

function ok(result: CliResult): string {
  if (result.code !== 0) throw new Error(`paysignal exited with ${result.code}:\n${result.stderr}`);
  return result.stdout;
}

const report = (args: readonly string[]): Promise<CliResult> => runPaysignal(['report', ...args], { timeoutMs: 60_000 });
const prometheusArgs = (): string[] => ['--source', 'prometheus', '--prometheus-url', prometheus.url];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'paysignal-report-'));
  logFile = join(dir, 'events.ndjson');
  // The log file also holds what real log files hold: a broken line and an event from long ago.
  const extra = ['{"timestamp": "broken', JSON.stringify({ timestamp: new Date(previousWeek.startMs - 40 * DAY_MS).toISOString(), provider: 'kustom', http: { status_code: 200 } })];
  await writeFile(logFile, ndjson(events) + extra.join('\n') + '\n');
  prometheus = await startBackfilledPrometheus(openMetrics(counterSeries(events, previousWeek.startMs, week.endMs), alertSeries(previousWeek, week)));
  const [p, l] = await Promise.all([
    report(['--week', week.label, ...prometheusArgs(), '--format', 'json', '--top', '20']),
    report(['--week', week.label, '--source', 'logs', '--format', 'json', '--top', '20', logFile]),
  ]);
  fromPrometheus = JSON.parse(ok(p)) as ReportModel;
  fromLogs = JSON.parse(ok(l)) as ReportModel;
});

afterAll(async () => {
  await prometheus?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// The truth, straight from the synthetic groups.

type Which = 'previous' | 'current';
const isError = (g: Group): boolean => g.status === undefined || g.status >= 400;
const calls = (g: Group, w: Which): number => g[w] + 2 * (g.violationPairs?.[w] ?? 0);

function totals(key: (g: Group) => string | null, w: Which): Map<string, number> {
  const out = new Map<string, number>();
  for (const g of GROUPS) {
    const k = key(g);
    if (k !== null && calls(g, w) > 0) out.set(k, (out.get(k) ?? 0) + calls(g, w));
  }
  return out;
}

function truthPairs(key: (g: Group) => string | null): Record<string, [number, number]> {
  const now = totals(key, 'current');
  const before = totals(key, 'previous');
  const out: Record<string, [number, number]> = {};
  for (const k of new Set([...now.keys(), ...before.keys()])) out[k] = [now.get(k) ?? 0, before.get(k) ?? 0];
  return out;
}

/** Errors per provider and day of the report week, from the events' timestamps. */
function truthDaily(): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const e of events) {
    if (!isError(e.group) || e.timestampMs < week.startMs || e.timestampMs >= week.endMs) continue;
    (out[e.group.provider] ??= [0, 0, 0, 0, 0, 0, 0])[Math.floor((e.timestampMs - week.startMs) / DAY_MS)]! += 1;
  }
  return out;
}

function expectTheTruth(m: ReportModel): void {
  expect(m.week.label).toBe(week.label);
  expect(m.previousWeek.label).toBe(previousWeek.label);

  // Headline: 1,267 calls and 117 errors this week against 1,100 and 100 the week before.
  expect(m.headline.calls).toEqual({ current: 1267, previous: 1100, delta: 167, percent: (167 / 1100) * 100, isNew: false });
  expect(m.headline.errors).toEqual({ current: 117, previous: 100, delta: 17, percent: 17, isNew: false });
  expect(m.headline.errorRatio.current).toBeCloseTo(117 / 1267, 12);
  expect(m.headline.errorRatio.previous).toBeCloseTo(100 / 1100, 12);
  expect(m.headline.errorRatio.deltaPoints).toBeCloseTo((117 / 1267 - 100 / 1100) * 100, 10);

  // Per provider: calls and errors, both weeks.
  expect(Object.fromEntries(m.providers.map((p) => [p.provider, [p.calls.current, p.calls.previous]]))).toEqual(truthPairs((g) => g.provider));
  expect(Object.fromEntries(m.providers.map((p) => [p.provider, [p.errors.current, p.errors.previous]]))).toEqual(
    Object.fromEntries(Object.keys(truthPairs((g) => g.provider)).map((p) => [p, truthPairs((g) => (isError(g) ? g.provider : null))[p] ?? [0, 0]])),
  );

  // Per code (every code with errors this week is among the top codes with --top 20).
  const codes = truthPairs((g) => (isError(g) ? `${g.provider}/${g.code}` : null));
  expect(Object.fromEntries(m.topCodes.map((r) => [`${r.provider}/${r.code}`, [r.errors.current, r.errors.previous]]))).toEqual(
    Object.fromEntries(Object.entries(codes).filter(([, [now]]) => now > 0)),
  );
  for (const r of m.topCodes) {
    const g = GROUPS.find((x) => x.provider === r.provider && x.code === r.code)!;
    expect([r.category, r.retry]).toEqual([g.category, g.retry]);
  }

  // Top movers: largest absolute change first.
  expect(m.topMovers.map((r) => [`${r.provider}/${r.code}`, r.errors.delta])).toEqual([
    ['mercadopago/invalid_total_amount', 25],
    ['kustom/BAD_VALUE', -18],
    ['kustom/MERCHANT_INACTIVE', 9],
    ['stablegenius/rate_limit_exceeded', -9],
    ['kustom/REJECTED', 8],
    ['digitalriver/invalid_parameter', 6],
    ['mercadopago/internal_error', -6],
    ['setel/none', 2],
  ]);
  expect(m.newCodes.map((r) => [`${r.provider}/${r.code}`, r.errors.current])).toEqual([
    ['kustom/MERCHANT_INACTIVE', 9],
    ['digitalriver/invalid_parameter', 6],
  ]);

  // Breakdowns by category and retry decision.
  expect(Object.fromEntries(m.categories.map((r) => [r.key, [r.errors.current, r.errors.previous]]))).toEqual(truthPairs((g) => (isError(g) ? g.category! : null)));
  expect(Object.fromEntries(m.retryDecisions.map((r) => [r.key, [r.errors.current, r.errors.previous]]))).toEqual(truthPairs((g) => (isError(g) ? g.retry! : null)));

  // Retry violations: Kustom REJECTED retried under the same idempotency key, 5 times this week, 2 before.
  expect(m.retryViolations.map((v) => [v.provider, v.code, v.retry, v.count.current, v.count.previous, v.count.percent])).toEqual([['kustom', 'REJECTED', 'new_checkout', 5, 2, 150]]);

  // Retries: the second attempts of the violation pairs, and Stable Genius' rate-limited request sent
  // 12 times last week (7 attempts beyond the storm threshold of 5) and 3 times this week. Storm
  // attempts this week first, then retries this week.
  expect(m.retries.map((r) => [r.provider, r.retries.current, r.retries.previous, r.stormAttempts.current, r.stormAttempts.previous])).toEqual([
    ['kustom', 5, 2, 0, 0],
    ['stablegenius', 2, 11, 0, 7],
  ]);

  // The daily chart's numbers.
  expect(Object.fromEntries(m.dailyErrors.map((d) => [d.provider, d.days]))).toEqual(truthDaily());
}

/** The model without what legitimately differs between sources. */
function numbersOnly(m: ReportModel): Omit<ReportModel, 'source' | 'alerts' | 'notes'> {
  const { source: _source, alerts: _alerts, notes: _notes, ...rest } = m;
  return rest;
}

describe('paysignal report over two backfilled weeks', () => {
  it('from Prometheus gives the known truth, week-over-week changes included', () => {
    expect(fromPrometheus.source).toEqual({ kind: 'prometheus', description: prometheus.url });
    expectTheTruth(fromPrometheus);
  });

  it('from the log files gives the known truth too, and exactly the numbers Prometheus gave', () => {
    expect(fromLogs.source.kind).toBe('logs');
    expectTheTruth(fromLogs);
    expect(numbersOnly(fromLogs)).toEqual(numbersOnly(fromPrometheus));
    expect(fromLogs.notes).toEqual([
      '1 of 2369 lines was not a valid event and was skipped (`paysignal classify` shows why).',
      `1 event outside ${previousWeek.label} and ${week.label} was not counted.`,
    ]);
  });

  it('shows a provider with no traffic last week as new, never as a division by zero', () => {
    for (const m of [fromPrometheus, fromLogs]) {
      const dr = m.providers.find((p) => p.provider === 'digitalriver')!;
      expect(dr.calls).toEqual({ current: 66, previous: 0, delta: 66, percent: null, isNew: true });
      expect(dr.errors).toEqual({ current: 6, previous: 0, delta: 6, percent: null, isNew: true });
      expect(dr.errorRatio).toEqual({ current: 6 / 66, previous: null, deltaPoints: null });
    }
  });

  it('lists the alerts that fired (Prometheus ALERTS and the engine gauge), and says logs cannot', () => {
    expect(fromPrometheus.alerts).toEqual({
      available: true,
      fired: ALERT_TRUTH.map((a) => ({
        name: a.name,
        severity: a.severity,
        origin: a.origin,
        firingHours: a.hours.length,
        firstHourMs: week.startMs + a.hours[0] * 3_600_000,
        lastHourMs: week.startMs + a.hours[a.hours.length - 1]! * 3_600_000,
      })),
    });
    expect(fromLogs.alerts).toMatchObject({ available: false });
  });

  it('writes Markdown with every section, the numbers, and what to do about the top codes', async () => {
    const md = ok(await report(['--week', week.label, ...prometheusArgs()]));
    expect(md.split('\n')[0]).toBe(`# Payment provider errors: week ${week.label}`);
    for (const section of ['Headline', 'Providers', 'Errors per provider and day', 'Top movers', 'New codes this week', 'By category', 'By retry decision', 'Retry violations', 'Retries and retry storms', 'Alerts fired', 'What to fix first']) {
      expect(md).toContain(`\n## ${section}\n`);
    }
    expect(md).toContain('**117 errors** in 1,267 calls (error ratio 9.23%); errors +17.0% and calls +15.2% week over week.');
    expect(md).toContain('| errors | 117 | 100 | +17 (+17.0%) |');
    expect(md).toContain('| digitalriver | 66 | +66 (new) | 6 | +6 (new) | 9.09% | new |');
    expect(md).toContain('| kustom | REJECTED | new_checkout | 5 | 2 | +3 (+150%) |');
    expect(md).toContain('| stablegenius | 2 | 11 | −9 (−81.8%) | 0 | 7 | −7 (−100%) |');
    expect(md).toContain('| KustomRejectedSpike | warning | 4 | Wed 02:00 | Wed 05:00 | ALERTS |');
    expect(md).toMatch(/1\. \*\*mercadopago `invalid_total_amount`\*\*: 45 errors \(\+25 vs last week\), validation \/ fix_and_resubmit; owner: integration\. Recompute total_amount/);
    expect(md).toMatch(/\*\*kustom `MERCHANT_INACTIVE`\*\*: 9 errors .*owner: merchant_account\. The MID is not active/);

    const fromFiles = ok(await report(['--week', week.label, '--source', 'logs', logFile]));
    expect(fromFiles).toContain('## Alerts fired\n\nNot available from log files');
  });
});

describe('edge cases', () => {
  it('an empty week gives a report that says so, from both sources', async () => {
    const empty = shiftWeek(week, -3);
    const [p, l] = await Promise.all([
      report(['--week', empty.label, ...prometheusArgs(), '--format', 'json']),
      report(['--week', empty.label, '--source', 'logs', '--format', 'json', logFile]),
    ]);
    for (const m of [JSON.parse(ok(p)) as ReportModel, JSON.parse(ok(l)) as ReportModel]) {
      expect(m.headline).toEqual({
        calls: { current: 0, previous: 0, delta: 0, percent: null, isNew: false },
        errors: { current: 0, previous: 0, delta: 0, percent: null, isNew: false },
        errorRatio: { current: null, previous: null, deltaPoints: null },
        empty: true,
      });
      expect([m.providers, m.dailyErrors, m.topMovers, m.newCodes, m.topCodes, m.retryViolations, m.retries]).toEqual([[], [], [], [], [], [], []]);
    }
    const md = ok(await report(['--week', empty.label, ...prometheusArgs()]));
    expect(md).toContain(`No payment-provider calls were recorded in ${empty.label} or ${shiftWeek(empty, -1).label}.`);
    expect(md).toContain('No alert fired this week.');
    expect(md).not.toMatch(/NaN|Infinity|undefined/);
  });

  it('an unreachable Prometheus fails with an error naming the URL, exit 1', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const result = await report(['--week', week.label, '--source', 'prometheus', '--prometheus-url', url, '--timeout', '5']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`paysignal report: PROMETHEUS_UNREACHABLE cannot reach Prometheus at ${url} (ECONNREFUSED)`);
  });

  it('a URL that is not Prometheus fails clearly, exit 1', async () => {
    const server = createServer((_req, res) => res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>not here</h1>'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const result = await report(['--week', week.label, '--source', 'prometheus', '--prometheus-url', url]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`PROMETHEUS_BAD_RESPONSE ${url}/api/v1/query answered HTTP 404`);
    } finally {
      server.close();
    }
  });

  it.each([
    [['--week', '2026-W60', '--source', 'logs', 'x.ndjson'], '2026 has weeks 01 to 53'],
    [['--week', 'yesterday', '--source', 'logs', 'x.ndjson'], '--week must look like 2026-W47'],
    [['--week', '2026-W47'], '--source must be prometheus or logs, got nothing'],
    [['--week', '2026-W47', '--source', 'logs'], '--source logs needs at least one FILE'],
    [['--week', '2026-W47', '--source', 'prometheus', '--format', 'pdf'], '--format must be one of md, html, json'],
  ])('bad usage %j exits 2', async (args, message) => {
    const result = await report(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it('--webhook posts the Markdown as {"text": ...} (Slack/Mattermost incoming webhook)', async () => {
    const received: Array<{ method: string; type: string; body: string }> = [];
    let status = 200;
    const server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        received.push({ method: req.method ?? '', type: req.headers['content-type'] ?? '', body });
        res.writeHead(status).end(status === 200 ? 'ok' : 'no_service');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const hook = `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks/T000/B000/secret`;
    try {
      const [posted, markdown] = await Promise.all([
        report(['--week', week.label, '--source', 'logs', '--format', 'html', '--out', join(dir, 'out', 'paysignal-{week}.html'), '--webhook', hook, logFile]),
        report(['--week', week.label, '--source', 'logs', logFile]),
      ]);
      expect(posted.code).toBe(0);
      expect(posted.stdout).toBe('');
      expect(posted.stderr).toContain(`wrote ${week.label} (html) to ${join(dir, 'out', `paysignal-${week.label}.html`)}`);
      expect(received).toHaveLength(1);
      expect(received[0]!.method).toBe('POST');
      expect(received[0]!.type).toMatch(/^application\/json/);
      expect(JSON.parse(received[0]!.body)).toEqual({ text: ok(markdown) });

      status = 500;
      const failed = await report(['--week', week.label, '--source', 'logs', '--webhook', hook, logFile]);
      expect(failed.code).toBe(1);
      // The webhook's path is its secret: only the origin appears in messages.
      expect(failed.stderr).toContain(`WEBHOOK_FAILED the webhook at ${new URL(hook).origin} answered HTTP 500: no_service`);
      expect(failed.stderr).not.toContain('secret');
    } finally {
      server.close();
    }
  });
});
