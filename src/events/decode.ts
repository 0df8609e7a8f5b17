// bytes -> validated, redacted PaymentCallEvent, or a reasoned rejection (docs/architecture.md#input-the-payment-call-event).
// The decoder never throws for bad input: every way an event can be wrong has a reason code.
import type { SchemaProblem } from '../kernel/schema.ts';
import type { Rejection, RejectionReason } from '../pipeline/types.ts';
import type { Environment, Headers, PaymentCallEvent } from './event.ts';
import type { FieldMapping } from './mapping.ts';
import { DEFAULT_MAX_EVENT_BYTES } from './limits.ts';
import { redactParsed, redactString } from './redact.ts';
import { validateEvent } from './validate-event.ts';

export { DEFAULT_MAX_EVENT_BYTES };

export type DecodeResult =
  | { readonly ok: true; readonly event: PaymentCallEvent }
  | { readonly ok: false; readonly rejection: Rejection };

export interface Decoder {
  decode(bytes: Uint8Array): DecodeResult;
}

export interface DecoderOptions {
  /**
   * Header names (lower case) that carry correlation ids and idempotency keys: the provider catalogs
   * declare them (`classifier.idHeaders`). Kept besides COMMON_HEADERS; every other header is dropped.
   */
  readonly idHeaders: ReadonlySet<string>;
  /** Events larger than this are rejected as `too_large` (default 1 MiB). */
  readonly maxBytes?: number;
  /** Maps another shape onto the native event; null or absent for native events. */
  readonly mapping?: FieldMapping | null;
}

interface RawEvent {
  timestamp: string | number;
  provider: string;
  operation?: string;
  http?: { method?: string; route?: string; status_code?: number; duration_ms?: number };
  request?: { headers?: Record<string, unknown> };
  response?: { headers?: Record<string, unknown>; body?: unknown };
  network_error?: string;
  correlation_id?: string;
  idempotency_key?: string;
  attempt?: number;
  merchant_id?: string;
  environment?: Environment;
  service?: string;
  traceparent?: string;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;
const EMPTY_HEADERS: Headers = Object.freeze({});
// Epoch milliseconds between 2000 and 2100: anything else is a unit mistake (seconds, nanoseconds).
const MIN_EPOCH_MS = 946_684_800_000;
const MAX_EPOCH_MS = 4_102_444_800_000;

function reject(reason: RejectionReason, detail: string): DecodeResult {
  return { ok: false, rejection: { reason, detail } };
}

function rejectionFor(problem: SchemaProblem): DecodeResult {
  const reason: RejectionReason = problem.keyword === 'required' ? 'missing_field' : problem.keyword === 'type' ? 'wrong_type' : 'invalid_value';
  return reject(reason, problem.message);
}

/** True when any object key anywhere in `value` is `__proto__`. */
function hasProtoKey(value: unknown, depth = 0): boolean {
  if (value === null || typeof value !== 'object' || depth > 64) return false;
  if (Array.isArray(value)) return value.some((v) => hasProtoKey(v, depth + 1));
  for (const key of Object.keys(value)) {
    if (key === '__proto__') return true;
    if (hasProtoKey((value as Record<string, unknown>)[key], depth + 1)) return true;
  }
  return false;
}

// Services log many events per second, mostly in Date#toISOString's shape (YYYY-MM-DDTHH:MM:SS.mmmZ):
// the second is parsed once, and the events within it only add their milliseconds.
let lastSecond = '-';
let lastSecondMs = 0;

/** The milliseconds of a `....:SS.mmmZ` timestamp, or -1 when it has another shape. */
function isoMillis(value: string): number {
  if (value.length !== 24 || value.charCodeAt(19) !== 46 /* . */ || value.charCodeAt(23) !== 90 /* Z */) return -1;
  const a = value.charCodeAt(20) - 48;
  const b = value.charCodeAt(21) - 48;
  const c = value.charCodeAt(22) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 && c >= 0 && c <= 9 ? a * 100 + b * 10 + c : -1;
}

function parseTimestamp(value: string | number): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && value >= MIN_EPOCH_MS && value <= MAX_EPOCH_MS ? value : null;
  const millis = isoMillis(value);
  if (millis >= 0 && value.startsWith(lastSecond)) return lastSecondMs + millis;
  if (!RFC3339.test(value)) return null;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return null;
  if (millis >= 0) {
    lastSecond = value.slice(0, 19);
    lastSecondMs = ms - millis;
  }
  return ms;
}

/**
 * Headers paysignal reads whatever the provider (rate-limit guidance, trace context, content type).
 * With the catalogs' id headers they are the only ones kept: the rest are never used downstream, and
 * dropping them at decode means they cannot leak and cost nothing to redact.
 */
export const COMMON_HEADERS: ReadonlySet<string> = new Set([
  'retry-after',
  'x-ratelimit-reset',
  'x-ratelimit-remaining',
  'traceparent',
  'content-type',
]);

const MAX_REMEMBERED_SPELLINGS = 4096;

/** Keeps the named headers of a raw header object, under lower-case names, redacted. */
function headerNormalizer(keep: ReadonlySet<string>): (raw: Record<string, unknown> | undefined) => Headers {
  // Services log the same few header spellings over and over: each spelling's verdict (the kept,
  // lower-case name, or null) is looked up instead of lower-casing every name of every event.
  // Bounded, so a stream of made-up names cannot grow it.
  const keptNameBySpelling = new Map<string, string | null>();

  function keptHeaderName(name: string): string | null {
    let kept = keptNameBySpelling.get(name);
    if (kept === undefined) {
      const lower = name.toLowerCase();
      kept = keep.has(lower) ? lower : null;
      if (keptNameBySpelling.size < MAX_REMEMBERED_SPELLINGS) keptNameBySpelling.set(name, kept);
    }
    return kept;
  }

  return (raw) => {
    if (raw === undefined) return EMPTY_HEADERS;
    let out: Record<string, string> | null = null;
    for (const name in raw) {
      const kept = keptHeaderName(name);
      if (kept === null) continue;
      const value = raw[name];
      out ??= {};
      out[kept] = redactString(typeof value === 'string' ? value : Array.isArray(value) ? value.join(', ') : String(value));
    }
    return out ?? EMPTY_HEADERS;
  };
}

/** A JSON-looking string body is parsed; anything else (HTML, plain text) stays a string. */
function normalizeBody(body: unknown): unknown {
  if (body === undefined || body === null) return null;
  // The body came out of JSON.parse of this event: ours to redact in place.
  if (typeof body !== 'string') return redactParsed(body);
  const first = body.charCodeAt(0);
  if (first === 123 /* { */ || first === 91 /* [ */) {
    try {
      return redactParsed(JSON.parse(body));
    } catch {
      // A string that only looks like JSON is still a string body.
    }
  }
  return redactString(body);
}

function optionalString(value: string | undefined): string | null {
  return value === undefined || value.length === 0 ? null : redactString(value);
}

// Checks and converts in one pass, and drops a leading byte order mark (ignoreBOM: false).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function toText(bytes: Uint8Array): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

export function createDecoder(options: DecoderOptions): Decoder {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_EVENT_BYTES;
  const mapping = options.mapping ?? null;
  const normalizeHeaders = headerNormalizer(new Set([...COMMON_HEADERS, ...options.idHeaders]));

  return {
    decode(bytes) {
      if (bytes.length > maxBytes) return reject('too_large', `event is ${bytes.length} bytes; the limit is ${maxBytes}`);
      const text = toText(bytes);
      if (text === null) return reject('not_utf8', 'event bytes are not valid UTF-8');
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (error) {
        if (text.trim().length === 0) return reject('empty', 'event is empty');
        return reject('not_json', `not JSON: ${(error as Error).message}`);
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        return reject('not_object', `event must be a JSON object, got ${parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : typeof parsed}`);
      }
      // JSON.parse keeps "__proto__" as an own key; we refuse it rather than risk a later merge.
      if ((text.includes('__proto__') || text.includes('\\u')) && hasProtoKey(parsed)) {
        return reject('forbidden_key', 'event contains a "__proto__" key');
      }
      let native = parsed as Record<string, unknown>;
      if (mapping !== null) {
        try {
          native = mapping.apply(native);
        } catch (error) {
          return reject('mapping_failed', `field mapping "${mapping.name}" failed: ${(error as Error).message}`);
        }
      }
      const problem = validateEvent(native);
      if (problem) return rejectionFor(problem);
      const raw = native as unknown as RawEvent;
      const timestampMs = parseTimestamp(raw.timestamp);
      if (timestampMs === null) {
        return reject('invalid_value', `timestamp ${JSON.stringify(raw.timestamp)} is neither RFC 3339 nor epoch milliseconds (years 2000-2100)`);
      }
      const http = raw.http;
      const event: PaymentCallEvent = {
        timestampMs,
        provider: raw.provider.toLowerCase(),
        operation: raw.operation ?? null,
        method: http?.method === undefined ? null : http.method.toUpperCase(),
        route: http?.route ?? null,
        statusCode: http?.status_code ?? null,
        durationMs: http?.duration_ms ?? null,
        requestHeaders: normalizeHeaders(raw.request?.headers),
        responseHeaders: normalizeHeaders(raw.response?.headers),
        // A success's body is not an error body: nothing downstream reads it, so it is not kept.
        body: http?.status_code !== undefined && http.status_code < 400 ? null : normalizeBody(raw.response?.body),
        networkError: optionalString(raw.network_error),
        correlationId: optionalString(raw.correlation_id),
        idempotencyKey: optionalString(raw.idempotency_key),
        attempt: raw.attempt ?? null,
        merchantId: optionalString(raw.merchant_id),
        environment: raw.environment ?? null,
        service: optionalString(raw.service),
        traceparent: raw.traceparent ?? null,
      };
      return { ok: true, event };
    },
  };
}
