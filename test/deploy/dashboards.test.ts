// The Grafana dashboards: current schema, datasource variables, every PromQL expression valid (promtool
// on a generated rule file) and reading only metrics paysignal emits, exemplars on latency and error
// panels, links between dashboards, remediation text from the catalogs.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { allQueries, baseMetric, dashboardFiles, metricNames, substituteVariables, usedMetrics, variableSelector } from '../../scripts/dashboard-queries.ts';
import { remediationTexts } from '../../scripts/dashboards.ts';
import { PROJECT_NODE, ROOT } from '../support/cli.ts';

type Json = Record<string, any>;

const PROMTOOL = '/usr/bin/promtool';
const DASHBOARDS = join(ROOT, 'dashboards');

/** What paysignal emits (docs/architecture.md#metrics, the Kafka source, the dead-letter sink) and the prom-client defaults. */
const EMITTED = new Set([
  'payment_provider_calls_total',
  'payment_provider_errors_total',
  'payment_provider_call_duration_seconds',
  'payment_provider_retries_total',
  'payment_provider_retry_violations_total',
  'paysignal_correlation_unmatched_retries_total',
  'paysignal_events_total',
  'paysignal_invalid_events_total',
  'paysignal_dead_letter_events_total',
  'paysignal_kafka_consumer_lag',
  'paysignal_label_overflow_total',
  'paysignal_alerts_firing',
  'paysignal_alert_notifications_total',
  'paysignal_kafka_batch_duration_seconds',
  'paysignal_kafka_messages_consumed_total',
  'paysignal_dead_letter_failures_total',
]);
const HISTOGRAMS = new Set(['payment_provider_call_duration_seconds', 'paysignal_kafka_batch_duration_seconds']);
const DEFAULT_METRIC = /^(process|nodejs)_[a-z0-9_]+$/;

const EXPECTED_UIDS: Record<string, string> = {
  'overview.json': 'paysignal-overview',
  'provider.json': 'paysignal-provider',
  'paysignal-health.json': 'paysignal-health',
};

function load(file: string): Json {
  return JSON.parse(readFileSync(join(DASHBOARDS, file), 'utf8')) as Json;
}

function panels(d: Json): Json[] {
  const out: Json[] = [];
  const walk = (list: Json[] | undefined): void => {
    for (const p of list ?? []) {
      out.push(p);
      walk(p.panels as Json[] | undefined);
    }
  };
  walk(d.panels as Json[]);
  return out;
}

function exprsOf(panel: Json): string[] {
  return ((panel.targets as Json[] | undefined) ?? []).map((t) => t.expr as string);
}

function run(cmd: string, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, [...args], { cwd: ROOT, timeout: 60_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : 1, stdout, stderr });
    });
  });
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'paysignal-dashboards-test-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('dashboard files', () => {
  it('are the three dashboards, each valid JSON with a stable uid', () => {
    expect(dashboardFiles(DASHBOARDS)).toEqual(Object.keys(EXPECTED_UIDS).sort());
    for (const [file, uid] of Object.entries(EXPECTED_UIDS)) {
      const d = load(file);
      expect(d.uid, file).toBe(uid);
      expect(d.id, file).toBeNull();
      expect(d.schemaVersion, file).toBeGreaterThanOrEqual(39);
      expect(d.title, file).toMatch(/^paysignal \/ /);
      expect(d.tags, file).toContain('paysignal');
    }
  });

  it('are what scripts/dashboards.ts generates (edit the generator, then run it)', async () => {
    const result = await run(PROJECT_NODE, [join(ROOT, 'scripts', 'dashboards.ts'), '--check']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('take the Prometheus datasource from the ${datasource} variable everywhere', () => {
    for (const file of dashboardFiles(DASHBOARDS)) {
      const d = load(file);
      const vars = d.templating.list as Json[];
      const ds = vars.find((v) => v.name === 'datasource');
      expect(ds, file).toMatchObject({ type: 'datasource', query: 'prometheus' });
      for (const v of vars.filter((x) => x.type === 'query')) expect(v.datasource, `${file} $${v.name}`).toEqual({ type: 'prometheus', uid: '${datasource}' });
      for (const p of panels(d)) {
        if (p.type === 'row' || p.type === 'text') continue;
        expect(p.datasource, `${file} ${p.title}`).toEqual({ type: 'prometheus', uid: '${datasource}' });
        for (const t of p.targets as Json[]) expect(t.datasource, `${file} ${p.title}`).toEqual({ type: 'prometheus', uid: '${datasource}' });
      }
      // no datasource uid of some particular Grafana is baked in
      const text = JSON.stringify(d);
      for (const m of text.matchAll(/"uid":\s*"([^"]*)"/g)) expect(['${datasource}', '${traces}', '-- Grafana --', EXPECTED_UIDS[file]], `${file}: uid ${m[1]}`).toContain(m[1]);
    }
  });

  it('lay panels out on the 24-column grid with unique ids', () => {
    for (const file of dashboardFiles(DASHBOARDS)) {
      const ps = panels(load(file));
      const ids = ps.map((p) => p.id as number);
      expect(new Set(ids).size, file).toBe(ids.length);
      for (const p of ps) {
        expect(p.gridPos.x + p.gridPos.w, `${file} ${p.title}`).toBeLessThanOrEqual(24);
        expect(p.gridPos.h, `${file} ${p.title}`).toBeGreaterThan(0);
      }
      expect(ps.filter((p) => p.type !== 'row' && p.type !== 'text').length, file).toBeGreaterThanOrEqual(8);
    }
  });

  it('link only to dashboards that exist', () => {
    const uids = new Set(Object.values(EXPECTED_UIDS));
    for (const file of dashboardFiles(DASHBOARDS)) {
      for (const m of JSON.stringify(load(file)).matchAll(/\/d\/([A-Za-z0-9_-]+)\//g)) expect(uids, `${file} links to ${m[1]}`).toContain(m[1]);
    }
  });
});

describe('overview', () => {
  const d = (): Json => load('overview.json');
  const all = (): string => panels(d()).flatMap(exprsOf).join('\n');

  it('shows calls, error ratio per provider, errors by category and code, latency percentiles, retries, violations, alerts', () => {
    const text = all();
    expect(text).toContain('sum by (provider, outcome) (rate(payment_provider_calls_total');
    expect(text).toMatch(/sum by \(provider\) \(rate\(payment_provider_calls_total\{[^}]*outcome="error"[^}]*\}\[\$__rate_interval\]\)\) \/ sum by \(provider\) \(rate\(payment_provider_calls_total/);
    expect(text).toContain('sum by (category) (rate(payment_provider_errors_total');
    expect(text).toContain('sum by (provider, code) (rate(payment_provider_errors_total');
    for (const q of ['0.5', '0.9', '0.99']) expect(text).toContain(`histogram_quantile(${q}, sum by (provider, le) (rate(payment_provider_call_duration_seconds_bucket`);
    expect(text).toContain('payment_provider_retries_total');
    expect(text).toContain('payment_provider_retry_violations_total');
    expect(text).toContain('paysignal_alerts_firing');
  });

  it('has a traces datasource variable and asks for exemplars on every latency and error-rate panel', () => {
    const vars = d().templating.list as Json[];
    expect(vars.find((v) => v.name === 'traces')).toMatchObject({ type: 'datasource', query: 'tempo' });
    let withExemplars = 0;
    for (const p of panels(d())) {
      for (const t of (p.targets as Json[] | undefined) ?? []) {
        const expr = t.expr as string;
        if (p.type === 'timeseries' && (expr.includes('payment_provider_call_duration_seconds_bucket') || /rate\(payment_provider_errors_total/.test(expr))) {
          expect(t.exemplar, p.title).toBe(true);
          withExemplars++;
        }
      }
    }
    expect(withExemplars).toBeGreaterThanOrEqual(5);
  });
});

describe('provider drill-down', () => {
  const d = (): Json => load('provider.json');

  it('has provider, operation and code variables from label_values queries that chain', () => {
    const vars = Object.fromEntries((d().templating.list as Json[]).map((v) => [v.name, v]));
    expect(vars.provider.query.query).toBe('label_values(payment_provider_calls_total, provider)');
    expect(vars.operation.query.query).toBe('label_values(payment_provider_calls_total{provider="$provider"}, operation)');
    expect(vars.code.query.query).toBe('label_values(payment_provider_errors_total{provider="$provider", operation=~"$operation"}, code)');
    expect(vars.operation).toMatchObject({ multi: true, includeAll: true, allValue: '.*' });
    expect(vars.code).toMatchObject({ multi: true, includeAll: true, allValue: '.*' });
    expect(vars.traces).toMatchObject({ type: 'datasource', query: 'tempo' });
  });

  it('filters every panel by the variables', () => {
    for (const p of panels(d())) {
      for (const expr of exprsOf(p)) expect(expr, p.title).toContain('provider="$provider"');
    }
  });

  it('maps each provider code to the remediation text of its catalog, and links codes to their traces', () => {
    const table = panels(d()).find((p) => p.title === 'Error codes and remediation')!;
    expect(table.targets[0].expr).toContain('label_join(');
    const override = (table.fieldConfig.overrides as Json[]).find((o) => o.matcher.options === 'remediation')!;
    const mappings = override.properties.find((x: Json) => x.id === 'mappings').value as Json[];
    const byValue = mappings.find((m) => m.type === 'value')!.options as Record<string, { text: string }>;
    const catalog = remediationTexts();
    expect(catalog.size).toBeGreaterThan(50);
    expect(Object.keys(byValue).sort()).toEqual([...catalog.keys()].sort());
    expect(byValue['kustom:MERCHANT_INACTIVE']!.text).toMatch(/MID|merchant/i);
    expect(byValue['setel:9300001']).toBeDefined();
    // codes without an entry get an honest fallback pointing at `paysignal explain`
    const fallback = mappings.find((m) => m.type === 'regex' && m.options.pattern === '^([^:]+):(.*)$')!;
    expect(fallback.options.result.text).toContain('paysignal explain $1 $2');
    const codeLinks = (table.fieldConfig.overrides as Json[]).find((o) => o.matcher.options === 'code')!.properties[0].value as Json[];
    expect(codeLinks[0]!.url).toMatch(/^\/explore\?/);
    expect(decodeURIComponent(codeLinks[0]!.url as string)).toContain('span.payment.error.code = \\"${__data.fields.code}\\"');
    expect(codeLinks[0]!.url).toContain('${traces}');
  });
});

describe('paysignal health', () => {
  it("shows events/s, invalid by reason, dead letters, consumer lag, label overflow and notification failures", () => {
    const text = panels(load('paysignal-health.json')).flatMap(exprsOf).join('\n');
    expect(text).toContain('sum by (source, result) (rate(paysignal_events_total');
    expect(text).toContain('sum by (reason) (rate(paysignal_invalid_events_total');
    expect(text).toContain('paysignal_dead_letter_events_total');
    expect(text).toContain('sum by (topic, partition) (paysignal_kafka_consumer_lag)');
    expect(text).toContain('sum by (metric, label) (rate(paysignal_label_overflow_total');
    expect(text).toContain('paysignal_alert_notifications_total{result!="sent"}');
  });
});

describe('PromQL of every dashboard', () => {
  const queries = allQueries(DASHBOARDS);

  it('finds the queries of panels, variables and annotations', () => {
    expect(queries.filter((q) => q.kind === 'panel').length).toBeGreaterThanOrEqual(40);
    expect(queries.filter((q) => q.kind === 'variable').map((q) => `${q.dashboard} ${q.where}`)).toEqual(
      expect.arrayContaining(['provider.json variable $provider', 'provider.json variable $operation', 'provider.json variable $code']),
    );
  });

  it('parses: promtool check rules accepts each expression as a recording rule', async () => {
    const rules = queries.map((q, i) => ({
      record: `dashboard:query_${i}`,
      expr: substituteVariables(q.kind === 'variable' ? variableSelector(q.expr) : q.expr),
    }));
    const file = join(tmp, 'dashboard-queries.rules.yaml');
    writeFileSync(file, stringify({ groups: [{ name: 'dashboards', rules }] }, { lineWidth: 0 }));
    const result = await run(PROMTOOL, ['check', 'rules', file]);
    expect(result.stdout + result.stderr).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(result.code).toBe(0);
  });

  it('reads only metrics paysignal emits, and uses each metric of docs/architecture.md#metrics', () => {
    const used = usedMetrics(queries);
    const unknown = used.filter((m) => !EMITTED.has(baseMetric(m, HISTOGRAMS)) && !DEFAULT_METRIC.test(m));
    expect(unknown).toEqual([]);
    // histograms are read through their buckets, never as a bare family name
    for (const h of HISTOGRAMS) expect(used).not.toContain(h);
    const families = new Set(used.map((m) => baseMetric(m, HISTOGRAMS)));
    for (const m of EMITTED) expect(families, m).toContain(m);
  });

  it('substitutes Grafana variables into plain PromQL', () => {
    expect(substituteVariables('rate(x{provider=~"$provider", code="${code}"}[$__rate_interval]) offset ${__range}')).toBe('rate(x{provider=~"example", code="example"}[1m]) offset 6h');
    expect(variableSelector('label_values(payment_provider_calls_total{provider="$provider"}, operation)')).toBe('payment_provider_calls_total{provider="$provider"}');
  });
});

describe('metricNames (the PromQL lexer behind the metric list)', () => {
  it('skips functions, aggregations, label lists, label matchers, strings, durations and offsets', () => {
    expect(metricNames('sum by (provider, code) (rate(payment_provider_errors_total{provider=~"a|b", code!="x"}[5m] offset 1h))')).toEqual(['payment_provider_errors_total']);
    expect(metricNames('histogram_quantile(0.99, sum without (instance) (rate(a_bucket[1m]))) / on (job) group_left (le) b')).toEqual(['a_bucket', 'b']);
    expect(metricNames('max by (instance) (nodejs_eventloop_lag_p99_seconds) > bool 0.1 or vector(0)')).toEqual(['nodejs_eventloop_lag_p99_seconds']);
    expect(metricNames('label_join(sum(x) > 0, "remediation", ":", "provider", "code") unless count(y) and z')).toEqual(['x', 'y', 'z']);
    expect(metricNames('paysignal:merchant_inactive_spike:window_count > 1e3')).toEqual(['paysignal:merchant_inactive_spike:window_count']);
  });

  it('refuses __name__ matchers it cannot resolve', () => {
    expect(() => metricNames('{__name__=~"payment_.*"}')).toThrow(/__name__/);
  });

  it('prints the derived metric list for comparison with a live /metrics', async () => {
    const result = await run(PROJECT_NODE, [join(ROOT, 'scripts', 'dashboard-queries.ts'), '--metrics']);
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n')).toEqual(usedMetrics(allQueries(DASHBOARDS)));
  });
});
