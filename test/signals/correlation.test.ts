// The correlation tracker (docs/architecture.md#correlation-and-keying-across-replicas): attempts,
// retries, storms, retry violations and unmatched retries per key.
import { describe, expect, it } from 'vitest';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createCorrelationTracker, TRACKER_HEAP_BYTES_PER_KEY, trackerHeapWarning } from '../../src/classify/correlation.ts';
import { NON_RETRYABLE, RETRY_DECISIONS } from '../../src/classify/taxonomy.ts';
import { createDecoder } from '../../src/events/decode.ts';
import type { PaymentCallEvent } from '../../src/events/event.ts';
import { DEFAULT_CONFIG } from '../support/config.ts';
import { BAD_VALUE, classification, event, MERCHANT_INACTIVE, RESOURCE_LOCKED, T0, type ErrorSpec } from './fixtures.ts';

/** The declared `correlation` settings, as `paysignal run` passes them. */
const CORRELATION = DEFAULT_CONFIG.correlation;

const MINUTE = 60_000;

function call(tracker: ReturnType<typeof createCorrelationTracker>, e: PaymentCallEvent, error: ErrorSpec | null = null) {
  return tracker.observe(e, classification(e, error));
}

describe('correlation tracker', () => {
  it('numbers attempts under one idempotency key and marks every later one as a retry', () => {
    const tracker = createCorrelationTracker({ correlation: CORRELATION });
    const first = call(tracker, event({ idempotencyKey: 'idem-1', statusCode: 500, timestampMs: T0 }), { code: 'internal_error', category: 'provider_error', retry: 'retry_same_key_later' });
    const second = call(tracker, event({ idempotencyKey: 'idem-1', statusCode: 201, timestampMs: T0 + 1000 }));
    expect(first).toEqual({ key: 'idem-1', attemptNumber: 1, isRetry: false, isStorm: false, violationOf: null, unmatchedRetry: false });
    expect(second).toEqual({ key: 'idem-1', attemptNumber: 2, isRetry: true, isStorm: false, violationOf: null, unmatchedRetry: false });
  });

  it('a call with neither idempotency key nor correlation id stands alone (its own attempt field counts)', () => {
    const tracker = createCorrelationTracker({ correlation: CORRELATION });
    expect(call(tracker, event())).toEqual({ key: null, attemptNumber: 1, isRetry: false, isStorm: false, violationOf: null, unmatchedRetry: false });
    expect(call(tracker, event({ attempt: 3 }))).toMatchObject({ key: null, attemptNumber: 3, isRetry: true });
    expect(tracker.size).toBe(0);
  });

  it('a retry (attempt > 1) whose earlier attempts this instance never saw is an unmatched retry', () => {
    const tracker = createCorrelationTracker({ correlation: CORRELATION });
    // Attempt 1 went to another replica: this one sees attempt 2 first.
    const arrived = call(tracker, event({ idempotencyKey: 'elsewhere', attempt: 2, statusCode: 500 }), RESOURCE_LOCKED);
    expect(arrived).toMatchObject({ key: 'elsewhere', attemptNumber: 2, isRetry: true, unmatchedRetry: true });
    // Attempt 3 follows attempt 2, which this instance did see.
    expect(call(tracker, event({ idempotencyKey: 'elsewhere', attempt: 3, statusCode: 201, timestampMs: T0 + 1000 }))).toMatchObject({ unmatchedRetry: false });
  });

  it('a retry whose earlier attempt this instance saw is matched, and a first attempt is never unmatched', () => {
    const tracker = createCorrelationTracker({ correlation: CORRELATION });
    expect(call(tracker, event({ idempotencyKey: 'here', attempt: 1, statusCode: 500 }), RESOURCE_LOCKED)).toMatchObject({ unmatchedRetry: false });
    expect(call(tracker, event({ idempotencyKey: 'here', attempt: 2, statusCode: 201, timestampMs: T0 + 1000 }))).toMatchObject({ isRetry: true, unmatchedRetry: false });
    expect(call(tracker, event({ idempotencyKey: 'no-attempt-field', statusCode: 201 }))).toMatchObject({ unmatchedRetry: false });
  });

  it('a retry of another operation under a known key is unmatched for that operation', () => {
    const tracker = createCorrelationTracker({ correlation: CORRELATION });
    call(tracker, event({ correlationId: 'pay-1', operation: 'create_session', statusCode: 201 }));
    expect(call(tracker, event({ correlationId: 'pay-1', operation: 'create_order', attempt: 2, statusCode: 201, timestampMs: T0 + 1000 }))).toMatchObject({ unmatchedRetry: true });
  });

  it('a retry without any key is not counted as unmatched: keying the topic could not have helped it', () => {
    const tracker = createCorrelationTracker({ correlation: CORRELATION });
    expect(call(tracker, event({ attempt: 4 }))).toMatchObject({ key: null, isRetry: true, unmatchedRetry: false });
  });

  it('prefers the idempotency key over correlation ids, which providers like Kustom make unique per request', () => {
    const tracker = createCorrelationTracker({ correlation: CORRELATION });
    const a = event({ idempotencyKey: 'idem-2', correlationId: 'per-request-a', statusCode: 403 });
    const b = event({ idempotencyKey: 'idem-2', correlationId: 'per-request-b', statusCode: 403, timestampMs: T0 + 5000 });
    call(tracker, a, MERCHANT_INACTIVE);
    expect(call(tracker, b, MERCHANT_INACTIVE)).toMatchObject({ key: 'idem-2', attemptNumber: 2, isRetry: true });
  });

  it('falls back to the correlation id when there is no idempotency key', () => {
    const tracker = createCorrelationTracker({ correlation: CORRELATION });
    call(tracker, event({ correlationId: 'pay-9', statusCode: 500 }), { code: null, category: 'provider_error', retry: 'retry_with_backoff' });
    expect(call(tracker, event({ correlationId: 'pay-9', timestampMs: T0 + 1 }))).toMatchObject({ key: 'pay-9', attemptNumber: 2, isRetry: true });
  });

  it('counts attempts per operation: create_session then create_order under one payment id is not a retry', () => {
    const tracker = createCorrelationTracker({ correlation: CORRELATION });
    call(tracker, event({ correlationId: 'pay-1', operation: 'create_session' }));
    expect(call(tracker, event({ correlationId: 'pay-1', operation: 'create_order', timestampMs: T0 + 1 }))).toMatchObject({ attemptNumber: 1, isRetry: false });
  });

  it('tracks several operations per key, each with its own attempts, up to maxOperationsPerKey; further operations stand alone', () => {
    const tracker = createCorrelationTracker({ correlation: CORRELATION, maxOperationsPerKey: 2 });
    const at = (operation: string, n: number) => call(tracker, event({ correlationId: 'pay-ops', operation, timestampMs: T0 + n }));
    expect(at('create_session', 1)).toMatchObject({ attemptNumber: 1, isRetry: false });
    expect(at('create_order', 2)).toMatchObject({ attemptNumber: 1, isRetry: false });
    expect(at('create_order', 3)).toMatchObject({ attemptNumber: 2, isRetry: true });
    expect(at('create_session', 4)).toMatchObject({ attemptNumber: 2, isRetry: true });
    // A third operation is over the limit: not tracked, so its repeats are not counted as retries.
    expect(at('capture', 5)).toMatchObject({ key: 'pay-ops', attemptNumber: 1, isRetry: false });
    expect(at('capture', 6)).toMatchObject({ key: 'pay-ops', attemptNumber: 1, isRetry: false });
    expect(at('create_order', 7)).toMatchObject({ attemptNumber: 3, isRetry: true });
    expect(tracker.size).toBe(1);
  });

  it('flags a retry storm once one operation has more attempts than the threshold', () => {
    const tracker = createCorrelationTracker({ correlation: { ...CORRELATION, storm_threshold: 3 } });
    const facts = [1, 2, 3, 4, 5].map((i) =>
      call(tracker, event({ idempotencyKey: 'storm', statusCode: 429, timestampMs: T0 + i * 1000 }), { code: null, category: 'rate_limit', retry: 'retry_with_backoff' }),
    );
    expect(facts.map((f) => f.isStorm)).toEqual([false, false, false, true, true]);
    expect(facts.map((f) => f.attemptNumber)).toEqual([1, 2, 3, 4, 5]);
  });

  it('MERCHANT_INACTIVE (contact_provider) then a retry with the same key is a retry violation', () => {
    const tracker = createCorrelationTracker({ correlation: CORRELATION });
    call(tracker, event({ provider: 'kustom', idempotencyKey: 'k-1', statusCode: 403 }), MERCHANT_INACTIVE);
    const retry = call(tracker, event({ provider: 'kustom', idempotencyKey: 'k-1', statusCode: 403, timestampMs: T0 + 2000 }), MERCHANT_INACTIVE);
    expect(retry.violationOf).toEqual({ code: 'MERCHANT_INACTIVE', retry: 'contact_provider' });
  });

  it('resource_locked (retry_same_key_later) then a retry with the same key is what the provider asks for: no violation', () => {
    const tracker = createCorrelationTracker({ correlation: CORRELATION });
    call(tracker, event({ provider: 'mercadopago', idempotencyKey: 'm-1', statusCode: 423 }), RESOURCE_LOCKED);
    const retry = call(tracker, event({ provider: 'mercadopago', idempotencyKey: 'm-1', statusCode: 201, timestampMs: T0 + 2000 }));
    expect(retry).toMatchObject({ isRetry: true, violationOf: null });
  });

  it.each(RETRY_DECISIONS.map((d) => [d, NON_RETRYABLE.has(d)] as const))('after a %s decision, a new attempt is a violation: %s', (decision, violates) => {
    const tracker = createCorrelationTracker({ correlation: CORRELATION });
    call(tracker, event({ idempotencyKey: 'd', statusCode: 400 }), { code: 'X', category: 'validation', retry: decision });
    const next = call(tracker, event({ idempotencyKey: 'd', statusCode: 400, timestampMs: T0 + 1 }), { code: 'X', category: 'validation', retry: decision });
    expect(next.violationOf !== null).toBe(violates);
  });

  it('a success clears the last decision: the attempt after it is no violation', () => {
    const tracker = createCorrelationTracker({ correlation: CORRELATION });
    call(tracker, event({ idempotencyKey: 's', statusCode: 400 }), BAD_VALUE);
    expect(call(tracker, event({ idempotencyKey: 's', timestampMs: T0 + 1 })).violationOf).toEqual({ code: 'BAD_VALUE', retry: 'fix_and_resubmit' });
    expect(call(tracker, event({ idempotencyKey: 's', timestampMs: T0 + 2 })).violationOf).toBeNull();
  });

  it('the same log event delivered twice is not a second attempt', () => {
    const tracker = createCorrelationTracker({ correlation: CORRELATION });
    const e = event({ idempotencyKey: 'dup', statusCode: 403 });
    call(tracker, e, MERCHANT_INACTIVE);
    expect(call(tracker, e, MERCHANT_INACTIVE)).toMatchObject({ attemptNumber: 1, isRetry: false, violationOf: null });
  });

  it('expires keys by event time: an attempt after the TTL starts over, however fast events are processed', () => {
    const tracker = createCorrelationTracker({ correlation: { ...CORRELATION, ttl: 10 * MINUTE }, now: () => T0 + 60 * MINUTE });
    call(tracker, event({ idempotencyKey: 'ttl', statusCode: 403 }), MERCHANT_INACTIVE);
    expect(call(tracker, event({ idempotencyKey: 'ttl', statusCode: 403, timestampMs: T0 + 9 * MINUTE }), MERCHANT_INACTIVE)).toMatchObject({ attemptNumber: 2 });
    // 11 minutes after the newest attempt (T0 + 9 min): expired.
    expect(call(tracker, event({ idempotencyKey: 'ttl', statusCode: 403, timestampMs: T0 + 20 * MINUTE }), MERCHANT_INACTIVE)).toEqual({
      key: 'ttl',
      attemptNumber: 1,
      isRetry: false,
      isStorm: false,
      violationOf: null,
      unmatchedRetry: false,
    });
  });

  it('one event stamped far in the future cannot expire everything (the clock stops at wall clock + skew)', () => {
    const tracker = createCorrelationTracker({ correlation: { ...CORRELATION, ttl: 10 * MINUTE }, now: () => T0, maxClockSkewMs: MINUTE });
    call(tracker, event({ idempotencyKey: 'a' }));
    call(tracker, event({ idempotencyKey: 'future', timestampMs: T0 + 365 * 24 * 60 * MINUTE }));
    expect(call(tracker, event({ idempotencyKey: 'a', timestampMs: T0 + 1 }))).toMatchObject({ attemptNumber: 2 });
  });

  it('its clock is the newest keyed event time, which events without a key do not move', () => {
    const tracker = createCorrelationTracker({ correlation: CORRELATION, now: () => T0 + MINUTE });
    expect(tracker.clockMs).toBe(-Infinity);
    call(tracker, event({ idempotencyKey: 'a', timestampMs: T0 + 10 }));
    call(tracker, event({ idempotencyKey: 'b', timestampMs: T0 + 5 }));
    call(tracker, event({ timestampMs: T0 + 20 }));
    expect(tracker.clockMs).toBe(T0 + 10);
  });

  it('holds at most maxKeys keys, evicting the least recently used', () => {
    const tracker = createCorrelationTracker({ correlation: { ...CORRELATION, max_keys: 3 } });
    for (const k of ['a', 'b', 'c']) call(tracker, event({ idempotencyKey: k }));
    call(tracker, event({ idempotencyKey: 'a', timestampMs: T0 + 1 })); // a is now the most recent
    call(tracker, event({ idempotencyKey: 'd', timestampMs: T0 + 2 })); // evicts b
    expect(tracker.size).toBe(3);
    expect(tracker.evictions).toBe(1);
    expect(call(tracker, event({ idempotencyKey: 'a', timestampMs: T0 + 3 }))).toMatchObject({ attemptNumber: 3 });
    expect(call(tracker, event({ idempotencyKey: 'b', timestampMs: T0 + 4 }))).toMatchObject({ attemptNumber: 1 });
  });

  it('keeps the recency order while its store grows past its first size (1,024 keys) to max_keys', () => {
    const tracker = createCorrelationTracker({ correlation: { ...CORRELATION, max_keys: 3000 } });
    for (let i = 0; i < 3000; i++) call(tracker, event({ idempotencyKey: `grow-${i}`, timestampMs: T0 + i }));
    call(tracker, event({ idempotencyKey: 'grow-0', timestampMs: T0 + 3000 })); // the oldest becomes the newest
    call(tracker, event({ idempotencyKey: 'grow-new', timestampMs: T0 + 3001 })); // evicts grow-1
    expect(tracker.size).toBe(3000);
    expect(tracker.evictions).toBe(1);
    expect(call(tracker, event({ idempotencyKey: 'grow-0', timestampMs: T0 + 3002 }))).toMatchObject({ attemptNumber: 3 });
    expect(call(tracker, event({ idempotencyKey: 'grow-2999', timestampMs: T0 + 3003 }))).toMatchObject({ attemptNumber: 2 });
    expect(call(tracker, event({ idempotencyKey: 'grow-1', timestampMs: T0 + 3004 }))).toMatchObject({ attemptNumber: 1, isRetry: false });
  });

  it('a key that takes the place of an evicted or expired one inherits nothing of it', () => {
    const tracker = createCorrelationTracker({ correlation: { ...CORRELATION, max_keys: 1, ttl: MINUTE } });
    // The first key ends on a decision that forbids retrying, with a second operation tracked.
    call(tracker, event({ correlationId: 'old', operation: 'create_session', statusCode: 201 }));
    call(tracker, event({ correlationId: 'old', operation: 'create_order', statusCode: 403, timestampMs: T0 + 1 }), MERCHANT_INACTIVE);
    // Evicted by the next key, which reuses its place.
    expect(call(tracker, event({ correlationId: 'new', operation: 'create_session', statusCode: 201, timestampMs: T0 + 2 }))).toMatchObject({ attemptNumber: 1, isRetry: false });
    expect(call(tracker, event({ correlationId: 'new', operation: 'create_order', statusCode: 201, timestampMs: T0 + 3 }))).toMatchObject({ attemptNumber: 1, isRetry: false, violationOf: null });
    expect(call(tracker, event({ correlationId: 'new', operation: 'create_order', statusCode: 201, timestampMs: T0 + 4 }))).toMatchObject({ attemptNumber: 2, violationOf: null });
    // Expired, then replaced by a key of the same name.
    call(tracker, event({ correlationId: 'new', operation: 'create_order', statusCode: 403, timestampMs: T0 + 5 }), MERCHANT_INACTIVE);
    expect(call(tracker, event({ correlationId: 'new', operation: 'create_order', statusCode: 201, timestampMs: T0 + 5 + 2 * MINUTE }))).toMatchObject({ attemptNumber: 1, isRetry: false, violationOf: null });
    expect(tracker.evictions).toBe(1);
  });

  it('clear() forgets every key and the tracker goes on from empty', () => {
    const tracker = createCorrelationTracker({ correlation: { ...CORRELATION, max_keys: 2 } });
    call(tracker, event({ idempotencyKey: 'a' }));
    call(tracker, event({ idempotencyKey: 'b' }));
    tracker.clear();
    expect(tracker.size).toBe(0);
    expect(call(tracker, event({ idempotencyKey: 'a', timestampMs: T0 + 1 }))).toMatchObject({ attemptNumber: 1 });
    call(tracker, event({ idempotencyKey: 'c', timestampMs: T0 + 2 }));
    call(tracker, event({ idempotencyKey: 'd', timestampMs: T0 + 3 })); // evicts a
    expect(tracker.size).toBe(2);
    expect(call(tracker, event({ idempotencyKey: 'c', timestampMs: T0 + 4 }))).toMatchObject({ attemptNumber: 2 });
  });

  it('stays bounded under a flood of distinct keys', () => {
    const tracker = createCorrelationTracker({ correlation: { ...CORRELATION, max_keys: 1000 } });
    for (let i = 0; i < 50_000; i++) call(tracker, event({ idempotencyKey: `flood-${i}`, timestampMs: T0 + i }));
    expect(tracker.size).toBe(1000);
    expect(tracker.evictions).toBe(49_000);
  });

  it('a full tracker takes no more heap per key than the startup check assumes', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heapAfterGc = (): number => {
      gc();
      gc();
      return process.memoryUsage().heapUsed;
    };
    const keys = 100_000;
    // Keys as they arrive: strings the decoder made from JSON, 36 characters like a UUID.
    const decoder = createDecoder({ idHeaders: new Set() });
    const error = { code: 'internal_error', category: 'provider_error', retry: 'retry_same_key_later' } as const;
    const tracker = createCorrelationTracker({ correlation: { ...CORRELATION, max_keys: keys }, now: () => T0 + keys });
    for (let i = 0; i < keys; i++) {
      const line = JSON.stringify({ timestamp: T0 + i, provider: 'kustom', operation: 'create_order', http: { status_code: 500 }, correlation_id: `pay-${String(i).padStart(32, '0')}` });
      const decoded = decoder.decode(Buffer.from(line));
      if (!decoded.ok) throw new Error(decoded.rejection.detail);
      tracker.observe(decoded.event, classification(decoded.event, error));
    }
    expect(tracker.size).toBe(keys);
    // What the tracker holds on the heap (its store and the key strings; its numbers live in typed
    // arrays, outside it): the heap with it full, minus the heap once it is emptied.
    const full = heapAfterGc();
    tracker.clear();
    const perKey = (full - heapAfterGc()) / keys;
    // The key string alone is 56 bytes.
    expect(perKey).toBeGreaterThan(56);
    expect(perKey).toBeLessThanOrEqual(TRACKER_HEAP_BYTES_PER_KEY);
  });

  it('warns at startup when max_keys would take more than half of the heap limit, naming both fixes', () => {
    expect(trackerHeapWarning(100_000, 192 * 2 ** 20)).toBeNull();
    const warning = trackerHeapWarning(1_000_000, 192 * 2 ** 20);
    expect(warning).toContain('correlation.max_keys 1000000 needs about 153 MB of heap');
    expect(warning).toContain('V8 heap limit (192 MB)');
    expect(warning).toMatch(/--max-old-space-size in NODE_OPTIONS .* or lower correlation.max_keys/);
  });
});
