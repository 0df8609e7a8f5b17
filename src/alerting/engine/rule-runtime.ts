// One rule as the engine runs it: its matchers and templates compiled once, its kind's evaluator, and
// its live state — the groups' windows, the alerts, and where its evaluation stands.
import { kindOf, type GroupEvaluator } from '../kinds/index.ts';
import { compileMatchers, labelId, labelValue, type CompiledMatcher } from '../selector.ts';
import { parseTemplate, renderTemplate, type TemplatePart } from '../template.ts';
import type { Rule } from '../types.ts';
import type { EngineSignal } from './signal.ts';
import type { Alert } from './state-machine.ts';
import type { AlertSnapshot } from './types.ts';
import { GroupWindow, NONE } from './windows.ts';

/** Group keys a rule keeps ready: twice its groups at the default maxGroupsPerRule (1000); beyond it keys are built per event, so a flood of new codes cannot grow it. */
export const GROUP_KEY_CACHE_LIMIT = 2048;

export class RuleRuntime {
  readonly rule: Rule;
  /** Evaluation step and bucket width, ms. */
  readonly step: number;
  /** Base ring length of a group: the buckets held one by one plus the allowed lateness. */
  readonly ringLength: number;
  /** Buckets the rule reads back from an evaluation time. */
  readonly spanBuckets: number;
  /** Buckets it reads back one by one (older ones only as `olderMax`). */
  readonly heldBuckets: number;
  readonly matchers: CompiledMatcher[];
  /** Denominator (calls) matchers: the selector's provider/operation matchers only. */
  readonly callMatchers: CompiledMatcher[];
  readonly countsCalls: boolean;
  readonly groupIds: number[];
  readonly groupNames: string[];
  readonly annotations: [string, TemplatePart[]][];
  readonly evaluate: GroupEvaluator;
  readonly groups = new Map<string, GroupWindow>();
  /** Group keys by label values (groupKey); at most GROUP_KEY_CACHE_LIMIT keys, further ones are built per event. */
  private readonly keyCache = new Map<string, unknown>();
  private keyCacheSize = 0;
  readonly alerts = new Map<string, Alert>();
  /**
   * Kinds that compare with history stay silent until the signal's first event is at least the rule's
   * span old (this many buckets), so a cold start (empty windows) does not make every group look new
   * or spiking. Null for the other kinds.
   */
  readonly warmupBuckets: number | null;
  /** Bucket of the first event of the rule's signal (before the selector). */
  firstBucket = Infinity;
  /** Next grid index to evaluate; NONE until the first watermark. */
  nextK = NONE;
  /** The last evaluation time (event-time ms), null before the first. */
  lastEvaluated: number | null = null;

  constructor(rule: Rule, allowedLatenessMs: number) {
    const kind = kindOf(rule);
    this.rule = rule;
    this.step = rule.intervalMs;
    this.spanBuckets = Math.ceil(kind.spanMs(rule) / this.step);
    this.heldBuckets = Math.ceil(kind.bucketSpanMs(rule) / this.step);
    this.ringLength = this.heldBuckets + Math.ceil(allowedLatenessMs / this.step) + 2;
    this.matchers = compileMatchers(rule.selector);
    this.callMatchers = compileMatchers(rule.selector.filter((m) => m.label === 'provider' || m.label === 'operation'));
    this.countsCalls = kind.countsCalls;
    this.groupIds = rule.groupBy.map(labelId);
    this.groupNames = [...rule.groupBy];
    this.annotations = Object.entries(rule.annotations).map(([k, t]) => {
      const parts = parseTemplate(t, rule.groupBy);
      if (typeof parts === 'string') throw new Error(`rule ${rule.name}: annotation ${k} ${parts}`);
      return [k, parts];
    });
    this.evaluate = kind.evaluator(rule, this.step);
    this.warmupBuckets = kind.comparesWithHistory ? this.spanBuckets : null;
  }

  /** The group key of a signal: its group label values joined. */
  groupKey(s: EngineSignal): string {
    const ids = this.groupIds;
    if (ids.length === 1) return labelValue(s, this.rule.signal, ids[0] as number);
    if (ids.length === 0) return '';
    // Keys of two or more values are kept per value tuple (nested Maps, as the metrics series), so
    // an event of a known group builds no string and its Map lookup hashes no new one.
    const cacheFull = this.keyCacheSize >= GROUP_KEY_CACHE_LIMIT;
    let node = this.keyCache;
    for (let i = 0; i < ids.length - 1; i++) {
      const value = labelValue(s, this.rule.signal, ids[i] as number);
      let next = node.get(value) as Map<string, unknown> | undefined;
      if (next === undefined) {
        if (cacheFull) return this.joinedKey(s);
        next = new Map();
        node.set(value, next);
      }
      node = next;
    }
    const last = labelValue(s, this.rule.signal, ids[ids.length - 1] as number);
    const cached = node.get(last) as string | undefined;
    if (cached !== undefined) return cached;
    const key = this.joinedKey(s);
    if (!cacheFull) {
      node.set(last, key);
      this.keyCacheSize++;
    }
    return key;
  }

  private joinedKey(s: EngineSignal): string {
    let key = '';
    for (let i = 0; i < this.groupIds.length; i++) {
      if (i > 0) key += '\u0001';
      key += labelValue(s, this.rule.signal, this.groupIds[i] as number);
    }
    return key;
  }

  newGroup(key: string, s: EngineSignal): GroupWindow {
    const labels: Record<string, string> = {};
    for (let i = 0; i < this.groupIds.length; i++) {
      const v = labelValue(s, this.rule.signal, this.groupIds[i] as number);
      if (v !== '') labels[this.groupNames[i] as string] = v;
    }
    return new GroupWindow(key, labels, this.ringLength, this.countsCalls);
  }

  /** The group labels a group key stands for (the inverse of groupKey). */
  labelsOfKey(key: string): Record<string, string> {
    const labels: Record<string, string> = {};
    if (this.groupNames.length === 0) return labels;
    const values = key.split('\u0001');
    for (let i = 0; i < this.groupNames.length; i++) {
      const v = values[i] ?? '';
      if (v !== '') labels[this.groupNames[i] as string] = v;
    }
    return labels;
  }

  /** A new pending alert for group `key`, active from evaluation time T. */
  openAlert(key: string, value: number, T: number): Alert {
    const rule = this.rule;
    const groupLabels = this.groups.get(key)?.labels ?? this.labelsOfKey(key);
    return {
      key,
      groupLabels,
      labels: { ...groupLabels, ...rule.labels, severity: rule.severity, alertname: rule.name },
      state: 'pending',
      value,
      activeAt: T,
      firedAt: null,
      resolvedAt: null,
      keepFiringSince: null,
      sent: false,
      staleCounted: false,
    };
  }

  /** The oldest bucket the rule's next evaluations read one by one; NONE before its first evaluation. */
  keepFrom(): number {
    return this.nextK === NONE ? NONE : this.nextK - this.heldBuckets;
  }

  /** True once the rule may fire at grid index k (always for kinds without warm-up). */
  warmAt(k: number): boolean {
    return this.warmupBuckets === null || this.firstBucket <= k - this.warmupBuckets - 1;
  }

  renderAnnotations(a: Alert): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [key, parts] of this.annotations) out[key] = renderTemplate(parts, a.groupLabels, a.value);
    return out;
  }

  snapshotOf(a: Alert): AlertSnapshot {
    return {
      rule: this.rule.name,
      state: a.state,
      labels: a.labels,
      annotations: this.renderAnnotations(a),
      value: a.value,
      activeAt: a.activeAt,
      firedAt: a.firedAt,
      resolvedAt: a.resolvedAt,
      evaluatedAt: this.lastEvaluated ?? a.activeAt,
    };
  }

  /**
   * After the evaluation at grid index k: forgets groups whose data no longer reaches any window and
   * that hold no alert, and gives stretched windows their base length back when they can.
   */
  afterEvaluation(k: number): void {
    const keepFrom = k + 1 - this.heldBuckets;
    for (const [key, g] of this.groups) {
      if (g.head < k - this.spanBuckets && g.olderMax < k - this.spanBuckets && !this.alerts.has(key)) this.groups.delete(key);
      else if (g.counts.length > this.ringLength) g.shrink(this.ringLength, keepFrom);
    }
  }
}
