// The messages between the main thread and the processing workers (docs/architecture.md#worker-threads).
// Record bytes and per-event signal tuples travel in transferred buffers, not as objects:
// a structured clone of one object per event would cost the main thread what the workers save it.
import type { PaysignalConfig } from '../../config/config.ts';
import type { Classification } from '../../classify/classification.ts';
import type { LabelVerdicts } from '../../sinks/label-guard.ts';
import type { RejectionReason } from '../types.ts';

export interface WorkerSetup {
  readonly config: PaysignalConfig;
  readonly logLevel: string;
  /** The main thread has sinks (the alert engine, extra sinks) that need each event's signal tuple. */
  readonly signalTuples: boolean;
  /** The main thread writes an events file: render each record's line here. */
  readonly eventLines: boolean;
  /** This worker's number (0-based), for its logs. */
  readonly index: number;
}

/** One partition's records (or part of a batch) for one worker. */
export interface BatchRequest {
  readonly kind: 'batch';
  readonly id: number;
  readonly source: string;
  readonly topic: string;
  readonly partition: number;
  /** Each record's offset when WorkerSetup.eventLines (the events file's lines name them); empty otherwise. */
  readonly offsets: readonly string[];
  /** Every record's value, one after another. */
  readonly bytes: Uint8Array;
  /** Where each value ends in `bytes`; -1 for a record without value (a tombstone). */
  readonly ends: Int32Array;
}

export interface MetricsRequest {
  readonly kind: 'metrics';
  readonly id: number;
}

export interface CloseRequest {
  readonly kind: 'close';
}

/** The main thread's label verdicts over all workers (src/pipeline/workers/merged-label-caps.ts). */
export interface LabelVerdictsRequest {
  readonly kind: 'label-verdicts';
  readonly verdicts: LabelVerdicts;
}

export type WorkerRequest = BatchRequest | MetricsRequest | CloseRequest | LabelVerdictsRequest;

/** A metric as prom-client's `get()` returns it, exemplars included. */
export interface MetricSnapshot {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly aggregator: string;
  readonly values: readonly MetricValue[];
}

export interface MetricValue {
  readonly labels: Readonly<Record<string, string | number>>;
  readonly value: number;
  readonly metricName?: string;
  readonly exemplar?: { readonly labelSet: Readonly<Record<string, string>>; readonly value: number; readonly timestamp: number } | null;
}

/** The labels of an event as the engine and main-thread sinks read them (SignalEvent['classification']). */
export type SignalClass = Pick<Classification, 'outcome' | 'provider' | 'operation' | 'statusCode' | 'code' | 'category' | 'retry' | 'errorType'>;

export interface ViolationTuple {
  readonly code: string | null;
  readonly retry: string;
}

/** Values per event in BatchReply.signals: record index, event time (ms), class id, violation id (0 = none). */
export const SIGNAL_STRIDE = 4;

/** What a worker returns for one batch; several travel in one BatchReplies message. */
export interface BatchReply {
  readonly id: number;
  /** SIGNAL_STRIDE numbers per processed (valid) event, in record order; empty unless WorkerSetup.signalTuples. */
  readonly signals: Float64Array;
  /** Classes first seen in this batch; their ids continue the worker's table. */
  readonly newClasses: readonly SignalClass[];
  /** Violations first seen in this batch; ids continue from 1. */
  readonly newViolations: readonly ViolationTuple[];
  readonly rejected: readonly { readonly index: number; readonly reason: RejectionReason; readonly detail: string }[];
  /** The events-file lines of the batch, in record order; empty unless WorkerSetup.eventLines. */
  readonly lines: string;
  readonly lineCount: number;
}

/**
 * The replies of the batches a worker processed back to back, in the order it took them, at most
 * one batch of a partition (src/pipeline/workers/worker.ts says why). One
 * message per run instead of one per batch: each message wakes the main thread, and the wake-up
 * costs the worker (the post) and the main thread more CPU than taking the reply (bench/RESULTS.md,
 * "Issue 13: per-record overhead around the worker pipeline").
 */
export interface BatchReplies {
  readonly kind: 'batches';
  readonly replies: readonly BatchReply[];
}

export interface BatchFailure {
  readonly kind: 'batch-failed';
  readonly id: number;
  readonly message: string;
}

export interface MetricsReply {
  readonly kind: 'metrics';
  readonly id: number;
  readonly metrics: readonly MetricSnapshot[];
}

export interface ReadyReply {
  readonly kind: 'ready';
  /** The worker's metrics (no values), in registration order: the main thread registers their merged view. */
  readonly metrics: readonly Pick<MetricSnapshot, 'name' | 'help' | 'type' | 'aggregator'>[];
  /** The worker's own V8 heap limit (heap_size_limit in its isolate): what its correlation tracker must fit in. */
  readonly heapLimitBytes: number;
}

export interface StartFailure {
  readonly kind: 'start-failed';
  readonly code: string;
  readonly message: string;
  readonly file?: string | undefined;
  readonly field?: string | undefined;
}

export interface ClosedReply {
  readonly kind: 'closed';
}

export type WorkerReply = BatchReplies | BatchFailure | MetricsReply | ReadyReply | StartFailure | ClosedReply;

/** The ids of the main thread's batch and metrics requests: one sequence for both, from 1. */
export class RequestIds {
  private last = 0;

  next(): number {
    return ++this.last;
  }
}
