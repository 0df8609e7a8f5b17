// The in-process alert engine (rules/README.md, "Time model" and "Durable state";
// docs/architecture.md#time-model): an EventSink that counts classified events into event-time
// windows per rule and group, evaluates every rule on its set's grid of evaluation times once the
// watermark has passed them, and keeps Prometheus's alert state machine. This module composes the
// parts, each of which has one job:
//   signal.ts         the engine's input (EngineSignal) and its adapter from ProcessedEvent
//   partitions.ts     event time per source partition: watermarks, lateness, idleness
//   windows.ts        the window store of one rule and group
//   rule-runtime.ts   one rule compiled for the engine, with its groups and alerts
//   state-machine.ts  pending → firing → inactive, `for`, `keep_firing_for`
//   scheduler.ts      evaluation of the due grid times
//   notifier.ts       what Alertmanager should know, max_alert_age, the firing gauge
//   checkpoint.ts     the durable state's format and its consistency contract with committed offsets
//   durable-state.ts  the live state to and from a checkpoint
// What each rule kind means is in ../kinds/.
//
// Hot path: onEvent fills one reused EngineSignal; onSignal does selector tests with matchers compiled
// at load, builds one group-key string per matching rule, and touches a typed-array bucket. Label
// objects exist per group and per alert, never per event.
import { systemClock, type TimerHandle } from '../clock.ts';
import { alertingMetrics } from '../metrics.ts';
import { matchesAll } from '../selector.ts';
import type { RuleSet } from '../types.ts';
import { CHECKPOINT_FORMAT_VERSION, decodeCheckpoint, encodeCheckpointSized, MAX_CHECKPOINT_BYTES, MAX_CHECKPOINT_JSON_BYTES } from './checkpoint.ts';
import { applyState, captureState, stateProblem } from './durable-state.ts';
import { createAlertPublisher, type AlertUpdate } from './notifier.ts';
import { RuleRuntime } from './rule-runtime.ts';
import { Scheduler } from './scheduler.ts';
import { PartitionClocks, type PartitionRef } from './partitions.ts';
import { emptySignal, signalOf, type EngineSignal } from './signal.ts';
import type { AlertEngine, AlertEngineOptions, AlertSnapshot, RestoreOutcome, RestoreReport } from './types.ts';
import { NONE } from './windows.ts';

export function createAlertEngine(options: AlertEngineOptions): AlertEngine {
  const clock = options.clock ?? systemClock;
  const lateness = options.allowedLatenessMs;
  const tickMs = options.tickIntervalMs;
  const maxAge = options.maxAlertAgeMs;
  const idleTimeout = options.idleTimeoutMs;
  const maxGroups = options.maxGroupsPerRule ?? 1000;
  const maxSkew = options.maxFutureSkewMs ?? 5 * 60_000;
  const metrics = options.registry ? alertingMetrics(options.registry) : null;
  const logger = options.logger ?? null;
  const publisher = createAlertPublisher({ clock, maxAgeMs: maxAge, notifier: options.notifier ?? null, metrics });
  const scheduler = new Scheduler(publisher);
  /** The in-thread path's signal, refilled for every event. */
  const scratch = emptySignal();

  let sets: readonly RuleSet[] = [];
  let runtimes: RuleRuntime[] = [];
  /** Resolved updates of alerts whose rule was removed by a reload; sent on the next tick. */
  let retired: AlertUpdate[] = [];
  const partitions = new PartitionClocks(lateness, idleTimeout);
  let watermarkMs = NONE;
  let timer: TimerHandle | null = null;
  let lateEvents = 0;
  let alreadyInState = 0;
  /** The last state written was larger than a restore accepts (warned once until it fits again). */
  let stateTooLarge = false;
  let droppedEvents = 0;
  let futureEvents = 0;

  const install = (next: readonly RuleSet[]): void => {
    const previous = new Map(runtimes.map((rt) => [rt.rule.name, rt]));
    const fresh: RuleRuntime[] = [];
    for (const set of next) {
      for (const rule of set.rules) {
        const old = previous.get(rule.name);
        if (old && old.rule.fingerprint === rule.fingerprint) {
          fresh.push(old);
          previous.delete(rule.name);
        } else fresh.push(new RuleRuntime(rule, lateness));
      }
    }
    // Alerts of rules that are gone (or changed meaning) end now.
    for (const rt of previous.values()) {
      for (const a of rt.alerts.values()) {
        if (a.sent && a.state !== 'inactive') {
          retired.push({ labels: a.labels, annotations: rt.renderAnnotations(a), startsAt: a.activeAt, endsAt: Math.min(clock.now(), rt.lastEvaluated ?? clock.now()) });
        }
      }
    }
    sets = next;
    runtimes = fresh;
    // New rules start at the current watermark.
    if (watermarkMs !== NONE) for (const rt of runtimes) if (rt.nextK === NONE) rt.nextK = Math.floor(watermarkMs / rt.step);
    metrics?.rulesLoaded.set(runtimes.length);
  };

  const moveWatermark = (to: number): void => {
    if (to > watermarkMs) {
      watermarkMs = to;
      scheduler.evaluateDue(runtimes, watermarkMs);
    }
  };

  const idleAdvance = (): void => {
    moveWatermark(partitions.refreshIdle(clock.now()));
  };

  const publish = (): void => {
    const out = retired;
    retired = [];
    publisher.publish(runtimes, out);
  };

  const stateSize = (): { rules: number; groups: number; alerts: number; partitions: number } => {
    let groups = 0;
    let alerts = 0;
    for (const rt of runtimes) {
      groups += rt.groups.size;
      alerts += rt.alerts.size;
    }
    return { rules: runtimes.length, groups, alerts, partitions: partitions.all().length };
  };

  const restore = (checkpoint: Parameters<AlertEngine['restore']>[0]): RestoreOutcome => {
    if (checkpoint.version !== CHECKPOINT_FORMAT_VERSION) {
      return { ok: false, reason: 'incompatible', detail: `checkpoint format ${String(checkpoint.version)}; this engine restores format ${CHECKPOINT_FORMAT_VERSION}` };
    }
    const problem = stateProblem(checkpoint, runtimes);
    if (problem !== null) return { ok: false, reason: 'corrupt', detail: problem };
    const applied = applyState(checkpoint, runtimes, partitions, clock.now());
    watermarkMs = applied.watermarkMs;
    return { ok: true, restored: applied.restored, cold: applied.cold, dropped: applied.dropped };
  };

  const report = (result: RestoreReport['result'], detail: string | null, bytes: number): RestoreReport => {
    metrics?.stateRestores.inc({ result });
    if (result === 'restored') metrics?.stateBytes.set(bytes);
    return { result, detail, bytes };
  };

  install(options.ruleSets);

  const engine: AlertEngine = {
    name: 'alerts',

    onEvent(processed): void {
      engine.onSignal(signalOf(processed, scratch));
    },

    onSignal(s: EngineSignal): void {
      const ts = s.timestampMs;
      const wallNow = clock.now();
      if (ts > wallNow + maxSkew) {
        futureEvents++;
        return;
      }
      const p = partitions.get(s.topic, s.partition) ?? partitions.ensure(s.topic, s.partition, wallNow);
      const arrival = partitions.arrive(p, ts, s.offset, wallNow);
      if (arrival !== 'counted') {
        if (arrival === 'late') {
          lateEvents++;
          if (metrics !== null) (p.lateCounter ??= metrics.partitionLateEvents.labels(s.topic, String(s.partition))).inc();
        } else {
          alreadyInState++;
          metrics?.eventsAlreadyInState.inc();
        }
        return;
      }
      const wm = partitions.watermark();
      if (wm > watermarkMs) moveWatermark(wm);
      const isError = s.isError;
      const violation = s.violationRetry !== null;
      for (let r = 0; r < runtimes.length; r++) {
        const rt = runtimes[r] as RuleRuntime;
        const rule = rt.rule;
        let selected: boolean;
        let call = false;
        if (rt.countsCalls) {
          call = matchesAll(rt.callMatchers, s, 'calls');
          if (!call) continue;
          selected = isError && matchesAll(rt.matchers, s, 'errors');
        } else {
          if (rule.signal === 'errors') {
            if (!isError) continue;
          } else if (rule.signal === 'retry_violations') {
            if (!violation) continue;
          }
          if (rt.warmupBuckets !== null) {
            const b = Math.floor(ts / rt.step);
            if (b < rt.firstBucket) rt.firstBucket = b;
          }
          if (!matchesAll(rt.matchers, s, rule.signal)) continue;
          selected = true;
        }
        const key = rt.groupKey(s);
        let g = rt.groups.get(key);
        if (g === undefined) {
          if (rt.groups.size >= maxGroups) {
            droppedEvents++;
            metrics?.droppedGroups.inc({ rule: rule.name });
            continue;
          }
          g = rt.newGroup(key, s);
          rt.groups.set(key, g);
        }
        const lost = g.add(Math.floor(ts / rt.step), selected, call, rt.keepFrom(), rt.ringLength);
        if (lost > 0) {
          lateEvents += lost;
          metrics?.lateEvents.inc({ rule: rule.name }, lost);
        }
      }
    },

    async flush(): Promise<void> {
      // Alerts are best effort and queued by the notifier; they never hold back a commit.
    },

    start(): void {
      if (timer !== null) return;
      timer = clock.setInterval(() => engine.tick(), tickMs);
    },

    tick(): void {
      try {
        idleAdvance();
        publish();
      } catch (error) {
        logger?.warn({ err: error }, 'alert engine tick failed');
      }
    },

    assignPartitions(assigned: readonly PartitionRef[]): void {
      partitions.assign(assigned, clock.now());
      moveWatermark(partitions.watermark());
    },

    partitions() {
      return partitions.all().map((p) => ({
        topic: p.topic,
        partition: p.partition,
        watermark: p.maxEventTs === NONE ? null : p.maxEventTs - lateness,
        idle: p.idle,
        nextOffset: p.nextOffset < 0 ? null : p.nextOffset,
      }));
    },

    advanceWatermark(eventTimeMs: number): void {
      moveWatermark(eventTimeMs);
    },

    watermark: () => (watermarkMs === NONE ? null : watermarkMs),

    setRuleSets(next: readonly RuleSet[]): void {
      install(next);
      logger?.info({ rules: runtimes.length }, 'alert rules installed');
    },

    ruleSets: () => sets,

    alerts(includeResolved = false): AlertSnapshot[] {
      const out: AlertSnapshot[] = [];
      for (const rt of runtimes) for (const a of rt.alerts.values()) if (includeResolved || a.state !== 'inactive') out.push(rt.snapshotOf(a));
      return out;
    },

    onStep(listener): void {
      scheduler.onStep(listener);
    },

    stats() {
      let groups = 0;
      for (const rt of runtimes) groups += rt.groups.size;
      return { lateEvents, droppedEvents, futureEvents, alreadyInState, groups };
    },

    snapshot: () => captureState(runtimes, partitions, watermarkMs, clock.now()),

    restore,

    encodeState(): Uint8Array {
      const { bytes, jsonBytes } = encodeCheckpointSized(engine.snapshot());
      metrics?.stateBytes.set(bytes.length);
      const tooLarge = bytes.length > MAX_CHECKPOINT_BYTES || jsonBytes > MAX_CHECKPOINT_JSON_BYTES;
      // Once when the state outgrows what a restore accepts (checkpoints are written at every commit).
      if (tooLarge && !stateTooLarge) {
        logger?.warn(
          { bytes: bytes.length, jsonBytes, maxBytes: MAX_CHECKPOINT_BYTES, maxJsonBytes: MAX_CHECKPOINT_JSON_BYTES, ...stateSize() },
          'alert engine state is larger than a restore accepts: a restart will start cold; lower maxGroupsPerRule or the rules\' spans',
        );
      }
      stateTooLarge = tooLarge;
      return bytes;
    },

    restoreState(bytes: Uint8Array | null): RestoreReport {
      if (bytes === null) {
        logger?.info({ result: 'missing' }, 'alert engine state: no checkpoint stored, starting cold');
        return report('missing', 'no checkpoint stored', 0);
      }
      const decoded = decodeCheckpoint(bytes);
      if (!decoded.ok) {
        logger?.warn({ result: decoded.reason, detail: decoded.detail, bytes: bytes.length }, 'alert engine state: checkpoint ignored, starting cold');
        return report(decoded.reason, decoded.detail, bytes.length);
      }
      const outcome = restore(decoded.checkpoint);
      if (!outcome.ok) {
        logger?.warn({ result: outcome.reason, detail: outcome.detail, bytes: bytes.length }, 'alert engine state: checkpoint ignored, starting cold');
        return report(outcome.reason, outcome.detail, bytes.length);
      }
      const c = decoded.checkpoint;
      logger?.info(
        {
          result: 'restored',
          bytes: bytes.length,
          ...stateSize(),
          watermark: c.watermark === null ? null : new Date(c.watermark).toISOString(),
          takenAt: new Date(c.createdAt).toISOString(),
          coldRules: outcome.cold,
          droppedRules: outcome.dropped,
        },
        'alert engine state restored',
      );
      return report('restored', null, bytes.length);
    },

    async close(): Promise<void> {
      if (timer !== null) {
        clock.clearInterval(timer);
        timer = null;
      }
      // Hand the last state to the notifier (no idle advance: shutting down is not silence).
      try {
        publish();
      } catch (error) {
        logger?.warn({ err: error }, 'alert engine final notification failed');
      }
    },
  };
  return engine;
}

export type { AlertNotifier, AlertUpdate } from './notifier.ts';
export type { PartitionRef } from './partitions.ts';
export { emptySignal, signalOf, type EngineSignal } from './signal.ts';
export { RESOLVED_RETENTION_MS, type AlertState } from './state-machine.ts';
export {
  decodeCheckpoint,
  encodeCheckpoint,
  MAX_CHECKPOINT_BYTES,
  type CheckpointRejection,
  type DecodedCheckpoint,
  type EngineCheckpoint,
} from './checkpoint.ts';
export type {
  AlertEngine,
  AlertEngineOptions,
  AlertSnapshot,
  EngineLogger,
  EngineStats,
  PartitionStatus,
  RestoreOutcome,
  RestoreReport,
  RestoreResult,
  StepListener,
} from './types.ts';
