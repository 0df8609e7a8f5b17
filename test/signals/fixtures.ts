// Hand-built pipeline objects for the signal tests: an event, its classification, its record.
import { eventOf, type PaymentCallEvent } from '../../src/events/event.ts';
import type { Classification } from '../../src/classify/classification.ts';
import type { Category, RetryDecision } from '../../src/classify/taxonomy.ts';
import type { CorrelationFacts, ProcessedEvent } from '../../src/pipeline/types.ts';
import type { SourceRecord } from '../../src/sources/record.ts';

export const T0 = Date.parse('2026-11-20T10:00:00.000Z');

export function record(source = 'kafka', offset = 0): SourceRecord {
  return { value: Buffer.from('{}'), source, topic: 'payment-calls', partition: 0, offset: String(offset), key: null, headers: {} };
}

export function event(overrides: Partial<PaymentCallEvent> = {}): PaymentCallEvent {
  return eventOf({
    timestampMs: T0,
    provider: 'kustom',
    operation: 'create_order',
    method: 'POST',
    route: '/checkout/v3/orders',
    statusCode: 201,
    durationMs: 120,
    ...overrides,
  });
}

export interface ErrorSpec {
  readonly code: string | null;
  readonly category: Category;
  readonly retry: RetryDecision;
  readonly known?: boolean;
}

/** A classification consistent with `e`: success below 400, else the given error verdict. */
export function classification(e: PaymentCallEvent, error: ErrorSpec | null = null, overrides: Partial<Classification> = {}): Classification {
  const failed = e.networkError !== null || e.statusCode === null || e.statusCode >= 400;
  if (failed && error === null) throw new Error('an error event needs an error verdict');
  return {
    outcome: failed ? 'error' : 'success',
    provider: e.provider,
    operation: e.operation,
    statusCode: e.statusCode,
    code: failed ? error!.code : null,
    message: null,
    category: failed ? error!.category : null,
    retry: failed ? error!.retry : null,
    owner: failed ? 'integration' : null,
    known: failed ? (error!.known ?? true) : false,
    field: null,
    errorType: null,
    correlationId: e.correlationId,
    idempotencyKey: e.idempotencyKey,
    matchedBy: failed ? 'code_entry' : 'success',
    entry: null,
    remediation: null,
    ...overrides,
  };
}

export function processed(
  e: PaymentCallEvent,
  error: ErrorSpec | null = null,
  correlation: CorrelationFacts | null = null,
  source = 'kafka',
): ProcessedEvent {
  return { record: record(source), event: e, classification: classification(e, error), correlation };
}

export const MERCHANT_INACTIVE: ErrorSpec = { code: 'MERCHANT_INACTIVE', category: 'merchant_config', retry: 'contact_provider' };
export const RESOURCE_LOCKED: ErrorSpec = { code: 'resource_locked', category: 'idempotency', retry: 'retry_same_key_later' };
export const BAD_VALUE: ErrorSpec = { code: 'BAD_VALUE', category: 'validation', retry: 'fix_and_resubmit' };
export const INTERNAL_SERVER_ERROR: ErrorSpec = { code: 'INTERNAL_SERVER_ERROR', category: 'provider_error', retry: 'new_checkout' };
