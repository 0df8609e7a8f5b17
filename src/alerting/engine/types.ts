// The engine's public face: what it is built with, what it answers, and what it reports.
import type { Registry } from 'prom-client';
import type { EventSink } from '../../pipeline/types.ts';
import type { Clock } from '../clock.ts';
import type { RuleSet } from '../types.ts';
import type { EngineCheckpoint } from './checkpoint.ts';
import type { AlertNotifier } from './notifier.ts';
import type { PartitionRef } from './partitions.ts';
import type { EngineSignal } from './signal.ts';
import type { AlertState } from './state-machine.ts';

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

/** Told after every evaluation step of every rule, with that rule's firing alerts. */
export type StepListener = (rule: string, evaluatedAt: number, firing: readonly AlertSnapshot[]) => void;

export interface EngineLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface AlertEngineOptions {
  readonly ruleSets: readonly RuleSet[];
  /** Wall clock for ticks and max_alert_age; default the system clock. */
  readonly clock?: Clock;
  /** A partition's watermark = its newest event time − this; older events of it are late (`rules.allowed_lateness`). */
  readonly allowedLatenessMs: number;
  /** Wall-clock period of ticks (send alerts) (`rules.evaluation_interval`). */
  readonly tickIntervalMs: number;
  /** Alerts whose evaluation time is older than this (wall time) are not sent (`rules.max_alert_age`). */
  readonly maxAlertAgeMs: number;
  /**
   * A partition without events for this much wall time stops holding the watermark back; when all are
   * idle the watermark follows the wall clock (`rules.partition_idle_timeout`). null: partitions never go idle.
   */
  readonly idleTimeoutMs: number | null;
  /** Groups tracked per rule; events of further groups are dropped (counted). Default 1000. */
  readonly maxGroupsPerRule?: number;
  /** Events stamped further than this ahead of the wall clock are ignored (counted). Default 5 min. */
  readonly maxFutureSkewMs?: number;
  readonly registry?: Registry;
  readonly notifier?: AlertNotifier;
  readonly logger?: EngineLogger;
}

export interface EngineStats {
  /** Events older than their partition's watermark, or than the buckets a rule could hold. */
  readonly lateEvents: number;
  /** Events below their partition's next offset (already in the state: retried or restored), ignored. */
  readonly alreadyInState: number;
  readonly droppedEvents: number;
  readonly futureEvents: number;
  readonly groups: number;
}

export interface AlertEngine extends EventSink {
  /** The engine's input without a ProcessedEvent (worker threads send these); the object is not kept. */
  onSignal(signal: EngineSignal): void;
  /** Starts the wall-clock tick. */
  start(): void;
  /** One tick: idle watermark advance, evaluation of due steps, notification. */
  tick(): void;
  /**
   * The source's partitions after an assignment change (rebalance): new ones hold the watermark back
   * until they deliver or go idle, revoked ones no longer do. Without it, partitions are known from
   * their first event (the file/stdin path is one pseudo-partition).
   */
  assignPartitions(partitions: readonly PartitionRef[]): void;
  /** Each known partition's watermark (null before its first event), idleness and next offset. */
  partitions(): PartitionStatus[];
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
  onStep(listener: StepListener): void;
  stats(): EngineStats;
  /** The durable state now (see checkpoint.ts for what it covers and the consistency contract). */
  snapshot(): EngineCheckpoint;
  /**
   * Replaces the state with a checkpoint's (call after the rules are loaded, before consuming): the
   * partitions' event time and offsets, and the state of every rule whose name and meaning match.
   */
  restore(checkpoint: EngineCheckpoint): RestoreOutcome;
  /** snapshot() encoded (encodeCheckpoint); its size is reported as paysignal_alert_state_bytes. */
  encodeState(): Uint8Array;
  /**
   * Restores from stored bytes (null: none stored): decodes, restores, counts the result in
   * paysignal_alert_state_restores_total{result} and logs it. On anything but `restored` the engine
   * starts cold; it never throws for what the bytes hold.
   */
  restoreState(bytes: Uint8Array | null): RestoreReport;
  close(): Promise<void>;
}

export interface PartitionStatus extends PartitionRef {
  readonly watermark: number | null;
  readonly idle: boolean;
  /** Offset after the last event the state holds; null when the source has no offsets. */
  readonly nextOffset: number | null;
}

export type RestoreOutcome =
  | {
      readonly ok: true;
      /** Rules whose state came from the checkpoint. */
      readonly restored: readonly string[];
      /** Loaded rules the checkpoint had no state for (new or changed): they start cold. */
      readonly cold: readonly string[];
      /** Rules in the checkpoint that are not loaded (removed or changed): their state is dropped. */
      readonly dropped: readonly string[];
    }
  | { readonly ok: false; readonly reason: 'incompatible' | 'corrupt'; readonly detail: string };

export type RestoreResult = 'restored' | 'missing' | 'corrupt' | 'incompatible' | 'oversized';

export interface RestoreReport {
  readonly result: RestoreResult;
  /** Why the engine starts cold; null when restored. */
  readonly detail: string | null;
  readonly bytes: number;
}
