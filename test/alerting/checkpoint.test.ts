// The engine's durable state: an engine restored from a checkpoint fires exactly what an engine that
// never stopped fires (same alerts, same evaluation times, same activeAt/firedAt/resolvedAt), records
// the checkpoint already covers are not counted twice, and a missing, corrupt, incompatible or
// oversized checkpoint is refused with its reason: counted, logged, and the engine starts cold.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createFakeClock } from '../../src/alerting/clock.ts';
import { decodeCheckpoint, encodeCheckpoint, MAX_CHECKPOINT_BYTES, type EngineCheckpoint } from '../../src/alerting/engine/checkpoint.ts';
import { createAlertEngine, type AlertEngine } from '../../src/alerting/engine/index.ts';
import { eventsFromCounts, toEngineSignal, type SyntheticEvent } from '../../src/alerting/testing.ts';
import type { RuleSet } from '../../src/alerting/types.ts';
import { feedRecords, ruleSetFromYaml, type LocatedEvent } from '../support/engine.ts';
import { rng } from '../support/random.ts';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 2, 6, 0, 0);
const TOPIC = 'payments';
const PARTITIONS = 4;

const RULES_YAML = `
apiVersion: paysignal/v1
kind: RuleSet
metadata: { name: every-kind }
interval: 1m
rules:
  - name: InactiveSpike
    kind: spike
    selector: { code: MERCHANT_INACTIVE }
    group_by: [provider, code]
    window: 10m
    for: 2m
    keep_firing_for: 5m
    min_events: 20
    baseline: { method: trailing, lookback: 1h, factor: 3 }
    annotations: { summary: "{{ $labels.provider }}: {{ $value }}" }
  - name: RateLimitBurst
    kind: threshold
    selector: { category: rate_limit }
    group_by: [provider, operation]
    window: 5m
    for: 1m
    keep_firing_for: 3m
    threshold: { op: '>', value: 25 }
  - name: BudgetBurn
    kind: error_ratio
    selector: { category: [provider_error, timeout] }
    group_by: [provider]
    objective: 99
    windows: [{ long: 1h, short: 5m, factor: 14.4 }]
    for: 2m
    min_events: 100
  - name: NewCode
    kind: new_error_code
    group_by: [provider, code]
    window: 10m
    lookback: 1h
    min_events: 2
  - name: Silent
    kind: absence
    group_by: [provider]
    window: 10m
    lookback: 1h
    for: 5m
    min_events: 30
`;

const ruleSet = (yaml: string): RuleSet => ruleSetFromYaml(yaml, 'checkpoint.yaml');
const RULES = ruleSet(RULES_YAML);

/** Counts per minute: a noisy base rate with bursts over [from, to) minutes. */
function profile(minutes: number, seed: number, base: number, bursts: { from: number; to: number; rate: number }[] = []): number[] {
  const r = rng(seed);
  return Array.from({ length: minutes }, (_, i) => {
    const burst = bursts.find((b) => i >= b.from && i < b.to);
    return Math.max(0, Math.round((burst ? burst.rate : base) * (0.5 + r())));
  });
}

const MINUTES = 240;
const at = (events: SyntheticEvent[]): SyntheticEvent[] => events.map((e) => ({ ...e, ts: T0 + e.ts }));
const silence = (counts: number[], from: number, to: number): number[] => counts.map((c, i) => (i >= from && i < to ? 0 : c));
const HISTORY: SyntheticEvent[] = [
  ...at(eventsFromCounts(silence(profile(MINUTES, 1, 40), 150, 175), MIN, { provider: 'kustom', operation: 'create_order', outcome: 'success' })),
  ...at(eventsFromCounts(silence(profile(MINUTES, 2, 2, [{ from: 90, to: 104, rate: 14 }]), 150, 175), MIN, { provider: 'kustom', operation: 'create_order', code: 'MERCHANT_INACTIVE', category: 'merchant_config', retry: 'contact_provider' })),
  ...at(eventsFromCounts(profile(MINUTES, 3, 1, [{ from: 120, to: 128, rate: 9 }]), MIN, { provider: 'setel', operation: 'authorize', code: 'rate_limited', category: 'rate_limit', retry: 'retry_with_backoff' })),
  ...at(eventsFromCounts(profile(MINUTES, 4, 30), MIN, { provider: 'setel', operation: 'authorize', outcome: 'success' })),
  ...at(eventsFromCounts(profile(MINUTES, 5, 0.2, [{ from: 180, to: 220, rate: 15 }]), MIN, { provider: 'setel', operation: 'authorize', code: '9300001', category: 'provider_error', retry: 'retry_with_backoff' })),
  ...at(eventsFromCounts(Array.from({ length: MINUTES }, (_, i) => (i === 140 || i === 141 ? 2 : 0)), MIN, { provider: 'setel', operation: 'authorize', code: '9300042', category: 'validation', retry: 'fix_and_resubmit' })),
];

/**
 * The history as a Kafka consumer sees it: spread over partitions (each in time order, keyed
 * round-robin), handed over in batches of up to `batch` records of one partition at a time.
 */
function batches(batch: number): LocatedEvent[][] {
  const byPartition: LocatedEvent[][] = Array.from({ length: PARTITIONS }, () => []);
  [...HISTORY]
    .sort((a, b) => a.ts - b.ts)
    .forEach((event, i) => {
      const list = byPartition[i % PARTITIONS] as LocatedEvent[];
      list.push({ event, partition: i % PARTITIONS, offset: list.length });
    });
  const out: LocatedEvent[][] = [];
  for (let start = 0; byPartition.some((l) => l.length > start); start += batch) {
    for (const list of byPartition) if (list.length > start) out.push(list.slice(start, start + batch));
  }
  return out;
}

const BATCHES = batches(300);

function engineFor(ruleSets: readonly RuleSet[] = [RULES], registry?: Registry): AlertEngine {
  return createAlertEngine({
    ruleSets,
    clock: createFakeClock(T0 + (MINUTES + 60) * MIN),
    allowedLatenessMs: 30_000,
    idleTimeoutMs: null,
    ...(registry === undefined ? {} : { registry }),
    tickIntervalMs: 5_000,
    maxAlertAgeMs: 15 * 60_000,
  });
}

/** Every evaluation with its firing alerts, as text: rule, time, labels, activeAt, firedAt, value. */
function timeline(engine: AlertEngine): string[] {
  const out: string[] = [];
  engine.onStep((rule, evaluatedAt, firing) => {
    const alerts = firing
      .map((a) => `${a.labels.provider}/${a.labels.code ?? a.labels.operation ?? ''} active ${(a.activeAt - T0) / MIN} fired ${((a.firedAt ?? 0) - T0) / MIN} value ${a.value}`)
      .sort();
    out.push(`${rule} @${(evaluatedAt - T0) / MIN}: ${alerts.join('; ')}`);
  });
  return out;
}

function feed(engine: AlertEngine, batchList: readonly LocatedEvent[][]): void {
  for (const b of batchList) feedRecords(engine, TOPIC, b);
}

const assignment = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: TOPIC, partition }));

describe('engine state checkpoint', () => {
  it('a restored engine fires what a never-stopped engine fires, at the same evaluation times, whatever the cut', () => {
    const uninterrupted = engineFor();
    const expected = timeline(uninterrupted);
    uninterrupted.assignPartitions(assignment);
    feed(uninterrupted, BATCHES);
    const firingRules = new Set(expected.filter((l) => !l.endsWith(': ')).map((l) => l.split(' ')[0]));
    // The history makes every kind fire.
    expect([...firingRules].sort()).toEqual(['BudgetBurn', 'InactiveSpike', 'NewCode', 'RateLimitBurst', 'Silent']);
    const finalAlerts = uninterrupted.alerts(true);

    // Cuts (at batch boundaries, where checkpoints are taken) from the warm-up to the last alerts.
    const cutAt = (minute: number): number => BATCHES.findIndex((b) => (b[0] as LocatedEvent).event.ts >= T0 + minute * MIN);
    const statesAtCuts = new Set<string>();
    for (const cut of [30, 95, 100, 106, 130, 160, 170, 210].map(cutAt)) {
      const first = engineFor();
      const before = timeline(first);
      first.assignPartitions(assignment);
      feed(first, BATCHES.slice(0, cut));
      const snapshot = first.snapshot();
      for (const r of snapshot.rules) for (const a of r.alerts) statesAtCuts.add(a.state === 'firing' && a.keepFiringSince !== null ? 'firing, keep_firing_for running' : a.state);
      const bytes = encodeCheckpoint(snapshot);
      const decoded = decodeCheckpoint(bytes);
      if (!decoded.ok) throw new Error(decoded.detail);

      const second = engineFor();
      const outcome = second.restore(decoded.checkpoint);
      expect(outcome).toEqual({ ok: true, restored: RULES.rules.map((r) => r.name), cold: [], dropped: [] });
      const after = timeline(second);
      second.assignPartitions(assignment);
      feed(second, BATCHES.slice(cut));
      expect([...before, ...after], `cut after batch ${cut}`).toEqual(expected);
      expect(second.alerts(true)).toEqual(finalAlerts);
    }
    // The cuts caught alerts in every state the checkpoint must carry.
    expect([...statesAtCuts].sort()).toEqual(['firing', 'firing, keep_firing_for running', 'inactive', 'pending']);
  });

  it('records below the checkpointed offsets (committed offsets behind the state) are not counted twice', () => {
    const uninterrupted = engineFor();
    const expected = timeline(uninterrupted);
    feed(uninterrupted, BATCHES);

    const cut = Math.floor(BATCHES.length / 2);
    const first = engineFor();
    const before = timeline(first);
    feed(first, BATCHES.slice(0, cut));
    const checkpoint = first.snapshot();
    const second = engineFor();
    expect(second.restore(checkpoint).ok).toBe(true);
    const after = timeline(second);
    // The commit lagged the checkpoint by 8 batches: they are delivered again.
    const redelivered = BATCHES.slice(cut - 8, cut);
    feed(second, redelivered);
    feed(second, BATCHES.slice(cut));
    expect([...before, ...after]).toEqual(expected);
    expect(second.stats().alreadyInState).toBe(redelivered.reduce((n, b) => n + b.length, 0));
    expect(second.stats().lateEvents).toBe(0);
  });

  it('restores the state of unchanged rules only: a changed rule starts cold, a removed one is dropped', () => {
    const first = engineFor();
    feed(first, BATCHES.slice(0, Math.floor(BATCHES.length * 0.45)));
    const checkpoint = first.snapshot();
    const changed = ruleSet(RULES_YAML.replace("threshold: { op: '>', value: 25 }", "threshold: { op: '>', value: 30 }").replace(/  - name: Silent[\s\S]*$/, ''));
    const second = engineFor([changed]);
    const outcome = second.restore(checkpoint);
    expect(outcome).toEqual({ ok: true, restored: ['InactiveSpike', 'BudgetBurn', 'NewCode'], cold: ['RateLimitBurst'], dropped: ['RateLimitBurst', 'Silent'] });
    expect(second.alerts().map((a) => a.rule)).toEqual(first.alerts().filter((a) => a.rule === 'InactiveSpike' || a.rule === 'BudgetBurn' || a.rule === 'NewCode').map((a) => a.rule));
    expect(second.watermark()).toBe(first.watermark());
  });

  it('restore() refuses a checkpoint object of another format version and leaves the engine as it was', () => {
    const first = engineFor();
    feed(first, BATCHES.slice(0, 20));
    const second = engineFor();
    feed(second, BATCHES.slice(0, 10));
    const before = second.snapshot();
    const outcome = second.restore({ ...first.snapshot(), version: 2 as unknown as 1 });
    expect(outcome).toEqual({ ok: false, reason: 'incompatible', detail: 'checkpoint format 2; this engine restores format 1' });
    expect({ ...second.snapshot(), createdAt: 0 }).toEqual({ ...before, createdAt: 0 });
  });

  it('reports the state size as a metric and restores through restoreState with a counted result', async () => {
    const registry = new Registry();
    const first = engineFor([RULES], registry);
    feed(first, BATCHES.slice(0, Math.floor(BATCHES.length * 0.45)));
    const bytes = first.encodeState();
    expect(await registry.metrics()).toContain(`paysignal_alert_state_bytes ${bytes.length}`);
    const logs: string[] = [];
    const restoredRegistry = new Registry();
    const second = createAlertEngine({
      ruleSets: [RULES],
      registry: restoredRegistry,
      clock: createFakeClock(T0 + (MINUTES + 60) * MIN),
      allowedLatenessMs: 30_000,
      idleTimeoutMs: null,
      logger: { info: (_o, msg) => logs.push(`info ${msg}`), warn: (_o, msg) => logs.push(`warn ${msg}`) },
      tickIntervalMs: 5_000,
      maxAlertAgeMs: 15 * 60_000,
    });
    expect(second.restoreState(bytes)).toEqual({ result: 'restored', detail: null, bytes: bytes.length });
    expect(second.alerts()).toEqual(first.alerts());
    expect(logs).toEqual(['info alert engine state restored']);
    const text = await restoredRegistry.metrics();
    expect(text).toContain('paysignal_alert_state_restores_total{result="restored"} 1');
    expect(text).toContain(`paysignal_alert_state_bytes ${bytes.length}`);
  });

  it('a state grown past what a restore accepts is logged once when written, and refused as oversized at restore', () => {
    const warnings: string[] = [];
    const logger = { info: () => {}, warn: (_o: object, msg?: string) => void warnings.push(msg ?? '') };
    const engine = createAlertEngine({ ruleSets: [RULES], clock: createFakeClock(T0 + 60 * MIN), allowedLatenessMs: 30_000, idleTimeoutMs: null, tickIntervalMs: 5_000, maxAlertAgeMs: 15 * 60_000, logger });
    // 34 codes of 1 MiB each (NewCode groups by code): 34 MiB of group keys, more than 32 MiB of JSON.
    for (let i = 0; i < 34; i++) {
      const code = `${String(i).padStart(2, '0')}${'x'.repeat(1024 * 1024)}`;
      engine.onSignal(toEngineSignal({ ts: T0 + i, labels: { provider: 'setel', operation: 'authorize', code, category: 'validation', retry: 'fix_and_resubmit' }, violation: null }, { topic: TOPIC, partition: 0, offset: i }));
    }
    const bytes = engine.encodeState();
    engine.encodeState();
    expect(warnings).toEqual(["alert engine state is larger than a restore accepts: a restart will start cold; lower maxGroupsPerRule or the rules' spans"]);
    const fresh = engineFor();
    expect(fresh.restoreState(bytes)).toMatchObject({ result: 'oversized', detail: 'checkpoint inflates to more than 33554432 bytes' });
  });

  describe('a checkpoint that cannot be used is refused with its reason; the engine starts cold and keeps running', () => {
    const good = (): Uint8Array => {
      const e = engineFor();
      feed(e, BATCHES.slice(0, Math.floor(BATCHES.length * 0.45)));
      return encodeCheckpoint(e.snapshot());
    };
    /** A checkpoint of format 1 whose payload is not what format 1 says. */
    const withBody = (payload: unknown): Uint8Array => encodeCheckpoint(payload as EngineCheckpoint);
    const flipped = (): Uint8Array => {
      const bytes = good();
      bytes[Math.floor(bytes.length / 2)] = (bytes[Math.floor(bytes.length / 2)] as number) ^ 0xff;
      return bytes;
    };
    const versioned = (): Uint8Array => {
      const bytes = good();
      bytes[4] = 2;
      return bytes;
    };
    /** Right format, but a bucket a trillion steps back: applying it would allocate without bound. */
    const farBack = (): Uint8Array => {
      const e = engineFor();
      feed(e, BATCHES.slice(0, 20));
      const snapshot = e.snapshot();
      const rules = snapshot.rules.map((r, i) => (i === 0 ? { ...r, groups: r.groups.map((g) => ({ ...g, counts: [1e12, 1] })) } : r));
      return encodeCheckpoint({ ...snapshot, rules });
    };
    const cases: { name: string; bytes: () => Uint8Array | null; result: string; detail: RegExp }[] = [
      { name: 'missing', bytes: () => null, result: 'missing', detail: /no checkpoint stored/ },
      { name: 'not a checkpoint at all', bytes: () => new TextEncoder().encode('{"offsets":{}}'), result: 'corrupt', detail: /no "PSEC" header/ },
      { name: 'damaged in storage (one byte flipped)', bytes: flipped, result: 'corrupt', detail: /does not inflate/ },
      { name: 'well-formed but not the format', bytes: () => withBody({ version: 1, createdAt: 0, watermark: 'soon', partitions: [], rules: [] }), result: 'corrupt', detail: /does not match format 1: watermark must be integer,null/ },
      { name: 'a bucket further back than any window holds', bytes: farBack, result: 'corrupt', detail: /rule InactiveSpike: a bucket 1000000000000 steps back, more than the \d+ its windows can hold/ },
      { name: 'written by an incompatible version', bytes: versioned, result: 'incompatible', detail: /format 2; this paysignal reads format 1/ },
      { name: 'oversized', bytes: () => new Uint8Array(MAX_CHECKPOINT_BYTES + 1), result: 'oversized', detail: /more than the 16777216 accepted/ },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const registry = new Registry();
        const warnings: object[] = [];
        const engine = createAlertEngine({
          ruleSets: [RULES],
          registry,
          clock: createFakeClock(T0 + (MINUTES + 60) * MIN),
          allowedLatenessMs: 30_000,
          idleTimeoutMs: null,
          logger: { info: (o) => warnings.push(o), warn: (o) => warnings.push(o) },
          tickIntervalMs: 5_000,
          maxAlertAgeMs: 15 * 60_000,
        });
        const bytes = c.bytes();
        const report = engine.restoreState(bytes);
        expect(report.result).toBe(c.result);
        expect(report.detail).toMatch(c.detail);
        expect(warnings).toEqual([expect.objectContaining({ result: c.result })]);
        expect(await registry.metrics()).toContain(`paysignal_alert_state_restores_total{result="${c.result}"} 1`);
        // Cold: no event time, no alerts; and it keeps working.
        expect(engine.watermark()).toBeNull();
        expect(engine.alerts(true)).toEqual([]);
        feed(engine, BATCHES.slice(0, 40));
        expect(engine.watermark()).not.toBeNull();
      });
    }
  });
});
