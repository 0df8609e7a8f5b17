// The Helm chart (helm/paysignal): lint, render, security settings, the compiled PrometheusRule through
// promtool, values.schema.json, and that the chart's files/ match rules/ and dashboards/.
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { SERVICE_NODE_OPTIONS } from '../../src/service-node-options.ts';
import { PROJECT_NODE, ROOT } from '../support/cli.ts';
import { CHART_DIR, helm, setArgs } from '../support/helm.ts';

type Json = Record<string, any>;

const PROMTOOL = '/usr/bin/promtool';

function run(cmd: string, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, [...args], { cwd: ROOT, timeout: 60_000, encoding: 'utf8', maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : 1, stdout, stderr });
    });
  });
}

async function render(values: Readonly<Record<string, string | number | boolean>> = {}, extra: readonly string[] = []): Promise<Json[]> {
  const result = await helm(['template', 'ps', CHART_DIR, '--namespace', 'payments', ...setArgs(values), ...extra]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return parseAllDocuments(result.stdout)
    .map((d) => d.toJS() as Json | null)
    .filter((d): d is Json => d !== null);
}

function one(docs: readonly Json[], kind: string): Json {
  const found = docs.filter((d) => d.kind === kind);
  expect(found, `exactly one ${kind}`).toHaveLength(1);
  return found[0]!;
}

function env(deployment: Json): Map<string, Json> {
  const container = deployment.spec.template.spec.containers[0] as Json;
  return new Map((container.env as Json[]).map((e) => [e.name as string, e]));
}

/** The settings paysignal loads from a rendered chart: its config ConfigMap plus the Deployment's environment. */
async function loadedSettings(docs: readonly Json[], name: string): Promise<Json> {
  const cm = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'ps-paysignal-config')!;
  const configFile = join(tmp, `${name}.config.yaml`);
  writeFileSync(configFile, cm.data['config.yaml'] as string);
  const deploymentEnv = Object.fromEntries([...env(one(docs, 'Deployment'))].filter(([, v]) => typeof v.value === 'string').map(([k, v]) => [k, v.value as string]));
  const script = `
    import { loadConfig } from ${JSON.stringify(join(ROOT, 'src', 'config', 'config.ts'))};
    const c = loadConfig({ env: ${JSON.stringify({ ...deploymentEnv, PAYSIGNAL_CONFIG: configFile, PAYSIGNAL_RULES: join(ROOT, 'rules') })} });
    process.stdout.write(JSON.stringify({ stateTopic: c.kafka.state_topic, durableState: c.rules.durable_state, workers: c.processing.workers }));
  `;
  const scriptFile = join(tmp, `${name}.load-config.ts`);
  writeFileSync(scriptFile, script);
  const result = await run(PROJECT_NODE, [scriptFile]);
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout) as Json;
}

const ALL_OPTIONS = {
  'serviceMonitor.enabled': true,
  'prometheusRule.enabled': true,
  'autoscaling.enabled': true,
  'podDisruptionBudget.enabled': true,
} as const;

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'paysignal-helm-test-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('helm lint', () => {
  it('passes with default values', async () => {
    const result = await helm(['lint', '--strict', CHART_DIR]);
    expect(result.stdout + result.stderr).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(result.code).toBe(0);
  });

  it('passes with ServiceMonitor, PrometheusRule, HPA and PDB enabled', async () => {
    const result = await helm(['lint', '--strict', CHART_DIR, ...setArgs(ALL_OPTIONS)]);
    expect(result.stdout + result.stderr).toContain('0 chart(s) failed');
    expect(result.code).toBe(0);
  });

  it('passes with SASL from an existing Secret, TLS, Alertmanager and OTLP set', async () => {
    const result = await helm([
      'lint',
      '--strict',
      CHART_DIR,
      ...setArgs({
        'kafka.sasl.enabled': true,
        'kafka.sasl.existingSecret': 'kafka-creds',
        'kafka.tls.enabled': true,
        'kafka.tls.caSecret': 'kafka-ca',
        'alertmanager.url': 'http://alertmanager:9093',
        'otel.endpoint': 'http://otel-collector:4318',
      }),
    ]);
    expect(result.code).toBe(0);
  });
});

describe('helm template with default values', () => {
  let docs: Json[];
  beforeAll(async () => {
    docs = await render();
  });

  it('renders exactly the default objects, and none that need the Prometheus Operator', () => {
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`).sort()).toEqual([
      'ConfigMap/ps-paysignal-config',
      'ConfigMap/ps-paysignal-dashboards',
      'ConfigMap/ps-paysignal-rules',
      'Deployment/ps-paysignal',
      'Service/ps-paysignal',
      'ServiceAccount/ps-paysignal',
    ]);
    for (const d of docs) expect(d.metadata.namespace).toBe('payments');
  });

  it('runs a hardened container with probes on /healthz and /readyz at port 9464 (http-metrics)', () => {
    const deployment = one(docs, 'Deployment');
    const pod = deployment.spec.template.spec as Json;
    const c = pod.containers[0] as Json;
    expect(deployment.spec.replicas).toBe(1);
    expect(c.args).toEqual(['run']);
    expect(c.ports).toEqual([{ name: 'http-metrics', containerPort: 9464, protocol: 'TCP' }]);
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http-metrics' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http-metrics' });
    expect(c.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(c.resources.limits.memory).toEqual(expect.any(String));
    expect(c.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.automountServiceAccountToken).toBe(false);
    // read-only root: a writable /tmp is mounted
    expect(c.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
    expect(pod.volumes).toContainEqual({ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } });
  });

  it('configures paysignal run from values: Kafka, config file, rules for the in-process engine', () => {
    const deployment = one(docs, 'Deployment');
    const e = env(deployment);
    expect(e.get('KAFKA_BROKERS')?.value).toBe('kafka:9092');
    expect(e.get('KAFKA_TOPIC')?.value).toBe('payment-calls');
    expect(e.get('KAFKA_GROUP_ID')?.value).toBe('paysignal');
    expect(e.get('KAFKA_DLQ_TOPIC')?.value).toBe('payment-calls.dlq');
    expect(e.get('PAYSIGNAL_HTTP_PORT')?.value).toBe('9464');
    expect(e.get('PAYSIGNAL_CONFIG')?.value).toBe('/etc/paysignal/config/config.yaml');
    // the V8 heap settings the image ships with (src/service-node-options.ts)
    expect(e.get('NODE_OPTIONS')?.value).toBe(SERVICE_NODE_OPTIONS);
    // one replica: the in-process engine runs on the chart's rule files
    expect(e.get('PAYSIGNAL_RULES')?.value).toBe('/etc/paysignal/rules');
    // unset values do not become empty variables
    expect(e.has('ALERTMANAGER_URL')).toBe(false);
    expect(e.has('OTEL_EXPORTER_OTLP_ENDPOINT')).toBe(false);
    expect(e.has('KAFKA_SASL_PASSWORD')).toBe(false);
    expect(e.has('KAFKA_STATE_TOPIC')).toBe(false);
    const mounts = deployment.spec.template.spec.containers[0].volumeMounts as Json[];
    expect(mounts).toContainEqual({ name: 'config', mountPath: '/etc/paysignal/config', readOnly: true });
    expect(mounts).toContainEqual({ name: 'rules', mountPath: '/etc/paysignal/rules', readOnly: true });
    expect(deployment.spec.template.metadata.annotations['checksum/config']).toMatch(/^[0-9a-f]{64}$/);
  });

  it('renders the config ConfigMap as a paysignal config file that passes its schema', async () => {
    const cm = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'ps-paysignal-config')!;
    const text = cm.data['config.yaml'] as string;
    writeFileSync(join(tmp, 'config.yaml'), text);
    // the real loader: file + the Deployment's environment
    const deploymentEnv = Object.fromEntries([...env(one(docs, 'Deployment'))].filter(([, v]) => typeof v.value === 'string').map(([k, v]) => [k, v.value as string]));
    const script = `
      import { loadConfig } from ${JSON.stringify(join(ROOT, 'src', 'config', 'config.ts'))};
      const env = ${JSON.stringify({ ...deploymentEnv, PAYSIGNAL_CONFIG: join(tmp, 'config.yaml'), PAYSIGNAL_RULES: join(ROOT, 'rules') })};
      const c = loadConfig({ env });
      process.stdout.write(JSON.stringify({ brokers: c.kafka.brokers, topics: c.kafka.topics, port: c.http.port, ratio: c.tracing.success_sample_ratio }));
    `;
    writeFileSync(join(tmp, 'load-config.ts'), script);
    const result = await run(PROJECT_NODE, [join(tmp, 'load-config.ts')]);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ brokers: ['kafka:9092'], topics: ['payment-calls'], port: 9464, ratio: 0.1 });
  });

  it('ships the rule files of rules/ in the rules ConfigMap', () => {
    const cm = docs.find((d) => d.metadata.name === 'ps-paysignal-rules')!;
    const ruleFiles = readdirSync(join(ROOT, 'rules')).filter((f) => /\.ya?ml$/.test(f)).sort();
    expect(ruleFiles.length).toBeGreaterThan(0);
    expect(Object.keys(cm.data as Json).sort()).toEqual(ruleFiles);
    for (const f of ruleFiles) expect(cm.data[f]).toBe(readFileSync(join(ROOT, 'rules', f), 'utf8'));
  });

  it('ships every dashboard in a ConfigMap labelled for the Grafana sidecar', () => {
    const cm = docs.find((d) => d.metadata.name === 'ps-paysignal-dashboards')!;
    expect(cm.metadata.labels.grafana_dashboard).toBe('1');
    const files = readdirSync(join(ROOT, 'dashboards')).filter((f) => f.endsWith('.json')).sort();
    expect(Object.keys(cm.data as Json).sort()).toEqual(files);
    for (const f of files) expect(JSON.parse(cm.data[f] as string)).toEqual(JSON.parse(readFileSync(join(ROOT, 'dashboards', f), 'utf8')));
    // a ConfigMap holds at most 1 MiB
    expect(Buffer.byteLength(JSON.stringify(cm.data))).toBeLessThan(1024 * 1024);
  });

  it('exposes http-metrics through the Service, also for pods that are not ready', () => {
    const svc = one(docs, 'Service');
    expect(svc.spec.ports).toEqual([{ name: 'http-metrics', port: 9464, targetPort: 'http-metrics', protocol: 'TCP' }]);
    expect(svc.spec.publishNotReadyAddresses).toBe(true);
    expect(svc.spec.selector).toEqual(one(docs, 'Deployment').spec.selector.matchLabels);
  });
});

describe('helm template with ServiceMonitor, PrometheusRule, HPA and PDB', () => {
  let docs: Json[];
  beforeAll(async () => {
    docs = await render(ALL_OPTIONS, ['--api-versions', 'autoscaling/v2', '--api-versions', 'policy/v1']);
  });

  it('renders the optional objects', () => {
    const sm = one(docs, 'ServiceMonitor');
    expect(sm.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(sm.spec.endpoints).toEqual([expect.objectContaining({ port: 'http-metrics', path: '/metrics' })]);
    const hpa = one(docs, 'HorizontalPodAutoscaler');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'ps-paysignal' });
    expect(hpa.spec.minReplicas).toBeLessThanOrEqual(hpa.spec.maxReplicas);
    const pdb = one(docs, 'PodDisruptionBudget');
    expect(pdb.apiVersion).toBe('policy/v1');
    expect(pdb.spec.minAvailable).toBe(1);
    expect(one(docs, 'PrometheusRule').apiVersion).toBe('monitoring.coreos.com/v1');
  });

  it('hands replicas to the HPA and turns the in-process alert engine off (partitions are shared)', () => {
    const deployment = one(docs, 'Deployment');
    expect(deployment.spec.replicas).toBeUndefined();
    const e = env(deployment);
    expect(e.has('PAYSIGNAL_RULES')).toBe(false);
    expect(e.has('ALERTMANAGER_URL')).toBe(false);
  });

  it('falls back to autoscaling/v2beta2 on clusters without autoscaling/v2', async () => {
    const old = await render(ALL_OPTIONS, ['--api-versions', 'autoscaling/v2beta2', '--kube-version', '1.20.0']);
    expect(one(old, 'HorizontalPodAutoscaler').apiVersion).toBe('autoscaling/v2beta2');
  });

  it('renders the PrometheusRule with the groups compiled from rules/, and promtool accepts them', async () => {
    const pr = one(docs, 'PrometheusRule');
    const compiled = parse(readFileSync(join(CHART_DIR, 'files', 'prometheusrule.yaml'), 'utf8')) as Json;
    expect(pr.spec.groups).toEqual(compiled.spec.groups);
    const groups = pr.spec.groups as Json[];
    const alerts = groups.flatMap((g) => (g.rules as Json[]).filter((r) => typeof r.alert === 'string').map((r) => r.alert as string));
    // one alerting rule per rule of the shipped rule files
    const shipped = readdirSync(join(ROOT, 'rules'))
      .filter((f) => /\.ya?ml$/.test(f))
      .flatMap((f) => ((parse(readFileSync(join(ROOT, 'rules', f), 'utf8')) as Json).rules as Json[]).map((r) => r.name as string));
    expect(alerts.sort()).toEqual(shipped.sort());
    const file = join(tmp, 'prometheusrule-groups.yaml');
    writeFileSync(file, stringify({ groups }, { lineWidth: 0 }));
    const check = await run(PROMTOOL, ['check', 'rules', file]);
    expect(check.stdout + check.stderr).toMatch(/SUCCESS: \d+ rules found/);
    expect(check.code).toBe(0);
  });

  it('uses SASL credentials from the existing Secret only', async () => {
    const sasl = await render({ 'kafka.sasl.enabled': true, 'kafka.sasl.existingSecret': 'kafka-creds', 'kafka.sasl.mechanism': 'scram-sha-256' });
    const e = env(one(sasl, 'Deployment'));
    expect(e.get('KAFKA_SASL_MECHANISM')?.value).toBe('scram-sha-256');
    expect(e.get('KAFKA_SASL_USERNAME')?.valueFrom).toEqual({ secretKeyRef: { name: 'kafka-creds', key: 'username' } });
    expect(e.get('KAFKA_SASL_PASSWORD')?.valueFrom).toEqual({ secretKeyRef: { name: 'kafka-creds', key: 'password' } });
    expect(sasl.some((d) => d.kind === 'Secret')).toBe(false);
  });

  it('runs the in-process engine with Alertmanager for a single replica, and not for three', async () => {
    const single = env(one(await render({ 'alertmanager.url': 'http://alertmanager:9093' }), 'Deployment'));
    expect(single.get('PAYSIGNAL_RULES')?.value).toBe('/etc/paysignal/rules');
    expect(single.get('ALERTMANAGER_URL')?.value).toBe('http://alertmanager:9093');
    const three = await render({ replicaCount: 3, 'alertmanager.url': 'http://alertmanager:9093', 'prometheusRule.enabled': true });
    const e = env(one(three, 'Deployment'));
    expect(one(three, 'Deployment').spec.replicas).toBe(3);
    expect(e.has('PAYSIGNAL_RULES')).toBe(false);
    expect(e.has('ALERTMANAGER_URL')).toBe(false);
  });
});

describe('helm template: the in-process engine\'s durable state', () => {
  it('checkpoints to <groupId>.state by default, with durable state on and nothing restated in the config file', async () => {
    const docs = await render({ 'kafka.groupId': 'payments-prod' });
    expect(env(one(docs, 'Deployment')).has('KAFKA_STATE_TOPIC')).toBe(false);
    expect(parse(docs.find((d) => d.metadata.name === 'ps-paysignal-config')!.data['config.yaml'] as string)).toEqual({ processing: { workers: 1 } });
    expect(await loadedSettings(docs, 'state-default')).toEqual({ stateTopic: 'payments-prod.state', durableState: true, workers: 1 });
  });

  it('passes kafka.stateTopic as KAFKA_STATE_TOPIC, which paysignal uses as its state topic', async () => {
    const docs = await render({ 'kafka.stateTopic': 'payments.alert-state' });
    expect(env(one(docs, 'Deployment')).get('KAFKA_STATE_TOPIC')?.value).toBe('payments.alert-state');
    expect(await loadedSettings(docs, 'state-topic')).toEqual({ stateTopic: 'payments.alert-state', durableState: true, workers: 1 });
  });

  it('turns durable state off through the config file with alerting.durableState=false, keeping the other config settings', async () => {
    const docs = await render({ 'kafka.stateTopic': 'payments.alert-state', 'alerting.durableState': false, 'config.rules.checkpoint_interval': '5s' });
    // No state topic without durable state: the variable would name a topic nothing uses.
    expect(env(one(docs, 'Deployment')).has('KAFKA_STATE_TOPIC')).toBe(false);
    expect(parse(docs.find((d) => d.metadata.name === 'ps-paysignal-config')!.data['config.yaml'] as string)).toEqual({
      processing: { workers: 1 },
      rules: { checkpoint_interval: '5s', durable_state: false },
    });
    expect(await loadedSettings(docs, 'state-off')).toMatchObject({ durableState: false });
  });

  it('sets no state topic when the in-process engine is off (several replicas)', async () => {
    const docs = await render({ replicaCount: 3, 'prometheusRule.enabled': true, 'kafka.stateTopic': 'payments.alert-state' });
    expect(env(one(docs, 'Deployment')).has('KAFKA_STATE_TOPIC')).toBe(false);
  });

  it('changes the config checksum (pods restart) when durable state is turned off', async () => {
    const checksum = async (values: Readonly<Record<string, boolean>>): Promise<string> => one(await render(values), 'Deployment').spec.template.metadata.annotations['checksum/config'] as string;
    expect(await checksum({ 'alerting.durableState': false })).not.toBe(await checksum({ 'alerting.durableState': true }));
  });

  it('refuses config.rules.durable_state contradicting alerting.durableState, naming the value to set', async () => {
    const result = await helm(['template', 'ps', CHART_DIR, '--set', 'alerting.durableState=false', '--set', 'config.rules.durable_state=true']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('config.rules.durable_state (true) contradicts alerting.durableState (false): set alerting.durableState only');
  });
});

describe('values.schema.json and template guards reject bad values', () => {
  const cases: Array<[string, readonly string[], RegExp]> = [
    ['negative replicas', ['--set', 'replicaCount=-1'], /replicaCount: Must be greater than or equal to 0/],
    ['replicas of the wrong type', ['--set', 'replicaCount=two'], /replicaCount: Invalid type\. Expected: integer, given: string/],
    ['a port above 65535', ['--set', 'service.port=70000'], /service\.port: Must be less than or equal to 65535/],
    ['port 0', ['--set', 'service.port=0'], /service\.port: Must be greater than or equal to 1/],
    ['an unknown top-level key', ['--set', 'replicas=2'], /Additional property replicas is not allowed/],
    ['an unknown nested key', ['--set', 'kafka.broker=x:9092'], /Additional property broker is not allowed/],
    ['a broker without a port', ['--set', 'kafka.brokers={kafka}'], /kafka\.brokers\.0: Does not match pattern/],
    ['no topics', ['--set', 'kafka.topics=null'], /kafka: topics is required/],
    ['a boolean of the wrong type', ['--set-string', 'serviceMonitor.enabled=yes'], /serviceMonitor\.enabled: Invalid type\. Expected: boolean, given: string/],
    ['an unknown pull policy', ['--set', 'image.pullPolicy=Sometimes'], /image\.pullPolicy must be one of the following/],
    ['a bad scrape interval', ['--set', 'serviceMonitor.interval=often'], /serviceMonitor\.interval: Does not match pattern/],
    ['an Alertmanager URL without scheme', ['--set', 'alertmanager.url=alertmanager:9093'], /alertmanager\.url: Must validate one and only one schema/],
    ['an unknown alerting mode', ['--set', 'alerting.inProcess=sometimes'], /alerting\.inProcess must be one of the following: "auto", "enabled", "disabled"/],
    ['a state topic that is not a Kafka topic name', ['--set', 'kafka.stateTopic=alert state'], /kafka\.stateTopic: Must validate one and only one schema/],
    ['durable state of the wrong type', ['--set-string', 'alerting.durableState=yes'], /alerting\.durableState: Invalid type\. Expected: boolean, given: string/],
    ['SASL without a Secret', ['--set', 'kafka.sasl.enabled=true'], /kafka\.sasl\.existingSecret: String length must be greater than or equal to 1/],
    ['HPA with zero max replicas', ['--set', 'autoscaling.maxReplicas=0'], /autoscaling\.maxReplicas: Must be greater than or equal to 1/],
  ];
  for (const [what, args, message] of cases) {
    it(`rejects ${what}`, async () => {
      const result = await helm(['template', 'ps', CHART_DIR, ...args]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/values don't meet the specifications of the schema/);
      expect(result.stderr).toMatch(message);
    });
  }

  it('refuses the in-process engine with several replicas, naming the fix', async () => {
    const result = await helm(['template', 'ps', CHART_DIR, '--set', 'alerting.inProcess=enabled', '--set', 'replicaCount=3']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('alerting.inProcess=enabled needs replicaCount <= 1 and autoscaling.enabled=false');
    expect(result.stderr).toContain('prometheusRule.enabled=true');
  });

  it('refuses autoscaling with minReplicas above maxReplicas', async () => {
    const result = await helm(['template', 'ps', CHART_DIR, ...setArgs({ 'autoscaling.enabled': true, 'autoscaling.minReplicas': 5, 'autoscaling.maxReplicas': 2 })]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('autoscaling.minReplicas must not exceed autoscaling.maxReplicas');
  });
});

describe('chart files', () => {
  it('are in sync with rules/ and dashboards/ (scripts/helm-rules.ts --check)', async () => {
    const result = await run(PROJECT_NODE, [join(ROOT, 'scripts', 'helm-rules.ts'), '--check']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('are regenerated by scripts/helm-rules.ts from a rules directory, compiled by the project compiler', async () => {
    const rules = join(tmp, 'rules');
    const chart = join(tmp, 'chart');
    mkdirSync(rules, { recursive: true });
    cpSync(CHART_DIR, chart, { recursive: true });
    writeFileSync(
      join(rules, 'example.yaml'),
      [
        'apiVersion: paysignal/v1',
        'kind: RuleSet',
        'metadata: { name: example }',
        'rules:',
        '  - name: ExampleMerchantInactiveSpike',
        '    kind: spike',
        '    selector: { code: MERCHANT_INACTIVE }',
        '    group_by: [provider, code]',
        '    window: 10m',
        '    for: 2m',
        '    min_events: 5',
        '    baseline: { method: trailing, lookback: 1h, factor: 3 }',
        '    annotations: { summary: "{{ $labels.provider }}: {{ $value }} MERCHANT_INACTIVE in 10m" }',
        '',
      ].join('\n'),
    );
    const result = await run(PROJECT_NODE, [join(ROOT, 'scripts', 'helm-rules.ts'), '--rules', rules, '--chart', chart]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(readdirSync(join(chart, 'files', 'rules'))).toEqual(['example.yaml']);
    const rendered = await helm(['template', 'ps', chart, '--set', 'prometheusRule.enabled=true', '--show-only', 'templates/prometheusrule.yaml']);
    expect(rendered.code).toBe(0);
    const pr = parse(rendered.stdout) as Json;
    const alerts = (pr.spec.groups as Json[]).flatMap((g) => (g.rules as Json[]).filter((r) => r.alert !== undefined));
    expect(alerts.map((a) => a.alert)).toEqual(['ExampleMerchantInactiveSpike']);
    // Prometheus templates in annotations pass through helm untouched
    expect(alerts[0]!.annotations.summary).toBe('{{ $labels.provider }}: {{ $value }} MERCHANT_INACTIVE in 10m');
    const file = join(tmp, 'example-groups.yaml');
    writeFileSync(file, stringify({ groups: pr.spec.groups }));
    const check = await run(PROMTOOL, ['check', 'rules', file]);
    expect(check.code).toBe(0);
  });
});
