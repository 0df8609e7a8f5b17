// Each setting is declared once, next to its component, and that declaration is the whole truth:
// every declared setting is read by the code it configures, names and variables are unique, and the
// settings reach the components (the drift this replaced: alertmanager.queue_size never reached the
// client; report.prometheus_url and report.format were never read).
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.ts';
import { configSchema, environmentVariables, settingsOf } from '../../src/config/reference.ts';
import { startAlertingFromConfig } from '../../src/pipeline/from-config.ts';
import { ROOT, runPaysignal } from '../support/cli.ts';
import { freePort } from '../support/ports.ts';

const SRC = join(ROOT, 'src');
const dir = mkdtempSync(join(tmpdir(), 'paysignal-declarations-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Code without comments: a setting named in a comment is not read. */
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

/** Source files that read configuration: all of src/ but the loader and the declaration modules. */
function consumerSources(): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of readdirSync(SRC, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const file = join(entry.parentPath, entry.name);
    const text = readFileSync(file, 'utf8');
    if (relative(SRC, file).startsWith('config/') || text.includes("from '../config/declare.ts'") || text.includes("from '../../config/declare.ts'")) continue;
    out.set(relative(ROOT, file), withoutComments(text));
  }
  return out;
}

// Declared in the same change that lands before their consumer. The test below fails once one of
// them is read, so this list cannot outlive its reason.
const AWAITING_CONSUMER: string[] = [];

describe('the declared settings', () => {
  it('are each read by the code they configure', () => {
    // A setting is read as `<parent>.<key>`: `config.kafka.brokers`, `kafka.retry.max`, `metrics.unknown_code_cap`
    // (consumers name a section's object after the section). A declared key nobody reads fails here.
    const sources = [...consumerSources().values()].join('\n');
    const unread = settingsOf()
      .map(({ path }) => path)
      .filter((path) => !new RegExp(`\\b${path.at(-2)}\\??\\.${path.at(-1)}\\b`).test(sources))
      .map((path) => path.join('.'));
    expect(unread).toEqual(AWAITING_CONSUMER);
  });

  it('have unique environment variables, and the schema refuses keys nobody declared', () => {
    const names = environmentVariables();
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(['KAFKA_BROKERS', 'KAFKA_TOPIC', 'KAFKA_GROUP_ID', 'KAFKA_DLQ_TOPIC', 'PAYSIGNAL_HTTP_HOST', 'PAYSIGNAL_HTTP_PORT', 'PAYSIGNAL_RULES', 'ALERTMANAGER_URL']));
    expect(configSchema()).toMatchObject({ additionalProperties: false });
    expect(() => parseConfig('metrics:\n  max_codes_per_provider: 5\n', '/p.yaml', {})).toThrow(/unknown field "metrics.max_codes_per_provider"/);
  });

  it('give every component its values from one place: each default once, in the declarations', () => {
    const config = parseConfig(null, null, {});
    expect(config.alertmanager.queue_size).toBe(1000);
    expect(config.report).toEqual({ prometheus_url: 'http://127.0.0.1:9090', format: 'md' });
    expect(config.rules.evaluation_interval).toBe(15_000);
    expect(config.dead_letter.topic).toBe('paysignal.dead-letter');
    expect(parseConfig(null, null, { KAFKA_TOPIC: 'payments' }).dead_letter.topic).toBe('payments.dead-letter');
    expect(parseConfig('kafka:\n  tls: { ca_file: ca.pem }\n', '/etc/p.yaml', {}).kafka.tls).toMatchObject({ enabled: true, ca_file: '/etc/ca.pem' });
  });
});

describe('settings reach their components', () => {
  it('alertmanager.queue_size bounds the Alertmanager client queue', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const config = parseConfig(`rules: { dir: ${join(ROOT, 'rules')} }\nalertmanager: { url: "${url}", queue_size: 2 }\n`, join(dir, 'p.yaml'), {});
    const alerting = await startAlertingFromConfig(config, new Registry(), undefined, { watch: false, reloadSignal: null });
    try {
      const client = alerting!.client!;
      const alert = (name: string) => ({ labels: { alertname: name }, annotations: {}, startsAt: Date.now(), endsAt: null });
      client.update(['a', 'b', 'c', 'd', 'e'].map(alert));
      // Two fit; the three oldest are dropped (the client's own default used to be 10 000).
      expect(client.stats().dropped).toBe(3);
      expect(client.queued()).toBeLessThanOrEqual(2);
    } finally {
      await alerting!.engine.close();
      await alerting!.client!.drain(0);
      alerting!.reloader.close();
    }
  });

  it('paysignal report takes report.prometheus_url from --config, and --prometheus-url wins over it', async () => {
    const configured = `http://127.0.0.1:${await freePort()}`;
    const file = join(dir, 'report.yaml');
    writeFileSync(file, `report:\n  prometheus_url: ${configured}\n`);
    const env = { PROMETHEUS_URL: '', PAYSIGNAL_CONFIG: '' };
    const fromConfig = await runPaysignal(['report', '--config', file, '--week', '2026-W10', '--source', 'prometheus', '--timeout', '5'], { env });
    expect(fromConfig.code).toBe(1);
    expect(fromConfig.stderr).toContain(`PROMETHEUS_UNREACHABLE cannot reach Prometheus at ${configured}`);
    const flag = `http://127.0.0.1:${await freePort()}`;
    const fromFlag = await runPaysignal(['report', '--config', file, '--week', '2026-W10', '--source', 'prometheus', '--prometheus-url', flag, '--timeout', '5'], { env });
    expect(fromFlag.stderr).toContain(`cannot reach Prometheus at ${flag}`);
  });

  it('paysignal report takes report.format from --config, and --format wins over it', async () => {
    const file = join(dir, 'html.yaml');
    writeFileSync(file, 'report:\n  format: html\n');
    const logs = join(dir, 'empty.ndjson');
    writeFileSync(logs, '');
    const env = { PROMETHEUS_URL: '', PAYSIGNAL_CONFIG: '' };
    const html = await runPaysignal(['report', '--config', file, '--week', '2026-W10', '--source', 'logs', logs], { env });
    expect(html.code).toBe(0);
    expect(html.stdout).toMatch(/^<!doctype html>/i);
    const md = await runPaysignal(['report', '--config', file, '--week', '2026-W10', '--source', 'logs', '--format', 'md', logs], { env });
    expect(md.code).toBe(0);
    expect(md.stdout).toMatch(/^# /);
  });

  it('paysignal report refuses a bad configuration file with exit status 2', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'report:\n  format: pdf\n');
    const result = await runPaysignal(['report', '--config', file, '--week', '2026-W10', '--source', 'logs', '-'], { env: { PAYSIGNAL_CONFIG: '' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${file}:2:11: CONFIG_INVALID report.format: report.format must be one of "md", "html", "json"`);
  });
});
