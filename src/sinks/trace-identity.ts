// Which trace a call belongs to, and whether its span is kept (docs/architecture.md#spans). Shared by the span
// sink and the metric exemplars, so an exemplar only ever names a trace whose span is kept: the
// success ratio and the error-span budget are both decided here, once per event.
import { hash, randomFillSync } from 'node:crypto';
import type { ProcessedEvent } from '../pipeline/types.ts';
import { ErrorSpanBudget, type BudgetWindow } from './span-budget.ts';

export interface SpanIdentity {
  /** 32 lower-case hex digits; empty when the span is not kept and its id was derived from the attempt key (or the budget dropped it). */
  readonly traceId: string;
  /** 16 hex digits from `traceparent`; null for a root span. */
  readonly parentSpanId: string | null;
  /** `traceparent` (valid), `correlation` (derived from the attempt key), `random` (nothing to derive from), `none` (dropped by the budget). */
  readonly source: 'traceparent' | 'correlation' | 'random' | 'none';
  /**
   * Whether the span is kept: errors unless the error-span budget refused them; successes by the
   * configured ratio, decided by the trace id (all attempts agree).
   */
  readonly sampled: boolean;
  /** True when the error-span budget dropped this span. */
  readonly overBudget: boolean;
  /**
   * For an error span kept under the budget: its (provider, code) window, whose `seen / kept` is the
   * span's sampling weight once the window's second is over. Null otherwise.
   */
  readonly window: BudgetWindow | null;
  /** The sampling weight when `window` is null: 1 for errors, 1 / ratio for successes. */
  readonly weight: number;
}

const HEX = /^[0-9a-f]+$/;
const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';

export interface ParsedTraceparent {
  readonly traceId: string;
  readonly parentSpanId: string;
  readonly sampled: boolean;
}

/** W3C Trace Context `traceparent` (version 00 layout; higher versions are read by their first four fields). */
export function parseTraceparent(value: string | null): ParsedTraceparent | null {
  if (value === null) return null;
  const tp = value.trim().toLowerCase();
  if (tp.length < 55) return null;
  const version = tp.slice(0, 2);
  if (!HEX.test(version) || version === 'ff') return null;
  if (version === '00' && tp.length !== 55) return null;
  if (tp[2] !== '-' || tp[35] !== '-' || tp[52] !== '-') return null;
  if (tp.length > 55 && tp[55] !== '-') return null;
  const traceId = tp.slice(3, 35);
  const parentSpanId = tp.slice(36, 52);
  const flags = tp.slice(53, 55);
  if (!HEX.test(traceId) || !HEX.test(parentSpanId) || !HEX.test(flags)) return null;
  if (traceId === ZERO_TRACE || parentSpanId === ZERO_SPAN) return null;
  return { traceId, parentSpanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

// Random trace ids come from a pool filled 256 ids at a time: one randomFillSync call per id costs
// more than the rest of the span's identity.
const RANDOM_POOL = Buffer.allocUnsafe(16 * 256);
let randomPoolOffset = RANDOM_POOL.length;

/** 32 random hex digits, never all zero (W3C Trace Context forbids it). */
export function randomTraceId(): string {
  if (randomPoolOffset === RANDOM_POOL.length) {
    randomFillSync(RANDOM_POOL);
    randomPoolOffset = 0;
  }
  const id = RANDOM_POOL.toString('hex', randomPoolOffset, randomPoolOffset + 16);
  randomPoolOffset += 16;
  return id === ZERO_TRACE ? '00000000000000000000000000000001' : id;
}

const SPAN_POOL = Buffer.allocUnsafe(8 * 512);
let spanPoolOffset = SPAN_POOL.length;

/** 16 random hex digits, never all zero: a span id, from a pool like the trace ids. */
export function randomSpanId(): string {
  if (spanPoolOffset === SPAN_POOL.length) {
    randomFillSync(SPAN_POOL);
    spanPoolOffset = 0;
  }
  const id = SPAN_POOL.toString('hex', spanPoolOffset, spanPoolOffset + 8);
  spanPoolOffset += 8;
  return id === ZERO_SPAN ? '0000000000000001' : id;
}

/** The first 16 bytes of SHA-256 over the key: every attempt under one key lands in one trace. */
export function traceIdFromKey(key: string): string {
  return traceIdOfDigest(hash('sha256', key, 'hex'));
}

/** The trace id of a SHA-256 hex digest (its first 32 hex digits, never all zero). */
function traceIdOfDigest(digest: string): string {
  const id = digest.slice(0, 32);
  return id === ZERO_TRACE ? '00000000000000000000000000000001' : id;
}

/**
 * The id that ties the attempts of one payment: the event's own correlation id (set by the calling
 * service), else the idempotency key, else the provider's correlation id.
 */
export function attemptKeyOf(processed: ProcessedEvent): string | null {
  return (
    processed.event.correlationId ??
    processed.classification.idempotencyKey ??
    processed.event.idempotencyKey ??
    processed.correlation?.key ??
    processed.classification.correlationId
  );
}

/** A uniform number in [0, 1) from the last 8 hex digits of a trace id (like TraceIdRatioBased). */
export function traceIdFraction(traceId: string): number {
  return hexFraction(traceId, traceId.length - 8);
}

/** The 8 lower-case hex digits of `hex` from `at`, as a fraction of 2^32. */
function hexFraction(hex: string, at: number): number {
  let n = 0;
  for (let i = at; i < at + 8; i++) {
    const c = hex.charCodeAt(i);
    n = n * 16 + (c <= 57 ? c - 48 : c - 87);
  }
  return n / 0x1_0000_0000;
}

export interface SpanIdentityResolver {
  /**
   * Memoised for the last event object, so the span sink and the metrics sink pay for one hash and
   * the budget counts each error once.
   */
  resolve(processed: ProcessedEvent): SpanIdentity;
  /** The trace id when this event's span is kept (for exemplars), else null. */
  exemplarTraceId(processed: ProcessedEvent): string | null;
  /** The error-span budget; null when there is no limit. */
  readonly budget: ErrorSpanBudget | null;
  /** The wall clock the budget reads, in ms. */
  readonly now: () => number;
}

export interface SpanIdentityOptions {
  /** Share of success spans kept, 0..1; default 1. */
  readonly successSampleRatio?: number;
  /** Error spans kept per second of wall time before sampling per (provider, code); 0 or absent: no limit. */
  readonly maxErrorSpansPerSecond?: number;
  /** Wall clock in ms for the budget; default Date.now. */
  readonly now?: () => number;
}

/** An error span the budget dropped: not exported, no exemplar, hence no trace id derived. */
const OVER_BUDGET: SpanIdentity = Object.freeze({ traceId: '', parentSpanId: null, source: 'none', sampled: false, overBudget: true, window: null, weight: 0 });

/** `code` of the budget pair for an error without a provider code (network errors, bare statuses), as the metrics label. */
const NO_CODE = 'none';

export function createSpanIdentityResolver(options: SpanIdentityOptions = {}): SpanIdentityResolver {
  const ratio = options.successSampleRatio ?? 1;
  if (!(ratio >= 0 && ratio <= 1)) throw new RangeError(`successSampleRatio must be within [0, 1], got ${ratio}`);
  const successWeight = ratio > 0 ? 1 / ratio : 0;
  const maxPerSecond = options.maxErrorSpansPerSecond ?? 0;
  if (!(Number.isInteger(maxPerSecond) && maxPerSecond >= 0)) throw new RangeError(`maxErrorSpansPerSecond must be a non-negative integer, got ${maxPerSecond}`);
  const budget = maxPerSecond > 0 ? new ErrorSpanBudget(maxPerSecond) : null;
  const now = options.now ?? Date.now;
  let lastEvent: ProcessedEvent | null = null;
  let lastIdentity: SpanIdentity | null = null;
  /** A success whose trace id the ratio left out: no span, no exemplar, so no trace id string either. */
  const sampledOut: SpanIdentity = Object.freeze({ traceId: '', parentSpanId: null, source: 'correlation', sampled: false, overBudget: false, window: null, weight: successWeight });

  function compute(processed: ProcessedEvent): SpanIdentity {
    const c = processed.classification;
    const isError = c.outcome === 'error';
    // The budget first: a dropped error span needs no trace id (no span, no exemplar), so no hash.
    let window: BudgetWindow | null = null;
    if (isError && budget !== null) {
      window = budget.admit(c.provider, c.code ?? NO_CODE, now());
      if (window === null) return OVER_BUDGET;
    }
    const parsed = parseTraceparent(processed.event.traceparent);
    let traceId: string;
    let parentSpanId: string | null = null;
    let source: SpanIdentity['source'];
    if (parsed !== null) {
      traceId = parsed.traceId;
      parentSpanId = parsed.parentSpanId;
      source = 'traceparent';
    } else {
      const key = attemptKeyOf(processed);
      if (key !== null && key !== '') {
        const digest = hash('sha256', key, 'hex');
        // Most successes are sampled out (ratio 0.1 shipped): decided from the digest itself (its
        // trace id's last 8 hex digits are digest digits 24 to 31), so those events build neither
        // the trace id string nor an identity of their own. An all-zero id (replaced by ...01)
        // has fraction 0 and is always sampled, so it never takes this path.
        if (!isError && ratio < 1 && hexFraction(digest, 24) >= ratio) return sampledOut;
        traceId = traceIdOfDigest(digest);
        source = 'correlation';
      } else {
        traceId = randomTraceId();
        source = 'random';
      }
    }
    if (!isError) {
      const sampled = ratio >= 1 || (ratio > 0 && traceIdFraction(traceId) < ratio);
      return { traceId, parentSpanId, source, sampled, overBudget: false, window: null, weight: successWeight };
    }
    return { traceId, parentSpanId, source, sampled: true, overBudget: false, window, weight: 1 };
  }

  return {
    budget,
    now,
    resolve(processed) {
      if (processed === lastEvent && lastIdentity !== null) return lastIdentity;
      const identity = compute(processed);
      lastEvent = processed;
      lastIdentity = identity;
      return identity;
    },
    exemplarTraceId(processed) {
      const identity = this.resolve(processed);
      return identity.sampled ? identity.traceId : null;
    },
  };
}
