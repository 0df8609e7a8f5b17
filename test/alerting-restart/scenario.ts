// What the restart tests share: `paysignal run` processes against the embedded broker (or
// KAFKA_BROKERS) and a real Alertmanager, a spike rule that needs history (its warm-up keeps a cold
// engine silent), and streams of Kustom MERCHANT_INACTIVE refusals with event times ending in the past.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Message } from 'kafkajs';
import { pino } from 'pino';
import { decodeCheckpoint, MAX_CHECKPOINT_BYTES, type EngineCheckpoint } from '../../src/alerting/engine/checkpoint.ts';
import { createStateTopic } from '../../src/sources/kafka/state-topic.ts';
import { startAlertmanager, type GettableAlert, type RunningAlertmanager } from '../support/alertmanager.ts';
import { EVENT_KINDS, startTestKafka, type TestKafka } from '../support/kafka.ts';
import { startProcess, waitFor, type RunningProcess } from '../support/processes.ts';
import { serviceEnv } from '../support/service-env.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const NODE = join(root, 'node_modules', '.bin', 'node');
const ENTRY = join(root, 'test', 'support', 'paysignal-run.ts');
export const MIN = 60_000;

const REFUSAL = EVENT_KINDS.find((k) => k.provider === 'kustom' && k.code === 'MERCHANT_INACTIVE')!;
const SUCCESS = EVENT_KINDS.find((k) => k.provider === 'kustom' && k.code === null)!;

/** Quick heartbeats, small fetches (a stream takes many batches), idle partitions that never move the watermark on their own. */
const CONFIG = `kafka:
  from_beginning: true
  heartbeat_interval: 300ms
  session_timeout: 6s
  max_wait: 200ms
  max_bytes_per_partition: 16384
  shutdown_timeout: 15s
  lag_refresh_interval: 1s
  backoff: { initial: 200ms, max: 2s }
rules:
  evaluation_interval: 500ms
  allowed_lateness: 10s
  max_alert_age: 2h
  partition_idle_timeout: 1h
alertmanager:
  resend_interval: 2s
`;

/** A spike on a 30-minute baseline: silent for a cold engine until 35 minutes of history are in it. */
export function ruleFile(scenario: string, forDuration: string, keepFiringFor: string): string {
  return `apiVersion: paysignal/v1
kind: RuleSet
metadata: { name: restart-${scenario} }
interval: 1m
defaults: { group_by: [provider, code], window: 5m, for: ${forDuration}, keep_firing_for: ${keepFiringFor}, min_events: 5, severity: page }
rules:
  - name: RefusalSpike
    kind: spike
    selector: { provider: kustom, code: MERCHANT_INACTIVE }
    baseline: { method: trailing, lookback: 30m, factor: 3 }
    labels: { scenario: ${scenario} }
    annotations: { summary: "MERCHANT_INACTIVE spike: {{ $value }} in 5m" }
`;
}

export interface Minute {
  /** Minutes from the stream's base time (grid-aligned). */
  readonly minute: number;
  readonly refusals: number;
  readonly successes: number;
}

/** Events of the given minutes, in event-time order, keyed (one partition keeps them in order). */
export function stream(prefix: string, baseMs: number, minutes: readonly Minute[]): Message[] {
  const out: { ts: number; message: Message }[] = [];
  for (const m of minutes) {
    const start = baseMs + m.minute * MIN;
    for (let i = 0; i < m.refusals; i++) {
      const id = `${prefix}-r-${m.minute}-${i}`;
      const ts = start + 1000 + Math.floor((i * 58_000) / m.refusals);
      out.push({ ts, message: { key: id, value: JSON.stringify(REFUSAL.build(id, ts)) } });
    }
    for (let i = 0; i < m.successes; i++) {
      const id = `${prefix}-s-${m.minute}-${i}`;
      const ts = start + 500 + Math.floor((i * 59_000) / m.successes);
      out.push({ ts, message: { key: id, value: JSON.stringify(SUCCESS.build(id, ts)) } });
    }
  }
  return out.sort((a, b) => a.ts - b.ts).map((e) => e.message);
}

export function minutes(from: number, to: number, refusals: number, successes: number): Minute[] {
  return Array.from({ length: to - from }, (_, i) => ({ minute: from + i, refusals, successes }));
}

/** The grid minute `minutesAgo` before now. */
export function baseTime(minutesAgo: number): number {
  return Math.floor(Date.now() / MIN) * MIN - minutesAgo * MIN;
}

export interface Scenario {
  readonly name: string;
  readonly topic: string;
  readonly group: string;
  readonly stateTopic: string;
  readonly rulesDir: string;
}

export interface Harness {
  readonly kafka: TestKafka;
  readonly am: RunningAlertmanager;
  scenario(name: string, rules: string): Promise<Scenario>;
  run(s: Scenario): Promise<PaysignalProcess>;
  /** Waits until the group has committed every message of the topic. */
  caughtUp(s: Scenario, timeoutMs?: number): Promise<void>;
  /** Polls Alertmanager every 50 ms for the scenario's alert; resolves with it. */
  page(s: Scenario, timeoutMs?: number): Promise<GettableAlert>;
  scenarioAlerts(s: Scenario): Promise<GettableAlert[]>;
  /** The newest checkpoint in the scenario's state topic. */
  storedCheckpoint(s: Scenario): Promise<EngineCheckpoint>;
  close(): Promise<void>;
}

export interface PaysignalProcess {
  readonly process: RunningProcess;
  /** Log lines (JSON) so far. */
  logs(): Array<Record<string, unknown>>;
  /** The value of one sample on its /metrics. */
  metric(name: string, labels: Record<string, string>): Promise<number>;
}

export async function startHarness(): Promise<Harness> {
  const kafka = await startTestKafka();
  const am = await startAlertmanager();
  const dir = mkdtempSync(join(tmpdir(), 'paysignal-restart-'));
  const processes = new Set<RunningProcess>();

  async function scenario(name: string, rules: string): Promise<Scenario> {
    const topic = await kafka.createTopic(`restart-${name}`, 1);
    const group = `group-${topic}`;
    // Named after the group, as paysignal names it by default; the embedded broker creates topics only on request.
    const stateTopic = `${group}.state`;
    if (kafka.embedded !== null) await kafka.embedded.createTopic(stateTopic, 1);
    const rulesDir = join(dir, `rules-${topic}`);
    mkdirSync(rulesDir);
    writeFileSync(join(rulesDir, 'restart.yaml'), rules);
    return { name, topic, group, stateTopic, rulesDir };
  }

  async function run(s: Scenario): Promise<PaysignalProcess> {
    const config = join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(config, CONFIG);
    const child = startProcess(NODE, [ENTRY, '--config', config], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        PAYSIGNAL_LOG_LEVEL: 'info',
        ...serviceEnv(kafka.bootstrapServers, { topic: s.topic, group: s.group, dlq: `${s.topic}.dlq` }),
        PAYSIGNAL_RULES: s.rulesDir,
        ALERTMANAGER_URL: am.url,
      },
    });
    processes.add(child);
    const logs = (): Array<Record<string, unknown>> =>
      child
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    await waitFor('paysignal run to restore its state and join the group', () => {
      if (child.child.exitCode !== null) throw new Error(`exited early:\n${child.output()}`);
      const lines = logs();
      const restored = lines.some((l) => l.msg === 'alert engine state restored from the state topic' || l.msg === 'alert engine starts cold');
      return restored && lines.some((l) => l.msg === 'joined the consumer group') ? true : undefined;
    }, 60_000, 50);
    const url = String(logs().find((l) => l.msg === 'serving /metrics, /healthz and /readyz')!.url);
    return {
      process: child,
      logs,
      async metric(name, labels) {
        const text = await (await fetch(`${url}/metrics`)).text();
        const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
        const line = text.split('\n').find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && wanted.every((w) => l.includes(w)));
        return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
      },
    };
  }

  async function scenarioAlerts(s: Scenario): Promise<GettableAlert[]> {
    return (await am.alerts()).filter((a) => a.labels.scenario === s.name);
  }

  return {
    kafka,
    am,
    scenario,
    run,
    scenarioAlerts,
    async caughtUp(s, timeoutMs = 60_000) {
      await waitFor(`group ${s.group} to commit all of ${s.topic}`, async () => {
        const [committed, high] = await Promise.all([kafka.committedOffsets(s.group, s.topic), kafka.highWatermarks(s.topic)]);
        return committed.get(0) === high.get(0) ? true : undefined;
      }, timeoutMs, 50);
    },
    async page(s, timeoutMs = 30_000) {
      return await waitFor(`the ${s.name} page in Alertmanager`, async () => (await scenarioAlerts(s))[0], timeoutMs, 50);
    },
    async storedCheckpoint(s) {
      const store = createStateTopic({ kafka: kafka.kafka, topic: s.stateTopic, logger: pino({ level: 'silent' }), maxValueBytes: MAX_CHECKPOINT_BYTES });
      try {
        const loaded = await store.load(s.group);
        if (!loaded.found) throw new Error(`no checkpoint of ${s.group} in ${s.stateTopic}`);
        const decoded = decodeCheckpoint(loaded.stored.value);
        if (!decoded.ok) throw new Error(`the checkpoint of ${s.group} does not decode: ${decoded.detail}`);
        return decoded.checkpoint;
      } finally {
        await store.close();
      }
    },
    async close() {
      for (const p of processes) await p.stop(2000);
      await am.close();
      await kafka.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
