// Generates the Grafana dashboards in dashboards/ (the JSON files are what Grafana imports; this file
// is where they are edited). Run: node scripts/dashboards.ts [--check]
//
//   (no flag)  writes dashboards/overview.json, provider.json, paysignal-health.json
//   --check    writes nothing; exits 1 naming every dashboard that differs from what this generates
//
// Conventions shared by all three dashboards:
// - the Prometheus datasource is the variable ${datasource}; a traces datasource (Tempo) is ${traces};
// - uids are fixed (paysignal-overview, paysignal-provider, paysignal-health) so links between the
//   dashboards and the Grafana sidecar's provisioning keep working across re-imports;
// - only metrics paysignal emits are queried (test/deploy/dashboards.test.ts checks every expression);
// - latency and error panels ask for exemplars (trace ids on the OpenMetrics scrape). The click from an
//   exemplar to its trace is configured on the Prometheus datasource (exemplarTraceIdDestinations with
//   the label name trace_id); see dashboards/README.md.
// - remediation text in the provider drill-down comes from the provider catalogs in src/providers,
//   embedded as value mappings at generation time (regenerate after a catalog changes).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DASHBOARDS_DIR = join(ROOT, 'dashboards');

type Json = Record<string, unknown>;

const DS = { type: 'prometheus', uid: '${datasource}' } as const;
const RATE = '$__rate_interval';

// ---------------------------------------------------------------------------------------------------
// Building blocks

interface Target {
  expr: string;
  legend?: string;
  /** Table/stat panels evaluate once at the end of the range. */
  instant?: boolean;
  exemplar?: boolean;
  format?: 'time_series' | 'table';
}

function targets(list: readonly Target[]): Json[] {
  return list.map((t, i) => ({
    datasource: DS,
    refId: String.fromCharCode(65 + i),
    editorMode: 'code',
    expr: t.expr,
    legendFormat: t.legend ?? '__auto',
    range: !t.instant,
    instant: Boolean(t.instant),
    exemplar: Boolean(t.exemplar),
    format: t.format ?? 'time_series',
  }));
}

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

class Layout {
  private y = 0;
  private x = 0;
  private rowHeight = 0;
  private nextId = 1;
  readonly panels: Json[] = [];

  row(title: string): void {
    this.newline();
    this.panels.push({ type: 'row', id: this.nextId++, title, collapsed: false, gridPos: { x: 0, y: this.y, w: 24, h: 1 }, panels: [] });
    this.y += 1;
  }

  add(w: number, h: number, panel: Json): void {
    if (this.x + w > 24) this.newline();
    const gridPos: Box = { x: this.x, y: this.y, w, h };
    this.panels.push({ id: this.nextId++, gridPos, datasource: DS, ...panel });
    this.x += w;
    this.rowHeight = Math.max(this.rowHeight, h);
  }

  private newline(): void {
    this.y += this.rowHeight;
    this.x = 0;
    this.rowHeight = 0;
  }
}

interface SeriesOptions {
  title: string;
  description: string;
  unit: string;
  targets: readonly Target[];
  stack?: boolean;
  min?: number;
  max?: number;
  links?: Json[];
  overrides?: Json[];
  bars?: boolean;
}

function timeseries(o: SeriesOptions): Json {
  return {
    type: 'timeseries',
    title: o.title,
    description: o.description,
    fieldConfig: {
      defaults: {
        unit: o.unit,
        ...(o.min === undefined ? {} : { min: o.min }),
        ...(o.max === undefined ? {} : { max: o.max }),
        color: { mode: 'palette-classic' },
        custom: {
          drawStyle: o.bars ? 'bars' : 'line',
          lineWidth: 1,
          fillOpacity: o.stack ? 60 : 10,
          showPoints: 'never',
          spanNulls: false,
          stacking: { mode: o.stack ? 'normal' : 'none', group: 'A' },
          axisPlacement: 'auto',
          axisSoftMin: 0,
        },
        links: o.links ?? [],
      },
      overrides: o.overrides ?? [],
    },
    options: {
      legend: { showLegend: true, displayMode: 'table', placement: 'right', calcs: ['mean', 'max', 'lastNotNull'], sortBy: 'Max', sortDesc: true },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
    targets: targets(o.targets),
  };
}

interface StatOptions {
  title: string;
  description: string;
  unit: string;
  expr: string;
  thresholds?: Array<[number | null, string]>;
  decimals?: number;
  instant?: boolean;
}

function stat(o: StatOptions): Json {
  const steps = (o.thresholds ?? [[null, 'green']]).map(([value, color]) => ({ value, color }));
  return {
    type: 'stat',
    title: o.title,
    description: o.description,
    fieldConfig: {
      defaults: {
        unit: o.unit,
        ...(o.decimals === undefined ? {} : { decimals: o.decimals }),
        color: { mode: 'thresholds' },
        thresholds: { mode: 'absolute', steps },
        mappings: [],
      },
      overrides: [],
    },
    options: {
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      colorMode: 'background',
      graphMode: o.instant ? 'none' : 'area',
      justifyMode: 'auto',
      orientation: 'auto',
      textMode: 'auto',
      wideLayout: true,
      showPercentChange: false,
    },
    targets: targets([{ expr: o.expr, instant: o.instant ?? false }]),
  };
}

interface TableOptions {
  title: string;
  description: string;
  expr: string;
  /** Columns to keep, in order, and their header text. */
  columns: Array<[string, string]>;
  overrides?: Json[];
  sortBy?: string;
}

function table(o: TableOptions): Json {
  const indexByName: Record<string, number> = {};
  const renameByName: Record<string, string> = {};
  const excludeByName: Record<string, boolean> = { Time: true };
  o.columns.forEach(([field, header], i) => {
    indexByName[field] = i;
    renameByName[field] = header;
  });
  return {
    type: 'table',
    title: o.title,
    description: o.description,
    fieldConfig: {
      defaults: { custom: { align: 'auto', cellOptions: { type: 'auto' }, inspect: true, filterable: true }, mappings: [] },
      overrides: o.overrides ?? [],
    },
    options: {
      showHeader: true,
      cellHeight: 'sm',
      footer: { show: false, reducer: ['sum'], countRows: false, fields: '' },
      sortBy: o.sortBy === undefined ? [] : [{ displayName: o.sortBy, desc: true }],
    },
    targets: targets([{ expr: o.expr, instant: true, format: 'table' }]),
    transformations: [
      // Keep only the named columns (drops __name__, job, instance and any other label).
      {
        id: 'filterFieldsByName',
        options: { include: { names: o.columns.map(([field]) => field) } },
      },
      { id: 'organize', options: { excludeByName, indexByName, renameByName } },
    ],
  };
}

function textPanel(title: string, content: string): Json {
  return { type: 'text', title, options: { mode: 'markdown', content, code: { language: 'plaintext', showLineNumbers: false, showMiniMap: false } } };
}

function datasourceVariable(name: string, label: string, pluginId: string, description: string): Json {
  return { name, label, description, type: 'datasource', query: pluginId, current: {}, hide: 0, includeAll: false, multi: false, options: [], refresh: 1, regex: '', skipUrlSync: false };
}

function queryVariable(name: string, label: string, query: string, opts: { multi: boolean; includeAll: boolean; description: string }): Json {
  return {
    name,
    label,
    description: opts.description,
    type: 'query',
    datasource: DS,
    definition: query,
    query: { query, refId: 'PrometheusVariableQueryEditor-VariableQuery' },
    refresh: 2,
    sort: 1,
    multi: opts.multi,
    includeAll: opts.includeAll,
    ...(opts.includeAll ? { allValue: '.*' } : {}),
    current: {},
    options: [],
    hide: 0,
    regex: '',
    skipUrlSync: false,
  };
}

function dashboard(uid: string, title: string, description: string, variables: Json[], panels: Json[], links: Json[]): Json {
  return {
    uid,
    title,
    description,
    tags: ['paysignal'],
    editable: true,
    fiscalYearStartMonth: 0,
    graphTooltip: 1,
    id: null,
    links,
    liveNow: false,
    panels,
    refresh: '30s',
    schemaVersion: 39,
    time: { from: 'now-6h', to: 'now' },
    timepicker: {},
    timezone: '',
    version: 1,
    weekStart: '',
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
        {
          name: 'paysignal alerts',
          datasource: DS,
          enable: true,
          hide: false,
          iconColor: 'red',
          expr: 'sum by (rule, severity) (paysignal_alerts_firing) > 0',
          step: '60s',
          titleFormat: 'Alert {{rule}}',
          textFormat: 'severity {{severity}} (in-process engine)',
          useValueForTime: false,
        },
      ],
    },
    templating: { list: variables },
  };
}

const DASHBOARD_LINKS: Json[] = [
  { title: 'paysignal', type: 'dashboards', tags: ['paysignal'], asDropdown: true, includeVars: true, keepTime: true, icon: 'external link', targetBlank: false, tooltip: '', url: '' },
];

/** TraceQL search in the ${traces} datasource via Grafana Explore (Grafana 10+ URL format). */
function exploreTracesUrl(traceql: string): string {
  const panes = {
    t: {
      datasource: '${traces}',
      queries: [{ refId: 'A', datasource: { type: 'tempo', uid: '${traces}' }, queryType: 'traceql', query: traceql, limit: 20 }],
      range: { from: '${__from}', to: '${__to}' },
    },
  };
  // Grafana interpolates the ${...} variables before following the link, so they stay unencoded.
  const encoded = encodeURIComponent(JSON.stringify(panes)).replace(/%24%7B([a-zA-Z_:.]+)%7D/g, (_m, v: string) => `\${${v}}`);
  return `/explore?schemaVersion=1&orgId=1&panes=${encoded}`;
}

// Retry decisions (docs/architecture.md#taxonomy), as shown in tables.
const RETRY_TEXT: Record<string, string> = {
  retry_with_backoff: 'Retry with backoff (honour Retry-After / X-RateLimit-Reset)',
  retry_same_key_later: 'Retry later with the same idempotency key',
  reconcile_before_retry: 'Read the resource first; the outcome may exist',
  fix_and_resubmit: 'Fix the request and resubmit',
  new_checkout: 'Start a new order / session / checkout',
  reauthenticate: 'Reauthenticate (credentials)',
  contact_provider: 'Contact the provider / merchant account',
  do_not_retry: 'Do not retry',
};

function retryMappings(): Json[] {
  const options: Record<string, Json> = {};
  Object.entries(RETRY_TEXT).forEach(([value, text], index) => {
    options[value] = { text: `${value}: ${text}`, index };
  });
  return [{ type: 'value', options }];
}

interface RawCatalog {
  provider: string;
  entries?: Array<{ code: string | number; status?: number; operations?: string[]; summary: string; remediation: string; owner: string }>;
}

/** `provider:code` -> remediation text from the catalog (entries with one code joined, by status). */
export function remediationTexts(providersDir = join(ROOT, 'src', 'providers')): Map<string, string> {
  const out = new Map<string, string[]>();
  for (const dir of readdirSync(providersDir, { withFileTypes: true })) {
    if (!dir.isDirectory() || dir.name.startsWith('_')) continue;
    const catalog = parse(readFileSync(join(providersDir, dir.name, 'catalog.yaml'), 'utf8')) as RawCatalog;
    for (const entry of catalog.entries ?? []) {
      const key = `${catalog.provider}:${String(entry.code)}`;
      const where = [entry.status === undefined ? null : `HTTP ${entry.status}`, entry.operations?.join(', ') ?? null].filter((s) => s !== null).join(', ');
      const text = `${where === '' ? '' : `[${where}] `}${entry.summary} (owner: ${entry.owner}). ${entry.remediation.trim().replace(/\s+/g, ' ')}`;
      out.set(key, [...(out.get(key) ?? []), text]);
    }
  }
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, v.join(' | ')]));
}

function remediationMappings(): Json[] {
  const options: Record<string, Json> = {};
  let index = 0;
  for (const [key, text] of remediationTexts()) options[key] = { text, index: index++ };
  return [
    { type: 'value', options },
    {
      type: 'regex',
      options: {
        pattern: '^([^:]+):__overflow__$',
        result: { text: 'Codes beyond the per-provider cap (config metrics.unknown_code_cap); see the traces or the dead-letter-free event log for the real codes.', index: index++ },
      },
    },
    {
      type: 'regex',
      options: { pattern: '^([^:]+):(.*)$', result: { text: 'No catalog entry for $2 (classified by HTTP status or error type): `paysignal explain $1 $2`', index: index++ } },
    },
  ];
}

// ---------------------------------------------------------------------------------------------------
// Overview

function overview(): Json {
  const p = 'provider=~"$provider"';
  const l = new Layout();
  l.row('Traffic');
  l.add(6, 4, stat({ title: 'Calls/s', description: 'Payment-provider calls per second seen by paysignal.', unit: 'reqps', expr: `sum(rate(payment_provider_calls_total{${p}}[${RATE}]))` }));
  l.add(6, 4, stat({
    title: 'Error ratio',
    description: 'Share of calls that failed (HTTP status >= 400 or no response).',
    unit: 'percentunit',
    decimals: 2,
    expr: `sum(rate(payment_provider_calls_total{${p}, outcome="error"}[${RATE}])) / sum(rate(payment_provider_calls_total{${p}}[${RATE}]))`,
    thresholds: [[null, 'green'], [0.02, 'orange'], [0.1, 'red']],
  }));
  l.add(6, 4, stat({
    title: 'Retry violations (range)',
    description: 'Attempts made after a decision that the same request cannot succeed, over the dashboard range.',
    unit: 'short',
    instant: true,
    expr: `sum(increase(payment_provider_retry_violations_total{${p}}[$__range]))`,
    thresholds: [[null, 'green'], [1, 'orange']],
  }));
  l.add(6, 4, stat({
    title: 'Alerts firing',
    description: 'Alerts the in-process engine has firing. With several replicas the chart disables the in-process engine and Prometheus evaluates the compiled rules: then see Alertmanager / Grafana alerting instead.',
    unit: 'short',
    instant: true,
    expr: 'sum(paysignal_alerts_firing) or vector(0)',
    thresholds: [[null, 'green'], [1, 'red']],
  }));
  l.add(12, 8, timeseries({
    title: 'Calls/s by provider and outcome',
    description: 'Rate of calls per provider, split into success and error.',
    unit: 'reqps',
    stack: true,
    targets: [{ expr: `sum by (provider, outcome) (rate(payment_provider_calls_total{${p}}[${RATE}]))`, legend: '{{provider}} {{outcome}}' }],
  }));
  l.add(12, 8, timeseries({
    title: 'Error ratio by provider',
    description: 'Failed calls / all calls, per provider.',
    unit: 'percentunit',
    min: 0,
    targets: [{
      expr: `sum by (provider) (rate(payment_provider_calls_total{${p}, outcome="error"}[${RATE}])) / sum by (provider) (rate(payment_provider_calls_total{${p}}[${RATE}]))`,
      legend: '{{provider}}',
    }],
    links: [{ title: 'Drill down into ${__field.labels.provider}', url: '/d/paysignal-provider/paysignal-provider?${datasource:queryparam}&var-provider=${__field.labels.provider}&${__url_time_range}' }],
  }));

  l.row('Errors');
  l.add(12, 9, timeseries({
    title: 'Errors/s by category',
    description: 'Failed calls classified into the shared taxonomy (docs/architecture.md#taxonomy). Exemplars link to the traces of individual calls.',
    unit: 'reqps',
    stack: true,
    targets: [{ expr: `sum by (category) (rate(payment_provider_errors_total{${p}}[${RATE}]))`, legend: '{{category}}', exemplar: true }],
  }));
  l.add(12, 9, timeseries({
    title: 'Errors/s by provider code (top 10)',
    description: "The providers' own error codes. __overflow__ collects unknown codes beyond the per-provider cap.",
    unit: 'reqps',
    targets: [{ expr: `topk(10, sum by (provider, code) (rate(payment_provider_errors_total{${p}}[${RATE}])))`, legend: '{{provider}} {{code}}', exemplar: true }],
    links: [{ title: 'Drill down into ${__field.labels.provider} ${__field.labels.code}', url: '/d/paysignal-provider/paysignal-provider?${datasource:queryparam}&var-provider=${__field.labels.provider}&var-code=${__field.labels.code}&${__url_time_range}' }],
  }));
  l.add(24, 9, table({
    title: 'Errors by code over the range',
    description: 'Every provider error code seen in the dashboard range with its category and what the integration should do next.',
    expr: `sort_desc(sum by (provider, code, category, retry) (increase(payment_provider_errors_total{${p}}[$__range])) > 0)`,
    columns: [['provider', 'Provider'], ['code', 'Code'], ['category', 'Category'], ['retry', 'Next step'], ['Value', 'Errors']],
    sortBy: 'Errors',
    overrides: [
      { matcher: { id: 'byName', options: 'retry' }, properties: [{ id: 'mappings', value: retryMappings() }] },
      { matcher: { id: 'byName', options: 'Value' }, properties: [{ id: 'decimals', value: 0 }, { id: 'custom.cellOptions', value: { type: 'gauge', mode: 'basic' } }] },
      {
        matcher: { id: 'byName', options: 'code' },
        properties: [{ id: 'links', value: [{ title: 'Drill down with remediation', url: '/d/paysignal-provider/paysignal-provider?${datasource:queryparam}&var-provider=${__data.fields.provider}&var-code=${__data.fields.code}&${__url_time_range}' }] }],
      },
    ],
  }));

  l.row('Latency');
  for (const [q, title] of [[0.5, 'p50'], [0.9, 'p90'], [0.99, 'p99']] as const) {
    l.add(8, 8, timeseries({
      title: `Latency ${title} by provider`,
      description: `${title} of payment-provider call durations as the calling services measured them (histogram_quantile over payment_provider_call_duration_seconds). Exemplars link to traces.`,
      unit: 's',
      min: 0,
      targets: [{
        expr: `histogram_quantile(${q}, sum by (provider, le) (rate(payment_provider_call_duration_seconds_bucket{${p}}[${RATE}])))`,
        legend: '{{provider}}',
        exemplar: true,
      }],
    }));
  }

  l.row('Retries');
  l.add(12, 8, timeseries({
    title: 'Retries/s by provider',
    description: 'Calls that repeat an earlier attempt under the same idempotency key or correlation id.',
    unit: 'reqps',
    targets: [{ expr: `sum by (provider) (rate(payment_provider_retries_total{${p}}[${RATE}]))`, legend: '{{provider}}' }],
  }));
  l.add(12, 8, timeseries({
    title: 'Retry violations by provider, code and decision',
    description: 'New attempts after a decision that says the same request cannot succeed (do_not_retry, new_checkout, contact_provider, fix_and_resubmit). code and retry are those of that decision.',
    unit: 'short',
    bars: true,
    stack: true,
    targets: [{ expr: `sum by (provider, code, retry) (increase(payment_provider_retry_violations_total{${p}}[${RATE}])) > 0`, legend: '{{provider}} {{code}} → {{retry}}' }],
  }));

  l.row('Alerts');
  l.add(24, 7, table({
    title: 'Alerts firing (in-process engine)',
    description: 'Rules the in-process engine has firing now, by rule and severity. Empty with the in-process engine disabled (several replicas): Prometheus evaluates the compiled rules then.',
    expr: 'sum by (rule, severity) (paysignal_alerts_firing) > 0',
    columns: [['rule', 'Rule'], ['severity', 'Severity'], ['Value', 'Firing groups']],
    sortBy: 'Firing groups',
  }));

  return dashboard(
    'paysignal-overview',
    'paysignal / Overview',
    'Payment-provider calls, errors classified by the providers\' own codes, latency, retries and alerts.',
    [
      datasourceVariable('datasource', 'Prometheus', 'prometheus', 'Prometheus that scrapes paysignal'),
      datasourceVariable('traces', 'Traces', 'tempo', 'Traces datasource (paysignal exports spans over OTLP)'),
      queryVariable('provider', 'Provider', 'label_values(payment_provider_calls_total, provider)', { multi: true, includeAll: true, description: 'Payment provider' }),
    ],
    l.panels,
    DASHBOARD_LINKS,
  );
}

// ---------------------------------------------------------------------------------------------------
// Provider drill-down

function provider(): Json {
  const sel = 'provider="$provider", operation=~"$operation"';
  const errSel = `${sel}, code=~"$code"`;
  const l = new Layout();
  l.row('$provider');
  l.add(6, 4, stat({ title: 'Calls/s', description: 'Calls to this provider (selected operations).', unit: 'reqps', expr: `sum(rate(payment_provider_calls_total{${sel}}[${RATE}]))` }));
  l.add(6, 4, stat({
    title: 'Error ratio',
    description: 'Failed calls / all calls (selected operations).',
    unit: 'percentunit',
    decimals: 2,
    expr: `sum(rate(payment_provider_calls_total{${sel}, outcome="error"}[${RATE}])) / sum(rate(payment_provider_calls_total{${sel}}[${RATE}]))`,
    thresholds: [[null, 'green'], [0.02, 'orange'], [0.1, 'red']],
  }));
  l.add(6, 4, stat({
    title: 'Latency p99',
    description: 'p99 call duration (selected operations).',
    unit: 's',
    expr: `histogram_quantile(0.99, sum by (le) (rate(payment_provider_call_duration_seconds_bucket{${sel}}[${RATE}])))`,
  }));
  l.add(6, 4, stat({
    title: 'Retry violations (range)',
    description: 'Attempts after a non-retryable decision for the selected codes, over the dashboard range.',
    unit: 'short',
    instant: true,
    expr: `sum(increase(payment_provider_retry_violations_total{provider="$provider", code=~"$code"}[$__range])) or vector(0)`,
    thresholds: [[null, 'green'], [1, 'orange']],
  }));
  l.add(12, 8, timeseries({
    title: 'Calls/s by operation and outcome',
    description: 'Calls per logical operation (from the event, or derived from method + route).',
    unit: 'reqps',
    stack: true,
    targets: [{ expr: `sum by (operation, outcome) (rate(payment_provider_calls_total{${sel}}[${RATE}]))`, legend: '{{operation}} {{outcome}}' }],
  }));
  l.add(12, 8, timeseries({
    title: 'Error ratio by operation',
    description: 'Failed calls / all calls per operation.',
    unit: 'percentunit',
    min: 0,
    targets: [{
      expr: `sum by (operation) (rate(payment_provider_calls_total{${sel}, outcome="error"}[${RATE}])) / sum by (operation) (rate(payment_provider_calls_total{${sel}}[${RATE}]))`,
      legend: '{{operation}}',
    }],
  }));
  l.add(12, 9, timeseries({
    title: 'Errors/s by code',
    description: 'Failed calls by the provider\'s own error code. Exemplars link to the trace of a failed call.',
    unit: 'reqps',
    stack: true,
    targets: [{ expr: `sum by (code) (rate(payment_provider_errors_total{${errSel}}[${RATE}]))`, legend: '{{code}}', exemplar: true }],
    links: [{ title: 'Error traces with code ${__field.labels.code}', url: exploreTracesUrl('{ span.payment.provider = "${provider}" && span.payment.error.code = "${__field.labels.code}" }'), targetBlank: true }],
  }));
  l.add(12, 9, timeseries({
    title: 'Latency percentiles by operation',
    description: 'p50 and p99 call duration per operation; exemplars link to traces.',
    unit: 's',
    min: 0,
    targets: [
      { expr: `histogram_quantile(0.5, sum by (operation, le) (rate(payment_provider_call_duration_seconds_bucket{${sel}}[${RATE}])))`, legend: 'p50 {{operation}}', exemplar: true },
      { expr: `histogram_quantile(0.99, sum by (operation, le) (rate(payment_provider_call_duration_seconds_bucket{${sel}}[${RATE}])))`, legend: 'p99 {{operation}}', exemplar: true },
    ],
  }));
  l.add(24, 10, {
    ...table({
      title: 'Error codes and remediation',
      description: "Every code seen in the range with paysignal's decision and the remediation text of the provider catalog (src/providers/<provider>/catalog.yaml, embedded when the dashboard was generated; `paysignal explain PROVIDER CODE` prints the current entry). Click a code for its error traces.",
      // label_join adds `remediation` = "provider:code", the key of the catalog value mappings below.
      expr: `sort_desc(label_join(sum by (provider, operation, code, category, retry) (increase(payment_provider_errors_total{${errSel}}[$__range])) > 0, "remediation", ":", "provider", "code"))`,
      columns: [['operation', 'Operation'], ['code', 'Code'], ['category', 'Category'], ['retry', 'Next step'], ['Value', 'Errors'], ['remediation', 'Remediation']],
      sortBy: 'Errors',
      overrides: [
        { matcher: { id: 'byName', options: 'retry' }, properties: [{ id: 'mappings', value: retryMappings() }] },
        { matcher: { id: 'byName', options: 'Value' }, properties: [{ id: 'decimals', value: 0 }, { id: 'custom.width', value: 90 }] },
        { matcher: { id: 'byName', options: 'remediation' }, properties: [{ id: 'mappings', value: remediationMappings() }, { id: 'custom.width', value: 700 }] },
        {
          matcher: { id: 'byName', options: 'code' },
          properties: [{
            id: 'links',
            value: [{ title: 'Error traces for ${__data.fields.code}', url: exploreTracesUrl('{ span.payment.provider = "${provider}" && span.payment.error.code = "${__data.fields.code}" }'), targetBlank: true }],
          }],
        },
      ],
    }),
  });
  l.add(12, 8, timeseries({
    title: 'Retries/s by operation',
    description: 'Repeated attempts under the same idempotency key or correlation id.',
    unit: 'reqps',
    targets: [{ expr: `sum by (operation) (rate(payment_provider_retries_total{${sel}}[${RATE}]))`, legend: '{{operation}}' }],
  }));
  l.add(12, 8, timeseries({
    title: 'Retry violations by code and decision',
    description: 'Attempts after a decision that the same request cannot succeed (code and retry of that decision).',
    unit: 'short',
    bars: true,
    stack: true,
    targets: [{ expr: `sum by (code, retry) (increase(payment_provider_retry_violations_total{provider="$provider", code=~"$code"}[${RATE}])) > 0`, legend: '{{code}} → {{retry}}' }],
  }));
  l.add(24, 5, textPanel(
    'Remediation',
    [
      'The **Next step** column is paysignal\'s retry decision (docs/architecture.md#taxonomy); **Remediation** is the provider catalog\'s text for that code,',
      'embedded when the dashboards were generated (`node scripts/dashboards.ts`).',
      'For the current catalog entry of a code run `paysignal explain $provider CODE`.',
      'Codes without an entry were classified by HTTP status or the provider\'s error type; `__overflow__` collects unknown codes beyond',
      'the per-provider cap (`metrics.unknown_code_cap`) — the spans in the traces datasource keep the real code.',
    ].join('\n'),
  ));

  return dashboard(
    'paysignal-provider',
    'paysignal / Provider',
    'One payment provider: calls, errors by operation and code with remediation, latency and retries.',
    [
      datasourceVariable('datasource', 'Prometheus', 'prometheus', 'Prometheus that scrapes paysignal'),
      datasourceVariable('traces', 'Traces', 'tempo', 'Traces datasource (paysignal exports spans over OTLP)'),
      queryVariable('provider', 'Provider', 'label_values(payment_provider_calls_total, provider)', { multi: false, includeAll: false, description: 'Payment provider' }),
      queryVariable('operation', 'Operation', 'label_values(payment_provider_calls_total{provider="$provider"}, operation)', { multi: true, includeAll: true, description: 'Logical operation' }),
      queryVariable('code', 'Error code', 'label_values(payment_provider_errors_total{provider="$provider", operation=~"$operation"}, code)', { multi: true, includeAll: true, description: "The provider's error code" }),
    ],
    l.panels,
    DASHBOARD_LINKS,
  );
}

// ---------------------------------------------------------------------------------------------------
// paysignal's own health

function health(): Json {
  const l = new Layout();
  l.row('Ingestion');
  l.add(6, 4, stat({ title: 'Events/s', description: 'Events read from all sources.', unit: 'reqps', expr: `sum(rate(paysignal_events_total[${RATE}]))` }));
  l.add(6, 4, stat({
    title: 'Invalid share',
    description: 'Events the decoder rejected / all events.',
    unit: 'percentunit',
    decimals: 2,
    expr: `sum(rate(paysignal_events_total{result="invalid"}[${RATE}])) / sum(rate(paysignal_events_total[${RATE}]))`,
    thresholds: [[null, 'green'], [0.001, 'orange'], [0.05, 'red']],
  }));
  l.add(6, 4, stat({
    title: 'Consumer lag',
    description: 'Messages behind the high watermark, summed over all assigned partitions.',
    unit: 'short',
    expr: 'sum(paysignal_kafka_consumer_lag)',
    thresholds: [[null, 'green'], [10000, 'orange'], [100000, 'red']],
  }));
  l.add(6, 4, stat({
    title: 'Dead-letter write failures (range)',
    description: 'Failed writes to the dead-letter topic (the batch is processed again).',
    unit: 'short',
    instant: true,
    expr: 'sum(increase(paysignal_dead_letter_failures_total[$__range])) or vector(0)',
    thresholds: [[null, 'green'], [1, 'red']],
  }));
  l.add(12, 8, timeseries({
    title: 'Events/s by source and result',
    description: 'Events read, classified or rejected as invalid.',
    unit: 'reqps',
    stack: true,
    targets: [{ expr: `sum by (source, result) (rate(paysignal_events_total[${RATE}]))`, legend: '{{source}} {{result}}' }],
  }));
  l.add(12, 8, timeseries({
    title: 'Kafka messages consumed/s by topic',
    description: 'Messages fully processed (all sinks done) and committed.',
    unit: 'reqps',
    targets: [{ expr: `sum by (topic) (rate(paysignal_kafka_messages_consumed_total[${RATE}]))`, legend: '{{topic}}' }],
  }));
  l.add(12, 8, timeseries({
    title: 'Invalid events/s by reason',
    description: 'Rejections by the decoder: not_json, missing_field, wrong_type, too_large, …',
    unit: 'reqps',
    stack: true,
    targets: [{ expr: `sum by (reason) (rate(paysignal_invalid_events_total[${RATE}]))`, legend: '{{reason}}' }],
  }));
  l.add(12, 8, timeseries({
    title: 'Dead letters/s',
    description: 'Rejected events written to the dead-letter topic, and failed dead-letter writes.',
    unit: 'reqps',
    targets: [
      { expr: `sum(rate(paysignal_dead_letter_events_total[${RATE}]))`, legend: 'written' },
      { expr: `sum(rate(paysignal_dead_letter_failures_total[${RATE}]))`, legend: 'write failures' },
    ],
  }));

  l.row('Kafka');
  l.add(12, 8, timeseries({
    title: 'Consumer lag by topic and partition',
    description: 'Messages between the high watermark and the next offset to process (per replica for its assigned partitions).',
    unit: 'short',
    min: 0,
    targets: [{ expr: 'sum by (topic, partition) (paysignal_kafka_consumer_lag)', legend: '{{topic}}/{{partition}}' }],
  }));
  l.add(12, 8, timeseries({
    title: 'Batch duration p50 / p99',
    description: 'Time from handing a fetched batch to the pipeline until all its sinks have finished.',
    unit: 's',
    min: 0,
    targets: [
      { expr: `histogram_quantile(0.5, sum by (le) (rate(paysignal_kafka_batch_duration_seconds_bucket[${RATE}])))`, legend: 'p50' },
      { expr: `histogram_quantile(0.99, sum by (le) (rate(paysignal_kafka_batch_duration_seconds_bucket[${RATE}])))`, legend: 'p99' },
    ],
  }));

  l.add(12, 8, timeseries({
    title: 'Unmatched retries by provider (share of retries)',
    description:
      'Retries (attempt > 1) whose earlier attempts never reached the same instance, as a share of all retries. Near 0: attempts of one payment meet in one place. Well above 0 with several replicas or worker threads: producers do not key messages by idempotency key or correlation id, so retries, storms and retry violations are undercounted (README: keying the topic).',
    unit: 'percentunit',
    min: 0,
    targets: [{
      expr: `sum by (provider) (rate(paysignal_correlation_unmatched_retries_total[${RATE}])) / sum by (provider) (rate(payment_provider_retries_total[${RATE}]))`,
      legend: '{{provider}}',
    }],
  }));

  l.row('Labels and alerting');
  l.add(12, 8, timeseries({
    title: 'Label overflow/s by metric and label',
    description: 'Observations recorded with a label value replaced by __overflow__ because the per-provider cap was reached. Raise metrics.unknown_code_cap / unknown_operation_cap, or add the codes to the catalog.',
    unit: 'reqps',
    targets: [{ expr: `sum by (metric, label) (rate(paysignal_label_overflow_total[${RATE}]))`, legend: '{{metric}} {{label}}' }],
  }));
  l.add(12, 8, timeseries({
    title: 'Alert notifications/s by result',
    description: 'Alertmanager notifications: sent, failed (will retry), dropped (queue full), stale (older than max_alert_age, not sent). Anything but sent deserves a look.',
    unit: 'reqps',
    targets: [
      { expr: `sum by (result) (rate(paysignal_alert_notifications_total{result!="sent"}[${RATE}]))`, legend: '{{result}}' },
      { expr: `sum(rate(paysignal_alert_notifications_total{result="sent"}[${RATE}]))`, legend: 'sent' },
    ],
    overrides: [{ matcher: { id: 'byName', options: 'sent' }, properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'green' } }] }],
  }));

  l.row('Process');
  l.add(8, 7, timeseries({
    title: 'CPU',
    description: 'CPU seconds per second per instance.',
    unit: 'percentunit',
    targets: [{ expr: `sum by (instance) (rate(process_cpu_seconds_total{job=~"$job"}[${RATE}]))`, legend: '{{instance}}' }],
  }));
  l.add(8, 7, timeseries({
    title: 'Memory (RSS and heap)',
    description: 'Resident set size and V8 heap used per instance.',
    unit: 'bytes',
    targets: [
      { expr: 'sum by (instance) (process_resident_memory_bytes{job=~"$job"})', legend: 'rss {{instance}}' },
      { expr: 'sum by (instance) (nodejs_heap_size_used_bytes{job=~"$job"})', legend: 'heap used {{instance}}' },
    ],
  }));
  l.add(8, 7, timeseries({
    title: 'Event loop lag p99',
    description: 'Node.js event-loop delay p99 per instance; sustained values above ~100 ms slow ingestion.',
    unit: 's',
    targets: [{ expr: 'max by (instance) (nodejs_eventloop_lag_p99_seconds{job=~"$job"})', legend: '{{instance}}' }],
  }));

  return dashboard(
    'paysignal-health',
    'paysignal / Health',
    "paysignal's own health: ingestion, invalid events and dead letters, Kafka lag, label overflow, alert notifications, process.",
    [
      datasourceVariable('datasource', 'Prometheus', 'prometheus', 'Prometheus that scrapes paysignal'),
      queryVariable('job', 'Job', 'label_values(paysignal_events_total, job)', { multi: true, includeAll: true, description: 'Scrape job(s) of paysignal (for the process panels)' }),
    ],
    l.panels,
    DASHBOARD_LINKS,
  );
}

// ---------------------------------------------------------------------------------------------------

export const DASHBOARD_FILES: Readonly<Record<string, () => Json>> = {
  'overview.json': overview,
  'provider.json': provider,
  'paysignal-health.json': health,
};

export function renderDashboards(): Map<string, string> {
  return new Map(Object.entries(DASHBOARD_FILES).map(([file, build]) => [file, `${JSON.stringify(build(), null, 2)}\n`]));
}

function main(argv: readonly string[]): number {
  const check = argv.includes('--check');
  const stale: string[] = [];
  for (const [file, text] of renderDashboards()) {
    const path = join(DASHBOARDS_DIR, file);
    let current: string | null = null;
    try {
      current = readFileSync(path, 'utf8');
    } catch {
      current = null;
    }
    if (current === text) continue;
    if (check) stale.push(file);
    else writeFileSync(path, text);
  }
  if (stale.length > 0) {
    process.stderr.write(`dashboards out of date (run node scripts/dashboards.ts): ${stale.join(', ')}\n`);
    return 1;
  }
  if (!check) process.stdout.write(`dashboards written to ${DASHBOARDS_DIR}\n`);
  return 0;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv.slice(2));
