// The in-process alert engine (DESIGN section 8): an EventSink that counts classified events into
// event-time buckets per rule and group, evaluates every rule on its set's grid of evaluation times
// once the watermark has passed them, and keeps Prometheus's alert state machine (pending → firing →
// inactive, `for`, `keep_firing_for`). The compiler (compiler.ts) gives every kind the same meaning
// as PromQL; test/alerting/agreement.test.ts feeds both the same history.
//
// Time:
// - Buckets: one per evaluation step (the rule set's `interval`) per group, in a ring sized to the
//   rule's span plus the allowed lateness. Window [T - w, T) is the sum of its buckets.
// - Watermark: newest event time − allowedLateness; after `idleTimeoutMs` of wall time without events it
//   moves on with the wall clock, so `absence` rules fire when everything goes quiet.
// - Evaluation: every grid time T = k·interval with T ≤ watermark is evaluated, in order, as soon as
//   the watermark passes it (also inside onEvent, so a fast backlog replay never outruns the rings).
//   A wall-clock tick then sends the current alerts; an alert whose evaluation time is older than
//   max_alert_age is not sent (counted as `stale`).
//
// Hot path: onEvent does selector tests with matchers compiled at load, builds one group-key string
// per matching rule, and touches a typed-array bucket. Label objects exist per group and per alert,
// never per event.
import type { Registry } from 'prom-client';
import type { EventSink, ProcessedEvent } from '../pipeline/types.ts';
import { systemClock, type Clock, type TimerHandle } from './clock.ts';
import { alertingMetrics, type AlertingMetrics } from './metrics.ts';
import { compileMatchers, labelId, labelValue, matchesAll, type CompiledMatcher } from './selector.ts';
import { parseTemplate, renderTemplate, type TemplatePart } from './template.ts';
import { burnThreshold, ruleSpanMs, WEEK_MS, type Rule, type RuleSet, type ThresholdOp } from './types.ts';

/** How long a resolved alert stays known (and is re-sent as resolved), as in Prometheus. */
export const RESOLVED_RETENTION_MS = 15 * 60_000;

export type AlertState = 'pending' | 'firing' | 'inactive';

export interface AlertSnapshot {
  readonly rule: string;
  readonly state: AlertState;
  /** alertname, severity, the group labels and the rule's labels. */
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly value: number;
  /** Event-time ms. */
  readonly activeAt: number;
  readonly firedAt: number | null;
  readonly resolvedAt: number | null;
  /** The last evaluation time (event-time ms) of the rule. */
  readonly evaluatedAt: number;
}

/** One alert as the engine wants Alertmanager to know it. */
export interface AlertUpdate {
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** Event-time ms the alert became active. */
  readonly startsAt: number;
  /** Null while firing; the resolve time (event-time ms, never after now) once resolved. */
  readonly endsAt: number | null;
}

/** Receives, at every tick, the full set of alerts Alertmanager should know (alertmanager.ts). */
export interface AlertNotifier {
  update(alerts: readonly AlertUpdate[]): void;
}

export interface EngineLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface AlertEngineOptions {
  readonly ruleSets: readonly RuleSet[];
  /** Wall clock for ticks and max_alert_age; default the system clock. */
  readonly clock?: Clock;
  /** Watermark = newest event time − this. Default 30 s. */
  readonly allowedLatenessMs?: number;
  /** Wall-clock period of ticks (send alerts). Default 5 s. */
  readonly tickIntervalMs?: number;
  /** Alerts whose evaluation time is older than this (wall time) are not sent. Default 15 min. */
  readonly maxAlertAgeMs?: number;
  /** After this much wall time without events the watermark follows the wall clock. Default 60 s; null disables. */
  readonly idleTimeoutMs?: number | null;
  /** Groups tracked per rule; events of further groups are dropped (counted). Default 1000. */
  readonly maxGroupsPerRule?: number;
  /** Events stamped further than this ahead of the wall clock are ignored (counted late). Default 5 min. */
  readonly maxFutureSkewMs?: number;
  readonly registry?: Registry;
  readonly notifier?: AlertNotifier;
  readonly logger?: EngineLogger;
}

export interface AlertEngine extends EventSink {
  /** Starts the wall-clock tick. */
  start(): void;
  /** One tick: idle watermark advance, evaluation of due steps, notification. */
  tick(): void;
  /** Moves the watermark to at least `eventTimeMs` and evaluates every due step (tests, idle sources). */
  advanceWatermark(eventTimeMs: number): void;
  /** Current watermark (event-time ms), null before the first event. */
  watermark(): number | null;
  /** Replaces the rules; rules whose meaning did not change keep their windows and alerts. */
  setRuleSets(ruleSets: readonly RuleSet[]): void;
  ruleSets(): readonly RuleSet[];
  /** Pending and firing alerts (and resolved ones still retained when `includeResolved`). */
  alerts(includeResolved?: boolean): AlertSnapshot[];
  /** Called after every evaluation step of every rule with that rule's firing alerts (rule tests). */
  onStep(listener: (rule: string, evaluatedAt: number, firing: readonly AlertSnapshot[]) => void): void;
  stats(): { readonly lateEvents: number; readonly droppedEvents: number; readonly futureEvents: number; readonly groups: number };
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------

interface Group {
  readonly key: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Newest bucket index held (buckets head-ringLen+1 .. head). */
  head: number;
  readonly counts: Uint32Array;
  /** error_ratio: calls (the denominator); counts holds errors. */
  readonly totals: Uint32Array | null;
  /** new_error_code: newest non-empty bucket that left the ring. */
  olderMax: number;
}

interface Alert {
  readonly key: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly groupLabels: Readonly<Record<string, string>>;
  state: AlertState;
  value: number;
  activeAt: number;
  firedAt: number | null;
  resolvedAt: number | null;
  keepFiringSince: number | null;
  /** Handed to the notifier at least once. */
  sent: boolean;
  staleCounted: boolean;
}

const NONE = -Infinity;

class RuleRuntime {
  readonly rule: Rule;
  readonly step: number;
  readonly ringLen: number;
  readonly spanBuckets: number;
  readonly windowBuckets: number;
  readonly matchers: CompiledMatcher[];
  /** error_ratio denominator: the provider/operation matchers only. */
  readonly totalMatchers: CompiledMatcher[];
  readonly groupIds: number[];
  readonly groupNames: string[];
  readonly annotations: [string, TemplatePart[]][];
  readonly groups = new Map<string, Group>();
  readonly alerts = new Map<string, Alert>();
  /**
   * spike and new_error_code compare with history: they stay silent until the signal's first event is
   * at least the rule's span old (`warmupBuckets`), so a restart (which empties the windows) does not
   * make every group look new or spiking. Prometheus: `and on() count(<metric> offset <span>) > 0`.
   */
  readonly warmupBuckets: number | null;
  /** Bucket of the first event of the rule's signal (before the selector). */
  firstBucket = Infinity;
  /** Next grid index to evaluate; NONE until the first watermark. */
  nextK = NONE;
  lastEvaluated: number | null = null;
  // Precomputed numbers, so the engine and the compiler compute with the same doubles.
  readonly trailingRatio: number;
  readonly burn: { longB: number; shortB: number; threshold: number }[];
  readonly lookbackBuckets: number;

  constructor(rule: Rule, allowedLatenessMs: number) {
    this.rule = rule;
    this.step = rule.intervalMs;
    this.windowBuckets = rule.windowMs / this.step;
    this.spanBuckets = Math.ceil(ruleSpanMs(rule) / this.step);
    const ringSpan = rule.kind === 'new_error_code' ? this.windowBuckets : this.spanBuckets;
    this.ringLen = ringSpan + Math.ceil(allowedLatenessMs / this.step) + 2;
    this.matchers = compileMatchers(rule.selector);
    this.totalMatchers = compileMatchers(rule.selector.filter((m) => m.label === 'provider' || m.label === 'operation'));
    this.groupIds = rule.groupBy.map(labelId);
    this.groupNames = [...rule.groupBy];
    this.annotations = Object.entries(rule.annotations).map(([k, t]) => {
      const parts = parseTemplate(t, rule.groupBy);
      if (typeof parts === 'string') throw new Error(`rule ${rule.name}: annotation ${k} ${parts}`);
      return [k, parts];
    });
    this.trailingRatio = rule.kind === 'spike' && rule.baseline.method === 'trailing' ? rule.windowMs / rule.baseline.lookbackMs : 0;
    this.burn =
      rule.kind === 'error_ratio'
        ? rule.windows.map((w) => ({ longB: w.longMs / this.step, shortB: w.shortMs / this.step, threshold: burnThreshold(rule.objective, w.factor) }))
        : [];
    let lookbackMs = 0;
    if (rule.kind === 'new_error_code' || rule.kind === 'absence') lookbackMs = rule.lookbackMs;
    else if (rule.kind === 'spike' && rule.baseline.method !== 'same_time_last_week') lookbackMs = rule.baseline.lookbackMs;
    this.lookbackBuckets = lookbackMs / this.step;
    this.warmupBuckets = rule.kind === 'spike' || rule.kind === 'new_error_code' ? this.spanBuckets : null;
  }
}

function mod(i: number, n: number): number {
  const r = i % n;
  return r < 0 ? r + n : r;
}

/** Sum of buckets from..to (inclusive bucket indices) of one ring. */
function sumRange(ring: Uint32Array, head: number, from: number, to: number): number {
  const n = ring.length;
  const lo = Math.max(from, head - n + 1);
  const hi = Math.min(to, head);
  let s = 0;
  for (let i = lo; i <= hi; i++) s += ring[mod(i, n)] as number;
  return s;
}

function compare(a: number, op: ThresholdOp, b: number): boolean {
  switch (op) {
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
  }
}

/** Value of the rule's expression for a group at grid index k, or null when the condition is false. */
function evaluateGroup(rt: RuleRuntime, g: Group, k: number): number | null {
  const rule = rt.rule;
  const wB = rt.windowBuckets;
  const cur = rule.kind === 'error_ratio' ? 0 : sumRange(g.counts, g.head, k - wB, k - 1);
  switch (rule.kind) {
    case 'threshold':
      return compare(cur, rule.op, rule.value) && cur >= rule.minEvents ? cur : null;
    case 'spike': {
      const b = rule.baseline;
      if (b.method === 'trailing') {
        const lb = rt.lookbackBuckets;
        const baseline = sumRange(g.counts, g.head, k - wB - lb, k - wB - 1) * rt.trailingRatio;
        return cur > baseline * b.factor && cur >= rule.minEvents ? cur : null;
      }
      if (b.method === 'same_time_last_week') {
        const weekB = WEEK_MS / rt.step;
        let total = 0;
        for (let j = 1; j <= b.weeks; j++) total += sumRange(g.counts, g.head, k - j * weekB - wB, k - j * weekB - 1);
        const baseline = total / b.weeks;
        return cur > baseline * b.factor && cur >= rule.minEvents ? cur : null;
      }
      // zscore over the lookback/window whole windows before the current one, missing history = 0.
      const windows = rt.lookbackBuckets / wB;
      let total = 0;
      let squares = 0;
      for (let i = 1; i <= windows; i++) {
        const c = sumRange(g.counts, g.head, k - (i + 1) * wB, k - i * wB - 1);
        total += c;
        squares += c * c;
      }
      const mean = total / windows;
      const stddev = Math.sqrt(Math.max(squares / windows - mean * mean, 0));
      return cur >= rule.minEvents && (cur - mean) / stddev > b.z ? cur : null;
    }
    case 'error_ratio': {
      const totals = g.totals as Uint32Array;
      for (const w of rt.burn) {
        const callsLong = sumRange(totals, g.head, k - w.longB, k - 1);
        const ratioLong = sumRange(g.counts, g.head, k - w.longB, k - 1) / callsLong;
        const ratioShort = sumRange(g.counts, g.head, k - w.shortB, k - 1) / sumRange(totals, g.head, k - w.shortB, k - 1);
        if (ratioLong > w.threshold && ratioShort > w.threshold && callsLong >= rule.minEvents) return ratioLong;
      }
      return null;
    }
    case 'new_error_code': {
      if (cur < rule.minEvents) return null;
      const from = k - wB - rt.lookbackBuckets;
      if (g.olderMax >= from) return null;
      return sumRange(g.counts, g.head, from, k - wB - 1) === 0 ? cur : null;
    }
    case 'absence': {
      if (cur !== 0) return null;
      const base = sumRange(g.counts, g.head, k - wB - rt.lookbackBuckets, k - wB - 1);
      return base >= rule.minEvents ? base : null;
    }
  }
}

export function createAlertEngine(options: AlertEngineOptions): AlertEngine {
  const clock = options.clock ?? systemClock;
  const lateness = options.allowedLatenessMs ?? 30_000;
  const tickMs = options.tickIntervalMs ?? 5_000;
  const maxAge = options.maxAlertAgeMs ?? 15 * 60_000;
  const idleTimeout = options.idleTimeoutMs === undefined ? 60_000 : options.idleTimeoutMs;
  const maxGroups = options.maxGroupsPerRule ?? 1000;
  const maxSkew = options.maxFutureSkewMs ?? 5 * 60_000;
  const metrics: AlertingMetrics | null = options.registry ? alertingMetrics(options.registry) : null;
  const notifier = options.notifier ?? null;
  const logger = options.logger ?? null;
  const listeners: ((rule: string, at: number, firing: readonly AlertSnapshot[]) => void)[] = [];

  let sets: readonly RuleSet[] = [];
  let runtimes: RuleRuntime[] = [];
  /** Resolved updates of alerts whose rule was removed by a reload; sent on the next tick. */
  let retired: AlertUpdate[] = [];
  let maxEventTs = NONE;
  let watermarkMs = NONE;
  let lastArrivalWall = clock.now();
  let timer: TimerHandle | null = null;
  let lateEvents = 0;
  let droppedEvents = 0;
  let futureEvents = 0;
  /** Firing gauge children set last tick, so vanished ones go back to 0. */
  let firingSeen = new Map<string, { rule: string; severity: string }>();

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
          retired.push({ labels: a.labels, annotations: renderAnnotations(rt, a), startsAt: a.activeAt, endsAt: Math.min(clock.now(), rt.lastEvaluated ?? clock.now()) });
        }
      }
    }
    sets = next;
    runtimes = fresh;
    // New rules start at the current watermark.
    if (watermarkMs !== NONE) for (const rt of runtimes) if (rt.nextK === NONE) rt.nextK = Math.floor(watermarkMs / rt.step);
    metrics?.rulesLoaded.set(runtimes.length);
  };

  const renderAnnotations = (rt: RuleRuntime, a: Alert): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const [key, parts] of rt.annotations) out[key] = renderTemplate(parts, a.groupLabels, a.value);
    return out;
  };

  const snapshot = (rt: RuleRuntime, a: Alert): AlertSnapshot => ({
    rule: rt.rule.name,
    state: a.state,
    labels: a.labels,
    annotations: renderAnnotations(rt, a),
    value: a.value,
    activeAt: a.activeAt,
    firedAt: a.firedAt,
    resolvedAt: a.resolvedAt,
    evaluatedAt: rt.lastEvaluated ?? a.activeAt,
  });

  const newGroup = (rt: RuleRuntime, key: string, processed: ProcessedEvent): Group => {
    const labels: Record<string, string> = {};
    for (let i = 0; i < rt.groupIds.length; i++) {
      const v = labelValue(processed, rt.rule.signal, rt.groupIds[i] as number);
      if (v !== '') labels[rt.groupNames[i] as string] = v;
    }
    return {
      key,
      labels,
      head: NONE,
      counts: new Uint32Array(rt.ringLen),
      totals: rt.rule.kind === 'error_ratio' ? new Uint32Array(rt.ringLen) : null,
      olderMax: NONE,
    };
  };

  /** Adds one event to a group's bucket `idx` (numerator and/or denominator). */
  const addToGroup = (rt: RuleRuntime, g: Group, idx: number, count: boolean, total: boolean): void => {
    const n = rt.ringLen;
    if (g.head === NONE) g.head = idx;
    else if (idx > g.head) {
      if (idx - g.head >= n) {
        // The whole ring is overwritten: remember its newest non-empty bucket, then clear it.
        for (let j = g.head; j > g.head - n; j--) {
          if (g.counts[mod(j, n)] !== 0) {
            g.olderMax = Math.max(g.olderMax, j);
            break;
          }
        }
        g.counts.fill(0);
        g.totals?.fill(0);
      } else {
        for (let j = g.head + 1; j <= idx; j++) {
          const slot = mod(j, n);
          if (g.counts[slot] !== 0) {
            g.olderMax = Math.max(g.olderMax, j - n);
            g.counts[slot] = 0;
          }
          if (g.totals !== null) g.totals[slot] = 0;
        }
      }
      g.head = idx;
    } else if (idx <= g.head - n) {
      // Older than the ring holds.
      if (count) g.olderMax = Math.max(g.olderMax, idx);
      lateEvents++;
      metrics?.lateEvents.inc({ rule: rt.rule.name });
      return;
    }
    const slot = mod(idx, n);
    if (count) g.counts[slot] = (g.counts[slot] as number) + 1;
    if (total && g.totals !== null) g.totals[slot] = (g.totals[slot] as number) + 1;
  };

  const evaluateStep = (rt: RuleRuntime, k: number): void => {
    const T = k * rt.step;
    const rule = rt.rule;
    const results = new Map<string, number>();
    const warm = rt.warmupBuckets === null || rt.firstBucket <= k - rt.warmupBuckets - 1;
    if (warm) {
      for (const g of rt.groups.values()) {
        const v = evaluateGroup(rt, g, k);
        if (v !== null) results.set(g.key, v);
      }
    }
    for (const [key, value] of results) {
      const a = rt.alerts.get(key);
      if (a !== undefined && a.state !== 'inactive') {
        a.value = value;
        continue;
      }
      const g = rt.groups.get(key) as Group;
      rt.alerts.set(key, {
        key,
        groupLabels: g.labels,
        labels: { ...g.labels, ...rule.labels, severity: rule.severity, alertname: rule.name },
        state: 'pending',
        value,
        activeAt: T,
        firedAt: null,
        resolvedAt: null,
        keepFiringSince: null,
        sent: false,
        staleCounted: false,
      });
    }
    // Prometheus's state machine (rules/alerting.go, Eval), step for step.
    for (const [key, a] of rt.alerts) {
      if (!results.has(key)) {
        let keepFiring = false;
        if (a.state === 'firing' && rule.keepFiringForMs > 0) {
          if (a.keepFiringSince === null) a.keepFiringSince = T;
          if (T - a.keepFiringSince < rule.keepFiringForMs) keepFiring = true;
        }
        if (a.state === 'pending' || (a.resolvedAt !== null && T - a.resolvedAt > RESOLVED_RETENTION_MS)) rt.alerts.delete(key);
        if (a.state !== 'inactive' && !keepFiring) {
          a.state = 'inactive';
          a.resolvedAt = T;
        }
        if (!keepFiring) continue;
      } else a.keepFiringSince = null;
      if (a.state === 'pending' && T - a.activeAt >= rule.forMs) {
        a.state = 'firing';
        a.firedAt = T;
        // Fired in history (a backlog being caught up): it will not be sent; count it once.
        if (clock.now() - T > maxAge) {
          a.staleCounted = true;
          metrics?.notifications.inc({ result: 'stale' });
        }
      }
    }
    rt.lastEvaluated = T;
    // Forget groups whose data no longer reaches any window and that hold no alert.
    for (const [key, g] of rt.groups) {
      if (g.head < k - rt.spanBuckets && g.olderMax < k - rt.spanBuckets && !rt.alerts.has(key)) rt.groups.delete(key);
    }
    if (listeners.length > 0) {
      const firing: AlertSnapshot[] = [];
      for (const a of rt.alerts.values()) if (a.state === 'firing') firing.push(snapshot(rt, a));
      for (const l of listeners) l(rule.name, T, firing);
    }
  };

  /** Evaluates every rule's due grid times up to the watermark. */
  const evaluateDue = (): void => {
    if (watermarkMs === NONE) return;
    for (const rt of runtimes) {
      const target = Math.floor(watermarkMs / rt.step);
      if (rt.nextK === NONE) rt.nextK = target;
      while (rt.nextK <= target) {
        // Nothing tracked: every step until the target is empty; skip ahead.
        if (rt.groups.size === 0 && rt.alerts.size === 0) {
          rt.nextK = target;
        }
        evaluateStep(rt, rt.nextK);
        rt.nextK++;
      }
    }
  };

  const moveWatermark = (to: number): void => {
    if (to > watermarkMs) {
      watermarkMs = to;
      evaluateDue();
    }
  };

  const idleAdvance = (): void => {
    if (idleTimeout === null || maxEventTs === NONE) return;
    const idle = clock.now() - lastArrivalWall - idleTimeout;
    if (idle > 0) moveWatermark(maxEventTs - lateness + idle);
  };

  const notify = (): void => {
    const now = clock.now();
    const updates: AlertUpdate[] = retired;
    retired = [];
    const firingCounts = new Map<string, { rule: string; severity: string; n: number }>();
    for (const rt of runtimes) {
      const fresh = rt.lastEvaluated !== null && now - rt.lastEvaluated <= maxAge;
      for (const a of rt.alerts.values()) {
        if (a.state === 'firing') {
          const id = `${rt.rule.name}\u0000${rt.rule.severity}`;
          const c = firingCounts.get(id) ?? { rule: rt.rule.name, severity: rt.rule.severity, n: 0 };
          c.n++;
          firingCounts.set(id, c);
          if (fresh || a.sent) {
            a.sent = true;
            updates.push({ labels: a.labels, annotations: renderAnnotations(rt, a), startsAt: Math.min(a.activeAt, now), endsAt: null });
          } else if (!a.staleCounted) {
            a.staleCounted = true;
            metrics?.notifications.inc({ result: 'stale' });
          }
        } else if (a.state === 'inactive' && a.sent) {
          const startsAt = Math.min(a.activeAt, now);
          updates.push({ labels: a.labels, annotations: renderAnnotations(rt, a), startsAt, endsAt: Math.max(startsAt, Math.min(a.resolvedAt ?? now, now)) });
        }
      }
    }
    if (metrics) {
      const next = new Map<string, { rule: string; severity: string }>();
      for (const [id, c] of firingCounts) {
        metrics.firing.set({ rule: c.rule, severity: c.severity }, c.n);
        next.set(id, c);
      }
      for (const [id, c] of firingSeen) if (!next.has(id)) metrics.firing.set({ rule: c.rule, severity: c.severity }, 0);
      firingSeen = next;
    }
    notifier?.update(updates);
  };

  install(options.ruleSets);

  const engine: AlertEngine = {
    name: 'alerts',

    onEvent(processed: ProcessedEvent): void {
      const ts = processed.event.timestampMs;
      const wallNow = clock.now();
      if (ts > wallNow + maxSkew) {
        futureEvents++;
        return;
      }
      lastArrivalWall = wallNow;
      if (ts > maxEventTs) {
        maxEventTs = ts;
        if (ts - lateness > watermarkMs) moveWatermark(ts - lateness);
      }
      const c = processed.classification;
      const isError = c.outcome === 'error';
      const violation = processed.correlation?.violationOf ?? null;
      for (let r = 0; r < runtimes.length; r++) {
        const rt = runtimes[r] as RuleRuntime;
        const rule = rt.rule;
        let count: boolean;
        let total = false;
        if (rule.kind === 'error_ratio') {
          total = matchesAll(rt.totalMatchers, processed, 'calls');
          if (!total) continue;
          count = isError && matchesAll(rt.matchers, processed, 'errors');
        } else {
          if (rule.signal === 'errors') {
            if (!isError) continue;
          } else if (rule.signal === 'retry_violations') {
            if (violation === null) continue;
          }
          if (rt.warmupBuckets !== null) {
            const b = Math.floor(ts / rt.step);
            if (b < rt.firstBucket) rt.firstBucket = b;
          }
          if (!matchesAll(rt.matchers, processed, rule.signal)) continue;
          count = true;
        }
        let key = '';
        for (let i = 0; i < rt.groupIds.length; i++) {
          if (i > 0) key += '\u0001';
          key += labelValue(processed, rule.signal, rt.groupIds[i] as number);
        }
        let g = rt.groups.get(key);
        if (g === undefined) {
          if (rt.groups.size >= maxGroups) {
            droppedEvents++;
            metrics?.droppedGroups.inc({ rule: rule.name });
            continue;
          }
          g = newGroup(rt, key, processed);
          rt.groups.set(key, g);
        }
        addToGroup(rt, g, Math.floor(ts / rt.step), count, total);
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
        notify();
      } catch (error) {
        logger?.warn({ err: error }, 'alert engine tick failed');
      }
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
      for (const rt of runtimes) for (const a of rt.alerts.values()) if (includeResolved || a.state !== 'inactive') out.push(snapshot(rt, a));
      return out;
    },

    onStep(listener): void {
      listeners.push(listener);
    },

    stats() {
      let groups = 0;
      for (const rt of runtimes) groups += rt.groups.size;
      return { lateEvents, droppedEvents, futureEvents, groups };
    },

    async close(): Promise<void> {
      if (timer !== null) {
        clock.clearInterval(timer);
        timer = null;
      }
      // Hand the last state to the notifier (no idle advance: shutting down is not silence).
      try {
        notify();
      } catch (error) {
        logger?.warn({ err: error }, 'alert engine final notification failed');
      }
    },
  };
  return engine;
}
