// Property-based fuzzing (fast-check) of the decoder and the classifier, in process: 10,000 generated
// inputs (event-shaped objects with random types, random bytes, random JSON, deep nesting, huge
// numbers, unicode, `__proto__`/`constructor` keys) must never throw, and each must come out either
// classified (outcome success/error with a category and retry decision from the taxonomy) or rejected
// with a reason from the known list. Plus `paysignal classify` on arbitrary lines: one output line per
// input line, always the same keys in the same order.
import { describe, expect, it, beforeAll } from 'vitest';
import fc from 'fast-check';
import { createClassifier, type Classifier } from '../../src/classify/classifier.ts';
import { CATEGORIES, OWNERS, RETRY_DECISIONS } from '../../src/classify/taxonomy.ts';
import { createDecoder, type Decoder } from '../../src/events/decode.ts';
import type { RejectionReason } from '../../src/pipeline/types.ts';
import { jsonLines, runPaysignal } from '../support/cli.ts';

const REASONS = ['empty', 'too_large', 'not_utf8', 'not_json', 'not_object', 'forbidden_key', 'missing_field', 'wrong_type', 'invalid_value', 'mapping_failed'] as const satisfies readonly RejectionReason[];
const KNOWN_REASONS: ReadonlySet<string> = new Set(REASONS);
const CATEGORY_SET: ReadonlySet<string> = new Set(CATEGORIES);
const RETRY_SET: ReadonlySet<string> = new Set(RETRY_DECISIONS);
const OWNER_SET: ReadonlySet<string> = new Set(OWNERS);
const OUTPUT_KEYS = ['outcome', 'provider', 'operation', 'status_code', 'code', 'category', 'retry', 'known', 'field', 'correlation_id', 'reason', 'detail'];

let decoder: Decoder;
let classifier: Classifier;
const stats = { classified: 0, rejected: new Map<string, number>() };

beforeAll(async () => {
  classifier = await createClassifier();
  decoder = createDecoder({ maxBytes: 64 * 1024, idHeaders: classifier.idHeaders });
});

/** Decodes and classifies; throws (failing the property) on anything outside the contract. */
function check(bytes: Uint8Array): void {
  const decoded = decoder.decode(bytes);
  if (!decoded.ok) {
    const { reason, detail } = decoded.rejection;
    if (!KNOWN_REASONS.has(reason)) throw new Error(`unknown rejection reason ${JSON.stringify(reason)}`);
    if (typeof detail !== 'string' || detail.length === 0) throw new Error(`rejection ${reason} without a detail`);
    stats.rejected.set(reason, (stats.rejected.get(reason) ?? 0) + 1);
    return;
  }
  const c = classifier.classify(decoded.event);
  if (c.outcome === 'success') {
    if (c.category !== null || c.retry !== null) throw new Error(`success with a category or decision: ${c.category}/${c.retry}`);
  } else if (c.outcome === 'error') {
    if (c.category === null || !CATEGORY_SET.has(c.category)) throw new Error(`error without a known category: ${String(c.category)}`);
    if (c.retry === null || !RETRY_SET.has(c.retry)) throw new Error(`error without a known retry decision: ${String(c.retry)}`);
    if (c.owner !== null && !OWNER_SET.has(c.owner)) throw new Error(`unknown owner ${c.owner}`);
    if (c.code !== null && typeof c.code !== 'string') throw new Error(`code is not a string: ${typeof c.code}`);
  } else {
    throw new Error(`unknown outcome ${String(c.outcome)}`);
  }
  if (typeof c.provider !== 'string') throw new Error('provider is not a string');
  stats.classified++;
}

const enc = new TextEncoder();
const text = (s: string): Uint8Array => enc.encode(s);

// --- arbitraries -----------------------------------------------------------------------------------

const PROVIDERS = ['mercadopago', 'kustom', 'setel', 'digitalriver', 'stablegenius'];
const CODES = ['MERCHANT_INACTIVE', 'BAD_VALUE', 'invalid_total_amount', 'required_properties', 9300002, '9300101', 'amount_out_of_range', 'rate_limit_exceeded', 'bad_request', 'REJECTED', 'internal_error'];
const weird = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, -0, 5e-324, 2 ** 64),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom('', ' ', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '\u0000', '\ud800', 'sk_live_abcdefghijklmnop1234', 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln', '4111 1111 1111 1111'),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.jsonValue({ maxDepth: 3 }),
);
const maybe = <T,>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(arb, { nil: undefined, freq: 3 });
const headerName = fc.oneof(
  fc.constantFrom('X-Request-Id', 'x-request-id', 'Klarna-Correlation-Id', 'Request-Id', 'X-Idempotency-Key', 'Idempotency-Key', 'Authorization', 'Retry-After', '__proto__', 'constructor', 'Content-Type'),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
);
const headers = fc.dictionary(headerName, weird, { maxKeys: 6 });
const errorBody = fc.oneof(
  fc.record({ errors: fc.array(fc.record({ code: fc.oneof(fc.constantFrom(...CODES), weird), message: weird, details: weird }, { requiredKeys: [] }), { maxLength: 2 }) }, { requiredKeys: [] }),
  fc.record({ error_code: fc.oneof(fc.constantFrom(...CODES), weird), error_messages: fc.oneof(fc.array(weird, { maxLength: 3 }), weird), correlation_id: weird }, { requiredKeys: [] }),
  fc.record({ errorCode: fc.oneof(fc.constantFrom(...CODES), weird), error_code: weird, code: weird, error: fc.oneof(weird, fc.record({ code: weird, errorCode: weird, type: weird, param: weird, message: weird }, { requiredKeys: [] })) }, { requiredKeys: [] }),
  fc.record({ type: weird, errors: fc.array(fc.record({ code: weird, parameter: weird, message: weird }, { requiredKeys: [] }), { maxLength: 2 }) }, { requiredKeys: [] }),
  fc.record({ error: fc.record({ type: fc.oneof(fc.constantFrom('invalid_request_error', 'api_error', 'rate_limit_error'), weird), code: fc.oneof(fc.constantFrom(...CODES), weird), message: weird, param: weird }, { requiredKeys: [] }) }),
  fc.jsonValue({ maxDepth: 4 }),
  fc.string({ unit: 'grapheme', maxLength: 200 }),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)), // body logged as a JSON string
  fc.constant('<html><body><h1>504 Gateway Time-out</h1></body></html>'),
);
const eventShaped = fc.record(
  {
    // Mostly the right types for the fields that decide validity, so most events get classified.
    timestamp: fc.oneof(
      { arbitrary: fc.integer({ min: 0, max: 4102444800000 }).map((ms) => new Date(ms).toISOString()), weight: 6 },
      { arbitrary: fc.integer({ min: -1e15, max: 1e16 }), weight: 3 },
      { arbitrary: weird, weight: 1 },
    ),
    provider: fc.oneof({ arbitrary: fc.constantFrom(...PROVIDERS), weight: 6 }, { arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }), weight: 3 }, { arbitrary: weird, weight: 1 }),
    operation: fc.oneof({ arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }), weight: 3 }, { arbitrary: weird, weight: 1 }),
    http: fc.oneof(
      {
        arbitrary: fc.record(
          {
            method: fc.oneof(fc.constantFrom('GET', 'POST', 'patch'), weird),
            route: fc.oneof(fc.constantFrom('/v1/orders', '/payments/v1/sessions/{id}', '/api/payments'), fc.string({ unit: 'grapheme', maxLength: 30 })),
            status_code: fc.oneof({ arbitrary: fc.integer({ min: 100, max: 599 }), weight: 8 }, { arbitrary: weird, weight: 1 }),
            duration_ms: fc.oneof(fc.double({ min: 0, max: 1e6, noNaN: true }), weird),
          },
          { requiredKeys: [] },
        ),
        weight: 8,
      },
      { arbitrary: weird, weight: 1 },
    ),
    request: fc.oneof(fc.record({ headers: fc.oneof(headers, weird) }, { requiredKeys: [] }), weird),
    response: fc.oneof(fc.record({ headers: fc.oneof(headers, weird), body: errorBody }, { requiredKeys: [] }), weird),
    network_error: weird,
    correlation_id: weird,
    idempotency_key: weird,
    attempt: fc.oneof(fc.integer({ min: -3, max: 1e9 }), weird),
    merchant_id: weird,
    environment: fc.oneof(fc.constantFrom('production', 'sandbox'), weird),
    service: weird,
    traceparent: fc.oneof(fc.constant('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'), weird),
  },
  { requiredKeys: [] },
);
const str = fc.string({ unit: 'grapheme', maxLength: 30 });
const mostly = <T,>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | unknown> => fc.oneof({ arbitrary: arb, weight: 25 }, { arbitrary: weird, weight: 1 });
/** Event-shaped with timestamp and provider present and most fields of the right type: mostly classified. */
const nearlyValid = fc.record(
  {
    timestamp: fc.oneof(fc.integer({ min: 0, max: 4102444800000 }).map((ms) => new Date(ms).toISOString()), fc.integer({ min: 0, max: 4102444800000 })),
    provider: fc.oneof({ arbitrary: fc.constantFrom(...PROVIDERS), weight: 4 }, { arbitrary: fc.stringMatching(/^[a-z][a-z0-9_-]{0,15}$/), weight: 1 }),
    operation: mostly(str),
    http: fc.record(
      {
        method: mostly(fc.constantFrom('GET', 'POST', 'patch')),
        route: mostly(fc.constantFrom('/v1/orders', '/payments/v1/sessions/{id}', '/api/payments')),
        status_code: mostly(fc.integer({ min: 100, max: 599 })),
        duration_ms: mostly(fc.double({ min: 0, max: 1e6, noNaN: true })),
      },
      { requiredKeys: [] },
    ),
    request: fc.record({ headers: fc.dictionary(headerName, mostly(str), { maxKeys: 5 }) }, { requiredKeys: [] }),
    response: fc.record({ headers: fc.dictionary(headerName, mostly(str), { maxKeys: 5 }), body: errorBody }, { requiredKeys: [] }),
    network_error: mostly(fc.constantFrom('timeout', 'connection_reset', 'dns')),
    correlation_id: mostly(str),
    idempotency_key: mostly(str),
    attempt: mostly(fc.integer({ min: 1, max: 10 })),
    merchant_id: mostly(str),
    environment: mostly(fc.constantFrom('production', 'sandbox')),
  },
  { requiredKeys: ['timestamp', 'provider'] },
);

/** Inserts a literal `"__proto__"` key into a JSON object text (JSON.stringify never writes one). */
function withProtoKey(json: string, value: string): string {
  return json.startsWith('{') ? `{"__proto__":${value}${json.length > 2 ? ',' : ''}${json.slice(1)}` : json;
}

describe('fuzzing the decoder and classifier (10,000 generated inputs)', () => {
  it('event-shaped objects with random types: classified or rejected with a known reason (4,000)', () => {
    fc.assert(fc.property(fc.oneof(nearlyValid, eventShaped), (event) => check(text(JSON.stringify(event)))), { numRuns: 4000, seed: 8001 });
  });

  it('random bytes (2,000)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => check(bytes)), { numRuns: 2000, seed: 8002 });
  });

  it('random JSON texts, unicode strings included (2,000)', () => {
    fc.assert(fc.property(fc.oneof(fc.json({ maxDepth: 4 }), fc.string({ unit: 'binary', maxLength: 100 })), (s) => check(text(s))), { numRuns: 2000, seed: 8003 });
  });

  it('deep nesting, huge numbers and __proto__ keys (2,000)', () => {
    const hostile = fc.oneof(
      // deep nesting as a whole line, and inside the body / headers of an otherwise valid event
      fc.integer({ min: 1, max: 20_000 }).map((d) => '['.repeat(d) + ']'.repeat(d)),
      fc.integer({ min: 1, max: 5000 }).map((d) => `{"timestamp":1700000000000,"provider":"kustom","http":{"status_code":400},"response":{"body":${'{"a":'.repeat(d)}1${'}'.repeat(d)}}}`),
      fc.integer({ min: 1, max: 5000 }).map((d) => `{"timestamp":1700000000000,"provider":"setel","http":{"status_code":500},"response":{"body":{"errorCode":${'['.repeat(d)}9300001${']'.repeat(d)}}}}`),
      // huge numbers, written as JSON text
      fc.constantFrom('1e309', '-1e309', '123456789012345678901234567890', '1e-400', '9'.repeat(400), '0.' + '0'.repeat(500) + '1').chain((n) =>
        fc.constantFrom(
          `{"timestamp":${n},"provider":"kustom"}`,
          `{"timestamp":1700000000000,"provider":"setel","http":{"status_code":${n}},"response":{"body":{"errorCode":${n}}}}`,
          `{"timestamp":1700000000000,"provider":"kustom","http":{"status_code":403,"duration_ms":${n}},"attempt":${n}}`,
          `{"timestamp":1700000000000,"provider":"mercadopago","http":{"status_code":400},"response":{"body":{"errors":[{"code":${n}}]}}}`,
        ),
      ),
      // __proto__ / constructor keys at every level
      eventShaped.chain((event) =>
        fc.constantFrom(
          withProtoKey(JSON.stringify(event), '{"polluted":true}'),
          withProtoKey(JSON.stringify(event), 'null'),
          JSON.stringify(event).replace(/"headers":\{/g, '"headers":{"__proto__":{"x-request-id":"p"},'),
          JSON.stringify(event).replace(/"body":\{/g, '"body":{"__proto__":{"error_code":"MERCHANT_INACTIVE"},"constructor":{"prototype":{"polluted":1}},'),
        ),
      ),
      // oversize: more than the 64 KiB limit of this decoder
      fc.integer({ min: 65_537, max: 70_000 }).map((n) => `{"timestamp":1700000000000,"provider":"kustom","service":"${'x'.repeat(n)}"}`),
    );
    fc.assert(fc.property(hostile, (s) => check(text(s))), { numRuns: 2000, seed: 8004 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('classified or rejected them all (summary)', () => {
    const rejected = [...stats.rejected.values()].reduce((a, b) => a + b, 0);
    expect(stats.classified + rejected).toBe(10_000);
    // The generators reach both sides and several reasons.
    expect(stats.classified).toBeGreaterThan(500);
    expect(stats.rejected.size).toBeGreaterThanOrEqual(5);
    console.log(`fuzz: ${stats.classified} classified, rejected ${[...stats.rejected].map(([r, n]) => `${r} ${n}`).join(', ')}`);
  });
});

describe('paysignal classify on arbitrary lines', () => {
  it('writes one line per input line with the same keys in the same order', async () => {
    const line = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 120 }),
      fc.json({ maxDepth: 3 }),
      eventShaped.map((e) => JSON.stringify(e)),
      fc.constant(''),
      fc.constant('{"timestamp":1700000000000,"provider":"kustom","http":{"status_code":403},"response":{"body":{"error_code":"MERCHANT_INACTIVE"}}}\r'),
    ).map((s) => s.replace(/\n/g, ' '));
    await fc.assert(
      fc.asyncProperty(fc.array(line, { minLength: 1, maxLength: 400 }), async (lines) => {
        const result = await runPaysignal(['classify', '-'], { stdin: lines.join('\n') + '\n' });
        expect(result.code, result.stderr).toBe(0);
        const out = jsonLines(result.stdout);
        expect(out.length).toBe(lines.length);
        for (const o of out) {
          expect(Object.keys(o)).toEqual(OUTPUT_KEYS);
          if (o.outcome === 'invalid') expect(KNOWN_REASONS.has(o.reason as string), String(o.reason)).toBe(true);
          else {
            expect(['success', 'error']).toContain(o.outcome);
            expect(o.reason).toBeNull();
          }
          expect(o.code === null || typeof o.code === 'string').toBe(true);
        }
      }),
      { numRuns: 6, seed: 8005 },
    );
  });
});
