// Builders for native payment-call events (docs/architecture.md#input-the-payment-call-event) as the services would log them.

export interface CallSpec {
  provider: string;
  status?: number;
  operation?: string;
  method?: string;
  route?: string;
  body?: unknown;
  requestHeaders?: Record<string, string>;
  responseHeaders?: Record<string, string>;
  networkError?: string;
  correlationId?: string;
  idempotencyKey?: string;
  timestamp?: string | number;
  durationMs?: number;
  extra?: Record<string, unknown>;
}

export function callEvent(spec: CallSpec): Record<string, unknown> {
  const http: Record<string, unknown> = {};
  if (spec.method !== undefined) http.method = spec.method;
  if (spec.route !== undefined) http.route = spec.route;
  if (spec.status !== undefined) http.status_code = spec.status;
  if (spec.durationMs !== undefined) http.duration_ms = spec.durationMs;
  const event: Record<string, unknown> = { timestamp: spec.timestamp ?? '2026-11-20T10:00:00.000Z', provider: spec.provider };
  if (spec.operation !== undefined) event.operation = spec.operation;
  if (Object.keys(http).length > 0) event.http = http;
  if (spec.requestHeaders) event.request = { headers: spec.requestHeaders };
  if (spec.responseHeaders || spec.body !== undefined) {
    event.response = { ...(spec.responseHeaders ? { headers: spec.responseHeaders } : {}), ...(spec.body !== undefined ? { body: spec.body } : {}) };
  }
  if (spec.networkError !== undefined) event.network_error = spec.networkError;
  if (spec.correlationId !== undefined) event.correlation_id = spec.correlationId;
  if (spec.idempotencyKey !== undefined) event.idempotency_key = spec.idempotencyKey;
  return { ...event, ...spec.extra };
}

export function line(event: unknown): string {
  return JSON.stringify(event);
}

export function bytes(event: unknown): Buffer {
  return Buffer.from(JSON.stringify(event));
}
