// Rule unit tests (`paysignal rules test`), in the spirit of `promtool test rules`, and the bridge to
// promtool itself: the same synthetic events drive the in-process engine and, turned into the counter
// series paysignal would export, `promtool test rules` on the compiled rules.
//
// Test file format (rules/README.md has the full description):
//
//   rule_files: [../provider-errors.yaml]   # relative to the test file
//   tests:
//     - name: MERCHANT_INACTIVE spike pages
//       input_interval: 1m                  # width of one input step (default: the rule set's interval)
//       input:
//         - labels: { provider: kustom, operation: create_order, code: MERCHANT_INACTIVE,
//                     category: merchant_config, retry: contact_provider }   # outcome defaults to error
//           values: "1x60 20x15"            # events per step: N, NxM (M steps of N), _ (none)
//         - labels: { provider: kustom, operation: create_order, outcome: success }
//           values: "100x75"
//         - labels: { provider: kustom, operation: create_order, outcome: error, code: BAD_VALUE,
//                     category: validation, retry: fix_and_resubmit }
//           violation: { code: BAD_VALUE, retry: fix_and_resubmit }   # each event is a retry violation
//           values: "3x5"
//       expect:
//         - at: 70m                          # evaluation time, from time 0 (the first step)
//           alert: MerchantInactiveSpike
//           firing:                          # exactly these alerts fire; [] = none
//             - labels: { provider: kustom, code: MERCHANT_INACTIVE, severity: page }  # all labels but alertname
//               annotations: { summary: "..." }  # optional; the keys given must match
//
// Events of step i sit at i·input_interval + j·input_interval/N (j = 0..N−1), in event time from 0.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import type { Classification } from '../classify/classification.ts';
import type { Category, RetryDecision } from '../classify/taxonomy.ts';
import { eventOf } from '../events/event.ts';
import type { ProcessedEvent } from '../pipeline/types.ts';
import { createFakeClock } from './clock.ts';
import { toPrometheusRuleFile } from './compiler.ts';
import { formatDuration, parseDuration } from '../kernel/duration.ts';
import { createAlertEngine, signalOf, type AlertSnapshot, type EngineSignal } from './engine/index.ts';
import { formatProblem, loadRules } from './loader.ts';
import { labelId, labelValue } from './selector.ts';
import { LABEL_NAMES, SIGNAL_LABELS, SIGNAL_METRIC, type LabelName, type RuleSet, type Signal } from './types.ts';

const execFileAsync = promisify(execFile);

export interface SyntheticEvent {
  /** Event time, ms from 0. */
  readonly ts: number;
  /** provider, operation, outcome, code, category, retry (missing ones take the metrics sink's defaults). */
  readonly labels: Readonly<Partial<Record<LabelName, string>>>;
  /** Set when the attempt violates an earlier decision. */
  readonly violation: { readonly code: string | null; readonly retry: string } | null;
}

/** A ProcessedEvent as the pipeline would hand it to sinks, carrying exactly these labels. */
export function toProcessedEvent(e: SyntheticEvent): ProcessedEvent {
  const l = e.labels;
  const outcome = l.outcome === 'success' || l.outcome === 'error' ? l.outcome : l.code !== undefined || l.category !== undefined || l.retry !== undefined ? 'error' : 'success';
  const isError = outcome === 'error';
  const classification: Classification = {
    outcome,
    provider: l.provider ?? 'unknown',
    operation: l.operation ?? null,
    statusCode: isError ? 400 : 200,
    code: isError ? (l.code ?? null) : null,
    message: null,
    category: isError ? ((l.category ?? 'unknown') as Category) : null,
    retry: isError ? ((l.retry ?? 'do_not_retry') as RetryDecision) : null,
    owner: null,
    known: false,
    field: null,
    errorType: null,
    correlationId: null,
    idempotencyKey: null,
    matchedBy: isError ? 'http_status' : 'success',
    entry: null,
    remediation: null,
  };
  return {
    record: { value: null, source: 'test', topic: 'test', partition: 0, offset: '0', key: null, headers: {} },
    event: eventOf({ timestampMs: e.ts, provider: classification.provider, operation: classification.operation, statusCode: classification.statusCode }),
    classification,
    correlation:
      e.violation === null
        ? null
        : { key: 'synthetic', attemptNumber: 2, isRetry: true, isStorm: false, violationOf: { code: e.violation.code, retry: e.violation.retry }, unmatchedRetry: false },
  };
}

/** The engine's input for a synthetic event read from a Kafka partition at an offset. */
export function toEngineSignal(e: SyntheticEvent, from: { topic: string; partition: number; offset: number }): EngineSignal {
  return { ...signalOf(toProcessedEvent(e)), topic: from.topic, partition: from.partition, offset: from.offset };
}

export interface ExpectedAlert {
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** Firing alerts of one rule at one evaluation time. */
export interface Observation {
  readonly at: number;
  readonly alert: string;
  readonly firing: readonly ExpectedAlert[];
}

/**
 * Feeds events (any order) to a fresh engine with zero lateness and returns, for every evaluation time in
 * `times` and every rule, the firing alerts (labels without alertname, rendered annotations).
 */
export function runEngine(ruleSets: readonly RuleSet[], events: readonly SyntheticEvent[], times: readonly number[]): Observation[] {
  const wanted = new Set(times);
  const end = Math.max(0, ...times);
  const engine = createAlertEngine({
    ruleSets,
    clock: createFakeClock(end),
    allowedLatenessMs: 0,
    idleTimeoutMs: null,
    maxFutureSkewMs: Number.MAX_SAFE_INTEGER,
    maxGroupsPerRule: 100_000,
    tickIntervalMs: 5_000,
    maxAlertAgeMs: 15 * 60_000,
  });
  const seen = new Map<string, Observation>();
  engine.onStep((rule, at, firing) => {
    if (!wanted.has(at)) return;
    seen.set(`${rule}@${at}`, { at, alert: rule, firing: firing.map(expected) });
  });
  const sorted = [...events].sort((a, b) => a.ts - b.ts);
  for (const e of sorted) {
    if (e.ts > end) break;
    engine.onEvent(toProcessedEvent(e));
  }
  engine.advanceWatermark(end);
  const out: Observation[] = [];
  for (const set of ruleSets) {
    for (const rule of set.rules) {
      for (const at of [...wanted].sort((a, b) => a - b)) {
        // A time before the first evaluation, or off the rule's grid, has nothing firing.
        out.push(seen.get(`${rule.name}@${at}`) ?? { at, alert: rule.name, firing: [] });
      }
    }
  }
  return out;
}

function expected(a: AlertSnapshot): ExpectedAlert {
  const { alertname: _omit, ...labels } = a.labels;
  return { labels, annotations: a.annotations };
}

// ---- counter series for promtool ----

interface SeriesDef {
  readonly metric: string;
  readonly labels: Record<string, string>;
  readonly times: number[];
}

/** The counters paysignal would export for these events (section 6 names and labels). */
export function countersOf(events: readonly SyntheticEvent[]): SeriesDef[] {
  const series = new Map<string, SeriesDef>();
  const add = (signal: Signal, p: ProcessedEvent, ts: number): void => {
    const labels: Record<string, string> = {};
    for (const name of SIGNAL_LABELS[signal]) {
      const v = labelValue(signalOf(p), signal, labelId(name));
      if (v !== '') labels[name] = v;
    }
    const metric = SIGNAL_METRIC[signal];
    const key = `${metric}${JSON.stringify(labels)}`;
    let s = series.get(key);
    if (s === undefined) {
      s = { metric, labels, times: [] };
      series.set(key, s);
    }
    s.times.push(ts);
  };
  for (const e of events) {
    const p = toProcessedEvent(e);
    add('calls', p, e.ts);
    if (p.classification.outcome === 'error') add('errors', p, e.ts);
    if (e.violation !== null) add('retry_violations', p, e.ts);
  }
  return [...series.values()];
}

/** promtool's expanding notation for a list of samples (null = missing). */
export function expandNotation(values: readonly (number | null)[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < values.length) {
    const v = values[i];
    if (v === null || v === undefined) {
      let n = 0;
      while (i < values.length && values[i] === null) {
        n++;
        i++;
      }
      parts.push(n === 1 ? '_' : `_x${n}`);
      continue;
    }
    let j = i + 1;
    const next = values[j];
    const step = next === null || next === undefined ? 0 : next - v;
    while (j < values.length && values[j] !== null && (values[j] as number) - (values[j - 1] as number) === step) j++;
    const n = j - i - 1;
    if (n === 0) parts.push(String(v));
    else parts.push(`${v}${step >= 0 ? '+' : '-'}${Math.abs(step)}x${n}`);
    i = j;
  }
  return parts.join(' ');
}

/** promtool input_series: each counter sampled every `intervalMs` from 0 to `endMs`; a sample at t counts events before t. */
export function inputSeries(events: readonly SyntheticEvent[], intervalMs: number, endMs: number): { series: string; values: string }[] {
  const out: { series: string; values: string }[] = [];
  const steps = Math.floor(endMs / intervalMs);
  for (const s of countersOf(events)) {
    const times = [...s.times].sort((a, b) => a - b);
    const values: (number | null)[] = [];
    let n = 0;
    for (let i = 0; i <= steps; i++) {
      const t = i * intervalMs;
      while (n < times.length && (times[n] as number) < t) n++;
      values.push(n === 0 ? null : n);
    }
    const labels = Object.entries(s.labels)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(',');
    out.push({ series: `${s.metric}{${labels}}`, values: expandNotation(values) });
  }
  return out;
}

/** A `promtool test rules` file checking that the compiled rules fire exactly `observations`. */
export function promtoolTestFile(ruleFile: string, intervalMs: number, events: readonly SyntheticEvent[], observations: readonly Observation[]): string {
  const end = Math.max(0, ...observations.map((o) => o.at));
  const doc = {
    rule_files: [ruleFile],
    evaluation_interval: formatDuration(intervalMs),
    tests: [
      {
        interval: formatDuration(intervalMs),
        input_series: inputSeries(events, intervalMs, end),
        alert_rule_test: observations.map((o) => ({
          eval_time: formatDuration(o.at),
          alertname: o.alert,
          exp_alerts: o.firing.map((a) => ({ exp_labels: { ...a.labels }, exp_annotations: { ...(a.annotations ?? {}) } })),
        })),
      },
    ],
  };
  return stringify(doc, { lineWidth: 0 });
}

export interface PromtoolResult {
  readonly ok: boolean;
  readonly output: string;
}

/** Compiles the rule sets, writes the promtool test for the observations, and runs `promtool test rules`. */
export async function checkWithPromtool(
  ruleSets: readonly RuleSet[],
  events: readonly SyntheticEvent[],
  observations: readonly Observation[],
  promtool = 'promtool',
): Promise<PromtoolResult> {
  const intervals = new Set(ruleSets.map((s) => s.intervalMs));
  if (intervals.size !== 1) return { ok: false, output: 'promtool cross-check needs every rule set of a test to share one interval' };
  const interval = [...intervals][0] as number;
  const dir = await mkdtemp(join(tmpdir(), 'paysignal-promtool-'));
  try {
    await writeFile(join(dir, 'rules.yaml'), toPrometheusRuleFile(ruleSets));
    await writeFile(join(dir, 'test.yaml'), promtoolTestFile('rules.yaml', interval, events, observations));
    try {
      const { stdout, stderr } = await execFileAsync(promtool, ['test', 'rules', 'test.yaml'], { cwd: dir, maxBuffer: 64 * 1024 * 1024 });
      return { ok: true, output: stdout + stderr };
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string; message: string };
      return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message };
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---- rule test files ----

interface RawInput {
  labels?: Record<string, string>;
  violation?: { code?: string | null; retry: string };
  values: string;
}
interface RawTest {
  name?: string;
  input_interval?: string;
  input?: RawInput[];
  expect?: { at: string; alert: string; firing?: { labels?: Record<string, string>; annotations?: Record<string, string> }[] }[];
}

export interface RuleTestCase {
  readonly name: string;
  readonly events: SyntheticEvent[];
  readonly expectations: Observation[];
}

export interface RuleTestFile {
  readonly file: string;
  readonly ruleFiles: string[];
  readonly tests: RuleTestCase[];
}

export class RuleTestFormatError extends Error {
  readonly file: string;
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'RuleTestFormatError';
    this.file = file;
  }
}

/** Events from promtool-like per-step counts: `N`, `NxM` (M steps of N events), `_` (none). */
export function parseCounts(text: string): number[] {
  const out: number[] = [];
  for (const token of text.trim().split(/\s+/)) {
    if (token === '') continue;
    const m = /^(_|\d+)(?:x(\d+))?$/.exec(token);
    if (m === null) throw new Error(`"${token}" is not N, NxM or _`);
    const n = m[1] === '_' ? 0 : Number(m[1]);
    const times = m[2] === undefined ? 1 : Number(m[2]);
    for (let i = 0; i < times; i++) out.push(n);
  }
  return out;
}

export function eventsFromCounts(
  counts: readonly number[],
  stepMs: number,
  labels: Readonly<Partial<Record<LabelName, string>>>,
  violation: SyntheticEvent['violation'] = null,
): SyntheticEvent[] {
  const out: SyntheticEvent[] = [];
  counts.forEach((n, i) => {
    for (let j = 0; j < n; j++) out.push({ ts: i * stepMs + Math.floor((j * stepMs) / n), labels, violation });
  });
  return out;
}

export async function parseRuleTestFile(file: string, defaultStepMs: (ruleFiles: string[]) => Promise<number>): Promise<RuleTestFile> {
  let raw: { rule_files?: unknown; tests?: unknown };
  try {
    raw = parse(await readFile(file, 'utf8')) as typeof raw;
  } catch (error) {
    throw new RuleTestFormatError(file, `cannot read: ${(error as Error).message.split('\n')[0]}`);
  }
  if (raw === null || typeof raw !== 'object') throw new RuleTestFormatError(file, 'expected a mapping with rule_files and tests');
  if (!Array.isArray(raw.rule_files) || raw.rule_files.length === 0 || !raw.rule_files.every((f) => typeof f === 'string')) {
    throw new RuleTestFormatError(file, 'rule_files must be a non-empty list of paths (relative to this file)');
  }
  if (!Array.isArray(raw.tests) || raw.tests.length === 0) throw new RuleTestFormatError(file, 'tests must be a non-empty list');
  const ruleFiles = (raw.rule_files as string[]).map((f) => resolve(dirname(file), f));
  const stepDefault = await defaultStepMs(ruleFiles);
  const tests = (raw.tests as RawTest[]).map((t, ti): RuleTestCase => {
    const where = `tests[${ti}]${t.name ? ` (${t.name})` : ''}`;
    const step = t.input_interval === undefined ? stepDefault : parseDuration(t.input_interval);
    if (step === null || step <= 0) throw new RuleTestFormatError(file, `${where}.input_interval: not a duration`);
    const events: SyntheticEvent[] = [];
    (t.input ?? []).forEach((input, ii) => {
      const labels: Partial<Record<LabelName, string>> = {};
      for (const [k, v] of Object.entries(input.labels ?? {})) {
        if (!(LABEL_NAMES as readonly string[]).includes(k)) throw new RuleTestFormatError(file, `${where}.input[${ii}].labels.${k}: unknown label (use ${LABEL_NAMES.join(', ')})`);
        labels[k as LabelName] = String(v);
      }
      let counts: number[];
      try {
        counts = parseCounts(String(input.values ?? ''));
      } catch (error) {
        throw new RuleTestFormatError(file, `${where}.input[${ii}].values: ${(error as Error).message}`);
      }
      const violation = input.violation ? { code: input.violation.code ?? null, retry: String(input.violation.retry) } : null;
      events.push(...eventsFromCounts(counts, step, labels, violation));
    });
    const expectations = (t.expect ?? []).map((x, xi): Observation => {
      const at = parseDuration(String(x.at));
      if (at === null) throw new RuleTestFormatError(file, `${where}.expect[${xi}].at: not a duration`);
      if (typeof x.alert !== 'string') throw new RuleTestFormatError(file, `${where}.expect[${xi}].alert: the rule name is required`);
      const firing = (x.firing ?? []).map((f) => ({
        labels: Object.fromEntries(Object.entries(f.labels ?? {}).map(([k, v]) => [k, String(v)])),
        ...(f.annotations === undefined ? {} : { annotations: Object.fromEntries(Object.entries(f.annotations).map(([k, v]) => [k, String(v)])) }),
      }));
      return { at, alert: x.alert, firing };
    });
    if (expectations.length === 0) throw new RuleTestFormatError(file, `${where}: expect must list at least one evaluation`);
    return { name: t.name ?? `test ${ti + 1}`, events, expectations };
  });
  return { file, ruleFiles, tests };
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** Every key of `part` has the same value in `whole` (expected annotations list only what they check). */
function includes(whole: Readonly<Record<string, string>>, part: Readonly<Record<string, string>>): boolean {
  return Object.keys(part).every((k) => whole[k] === part[k]);
}

function describeAlerts(list: readonly ExpectedAlert[]): string {
  if (list.length === 0) return '(none)';
  return list.map((a) => `${JSON.stringify(a.labels)}${a.annotations ? ` ${JSON.stringify(a.annotations)}` : ''}`).join('; ');
}

/** Differences between expected and observed alerts, as messages; empty when they match. */
export function compareObservations(expectedList: readonly Observation[], observed: readonly Observation[]): string[] {
  const failures: string[] = [];
  for (const exp of expectedList) {
    const got = observed.find((o) => o.at === exp.at && o.alert === exp.alert)?.firing ?? [];
    const unmatched = [...got];
    let ok = got.length === exp.firing.length;
    for (const e of exp.firing) {
      const i = unmatched.findIndex((g) => sameLabels(g.labels, e.labels) && (e.annotations === undefined || includes(g.annotations ?? {}, e.annotations)));
      if (i < 0) ok = false;
      else unmatched.splice(i, 1);
    }
    if (!ok) {
      failures.push(`alert ${exp.alert} at ${formatDuration(exp.at)}:\n      expected: ${describeAlerts(exp.firing)}\n      got:      ${describeAlerts(got)}`);
    }
  }
  return failures;
}

export interface RuleTestResult {
  readonly file: string;
  readonly test: string;
  readonly failures: readonly string[];
}

export interface RuleTestRun {
  readonly results: RuleTestResult[];
  /** Rule files that did not load, or test files that are malformed: the run is invalid. */
  readonly errors: string[];
}

/**
 * Runs rule test files. With `promtool` set, every test also runs on the compiled rules through
 * `promtool test rules` and must fire the same alerts as the engine at the expected times.
 */
export async function runRuleTests(files: readonly string[], options: { promtool?: string | null } = {}): Promise<RuleTestRun> {
  const results: RuleTestResult[] = [];
  const errors: string[] = [];
  const cache = new Map<string, RuleSet[]>();
  const rulesFor = async (ruleFiles: string[]): Promise<RuleSet[]> => {
    const key = ruleFiles.join('\n');
    const hit = cache.get(key);
    if (hit) return hit;
    const { ruleSets, problems } = await loadRules(ruleFiles);
    if (problems.length > 0) throw new Error(problems.map(formatProblem).join('\n'));
    cache.set(key, ruleSets);
    return ruleSets;
  };
  for (const file of files) {
    let parsed: RuleTestFile;
    try {
      parsed = await parseRuleTestFile(file, async (ruleFiles) => Math.min(...(await rulesFor(ruleFiles)).map((s) => s.intervalMs)));
    } catch (error) {
      errors.push((error as Error).message);
      continue;
    }
    const ruleSets = await rulesFor(parsed.ruleFiles);
    for (const test of parsed.tests) {
      const times = [...new Set(test.expectations.map((e) => e.at))];
      const observed = runEngine(ruleSets, test.events, times).filter((o) => test.expectations.some((e) => e.alert === o.alert));
      const failures = compareObservations(test.expectations, observed);
      for (const e of test.expectations) {
        const owner = ruleSets.find((s) => s.rules.some((r) => r.name === e.alert));
        if (owner === undefined) failures.push(`alert ${e.alert}: no rule of that name in ${parsed.ruleFiles.join(', ')}`);
        else if (e.at % owner.intervalMs !== 0) {
          failures.push(`alert ${e.alert} at ${formatDuration(e.at)}: not an evaluation time (rule set ${owner.name} evaluates every ${formatDuration(owner.intervalMs)})`);
        }
      }
      if (failures.length === 0 && options.promtool) {
        const check = await checkWithPromtool(ruleSets, test.events, observed, options.promtool);
        if (!check.ok) failures.push(`compiled rules disagree with the engine (promtool test rules):\n${check.output.trim()}`);
      }
      results.push({ file, test: test.name, failures });
    }
  }
  return { results, errors };
}
