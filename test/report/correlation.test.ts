// `paysignal report --source logs` ties attempts together by the configuration's `correlation`
// section, as `paysignal run` does (docs/architecture.md#weekly-report): the same storm_threshold
// decides which retries are storm attempts, the same max_keys and ttl which attempts are tied at all
// (and so which are retry violations), and a keyed event read after much newer ones is named.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callEvent } from '../support/events.ts';
import { runPaysignal } from '../support/cli.ts';
import { renderMarkdown } from '../../src/report/markdown.ts';
import type { ReportModel } from '../../src/report/model.ts';
import { DAY_MS, HOUR_MS, lastCompleteWeek } from '../../src/report/week.ts';

const week = lastCompleteWeek(Date.now());
const MINUTE_MS = 60_000;
// Tuesday 10:00 of the report week.
const T0 = week.startMs + DAY_MS + 10 * HOUR_MS;

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'paysignal-report-correlation-'));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Kustom rejected the order (`new_checkout`: the same request cannot succeed), under `key`. */
function rejected(key: string, atMs: number): string {
  return JSON.stringify(
    callEvent({
      provider: 'kustom',
      operation: 'create_order',
      status: 403,
      body: { error_code: 'REJECTED', error_messages: ['Rejected by the risk check'] },
      idempotencyKey: key,
      timestamp: new Date(atMs).toISOString(),
      durationMs: 120,
    }),
  );
}

/** Stable Genius refused the payment intent with a rate limit (`retry_with_backoff`), under `key`. */
function rateLimited(key: string, atMs: number): string {
  return JSON.stringify(
    callEvent({
      provider: 'stablegenius',
      operation: 'create_payment_intent',
      status: 429,
      body: { error: { type: 'rate_limit_error', code: 'rate_limit_exceeded', message: 'Too many requests' } },
      idempotencyKey: key,
      timestamp: new Date(atMs).toISOString(),
      durationMs: 80,
    }),
  );
}

async function file(name: string, lines: readonly string[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, lines.join('\n') + '\n');
  return path;
}

/** The logs report of `week` over `files` under a configuration whose `correlation` section is `correlation` (YAML lines). */
async function logsReportRun(correlation: readonly string[], files: readonly string[]): Promise<{ model: ReportModel; stderr: string }> {
  const config = await file(`config-${Math.random().toString(36).slice(2)}.yaml`, ['report:', '  format: json', ...(correlation.length > 0 ? ['correlation:', ...correlation.map((l) => `  ${l}`)] : [])]);
  const result = await runPaysignal(['report', '--config', config, '--week', week.label, '--source', 'logs', ...files], { timeoutMs: 60_000 });
  if (result.code !== 0) throw new Error(`paysignal report exited with ${result.code}:\n${result.stderr}`);
  return { model: JSON.parse(result.stdout) as ReportModel, stderr: result.stderr };
}

async function logsReport(correlation: readonly string[], files: readonly string[]): Promise<ReportModel> {
  return (await logsReportRun(correlation, files)).model;
}

const violations = (m: ReportModel): number => m.retryViolations.reduce((sum, v) => sum + v.count.current, 0);

describe('the logs report ties retries by the correlation section', () => {
  it('correlation.storm_threshold: four attempts of one request are a storm from threshold 3, not by default (5)', async () => {
    const logs = await file('four-attempts.ndjson', [0, 1, 2, 3].map((i) => rateLimited('intent-1', T0 + i * 30_000)));
    const [byDefault, lower] = await Promise.all([logsReport([], [logs]), logsReport(['storm_threshold: 3'], [logs])]);
    const retries = (m: ReportModel) => m.retries.map((r) => [r.provider, r.retries.current, r.stormAttempts.current]);
    expect(retries(byDefault)).toEqual([['stablegenius', 3, 0]]);
    expect(retries(lower)).toEqual([['stablegenius', 3, 1]]);
    expect(renderMarkdown(lower)).toContain('| stablegenius | 3 | 0 | +3 (new) | 1 | 0 | +1 (new) |');
    // Rate-limited retries ignore no decision: no violation whatever the threshold.
    expect(lower.retryViolations).toEqual([]);
  });

  it('correlation.ttl: a retry 2 h after a rejection is a violation with ttl 3h, not with the default 1h', async () => {
    const logs = await file('two-hours.ndjson', [rejected('order-1', T0), rejected('order-1', T0 + 2 * HOUR_MS)]);
    const [byDefault, longer] = await Promise.all([logsReport([], [logs]), logsReport(['ttl: 3h'], [logs])]);
    expect(byDefault.headline.calls.current).toBe(2);
    expect(byDefault.retryViolations).toEqual([]);
    expect(longer.retryViolations.map((v) => [v.provider, v.code, v.retry, v.count.current])).toEqual([['kustom', 'REJECTED', 'new_checkout', 1]]);
  });

  it('correlation.max_keys: with one key remembered, two interleaved retried orders give no violation; by default both count', async () => {
    const logs = await file('interleaved.ndjson', [
      rejected('order-a', T0),
      rejected('order-b', T0 + MINUTE_MS),
      rejected('order-a', T0 + 2 * MINUTE_MS),
      rejected('order-b', T0 + 3 * MINUTE_MS),
    ]);
    const [byDefault, oneKey] = await Promise.all([logsReport([], [logs]), logsReport(['max_keys: 1'], [logs])]);
    expect(violations(byDefault)).toBe(2);
    expect(oneKey.headline.calls.current).toBe(4);
    expect(violations(oneKey)).toBe(0);
  });

  it('warns on stderr when correlation.max_keys would need more than half of the heap, and still reports', async () => {
    const logs = await file('two-orders.ndjson', [rejected('order-w', T0), rejected('order-w', T0 + MINUTE_MS)]);
    // 100 million keys need about 15 GB of heap; V8's default limit is at most 4 GB.
    const [byDefault, huge] = await Promise.all([logsReportRun([], [logs]), logsReportRun(['max_keys: 100000000'], [logs])]);
    expect(byDefault.stderr).not.toContain('warning');
    expect(huge.stderr).toMatch(
      /^paysignal report: warning: correlation\.max_keys 100000000 needs about 15259 MB of heap, more than half of the V8 heap limit \(\d+ MB\): raise --max-old-space-size in NODE_OPTIONS \(the chart's nodeOptions\) or lower correlation\.max_keys$/m,
    );
    expect(violations(huge.model)).toBe(1);
    expect(huge.model).toEqual(byDefault.model);
  });

  it('names keyed events read after events more than the ttl newer: files out of time order undercount violations', async () => {
    const tuesday = await file('tuesday.ndjson', [rejected('order-t', T0), rejected('order-t', T0 + MINUTE_MS)]);
    const thursday = await file('thursday.ndjson', [rejected('order-h', T0 + 2 * DAY_MS)]);
    const [inOrder, reversed] = await Promise.all([logsReport([], [tuesday, thursday]), logsReport([], [thursday, tuesday])]);
    expect(violations(inOrder)).toBe(1);
    expect(inOrder.notes).toEqual([]);
    expect(reversed.headline.calls.current).toBe(3);
    expect(violations(reversed)).toBe(0);
    expect(reversed.notes).toEqual([
      '2 events with an idempotency key or correlation id came after events more than correlation.ttl (1h) newer: ' +
        'the earlier attempts under their keys were already forgotten, so retries, storm attempts and retry violations may be undercounted. Give the log files in time order.',
    ]);
    // A ttl that covers the disorder ties them again, and there is nothing to say.
    const covered = await logsReport(['ttl: 3d'], [thursday, tuesday]);
    expect(violations(covered)).toBe(1);
    expect(covered.notes).toEqual([]);
  });
});
