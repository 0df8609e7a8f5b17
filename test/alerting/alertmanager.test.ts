// A real Alertmanager receives what the engine fires: a MERCHANT_INACTIVE spike replayed through the
// real pipeline (decoder, classifier, engine sink) with the shipped rules, then its resolve; and an
// alert that fires while Alertmanager is down is delivered once it is back.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { createAlertmanagerClient } from '../../src/alerting/alertmanager.ts';
import { createAlertEngine } from '../../src/alerting/engine/index.ts';
import { createAlerting } from '../../src/alerting/index.ts';
import { parseConfig } from '../../src/config/config.ts';
import { parseRuleSet } from '../../src/alerting/loader.ts';
import { toProcessedEvent } from '../../src/alerting/testing.ts';
import type { RuleSet } from '../../src/alerting/types.ts';
import { createClassifier } from '../../src/classify/classifier.ts';
import { createDecoder } from '../../src/events/decode.ts';
import { createPipeline } from '../../src/pipeline/pipeline.ts';
import type { SourceRecord } from '../../src/sources/record.ts';
import { startAlertmanager, type RunningAlertmanager } from '../support/alertmanager.ts';
import { freePort } from '../support/ports.ts';
import { waitFor } from '../support/processes.ts';

const DEFAULTS = parseConfig(null, null, {});

const MIN = 60_000;

interface WebhookMessage {
  status: string;
  alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; endsAt: string; generatorURL: string }[];
}

async function startWebhook(): Promise<{ url: string; messages: WebhookMessage[]; close(): Promise<void> }> {
  const messages: WebhookMessage[] = [];
  const port = await freePort();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      messages.push(JSON.parse(body) as WebhookMessage);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}/hook`,
    messages,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let offset = 0;
function record(event: object): SourceRecord {
  offset++;
  return { value: Buffer.from(JSON.stringify(event)), source: 'file', topic: 'replay.ndjson', partition: 0, offset: String(offset), key: null, headers: {} };
}

/** Kustom traffic per minute from `startMs`: `ok` successes and `inactive[i]` MERCHANT_INACTIVE refusals in minute i. */
function kustomTraffic(startMs: number, inactive: readonly number[], ok = 5): SourceRecord[] {
  const out: { ts: number; rec: object }[] = [];
  inactive.forEach((n, i) => {
    const minute = startMs + i * MIN;
    for (let j = 0; j < ok; j++) {
      out.push({
        ts: minute + j * 1000,
        rec: { timestamp: minute + j * 1000, provider: 'kustom', operation: 'create_order', http: { method: 'POST', route: '/checkout/v3/orders', status_code: 201, duration_ms: 180 } },
      });
    }
    for (let j = 0; j < n; j++) {
      const ts = minute + 30_000 + Math.floor((j * 29_000) / n);
      out.push({
        ts,
        rec: {
          timestamp: new Date(ts).toISOString(),
          provider: 'kustom',
          operation: 'create_order',
          http: { method: 'POST', route: '/checkout/v3/orders', status_code: 403, duration_ms: 95 },
          response: { body: { error_code: 'MERCHANT_INACTIVE', error_messages: [], correlation_id: `c-${i}-${j}` } },
        },
      });
    }
  });
  return out.sort((a, b) => a.ts - b.ts).map((e) => record(e.rec));
}

describe('alerts reach a real Alertmanager', () => {
  let am: RunningAlertmanager;
  let hook: Awaited<ReturnType<typeof startWebhook>>;

  beforeAll(async () => {
    hook = await startWebhook();
    am = await startAlertmanager({ webhookUrl: hook.url });
  });
  afterAll(async () => {
    await am?.close();
    await hook?.close();
  });

  it('a MERCHANT_INACTIVE spike replayed through the pipeline is received, then its resolve', async () => {
    const registry = new Registry();
    // Wired as `paysignal run` does: rules from rules/ (watched), engine as a sink, Alertmanager client.
    const alerting = createAlerting({
      rulesPaths: ['rules'],
      // The declared defaults but for a replay of past events: partitions never idle during the test.
      rules: { ...DEFAULTS.rules, allowed_lateness: 5_000, max_alert_age: 3 * 60 * MIN, partition_idle_timeout: 24 * 60 * MIN },
      alertmanager: { ...DEFAULTS.alertmanager, url: am.url },
      generatorUrl: 'http://grafana.example/d/paysignal-errors?var-provider={{ $labels.provider }}&var-code={{ $labels.code }}',
      registry,
      reloadSignal: null,
    });
    await alerting.start();
    const engine = alerting.engine;
    const classifier = await createClassifier();
    const pipeline = createPipeline({
      decoder: createDecoder({ idHeaders: classifier.idHeaders }),
      classifier,
      sinks: [engine],
      deadLetter: { add() {}, flush: async () => {} },
    });
    // 80 quiet minutes (1 refusal a minute), 15 minutes of 10 a minute, then 40 quiet minutes ending now.
    const end = Math.floor(Date.now() / MIN) * MIN;
    const start = end - 135 * MIN;
    const spike = kustomTraffic(start, [...Array(80).fill(1), ...Array(15).fill(10)]);
    const after = kustomTraffic(start + 95 * MIN, Array(40).fill(1));

    await pipeline.handleBatch(spike);
    engine.advanceWatermark(start + 95 * MIN);
    const firing = engine.alerts().filter((a) => a.rule === 'MerchantInactiveSpike');
    expect(firing.map((a) => a.state)).toEqual(['firing']);
    engine.tick();

    const received = await waitFor('the alert in Alertmanager', async () => {
      const alerts = (await am.alerts()).filter((a) => a.labels.alertname === 'MerchantInactiveSpike');
      return alerts.length > 0 ? alerts : undefined;
    });
    expect(received).toHaveLength(1);
    const got = received[0]!;
    expect(got.labels).toEqual({
      alertname: 'MerchantInactiveSpike',
      provider: 'kustom',
      code: 'MERCHANT_INACTIVE',
      severity: 'page',
      owner: 'merchant_account',
      category: 'merchant_config',
    });
    expect(got.status.state).toBe('active');
    expect(got.annotations.summary).toMatch(/^Kustom MERCHANT_INACTIVE spike: \d+ calls refused in 10m/);
    expect(got.annotations.runbook).toContain('The MID is not active');
    expect(got.generatorURL).toBe('http://grafana.example/d/paysignal-errors?var-provider=kustom&var-code=MERCHANT_INACTIVE');
    expect(Date.parse(got.endsAt)).toBeGreaterThan(Date.now());
    await waitFor('the firing notification', () => (hook.messages.some((m) => m.status === 'firing') ? true : undefined));

    // The spike ends: keep_firing_for (10m) after the condition clears, the alert resolves.
    await pipeline.handleBatch(after);
    engine.advanceWatermark(end);
    expect(engine.alerts().filter((a) => a.rule === 'MerchantInactiveSpike')).toEqual([]);
    engine.tick();
    await waitFor('the alert to leave Alertmanager', async () => ((await am.alerts()).some((a) => a.labels.alertname === 'MerchantInactiveSpike') ? undefined : true));
    const resolved = await waitFor('the resolved notification', () => hook.messages.find((m) => m.status === 'resolved'));
    const alert = resolved.alerts.find((a) => a.labels.alertname === 'MerchantInactiveSpike')!;
    expect(alert.status).toBe('resolved');
    expect(Date.parse(alert.endsAt)).toBeLessThanOrEqual(Date.now());
    expect(Date.parse(alert.endsAt)).toBeGreaterThan(start + 95 * MIN);

    const text = await registry.metrics();
    expect(text).toMatch(/paysignal_alert_notifications_total\{result="sent"\} [1-9]/);
    expect(text).toContain('paysignal_alerts_firing{rule="MerchantInactiveSpike",severity="page"} 0');
    expect(text).toContain('paysignal_rules_loaded 7');
    await alerting.close();
  });

  it('an alert fired while Alertmanager is down is delivered once it is back', async () => {
    const registry = new Registry();
    const yaml = `
apiVersion: paysignal/v1
kind: RuleSet
metadata: { name: outage }
rules:
  - name: OutageTestBurst
    kind: threshold
    selector: { category: rate_limit }
    group_by: [provider]
    window: 5m
    threshold: { value: 3 }
`;
    const set = parseRuleSet(yaml, 'outage.yaml').ruleSet as RuleSet;
    const client = createAlertmanagerClient({ url: am.url, registry, initialBackoffMs: 100, maxBackoffMs: 500, resendIntervalMs: 60_000, queueSize: 1000 });
    // The providers' events interleave within 5 s of each other: inside the allowed lateness.
    const engine = createAlertEngine({ ruleSets: [set], registry, notifier: client, allowedLatenessMs: 10_000, idleTimeoutMs: null, tickIntervalMs: 5_000, maxAlertAgeMs: 15 * 60_000 });
    await am.stop();
    const now = Date.now();
    const base = Math.floor(now / MIN) * MIN - 10 * MIN;
    const providers = ['stablegenius', 'digitalriver', 'kustom'];
    for (const provider of providers) {
      for (let i = 0; i < 5; i++) {
        engine.onEvent(
          toProcessedEvent({
            ts: base + i * 1000,
            labels: { provider, operation: 'create_order', code: 'rate_limited', category: 'rate_limit', retry: 'retry_with_backoff' },
            violation: null,
          }),
        );
      }
    }
    engine.advanceWatermark(base + 2 * MIN);
    expect(engine.alerts().map((a) => a.labels.provider).sort()).toEqual([...providers].sort());
    engine.tick();
    await waitFor('failed attempts while Alertmanager is down', () => (client.stats().failed >= 6 ? true : undefined));
    expect(client.queued()).toBeGreaterThan(0);

    await am.start();
    const delivered = await waitFor('all alerts in Alertmanager', async () => {
      const alerts = (await am.alerts()).filter((a) => a.labels.alertname === 'OutageTestBurst');
      return alerts.length === providers.length ? alerts : undefined;
    });
    expect(delivered.map((a) => a.labels.provider).sort()).toEqual([...providers].sort());
    for (const a of delivered) expect(Object.keys(a.labels).sort()).toEqual(['alertname', 'provider', 'severity']);
    expect(client.queued()).toBe(0);
    const text = await registry.metrics();
    expect(text).toMatch(/paysignal_alert_notifications_total\{result="failed"\} [1-9]/);
    expect(text).toMatch(/paysignal_alert_notifications_total\{result="sent"\} [3-9]/);
    expect(text).toContain('paysignal_alert_notifications_total{result="dropped"} 0');
    await engine.close();
    await client.close();
  });
});
