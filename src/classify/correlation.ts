// Correlation of attempts (docs/architecture.md#correlation-and-keying-across-replicas): a bounded
// store (LRU + TTL) of what was seen per key.
//
// Key. The idempotency key when the call carries one, else the correlation id. The idempotency key
// names one request, which is exactly what "the same request again" means; correlation ids are weaker:
// the event's own `correlation_id` usually names a whole payment (several operations, and a new
// checkout after `new_checkout` legitimately reuses it), and provider correlation ids (Kustom's body
// `correlation_id`, `Klarna-Correlation-Id`) are unique per HTTP request, so they never repeat. Within a
// key, attempts are counted per operation: `create_session` then `create_order` under one payment id
// are two calls, not a retry.
//
// Time. The TTL runs on event time, not the wall clock: the clock is the newest event timestamp seen
// (never more than `maxClockSkewMs` ahead of the wall clock, so one event stamped in the future cannot
// expire everything). Replaying a backlog therefore ties the same attempts together as live traffic
// did, whatever the processing speed, and agrees with the alert engine, whose windows are event time
// too. An entry expires when the clock passes its newest attempt by more than `ttlMs`.
//
// Memory. At most `maxKeys` keys (least recently used is evicted first), at most
// `maxOperationsPerKey` operations per key, keys longer than 200 characters are stored as a SHA-256.
// Ids stay in here and in spans; they never become metric labels.
import { hash } from 'node:crypto';
import type { PaymentCallEvent } from '../events/event.ts';
import type { CorrelationFacts } from '../pipeline/types.ts';
import type { Classification } from './classification.ts';
import { NON_RETRYABLE, type RetryDecision } from './taxonomy.ts';
import type { CorrelationConfig } from './config.ts';

export interface CorrelationTrackerOptions {
  /**
   * The `correlation` section of the configuration: keys kept at most (`max_keys`), event-time
   * lifetime of a key after its newest attempt (`ttl`, ms), and the attempts of one operation under
   * one key beyond which it is a retry storm (`storm_threshold`).
   */
  readonly correlation: CorrelationConfig;
  /** Operations tracked per key; default 8 (further operations are not tracked). */
  readonly maxOperationsPerKey?: number;
  /** How far ahead of the wall clock event time may move the clock; default 5 min. */
  readonly maxClockSkewMs?: number;
  /** Wall clock in ms; default Date.now. */
  readonly now?: () => number;
}

export interface CorrelationTracker {
  observe(event: PaymentCallEvent, classification: Classification): CorrelationFacts;
  /** Keys currently held. */
  readonly size: number;
  /** Keys dropped because the store was full (not because they expired). */
  readonly evictions: number;
  clear(): void;
}

interface OperationState {
  readonly operation: string;
  attempts: number;
  lastRetry: RetryDecision | null;
  lastCode: string | null;
  lastTimestampMs: number;
  lastStatus: number | null;
}

/**
 * What is held per key. Most keys only ever see one operation, so the first is stored inline and
 * further ones in `more`: one object per key instead of an entry, an operations array and an
 * operation object (heap per key without the key string: about 390 bytes before, 165 after).
 */
class KeyState implements OperationState {
  readonly key: string;
  readonly operation: string;
  attempts = 1;
  lastRetry: RetryDecision | null;
  lastCode: string | null;
  lastTimestampMs: number;
  lastStatus: number | null;
  /** Newest attempt of any operation under this key: the TTL runs from it. */
  newestMs: number;
  more: OperationState[] | null = null;
  /** Neighbours in the recency list (a V8 Map used as an LRU list degrades once the cold end has many deleted slots). */
  prev: KeyState | null = null;
  next: KeyState | null = null;

  constructor(key: string, operation: string, retry: RetryDecision | null, code: string | null, timestampMs: number, status: number | null) {
    this.key = key;
    this.operation = operation;
    this.lastRetry = retry;
    this.lastCode = code;
    this.lastTimestampMs = timestampMs;
    this.lastStatus = status;
    this.newestMs = timestampMs;
  }
}

const MAX_KEY_LENGTH = 200;

/**
 * Heap per tracked key, rounded up from what a full tracker measures: about 250 bytes with 36-character
 * keys (the state, the key string and the Map's slot; test/signals/correlation.test.ts checks the bound).
 */
export const TRACKER_HEAP_BYTES_PER_KEY = 320;

/** Where the tracker lives: on the main thread (no processing workers), or one in each processing worker. */
export type TrackerThread = 'main thread' | 'each worker';

/**
 * A warning when `maxKeys` full keys would take more than half of the V8 heap limit of the thread
 * that holds the tracker, naming both fixes; null when they fit. Checked at startup: a tracker that
 * outgrows the heap ends the process (on the main thread) or the worker (which is then replaced,
 * and outgrows its heap again).
 */
export function trackerHeapWarning(maxKeys: number, heapLimitBytes: number, thread: TrackerThread = 'main thread'): string | null {
  const needMb = (maxKeys * TRACKER_HEAP_BYTES_PER_KEY) / 2 ** 20;
  const limitMb = heapLimitBytes / 2 ** 20;
  if (needMb <= limitMb / 2) return null;
  const whose = thread === 'each worker' ? "each processing worker's (a tracker per worker)" : 'the';
  return (
    `correlation.max_keys ${maxKeys} needs about ${Math.ceil(needMb)} MB of heap, more than half of ${whose} V8 heap limit ` +
    `(${Math.floor(limitMb)} MB): raise --max-old-space-size in NODE_OPTIONS (the chart's nodeOptions) or lower correlation.max_keys`
  );
}

export function createCorrelationTracker(options: CorrelationTrackerOptions): CorrelationTracker {
  const { correlation } = options;
  const maxKeys = positive(correlation.max_keys, 'correlation.max_keys');
  const ttlMs = positive(correlation.ttl, 'correlation.ttl');
  const stormThreshold = positive(correlation.storm_threshold, 'correlation.storm_threshold');
  const maxOps = positive(options.maxOperationsPerKey ?? 8, 'maxOperationsPerKey');
  const maxSkew = options.maxClockSkewMs ?? 5 * 60_000;
  const wallClock = options.now ?? Date.now;

  const map = new Map<string, KeyState>();
  // Doubly linked list, most recently used at head.
  let head: KeyState | null = null;
  let tail: KeyState | null = null;
  let clockMs = -Infinity;
  let evictions = 0;

  function unlink(e: KeyState): void {
    if (e.prev !== null) e.prev.next = e.next;
    else head = e.next;
    if (e.next !== null) e.next.prev = e.prev;
    else tail = e.prev;
    e.prev = null;
    e.next = null;
  }

  function pushHead(e: KeyState): void {
    e.next = head;
    e.prev = null;
    if (head !== null) head.prev = e;
    head = e;
    if (tail === null) tail = e;
  }

  function remove(e: KeyState): void {
    unlink(e);
    map.delete(e.key);
  }

  function expired(e: KeyState): boolean {
    return clockMs - e.newestMs > ttlMs;
  }

  function standalone(event: PaymentCallEvent, key: string | null): CorrelationFacts {
    const attemptNumber = event.attempt !== null && event.attempt >= 1 ? event.attempt : 1;
    return { key, attemptNumber, isRetry: attemptNumber > 1, isStorm: attemptNumber > stormThreshold, violationOf: null, unmatchedRetry: false };
  }

  /** The first attempt of an operation under `key` that this instance sees. */
  function first(event: PaymentCallEvent, key: string): CorrelationFacts {
    const attemptNumber = Math.max(1, event.attempt !== null && event.attempt >= 1 ? event.attempt : 0);
    // The caller says earlier attempts exist, and none of them came here.
    const unmatchedRetry = attemptNumber > 1;
    return { key, attemptNumber, isRetry: unmatchedRetry, isStorm: attemptNumber > stormThreshold, violationOf: null, unmatchedRetry };
  }

  return {
    get size() {
      return map.size;
    },
    get evictions() {
      return evictions;
    },
    clear() {
      map.clear();
      head = null;
      tail = null;
    },

    observe(event, classification) {
      const rawKey =
        classification.idempotencyKey ?? event.idempotencyKey ?? event.correlationId ?? classification.correlationId;
      if (rawKey === null || rawKey === '') return standalone(event, null);
      const key = rawKey.length > MAX_KEY_LENGTH ? `sha256:${hash('sha256', rawKey, 'hex')}` : rawKey;

      const ts = event.timestampMs;
      if (ts > clockMs) clockMs = Math.min(ts, wallClock() + maxSkew);
      // Amortised sweep: drop up to two expired keys from the cold end.
      for (let i = 0; i < 2 && tail !== null && expired(tail); i++) remove(tail);

      const operation = classification.operation ?? '';
      const isError = classification.outcome === 'error';
      const code = isError ? classification.code : null;
      const decision = isError ? classification.retry : null;
      const status = classification.statusCode;

      let state = map.get(key);
      if (state !== undefined && expired(state)) {
        remove(state);
        state = undefined;
      }
      if (state === undefined) {
        if (map.size >= maxKeys && tail !== null) {
          remove(tail);
          evictions++;
        }
        state = new KeyState(key, operation, decision, code, ts, status);
        map.set(key, state);
        pushHead(state);
        return first(event, key);
      }
      if (state !== head) {
        unlink(state);
        pushHead(state);
      }
      if (ts > state.newestMs) state.newestMs = ts;

      let op: OperationState | undefined = state.operation === operation ? state : undefined;
      if (op === undefined && state.more !== null) {
        for (const candidate of state.more) {
          if (candidate.operation === operation) {
            op = candidate;
            break;
          }
        }
      }
      const callerAttempt = event.attempt !== null && event.attempt >= 1 ? event.attempt : 0;

      if (op === undefined) {
        if (1 + (state.more?.length ?? 0) >= maxOps) return standalone(event, key);
        (state.more ??= []).push({ operation, attempts: 1, lastRetry: decision, lastCode: code, lastTimestampMs: ts, lastStatus: status });
        return first(event, key);
      }

      // The same log event delivered twice (at-least-once sources) is not a new attempt.
      if (op.lastTimestampMs === ts && op.lastStatus === status && op.lastCode === code) {
        const attemptNumber = Math.max(op.attempts, callerAttempt);
        return { key, attemptNumber, isRetry: attemptNumber > 1, isStorm: attemptNumber > stormThreshold, violationOf: null, unmatchedRetry: false };
      }

      const previous = op.lastRetry;
      const violationOf = previous !== null && NON_RETRYABLE.has(previous) ? { code: op.lastCode, retry: previous } : null;
      op.attempts += 1;
      op.lastRetry = decision;
      op.lastCode = code;
      op.lastTimestampMs = ts;
      op.lastStatus = status;
      const attemptNumber = Math.max(op.attempts, callerAttempt);
      return { key, attemptNumber, isRetry: true, isStorm: attemptNumber > stormThreshold, violationOf, unmatchedRetry: false };
    },
  };
}

function positive(n: number, name: string): number {
  if (!(n > 0) || !Number.isFinite(n)) throw new RangeError(`${name} must be a positive number, got ${n}`);
  return n;
}
