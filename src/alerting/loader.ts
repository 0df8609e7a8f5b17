// Loads RuleSet files: YAML with positions, the JSON Schema (ajv), then checks the schema cannot
// express (duration grammar, multiples of the interval, window vs lookback, labels per signal,
// portable regexes, templates). Every problem names the file, line, column and path of the value
// and carries a stable code, so scripts and people can act on it.
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ErrorObject } from 'ajv/dist/2020.js';
import type { RuleProblemCode } from '../error-codes.ts';
import { formatDiagnostic, pathText, type PathSegment } from '../kernel/diagnostic.ts';
import { durationProblem, formatDuration, parseDuration } from '../kernel/duration.ts';
import { compileSchema, pointerSegments } from '../kernel/schema.ts';
import { parseYamlSource, type YamlSource } from '../kernel/yaml.ts';
import { kindOf, type RuleKindDefinition } from './kinds/index.ts';
import { regexProblem } from './selector.ts';
import { parseTemplate } from './template.ts';
import {
  LABEL_NAMES,
  RULE_KINDS,
  SIGNAL_LABELS,
  type LabelMatcher,
  type LabelName,
  type Rule,
  type RuleBase,
  type RuleKind,
  type RuleSet,
  type Signal,
} from './types.ts';
import SCHEMA from './ruleset.schema.json' with { type: 'json' };

/** Stable problem codes, documented with every other code in docs/errors.md (src/error-codes.ts). */
export type RuleErrorCode = RuleProblemCode;

export interface RuleProblem {
  readonly code: RuleErrorCode;
  readonly file: string;
  /** 1-based; absent when the problem is about the whole file. */
  readonly line?: number;
  readonly column?: number;
  /** Path of the value, e.g. `rules[0].baseline.lookback`; empty for the whole file. */
  readonly path: string;
  readonly message: string;
}

/** `file:line:col: CODE path: message` — one line per problem, like compilers print. */
export function formatProblem(p: RuleProblem): string {
  return formatDiagnostic(p);
}

export class RuleLoadError extends Error {
  readonly problems: readonly RuleProblem[];
  constructor(problems: readonly RuleProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'RuleLoadError';
    this.problems = problems;
  }
}

const validateSchema = compileSchema(SCHEMA).raw;

type Segment = PathSegment;

class Locator {
  readonly file: string;
  private readonly source: YamlSource;
  constructor(source: YamlSource) {
    this.file = source.file;
    this.source = source;
  }
  problem(code: RuleErrorCode, segments: readonly Segment[], message: string): RuleProblem {
    return { code, file: this.file, path: pathText(segments), message, ...this.source.positionOf(segments) };
  }
}

/** Turns ajv's errors into few, precise problems. */
function schemaProblems(errors: readonly ErrorObject[], loc: Locator, data: unknown): RuleProblem[] {
  const out: RuleProblem[] = [];
  const seen = new Set<string>();
  const push = (p: RuleProblem): void => {
    const key = `${p.code}|${p.path}|${p.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(p);
    }
  };
  // A matcher failing its oneOf produces one error per branch; report the matcher once.
  const matcherPaths = new Set<string>();
  for (const e of errors) {
    const m = /^(\/rules\/\d+\/selector\/[a-z]+)(\/|$)/.exec(e.instancePath);
    if (m !== null && e.keyword !== 'additionalProperties') matcherPaths.add(m[1] as string);
  }
  const ruleKinds = new Map<string, unknown>();
  for (const e of errors) {
    const segs = pointerSegments(e.instancePath);
    if (segs[0] === 'rules' && typeof segs[1] === 'number') {
      const rule = (data as { rules?: unknown[] }).rules?.[segs[1]];
      if (rule !== null && typeof rule === 'object') ruleKinds.set(`/rules/${segs[1]}`, (rule as { kind?: unknown }).kind);
    }
  }
  for (const e of errors) {
    const segs = pointerSegments(e.instancePath);
    const underMatcher = [...matcherPaths].find((p) => e.instancePath === p || e.instancePath.startsWith(`${p}/`));
    if (underMatcher !== undefined) {
      const label = pointerSegments(underMatcher).at(-1);
      push(
        loc.problem(
          'E_SELECTOR',
          pointerSegments(underMatcher),
          `selector.${String(label)} must be a non-empty string, a list of strings, or an object with exactly one of regex, not, not_regex`,
        ),
      );
      continue;
    }
    // Unknown rule kind: the discriminator and the enum both complain; say it once.
    if ((e.keyword === 'discriminator' || e.keyword === 'enum') && (e.instancePath.endsWith('/kind') || e.keyword === 'discriminator')) {
      const rulePath = e.keyword === 'discriminator' ? e.instancePath : e.instancePath.replace(/\/kind$/, '');
      if (/^\/rules\/\d+$/.test(rulePath)) {
        const kind = ruleKinds.get(rulePath);
        if (kind === undefined) continue; // the `required` error says it
        push(
          loc.problem(
            'E_UNKNOWN_KIND',
            [...pointerSegments(rulePath), 'kind'],
            `unknown rule kind ${JSON.stringify(kind)}; expected one of ${RULE_KINDS.join(', ')}`,
          ),
        );
        continue;
      }
      if (e.keyword === 'discriminator' && rulePath.endsWith('/baseline')) {
        const method = (e.params as { tagValue?: unknown }).tagValue;
        if (method === undefined) continue;
        push(loc.problem('E_SCHEMA', [...pointerSegments(rulePath), 'method'], `unknown baseline method ${JSON.stringify(method)}; expected trailing, same_time_last_week or zscore`));
        continue;
      }
    }
    // The discriminator error names the unknown method; the enum error would repeat it.
    if (e.keyword === 'enum' && /\/baseline\/method$/.test(e.instancePath)) continue;
    if (e.instancePath === '' && e.keyword === 'type') {
      push(loc.problem('E_SCHEMA', [], 'the file must hold one RuleSet mapping: apiVersion, kind, metadata, rules'));
      continue;
    }
    if (e.keyword === 'required') {
      const missing = (e.params as { missingProperty: string }).missingProperty;
      push(loc.problem('E_MISSING_FIELD', [...segs, missing], `required field "${missing}" is missing`));
      continue;
    }
    if (e.keyword === 'additionalProperties' || e.keyword === 'unevaluatedProperties') {
      const extra =
        (e.params as { additionalProperty?: string; unevaluatedProperty?: string }).additionalProperty ??
        (e.params as { unevaluatedProperty?: string }).unevaluatedProperty ??
        '?';
      push(loc.problem('E_UNKNOWN_FIELD', [...segs, extra], `unknown field "${extra}"`));
      continue;
    }
    if (e.schemaPath.includes('/$defs/duration/')) {
      push(loc.problem('E_DURATION', segs, durationProblem(valueAt(data, segs)) ?? 'is not a duration'));
      continue;
    }
    if (e.keyword === 'const' && (e.instancePath === '/apiVersion' || e.instancePath === '/kind')) {
      const want = (e.params as { allowedValue: unknown }).allowedValue;
      push(loc.problem('E_API_VERSION', segs, `must be ${JSON.stringify(want)}, got ${JSON.stringify(valueAt(data, segs))}`));
      continue;
    }
    if (e.keyword === 'oneOf' || e.keyword === 'discriminator' || e.keyword === 'if') continue;
    if (e.keyword === 'enum') {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ');
      push(loc.problem('E_SCHEMA', segs, `must be one of ${allowed}, got ${JSON.stringify(valueAt(data, segs))}`));
      continue;
    }
    push(loc.problem('E_SCHEMA', segs, e.message ?? 'is invalid'));
  }
  return out;
}

function valueAt(data: unknown, segs: readonly Segment[]): unknown {
  let v: unknown = data;
  for (const s of segs) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[s];
  }
  return v;
}

// ---- raw shapes (valid against the schema) ----

type RawMatcher = string | string[] | { regex?: string; not_regex?: string; not?: string | string[] };
interface RawCommon {
  signal?: Signal;
  group_by?: LabelName[];
  window?: string;
  for?: string;
  keep_firing_for?: string;
  min_events?: number;
  severity?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
/** A rule as written; the fields of its kind are the kind's to read (kinds/<kind>.ts, `loading.parse`). */
interface RawRule extends RawCommon {
  name: string;
  kind: RuleKind;
  description?: string;
  selector?: Partial<Record<LabelName, RawMatcher>>;
}
interface RawRuleSet {
  apiVersion: string;
  kind: string;
  metadata: { name: string; description?: string };
  interval?: string;
  defaults?: RawCommon;
  rules: RawRule[];
}

/** The signal a rule counts when it names none. */
function defaultSignal(kind: RuleKindDefinition, selector: RawRule['selector']): Signal {
  if (kind.loading.defaultSignal !== null) return kind.loading.defaultSignal;
  if (selector?.outcome !== undefined) return 'calls';
  return 'errors';
}

function parseMatcher(label: LabelName, raw: RawMatcher): LabelMatcher {
  if (typeof raw === 'string') return { label, op: 'eq', values: [raw], pattern: null };
  if (Array.isArray(raw)) return { label, op: raw.length === 1 ? 'eq' : 'in', values: [...raw], pattern: null };
  if (raw.regex !== undefined) return { label, op: 're', values: [], pattern: raw.regex };
  if (raw.not_regex !== undefined) return { label, op: 'nre', values: [], pattern: raw.not_regex };
  const not = raw.not ?? [];
  const values = typeof not === 'string' ? [not] : not;
  return { label, op: values.length === 1 ? 'neq' : 'nin', values: [...values], pattern: null };
}

/** Checks and normalises one schema-valid rule set; problems are pushed, never thrown. */
function normalise(raw: RawRuleSet, loc: Locator, problems: RuleProblem[]): RuleSet {
  const file = loc.file;
  const dur = (segs: Segment[], text: string | undefined, fallback: number | null): number | null => {
    if (text === undefined) return fallback;
    const ms = parseDuration(text);
    if (ms === null) {
      problems.push(loc.problem('E_DURATION', segs, durationProblem(text) ?? 'is not a duration'));
      return null;
    }
    return ms;
  };
  const intervalMs = dur(['interval'], raw.interval, 60_000) ?? 60_000;
  if (intervalMs < 1000 || intervalMs % 1000 !== 0) {
    problems.push(loc.problem('E_DURATION', ['interval'], 'interval must be a whole number of seconds, at least 1s'));
  }
  const d = raw.defaults ?? {};
  const rules: Rule[] = [];
  const names = new Map<string, number>();
  raw.rules.forEach((r, i) => {
    const at = (...segs: Segment[]): Segment[] => ['rules', i, ...segs];
    // Where a merged value came from: the rule, else the defaults block.
    const from = (key: keyof RawCommon): Segment[] => (r[key] !== undefined ? at(key) : ['defaults', key]);
    const before = problems.length;
    const prior = names.get(r.name);
    if (prior !== undefined) {
      problems.push(loc.problem('E_DUPLICATE_RULE', at('name'), `rule name "${r.name}" is already used by rules[${prior}]`));
    }
    names.set(r.name, i);

    const kind = kindOf(r.kind);
    const loading = kind.loading;
    const written = r.signal ?? d.signal ?? defaultSignal(kind, r.selector);
    const signal = loading.fixedSignal?.signal ?? written;
    const groupBy = r.group_by ?? d.group_by ?? [...loading.defaultGroupBy];
    const windowText = r.window ?? d.window;
    let windowMs = dur(from('window'), windowText, null);
    const forMs = dur(from('for'), r.for ?? d.for, 0);
    const keepMs = dur(from('keep_firing_for'), r.keep_firing_for ?? d.keep_firing_for, 0);
    const minEvents = r.min_events ?? d.min_events ?? 1;
    const severity = r.severity ?? d.severity ?? 'warning';
    const labels = { ...(d.labels ?? {}), ...(r.labels ?? {}) };
    const annotations = { ...(d.annotations ?? {}), ...(r.annotations ?? {}) };

    if (loading.insteadOfWindow !== null) {
      if (r.window !== undefined) {
        problems.push(loc.problem('E_UNKNOWN_FIELD', at('window'), `${r.kind} takes ${loading.insteadOfWindow}, not window`));
      }
      windowMs = 0;
    } else if (windowText === undefined) {
      problems.push(loc.problem('E_MISSING_FIELD', at('window'), `rule "${r.name}" (${r.kind}) needs a window (in the rule or in defaults)`));
    }

    // Labels must exist on the counter the rule reads.
    const allowed: readonly LabelName[] = SIGNAL_LABELS[signal];
    if (loading.fixedSignal !== null && r.signal !== undefined && r.signal !== loading.fixedSignal.signal) {
      problems.push(loc.problem('E_LABEL', at('signal'), `${loading.fixedSignal.why}; signal must be ${loading.fixedSignal.signal} (or left out)`));
    }
    const selector: LabelMatcher[] = [];
    for (const label of LABEL_NAMES) {
      const m = r.selector?.[label];
      if (m === undefined) continue;
      if (!allowed.includes(label)) {
        problems.push(loc.problem('E_LABEL', at('selector', label), `label "${label}" does not exist on ${signal === 'calls' ? 'calls' : signal === 'errors' ? 'errors' : 'retry violations'} (labels: ${allowed.join(', ')})`));
        continue;
      }
      const matcher = parseMatcher(label, m);
      if (matcher.pattern !== null) {
        const why = regexProblem(matcher.pattern);
        if (why !== null) problems.push(loc.problem('E_REGEX', at('selector', label, matcher.op === 're' ? 'regex' : 'not_regex'), `regex ${JSON.stringify(matcher.pattern)} ${why}`));
      }
      selector.push(matcher);
    }
    const groupAllowed: readonly LabelName[] = loading.groupLabels?.labels ?? allowed;
    groupBy.forEach((g, gi) => {
      if (!groupAllowed.includes(g)) {
        const segs = r.group_by !== undefined ? at('group_by', gi) : ['defaults', 'group_by', gi];
        problems.push(loc.problem('E_LABEL', segs, `rule "${r.name}" cannot group by "${g}": ${loading.groupLabels?.why ?? `the ${signal} signal has labels ${allowed.join(', ')}`}`));
      }
    });
    // Retry violations are specific enough by themselves.
    if (loading.needsSelector && signal !== 'retry_violations' && selector.length === 0 && r.selector === undefined) {
      problems.push(loc.problem('E_MISSING_SELECTOR', at(), `rule "${r.name}" (${r.kind}) needs a selector saying which events it counts, e.g. selector: { code: MERCHANT_INACTIVE }`));
    }
    if (loading.mustGroupBy !== null && !groupBy.includes(loading.mustGroupBy)) {
      problems.push(loc.problem('E_LABEL', r.group_by !== undefined ? at('group_by') : at(), `${r.kind} must group by ${loading.mustGroupBy}`));
    }

    for (const [key, text] of Object.entries(annotations)) {
      const parsed = parseTemplate(text, groupBy);
      if (typeof parsed === 'string') {
        problems.push(loc.problem('E_TEMPLATE', r.annotations?.[key] !== undefined ? at('annotations', key) : ['defaults', 'annotations', key], parsed));
      }
    }
    for (const [key, text] of Object.entries(labels)) {
      if (text.includes('{{')) problems.push(loc.problem('E_TEMPLATE', r.labels?.[key] !== undefined ? at('labels', key) : ['defaults', 'labels', key], 'labels are static; templates are allowed in annotations only'));
    }
    for (const key of ['alertname', 'severity', ...groupBy]) {
      if (key in labels) problems.push(loc.problem('E_LABEL', r.labels?.[key] !== undefined ? at('labels', key) : ['defaults', 'labels', key], `label "${key}" is set by paysignal and cannot be overridden`));
    }

    const multiple = (segs: Segment[], ms: number | null, what: string): void => {
      if (ms !== null && ms % intervalMs !== 0) {
        problems.push(loc.problem('E_NOT_MULTIPLE_OF_INTERVAL', segs, `${what} ${formatDuration(ms)} is not a multiple of the rule set's interval ${formatDuration(intervalMs)}`));
      }
    };
    if (loading.insteadOfWindow === null) {
      multiple(from('window'), windowMs, 'window');
      if (windowMs === 0) problems.push(loc.problem('E_DURATION', from('window'), 'window must be longer than 0'));
    }
    multiple(from('for'), forMs, 'for');
    multiple(from('keep_firing_for'), keepMs, 'keep_firing_for');

    const base: RuleBase = {
      name: r.name,
      description: r.description ?? null,
      signal,
      selector,
      groupBy: [...groupBy],
      windowMs: windowMs ?? 0,
      forMs: forMs ?? 0,
      keepFiringForMs: keepMs ?? 0,
      minEvents,
      severity,
      labels,
      annotations,
      intervalMs,
      ruleSet: raw.metadata.name,
      file,
      fingerprint: '',
    };
    const rule: Rule = loading.parse(base, {
      raw: r as unknown as Readonly<Record<string, unknown>>,
      at,
      windowPath: from('window'),
      duration: dur,
      multipleOfInterval: multiple,
      problem: (code, segments, message) => void problems.push(loc.problem(code, segments, message)),
    });
    if (problems.length === before) {
      const { file: _f, fingerprint: _p, ...meaning } = rule;
      rules.push({ ...rule, fingerprint: JSON.stringify(meaning) });
    }
  });
  return { name: raw.metadata.name, file, intervalMs, rules };
}

/** Parses and checks one rule file's text. */
export function parseRuleSet(text: string, file: string): { ruleSet: RuleSet | null; problems: RuleProblem[] } {
  const source = parseYamlSource(text, file);
  if (source.syntaxErrors.length > 0) {
    return { ruleSet: null, problems: source.syntaxErrors.map((e): RuleProblem => ({ code: 'E_YAML_SYNTAX', file, path: '', ...e })) };
  }
  const loc = new Locator(source);
  const data: unknown = source.data;
  if (!validateSchema(data)) {
    return { ruleSet: null, problems: schemaProblems(validateSchema.errors ?? [], loc, data) };
  }
  const problems: RuleProblem[] = [];
  const ruleSet = normalise(data as RawRuleSet, loc, problems);
  return problems.length > 0 ? { ruleSet: null, problems } : { ruleSet, problems };
}

export async function loadRuleFile(file: string): Promise<{ ruleSet: RuleSet | null; problems: RuleProblem[] }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    return { ruleSet: null, problems: [{ code: 'E_IO', file, path: '', message: `cannot read: ${(error as Error).message}` }] };
  }
  return parseRuleSet(text, file);
}

const RULE_FILE = /\.ya?ml$/;

/** Rule files named by `paths`: files as given, directories' *.yaml / *.yml (not recursive), sorted. */
export async function ruleFilesOf(paths: readonly string[]): Promise<{ files: string[]; problems: RuleProblem[] }> {
  const files: string[] = [];
  const problems: RuleProblem[] = [];
  for (const p of paths) {
    let info;
    try {
      info = await stat(p);
    } catch (error) {
      problems.push({ code: 'E_IO', file: p, path: '', message: `cannot read: ${(error as Error).message}` });
      continue;
    }
    if (info.isDirectory()) {
      const entries = (await readdir(p, { withFileTypes: true })).filter((e) => e.isFile() && RULE_FILE.test(e.name)).map((e) => join(p, e.name));
      if (entries.length === 0) problems.push({ code: 'E_NO_RULE_FILES', file: p, path: '', message: 'directory holds no *.yaml or *.yml rule files' });
      files.push(...entries.sort());
    } else files.push(p);
  }
  return { files, problems };
}

/** Snake-case id of a rule name, used in recording rule names; must be unique too. */
export function ruleId(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase();
}

/**
 * Loads every rule file under `paths`. Rule names (and their recording-rule ids) must be unique over
 * all files. Returns the rule sets only when there is no problem at all.
 */
export async function loadRules(paths: readonly string[]): Promise<{ ruleSets: RuleSet[]; problems: RuleProblem[] }> {
  const { files, problems } = await ruleFilesOf(paths);
  const ruleSets: RuleSet[] = [];
  for (const file of files) {
    const result = await loadRuleFile(file);
    problems.push(...result.problems);
    if (result.ruleSet) ruleSets.push(result.ruleSet);
  }
  const owners = new Map<string, string>();
  for (const set of ruleSets) {
    for (const rule of set.rules) {
      const id = ruleId(rule.name);
      const other = owners.get(id);
      if (other !== undefined) {
        problems.push({ code: 'E_DUPLICATE_RULE', file: set.file, path: '', message: `rule "${rule.name}" clashes with a rule of the same name (or id ${id}) in ${other}` });
      } else owners.set(id, set.file);
    }
  }
  return problems.length > 0 ? { ruleSets: [], problems } : { ruleSets, problems };
}

/** Like loadRules, but throws a RuleLoadError listing every problem. */
export async function loadRulesOrThrow(paths: readonly string[]): Promise<RuleSet[]> {
  const { ruleSets, problems } = await loadRules(paths);
  if (problems.length > 0) throw new RuleLoadError(problems);
  return ruleSets;
}
