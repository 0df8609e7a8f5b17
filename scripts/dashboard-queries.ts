// Every PromQL expression in the Grafana dashboards, and the metric names they read.
//
//   node scripts/dashboard-queries.ts            JSON: { metrics: [...], queries: [{ dashboard, where, expr }] }
//   node scripts/dashboard-queries.ts --metrics  one metric name per line (compare with a live /metrics)
//
// The metric names come from a small PromQL lexer (metricNames below), so the list is derived from
// the dashboards, never maintained by hand. Histogram series (`_bucket`, `_sum`, `_count`) are
// reported under the names the queries use; `baseMetric` maps them to the family name.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DASHBOARDS_DIR = join(ROOT, 'dashboards');

export interface DashboardQuery {
  /** File name in dashboards/. */
  readonly dashboard: string;
  /** Human pointer: panel title and refId, variable name, or annotation name. */
  readonly where: string;
  /** The query as written, with Grafana variables. */
  readonly expr: string;
  /** `label_values(...)` queries are not PromQL; their series selector is. */
  readonly kind: 'panel' | 'variable' | 'annotation';
}

type Json = Record<string, unknown>;

function panelsOf(list: unknown): Json[] {
  const out: Json[] = [];
  for (const panel of (Array.isArray(list) ? list : []) as Json[]) {
    out.push(panel);
    out.push(...panelsOf(panel.panels));
  }
  return out;
}

export function queriesOf(file: string, dashboard: Json): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  for (const panel of panelsOf(dashboard.panels)) {
    for (const target of (Array.isArray(panel.targets) ? panel.targets : []) as Json[]) {
      if (typeof target.expr === 'string') out.push({ dashboard: file, where: `panel "${String(panel.title)}" ${String(target.refId)}`, expr: target.expr, kind: 'panel' });
    }
  }
  const templating = dashboard.templating as { list?: Json[] } | undefined;
  for (const variable of templating?.list ?? []) {
    if (variable.type !== 'query') continue;
    const q = variable.query;
    const text = typeof q === 'string' ? q : typeof (q as Json | undefined)?.query === 'string' ? ((q as Json).query as string) : null;
    if (text !== null) out.push({ dashboard: file, where: `variable $${String(variable.name)}`, expr: text, kind: 'variable' });
  }
  const annotations = dashboard.annotations as { list?: Json[] } | undefined;
  for (const a of annotations?.list ?? []) {
    if (typeof a.expr === 'string') out.push({ dashboard: file, where: `annotation "${String(a.name)}"`, expr: a.expr, kind: 'annotation' });
  }
  return out;
}

export function dashboardFiles(dir = DASHBOARDS_DIR): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
}

export function allQueries(dir = DASHBOARDS_DIR): DashboardQuery[] {
  return dashboardFiles(dir).flatMap((file) => queriesOf(file, JSON.parse(readFileSync(join(dir, file), 'utf8')) as Json));
}

/** Example values for Grafana's variables, so an expression becomes plain PromQL. */
const GRAFANA_BUILTINS: Record<string, string> = {
  __rate_interval: '1m',
  __interval: '30s',
  __range: '6h',
  __range_s: '21600',
  __range_ms: '21600000',
  __interval_ms: '30000',
};

/**
 * Replaces `$var`, `${var}` and `${var:format}` with example values: durations for Grafana's interval
 * built-ins, `example` for dashboard variables (which only ever sit inside label-matcher strings).
 */
export function substituteVariables(expr: string): string {
  return expr.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::[A-Za-z]+)?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_m, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    return GRAFANA_BUILTINS[name] ?? 'example';
  });
}

/** `label_values(selector, label)` -> `selector`; other variable queries are returned unchanged. */
export function variableSelector(query: string): string {
  const m = /^\s*label_values\(\s*(.*?)\s*,\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$/s.exec(query);
  return m ? m[1]! : query;
}

// Identifiers that are PromQL keywords, not metric names, when they appear outside braces.
const KEYWORDS = new Set([
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'and', 'or', 'unless', 'inf', 'nan', 'atan2',
  // aggregation operators, which may be followed by `by (...)` instead of `(`
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio',
]);
// Keywords after which a parenthesised list holds label names.
const LABEL_LIST = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

interface Token {
  kind: 'ident' | 'string' | 'number' | 'punct';
  text: string;
}

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '#') {
      while (i < expr.length && expr[i] !== '\n') i++;
    } else if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < expr.length && expr[j] !== c) j += expr[j] === '\\' && c !== '`' ? 2 : 1;
      tokens.push({ kind: 'string', text: expr.slice(i, j + 1) });
      i = j + 1;
    } else if (/[A-Za-z_:]/.test(c)) {
      let j = i + 1;
      while (j < expr.length && /[A-Za-z0-9_:]/.test(expr[j]!)) j++;
      tokens.push({ kind: 'ident', text: expr.slice(i, j) });
      i = j;
    } else if (/[0-9.]/.test(c)) {
      let j = i + 1;
      while (j < expr.length && /[0-9A-Za-z.+_]/.test(expr[j]!)) {
        if ((expr[j] === '+' || expr[j] === '-') && !/[eE]/.test(expr[j - 1]!)) break;
        j++;
      }
      tokens.push({ kind: 'number', text: expr.slice(i, j) });
      i = j;
    } else {
      tokens.push({ kind: 'punct', text: c });
      i++;
    }
  }
  return tokens;
}

/**
 * Metric names an expression reads: identifiers outside `{}` and `[]` that are not functions (followed
 * by `(`), keywords, label lists of by/without/on/ignoring/group_*, or the duration after `offset`.
 * Throws on `__name__` matchers, which this lexer cannot resolve.
 */
export function metricNames(expr: string): string[] {
  const tokens = tokenize(expr);
  const names = new Set<string>();
  let braces = 0;
  let brackets = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'punct') {
      if (t.text === '{') braces++;
      else if (t.text === '}') braces--;
      else if (t.text === '[') brackets++;
      else if (t.text === ']') brackets--;
      continue;
    }
    if (t.kind !== 'ident') continue;
    if (braces > 0) {
      if (t.text === '__name__') throw new Error(`__name__ matchers are not supported here: ${expr}`);
      continue;
    }
    if (brackets > 0) continue;
    const next = tokens[i + 1];
    if (KEYWORDS.has(t.text)) {
      if (LABEL_LIST.has(t.text) && next?.text === '(') {
        // skip `( label, ... )`
        while (i < tokens.length && tokens[i]!.text !== ')') i++;
      } else if (t.text === 'offset') {
        i++; // the duration
      }
      continue;
    }
    if (next?.kind === 'punct' && next.text === '(') continue; // function call
    names.add(t.text);
  }
  return [...names].sort();
}

/** `payment_provider_call_duration_seconds_bucket` -> `payment_provider_call_duration_seconds`. */
export function baseMetric(name: string, histograms: ReadonlySet<string>): string {
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  return m && histograms.has(m[1]!) ? m[1]! : name;
}

export function usedMetrics(queries: readonly DashboardQuery[] = allQueries()): string[] {
  return [...new Set(queries.flatMap((q) => metricNames(substituteVariables(q.kind === 'variable' ? variableSelector(q.expr) : q.expr))))].sort();
}

function main(argv: readonly string[]): void {
  const queries = allQueries();
  if (argv.includes('--metrics')) {
    process.stdout.write(`${usedMetrics(queries).join('\n')}\n`);
    return;
  }
  process.stdout.write(`${JSON.stringify({ metrics: usedMetrics(queries), queries }, null, 2)}\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) main(process.argv.slice(2));
