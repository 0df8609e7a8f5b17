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
// A key's state is a slot in typed arrays, not an object (KeyStore): about 120 bytes of heap per key
// and 31 outside it. Ids stay in here and in spans; they never become metric labels.
import { hash } from 'node:crypto';
import type { PaymentCallEvent } from '../events/event.ts';
import type { CorrelationFacts } from '../pipeline/types.ts';
import type { Classification } from './classification.ts';
import { NON_RETRYABLE, RETRY_DECISIONS, type RetryDecision } from './taxonomy.ts';
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
  /** The event-time clock the TTL runs on: the newest timestamp of a keyed event (bounded by wall clock + skew); -Infinity before one. */
  readonly clockMs: number;
  clear(): void;
}

/** An operation beyond the first under one key (rare: most keys see one operation). */
interface OperationState {
  readonly operation: string;
  attempts: number;
  lastRetry: RetryDecision | null;
  lastCode: string | null;
  lastTimestampMs: number;
  lastStatus: number | null;
}

// Retry decisions and statuses as small numbers in typed arrays; 0 stands for null in both.
const RETRY_INDEX: ReadonlyMap<RetryDecision, number> = new Map(RETRY_DECISIONS.map((d, i) => [d, i + 1]));
const NO_SLOT = -1;
const FIRST_CAPACITY = 1024;
// Operation names come from each event's JSON, a new string per event: the store keeps one copy of
// each name (a few dozen in practice; bounded, so made-up names cannot grow it).
const MAX_INTERNED_OPERATIONS = 4096;

/**
 * The keys held, with the first operation's state of each. A key's state lives in typed arrays at
 * its slot, and its strings in plain arrays, instead of an object per key: with distinct keys, each
 * event adds a key that outlives the young generation, and an object per key made every full
 * collection of the heap mark 100k more objects (bench/RESULTS.md, "The correlation store").
 */
class KeyStore {
  readonly slotOf = new Map<string, number>();
  capacity = 0;
  /** Slots ever used; freed slots are reused first (the free list runs through `next`). */
  used = 0;
  freeHead = NO_SLOT;
  keys: string[] = [];
  operations: string[] = [];
  codes: (string | null)[] = [];
  attempts = new Uint32Array(0);
  retries = new Uint8Array(0);
  statuses = new Uint16Array(0);
  lastMs = new Float64Array(0);
  /** Newest attempt of any operation under the key: the TTL runs from it. */
  newestMs = new Float64Array(0);
  /** Neighbours in the recency list (a V8 Map used as an LRU list degrades once the cold end has many deleted slots). */
  prev = new Int32Array(0);
  next = new Int32Array(0);
  /** Further operations per slot. */
  readonly more = new Map<number, OperationState[]>();

  private readonly maxKeys: number;

  constructor(maxKeys: number) {
    this.maxKeys = maxKeys;
  }

  /** A free slot; the arrays grow by doubling, up to max_keys. */
  allocate(): number {
    if (this.freeHead !== NO_SLOT) {
      const slot = this.freeHead;
      this.freeHead = this.next[slot]!;
      return slot;
    }
    if (this.used === this.capacity) this.grow();
    return this.used++;
  }

  release(slot: number): void {
    this.keys[slot] = '';
    this.operations[slot] = '';
    this.codes[slot] = null;
    this.more.delete(slot);
    this.next[slot] = this.freeHead;
    this.freeHead = slot;
  }

  private grow(): void {
    const capacity = Math.min(this.maxKeys, Math.max(FIRST_CAPACITY, this.capacity * 2));
    // The tracker evicts before it adds a key beyond max_keys, so a full store always has a free slot.
    if (capacity <= this.capacity) throw new Error(`correlation store full at ${this.capacity} keys`);
    const widen = <T extends Uint32Array | Uint8Array | Uint16Array | Float64Array | Int32Array>(from: T, to: T): T => {
      to.set(from);
      return to;
    };
    this.attempts = widen(this.attempts, new Uint32Array(capacity));
    this.retries = widen(this.retries, new Uint8Array(capacity));
    this.statuses = widen(this.statuses, new Uint16Array(capacity));
    this.lastMs = widen(this.lastMs, new Float64Array(capacity));
    this.newestMs = widen(this.newestMs, new Float64Array(capacity));
    this.prev = widen(this.prev, new Int32Array(capacity));
    this.next = widen(this.next, new Int32Array(capacity));
    this.capacity = capacity;
  }
}

const MAX_KEY_LENGTH = 200;

/**
 * Heap per tracked key, rounded up from what a full tracker measures: about 120 bytes with 36-character
 * keys (the key string, the Map's slot and three array slots; test/signals/correlation.test.ts checks
 * the bound). Its numbers, 31 bytes per key, are in typed arrays outside the V8 heap.
 */
export const TRACKER_HEAP_BYTES_PER_KEY = 160;

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

  let store = new KeyStore(maxKeys);
  const internedOperations = new Map<string, string>();
  // Most recently used at head.
  let head = NO_SLOT;
  let tail = NO_SLOT;
  let clockMs = -Infinity;
  let evictions = 0;

  function internOperation(operation: string): string {
    const known = internedOperations.get(operation);
    if (known !== undefined) return known;
    if (internedOperations.size < MAX_INTERNED_OPERATIONS) internedOperations.set(operation, operation);
    return operation;
  }

  function unlink(slot: number): void {
    const { prev, next } = store;
    const p = prev[slot]!;
    const n = next[slot]!;
    if (p !== NO_SLOT) next[p] = n;
    else head = n;
    if (n !== NO_SLOT) prev[n] = p;
    else tail = p;
  }

  function pushHead(slot: number): void {
    const { prev, next } = store;
    next[slot] = head;
    prev[slot] = NO_SLOT;
    if (head !== NO_SLOT) prev[head] = slot;
    head = slot;
    if (tail === NO_SLOT) tail = slot;
  }

  function remove(slot: number): void {
    unlink(slot);
    store.slotOf.delete(store.keys[slot]!);
    store.release(slot);
  }

  function expired(slot: number): boolean {
    return clockMs - store.newestMs[slot]! > ttlMs;
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

  /** The next attempt of an operation already seen under `key`, given what its previous attempt said. */
  function again(key: string, attempts: number, previous: RetryDecision | null, previousCode: string | null, callerAttempt: number): CorrelationFacts {
    const violationOf = previous !== null && NON_RETRYABLE.has(previous) ? { code: previousCode, retry: previous } : null;
    const attemptNumber = Math.max(attempts, callerAttempt);
    return { key, attemptNumber, isRetry: true, isStorm: attemptNumber > stormThreshold, violationOf, unmatchedRetry: false };
  }

  /** The same log event delivered twice (at-least-once sources) is not a new attempt. */
  function redelivered(key: string, attempts: number, callerAttempt: number): CorrelationFacts {
    const attemptNumber = Math.max(attempts, callerAttempt);
    return { key, attemptNumber, isRetry: attemptNumber > 1, isStorm: attemptNumber > stormThreshold, violationOf: null, unmatchedRetry: false };
  }

  return {
    get size() {
      return store.slotOf.size;
    },
    get evictions() {
      return evictions;
    },
    get clockMs() {
      return clockMs;
    },
    clear() {
      store = new KeyStore(maxKeys);
      head = NO_SLOT;
      tail = NO_SLOT;
    },

    observe(event, classification) {
      const rawKey =
        classification.idempotencyKey ?? event.idempotencyKey ?? event.correlationId ?? classification.correlationId;
      if (rawKey === null || rawKey === '') return standalone(event, null);
      const key = rawKey.length > MAX_KEY_LENGTH ? `sha256:${hash('sha256', rawKey, 'hex')}` : rawKey;

      const ts = event.timestampMs;
      if (ts > clockMs) clockMs = Math.min(ts, wallClock() + maxSkew);
      // Amortised sweep: drop up to two expired keys from the cold end.
      for (let i = 0; i < 2 && tail !== NO_SLOT && expired(tail); i++) remove(tail);

      const operation = classification.operation ?? '';
      const isError = classification.outcome === 'error';
      const code = isError ? classification.code : null;
      const decision = isError ? classification.retry : null;
      const retryIndex = decision === null ? 0 : RETRY_INDEX.get(decision)!;
      const status = classification.statusCode;

      let slot = store.slotOf.get(key) ?? NO_SLOT;
      if (slot !== NO_SLOT && expired(slot)) {
        remove(slot);
        slot = NO_SLOT;
      }
      if (slot === NO_SLOT) {
        if (store.slotOf.size >= maxKeys && tail !== NO_SLOT) {
          remove(tail);
          evictions++;
        }
        slot = store.allocate();
        store.slotOf.set(key, slot);
        store.keys[slot] = key;
        store.operations[slot] = internOperation(operation);
        store.codes[slot] = code;
        store.attempts[slot] = 1;
        store.retries[slot] = retryIndex;
        store.statuses[slot] = status ?? 0;
        store.lastMs[slot] = ts;
        store.newestMs[slot] = ts;
        pushHead(slot);
        return first(event, key);
      }
      if (slot !== head) {
        unlink(slot);
        pushHead(slot);
      }
      if (ts > store.newestMs[slot]!) store.newestMs[slot] = ts;
      const callerAttempt = event.attempt !== null && event.attempt >= 1 ? event.attempt : 0;

      if (store.operations[slot] === operation) {
        const attempts = store.attempts[slot]!;
        if (store.lastMs[slot] === ts && store.statuses[slot] === (status ?? 0) && store.codes[slot] === code) return redelivered(key, attempts, callerAttempt);
        const previous = store.retries[slot]!;
        const facts = again(key, attempts + 1, previous === 0 ? null : RETRY_DECISIONS[previous - 1]!, store.codes[slot] ?? null, callerAttempt);
        store.attempts[slot] = attempts + 1;
        store.retries[slot] = retryIndex;
        store.codes[slot] = code;
        store.lastMs[slot] = ts;
        store.statuses[slot] = status ?? 0;
        return facts;
      }

      const others = store.more.get(slot);
      let op: OperationState | undefined;
      if (others !== undefined) {
        for (const candidate of others) {
          if (candidate.operation === operation) {
            op = candidate;
            break;
          }
        }
      }
      if (op === undefined) {
        if (1 + (others?.length ?? 0) >= maxOps) return standalone(event, key);
        const state: OperationState = { operation: internOperation(operation), attempts: 1, lastRetry: decision, lastCode: code, lastTimestampMs: ts, lastStatus: status };
        if (others === undefined) store.more.set(slot, [state]);
        else others.push(state);
        return first(event, key);
      }
      if (op.lastTimestampMs === ts && op.lastStatus === status && op.lastCode === code) return redelivered(key, op.attempts, callerAttempt);
      const facts = again(key, op.attempts + 1, op.lastRetry, op.lastCode, callerAttempt);
      op.attempts += 1;
      op.lastRetry = decision;
      op.lastCode = code;
      op.lastTimestampMs = ts;
      op.lastStatus = status;
      return facts;
    },
  };
}

function positive(n: number, name: string): number {
  if (!(n > 0) || !Number.isFinite(n)) throw new RangeError(`${name} must be a positive number, got ${n}`);
  return n;
}
