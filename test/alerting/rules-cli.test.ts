// `paysignal rules check|test|compile`, bad rule files, and hot reload keeping the previous rules.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createAlertEngine } from '../../src/alerting/engine/index.ts';
import { loadRules, type RuleProblem } from '../../src/alerting/loader.ts';
import { ERROR_CODES } from '../../src/error-codes.ts';
import { createRuleReloader, type ReloadResult } from '../../src/alerting/reload.ts';
import { createClassifier } from '../../src/classify/classifier.ts';
import { rulesCommand } from '../../src/cli/commands/rules.ts';
import { waitFor } from '../support/processes.ts';

const execFileAsync = promisify(execFile);

function capture(): { out: { write(t: string): boolean }; text(): string } {
  let text = '';
  return { out: { write: (t: string) => ((text += t), true) }, text: () => text };
}

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = capture();
  const stderr = capture();
  const code = await rulesCommand(argv, { stdout: stdout.out, stderr: stderr.out });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

const GOOD = `apiVersion: paysignal/v1
kind: RuleSet
metadata: { name: good }
rules:
  - name: GoodRule
    kind: threshold
    selector: { code: BAD_VALUE }
    window: 5m
    threshold: { value: 3 }
`;

/** Bad files: name → [text, expected code, expected line, expected path]. */
const BAD: Record<string, [string, string, number, string]> = {
  'unknown-kind': [
    `apiVersion: paysignal/v1
kind: RuleSet
metadata: { name: bad }
rules:
  - name: Weird
    kind: spikey
    selector: { code: X }
    window: 5m
`,
    'E_UNKNOWN_KIND',
    6,
    'rules[0].kind',
  ],
  'bad-duration': [
    `apiVersion: paysignal/v1
kind: RuleSet
metadata: { name: bad }
rules:
  - name: Slow
    kind: threshold
    selector: { code: X }
    window: 10 minutes
    threshold: { value: 3 }
`,
    'E_DURATION',
    8,
    'rules[0].window',
  ],
  'missing-selector': [
    `apiVersion: paysignal/v1
kind: RuleSet
metadata: { name: bad }
defaults: { window: 10m }
rules:
  - name: EverySpike
    kind: spike
    baseline: { method: trailing, lookback: 1h, factor: 3 }
`,
    'E_MISSING_SELECTOR',
    6,
    'rules[0]',
  ],
  'window-longer-than-lookback': [
    `apiVersion: paysignal/v1
kind: RuleSet
metadata: { name: bad }
rules:
  - name: Backwards
    kind: spike
    selector: { code: X }
    window: 2h
    baseline:
      method: trailing
      lookback: 1h
      factor: 3
`,
    'E_WINDOW_EXCEEDS_LOOKBACK',
    11,
    'rules[0].baseline.lookback',
  ],
  'yaml-syntax': [
    `apiVersion: paysignal/v1
kind: RuleSet
metadata: { name: bad }
rules:
  - name: Broken
    kind: threshold
    selector: { code: [X, Y }
`,
    'E_YAML_SYNTAX',
    7,
    '',
  ],
};

describe('rule files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'paysignal-rules-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('the shipped rules check clean', async () => {
    const r = await run(['check', 'rules']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('OK: 7 rules in 3 files');
  });

  for (const [name, [text, code, line, path]] of Object.entries(BAD)) {
    it(`${name}: ${code} with file, line and path; exit 1`, async () => {
      const file = join(dir, `${name}.yaml`);
      await writeFile(file, text);
      const { problems } = await loadRules([file]);
      expect(problems.length).toBeGreaterThanOrEqual(1);
      const p = problems[0] as RuleProblem;
      expect(p).toMatchObject({ code, file, line, path });
      expect(ERROR_CODES[p.code].area).toBe('rules');
      const r = await run(['check', file]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`${file}:${line}:`);
      expect(r.stderr).toContain(code);
      expect(r.stdout).toBe('');
    });
  }

  it('messages say what is wrong', async () => {
    const messages = await Promise.all(
      Object.keys(BAD).map(async (name) => (await loadRules([join(dir, `${name}.yaml`)])).problems[0]?.message ?? ''),
    );
    expect(messages[0]).toContain('unknown rule kind "spikey"; expected one of threshold, spike, error_ratio, new_error_code, absence');
    expect(messages[1]).toContain('"10 minutes" is not a duration');
    expect(messages[2]).toContain('needs a selector');
    expect(messages[3]).toContain('window 2h is longer than the baseline lookback 1h');
    expect(messages[4]).toContain('YAML syntax error');
  });

  it('more checks: unknown field, labels per signal, templates, multiples of the interval, duplicates', async () => {
    const file = join(dir, 'more.yaml');
    await writeFile(
      file,
      `apiVersion: paysignal/v1
kind: RuleSet
metadata: { name: more }
rules:
  - name: A
    kind: absence
    group_by: [provider, code]
    window: 90s
    lookback: 1h
    annotations: { summary: "{{ $labels.code | title }}" }
  - name: A
    kind: threshold
    selector: { code: X }
    window: 5m
    threshold: { value: 1 }
    colour: red
`,
    );
    const { problems } = await loadRules([file]);
    const codes = problems.map((p) => p.code);
    expect(codes).toContain('E_UNKNOWN_FIELD');
    const again = await writeFile(file, (await readFile(file, 'utf8')).replace('    colour: red\n', '')).then(() => loadRules([file]));
    const codes2 = again.problems.map((p) => `${p.code} ${p.path}`);
    expect(codes2).toEqual(
      expect.arrayContaining([
        'E_LABEL rules[0].group_by[1]',
        'E_NOT_MULTIPLE_OF_INTERVAL rules[0].window',
        'E_TEMPLATE rules[0].annotations.summary',
        'E_DUPLICATE_RULE rules[1].name',
      ]),
    );
  });

  it('usage errors exit 2', async () => {
    expect((await run([])).code).toBe(2);
    expect((await run(['frobnicate'])).code).toBe(2);
    expect((await run(['compile', '--format', 'json', 'rules'])).code).toBe(2);
    expect((await run(['check', '--bogus'])).code).toBe(2);
    expect((await run(['check', '--out', 'x', 'rules'])).code).toBe(2);
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: paysignal rules');
  });

  it('every shipped rule has a test that fires it and one that does not, and all pass', async () => {
    const r = await run(['test', 'rules/tests']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/15 passed, 0 failed, 0 errors/);
    const { ruleSets } = await loadRules(['rules']);
    const names = ruleSets.flatMap((s) => s.rules.map((rule) => rule.name));
    const tests = await Promise.all(['kustom', 'mercadopago', 'provider-health'].map(async (f) => parse(await readFile(`rules/tests/${f}.yaml`, 'utf8')) as { tests: { expect: { alert: string; firing: unknown[] }[] }[] }));
    for (const name of names) {
      const checks = tests.flatMap((t) => t.tests).flatMap((t) => t.expect).filter((e) => e.alert === name);
      expect(checks.some((e) => e.firing.length > 0), `${name} has a test where it fires`).toBe(true);
      expect(checks.some((e) => e.firing.length === 0), `${name} has a test where it does not fire`).toBe(true);
    }
  });

  it('a failing rule test exits 1 and says what differed', async () => {
    const file = join(dir, 'failing-test.yaml');
    await writeFile(
      file,
      `rule_files: [${JSON.stringify(join(process.cwd(), 'rules/provider-health.yaml'))}]
tests:
  - name: expects an alert that cannot fire
    input:
      - labels: { provider: kustom, operation: create_order, outcome: success }
        values: "1x10"
    expect:
      - at: 10m
        alert: RateLimitBurst
        firing:
          - labels: { provider: kustom, operation: create_order, severity: warning, owner: integration }
`,
    );
    const r = await run(['test', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FAIL');
    expect(r.stdout).toContain('alert RateLimitBurst at 10m');
    expect(r.stdout).toContain('got:      (none)');
  });

  it('runbook annotations carry the catalog remediation text', async () => {
    const classifier = await createClassifier();
    const { ruleSets } = await loadRules(['rules']);
    const rule = (name: string) => ruleSets.flatMap((s) => s.rules).find((r) => r.name === name)!;
    const remediation = (provider: string, code: string) => classifier.explain(provider, code)[0]!.remediation.replace(/\s+/g, ' ').trim();
    expect(rule('MerchantInactiveSpike').annotations.runbook).toBe(remediation('kustom', 'MERCHANT_INACTIVE'));
    expect(rule('InvalidTotalAmountSpike').annotations.runbook).toBe(remediation('mercadopago', 'invalid_total_amount'));
    for (const set of ruleSets) for (const r of set.rules) expect(r.annotations.runbook, r.name).toBeTruthy();
  });
});

describe('hot reload', () => {
  it('rules that do not load at startup are reported as such, not as a failed reload, and nothing is watched', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'paysignal-reload-'));
    try {
      await writeFile(join(dir, 'a.yaml'), `${GOOD}  - name: [broken\n`);
      const registry = new Registry();
      const engine = createAlertEngine({ ruleSets: [], registry, allowedLatenessMs: 30_000, idleTimeoutMs: 60_000, tickIntervalMs: 5_000, maxAlertAgeMs: 15 * 60_000 });
      const errors: { obj: string; msg: string }[] = [];
      const reloader = createRuleReloader({
        paths: [dir],
        target: engine,
        registry,
        logger: { info() {}, error: (obj, msg) => errors.push({ obj: JSON.stringify(obj), msg: String(msg) }) },
      });
      const first = await reloader.start();
      reloader.close();
      expect(first.ok).toBe(false);
      expect(first.problems.map((p) => p.code)).toContain('E_YAML_SYNTAX');
      expect(errors).toHaveLength(1);
      expect(errors[0]!.msg).toBe('alert rules did not load');
      expect(errors[0]!.obj).toContain('E_YAML_SYNTAX');
      expect(engine.ruleSets()).toEqual([]);
      expect(await registry.metrics()).toMatch(/paysignal_rules_reload_failures_total 0/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a broken file keeps the previous rules, logs, and sets the metrics; a fixed file and SIGHUP reload', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'paysignal-reload-'));
    try {
      await writeFile(join(dir, 'a.yaml'), GOOD);
      const registry = new Registry();
      const engine = createAlertEngine({ ruleSets: [], registry, allowedLatenessMs: 30_000, idleTimeoutMs: 60_000, tickIntervalMs: 5_000, maxAlertAgeMs: 15 * 60_000 });
      const results: ReloadResult[] = [];
      const errors: string[] = [];
      const reloader = createRuleReloader({
        paths: [dir],
        target: engine,
        registry,
        debounceMs: 50,
        logger: { info() {}, error: (obj) => errors.push(JSON.stringify(obj)) },
        onReload: (r) => results.push(r),
      });
      const first = await reloader.start();
      expect(first.ok).toBe(true);
      expect(engine.ruleSets().flatMap((s) => s.rules.map((r) => r.name))).toEqual(['GoodRule']);

      // Broken YAML: the watcher reloads, fails, and GoodRule stays.
      await writeFile(join(dir, 'a.yaml'), `${GOOD}  - name: [broken\n`);
      await waitFor('a failed reload', () => (results.some((r) => !r.ok) ? true : undefined), 10_000);
      expect(engine.ruleSets().flatMap((s) => s.rules.map((r) => r.name))).toEqual(['GoodRule']);
      expect(errors.join('\n')).toContain('E_YAML_SYNTAX');
      let text = await registry.metrics();
      expect(text).toMatch(/paysignal_rules_reload_failures_total [1-9]/);
      expect(text).toContain('paysignal_rules_last_reload_success 0');

      // Schema-valid but semantically wrong (window longer than lookback): still the old rules.
      await writeFile(join(dir, 'a.yaml'), GOOD.replace('kind: threshold\n    selector: { code: BAD_VALUE }\n    window: 5m\n    threshold: { value: 3 }', 'kind: absence\n    window: 2h\n    lookback: 1h'));
      await waitFor('the second failed reload', () => (results.filter((r) => !r.ok).length >= 2 && results.at(-1)?.problems.some((p) => p.code === 'E_WINDOW_EXCEEDS_LOOKBACK') ? true : undefined), 10_000);
      expect(engine.ruleSets().flatMap((s) => s.rules.map((r) => r.name))).toEqual(['GoodRule']);

      // Fixed, with a second rule: installed.
      await writeFile(join(dir, 'a.yaml'), `${GOOD}  - name: SecondRule\n    kind: threshold\n    selector: { code: X }\n    window: 1m\n    threshold: { value: 1 }\n`);
      await waitFor('a good reload', () => (engine.ruleSets().flatMap((s) => s.rules).length === 2 ? true : undefined), 10_000);
      text = await registry.metrics();
      expect(text).toContain('paysignal_rules_last_reload_success 1');

      // SIGHUP reloads too (watching is off for this part: only the signal can trigger it).
      reloader.close();
      const hup = createRuleReloader({ paths: [dir], target: engine, registry, watch: false, onReload: (r) => results.push(r) });
      await hup.start();
      await writeFile(join(dir, 'b.yaml'), GOOD.replace('name: good', 'name: other').replace('GoodRule', 'ThirdRule'));
      const before = results.length;
      process.kill(process.pid, 'SIGHUP');
      await waitFor('the SIGHUP reload', () => (results.length > before && results.at(-1)?.ok ? true : undefined), 10_000);
      expect(engine.ruleSets().flatMap((s) => s.rules.map((r) => r.name)).sort()).toEqual(['GoodRule', 'SecondRule', 'ThirdRule']);
      hup.close();
      await engine.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('compile', () => {
  it('promtool check rules accepts the compiled shipped rules, and the PrometheusRule carries the same groups', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'paysignal-compile-'));
    try {
      const prom = join(dir, 'rules.yaml');
      const cr = join(dir, 'prometheusrule.yaml');
      expect((await run(['compile', '--out', prom, 'rules'])).code).toBe(0);
      expect((await run(['compile', '--format', 'prometheusrule', '--name', 'paysignal', '--namespace', 'payments', '--label', 'release=prom', '--out', cr, 'rules'])).code).toBe(0);
      const { stdout } = await execFileAsync('promtool', ['check', 'rules', prom]);
      expect(stdout).toContain('SUCCESS');
      const resource = parse(await readFile(cr, 'utf8')) as { apiVersion: string; kind: string; metadata: { name: string; namespace: string; labels: Record<string, string> }; spec: { groups: unknown[] } };
      expect(resource.apiVersion).toBe('monitoring.coreos.com/v1');
      expect(resource.kind).toBe('PrometheusRule');
      expect(resource.metadata).toMatchObject({ name: 'paysignal', namespace: 'payments', labels: { release: 'prom' } });
      expect(resource.spec.groups).toEqual((parse(await readFile(prom, 'utf8')) as { groups: unknown[] }).groups);
      // promtool reads the resource's groups as a rule file too.
      const groupsOnly = join(dir, 'from-cr.yaml');
      await writeFile(groupsOnly, JSON.stringify({ groups: resource.spec.groups }));
      expect((await execFileAsync('promtool', ['check', 'rules', groupsOnly])).stdout).toContain('SUCCESS');
      // Every alert of every shipped rule is there, named after the rule.
      const alerts = (resource.spec.groups as { rules: { alert?: string }[] }[]).flatMap((g) => g.rules).filter((r) => r.alert).map((r) => r.alert);
      expect(alerts.sort()).toEqual(['InvalidTotalAmountSpike', 'MerchantInactiveSpike', 'NewErrorCode', 'ProviderErrorBudgetBurn', 'ProviderSilent', 'RateLimitBurst', 'RetryViolations']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('invalid rules do not compile (exit 1)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'paysignal-compile-bad-'));
    try {
      await writeFile(join(dir, 'x.yaml'), BAD['unknown-kind']![0]);
      const r = await run(['compile', dir]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain('E_UNKNOWN_KIND');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
