// The decoded, validated and redacted payment-call event (docs/architecture.md#input-the-payment-call-event). Every stage after
// decode works on this shape only; raw bytes never travel further than the decoder.

/** Header names are lower-cased at decode; values are redacted strings. */
export type Headers = Readonly<Record<string, string>>;

export type Environment = 'production' | 'sandbox';

export interface PaymentCallEvent {
  /** Event time in epoch milliseconds (the response, or the failure, was seen then). */
  readonly timestampMs: number;
  /** Lower-case provider id, e.g. `kustom`. Any id is accepted. */
  readonly provider: string;
  /** The operation as the event names it; null when the event leaves it to derivation. */
  readonly operation: string | null;
  readonly method: string | null;
  readonly route: string | null;
  /** Null when no response arrived. */
  readonly statusCode: number | null;
  readonly durationMs: number | null;
  readonly requestHeaders: Headers;
  readonly responseHeaders: Headers;
  /** Parsed object when the body was JSON (object or JSON string), the raw string otherwise, null when absent. */
  readonly body: unknown;
  readonly networkError: string | null;
  readonly correlationId: string | null;
  readonly idempotencyKey: string | null;
  readonly attempt: number | null;
  readonly merchantId: string | null;
  readonly environment: Environment | null;
  readonly service: string | null;
  readonly traceparent: string | null;
}

const NO_HEADERS: Headers = Object.freeze({});

/**
 * An event from the given fields, every other one absent (null, no headers): for events made up
 * rather than decoded, such as the synthetic ones of `paysignal rules test`.
 */
export function eventOf(fields: Pick<PaymentCallEvent, 'timestampMs' | 'provider'> & Partial<PaymentCallEvent>): PaymentCallEvent {
  return {
    operation: null,
    method: null,
    route: null,
    statusCode: null,
    durationMs: null,
    requestHeaders: NO_HEADERS,
    responseHeaders: NO_HEADERS,
    body: null,
    networkError: null,
    correlationId: null,
    idempotencyKey: null,
    attempt: null,
    merchantId: null,
    environment: null,
    service: null,
    traceparent: null,
    ...fields,
  };
}
