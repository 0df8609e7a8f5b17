import { describe, expect, it } from 'vitest';
import { createClassifier } from '../../src/classify/classifier.ts';
import { createDecoder } from '../../src/events/decode.ts';
import { bytes, callEvent } from '../support/events.ts';

const { idHeaders } = await createClassifier();
const decoder = createDecoder({ maxBytes: 1024 * 1024, idHeaders });

function rejectionOf(input: Buffer | string) {
  const result = decoder.decode(typeof input === 'string' ? Buffer.from(input) : input);
  if (result.ok) throw new Error('expected a rejection');
  return result.rejection;
}

function eventOf(input: unknown) {
  const result = decoder.decode(bytes(input));
  if (!result.ok) throw new Error(`unexpected rejection ${result.rejection.reason}: ${result.rejection.detail}`);
  return result.event;
}

describe('decoding a payment-call event', () => {
  it('accepts a full native event and normalizes its fields', () => {
    const event = eventOf(callEvent({
      provider: 'Kustom', status: 403, method: 'post', route: '/checkout/v3/orders', durationMs: 120,
      requestHeaders: { 'X-Idempotency-Key': 'key-1' }, responseHeaders: { 'Klarna-Correlation-Id': 'corr-1' },
      body: { error_code: 'MERCHANT_INACTIVE' }, extra: { attempt: 2, merchant_id: 'm-1', environment: 'production', service: 'checkout' },
    }));
    expect(event).toMatchObject({
      timestampMs: Date.parse('2026-11-20T10:00:00.000Z'), provider: 'kustom', method: 'POST', route: '/checkout/v3/orders',
      statusCode: 403, durationMs: 120, attempt: 2, merchantId: 'm-1', environment: 'production', service: 'checkout',
      body: { error_code: 'MERCHANT_INACTIVE' },
    });
    expect(event.requestHeaders).toEqual({ 'x-idempotency-key': 'key-1' });
    expect(event.responseHeaders).toEqual({ 'klarna-correlation-id': 'corr-1' });
  });

  it('takes timestamps as RFC 3339 strings or epoch milliseconds', () => {
    expect(eventOf(callEvent({ provider: 'x', timestamp: '2026-11-20T11:00:00+01:00' })).timestampMs).toBe(Date.parse('2026-11-20T10:00:00Z'));
    expect(eventOf(callEvent({ provider: 'x', timestamp: 1_763_800_000_000 })).timestampMs).toBe(1_763_800_000_000);
  });

  it('reads runs of timestamps within one second exactly as Date.parse does, and still rejects bad ones among them', () => {
    const values = [
      '2026-11-20T10:00:00.007Z',
      '2026-11-20T10:00:00.993Z',
      '2026-11-20T10:00:00.000Z',
      '2026-11-20T10:00:01.250Z',
      '2026-11-20T10:00:01.250+01:00',
      '2026-11-20T10:00:01.25Z',
      '2026-11-20T10:00:01.2500Z',
      '2026-11-20T10:00:00.123Z',
      '2026-11-20t10:00:00.123z',
    ];
    for (const timestamp of values) expect(eventOf(callEvent({ provider: 'x', timestamp })).timestampMs, timestamp).toBe(Date.parse(timestamp));
    // Same second as the ones before, but not a timestamp: the remembered second must not let them through.
    for (const timestamp of ['2026-11-20T10:00:00.1x3Z', '2026-11-20T10:00:00.12 Z', '2026-13-20T10:00:00.123Z']) {
      expect(rejectionOf(JSON.stringify({ timestamp, provider: 'x' })).reason, timestamp).toBe('invalid_value');
    }
  });

  it('parses a body given as a JSON string and keeps other strings as they are', () => {
    expect(eventOf(callEvent({ provider: 'x', status: 400, body: '{"error_code":"BAD_VALUE"}' })).body).toEqual({ error_code: 'BAD_VALUE' });
    expect(eventOf(callEvent({ provider: 'x', status: 502, body: '<html>Bad gateway</html>' })).body).toBe('<html>Bad gateway</html>');
    expect(eventOf(callEvent({ provider: 'x', status: 502, body: '' })).body).toBe('');
    expect(eventOf(callEvent({ provider: 'x', status: 502, body: '{truncated' })).body).toBe('{truncated');
  });

  it('keeps only the headers paysignal reads, and no body for a successful call', () => {
    const event = eventOf(callEvent({
      provider: 'kustom', status: 200,
      requestHeaders: { 'Idempotency-Key': 'k-1', 'User-Agent': 'shop/1.0', 'X-Customer-Email': 'a@b.example' },
      responseHeaders: { 'Retry-After': '5', 'Set-Cookie': 'sid=1', 'X-Request-Id': 'r-1' },
      body: { order_id: 'o-1', billing_address: { email: 'jane@example.com' } },
    }));
    expect(event.requestHeaders).toEqual({ 'idempotency-key': 'k-1' });
    expect(event.responseHeaders).toEqual({ 'retry-after': '5', 'x-request-id': 'r-1' });
    expect(event.body).toBeNull();
  });

  it('takes header values as strings, numbers or lists of strings', () => {
    const event = eventOf({ timestamp: 1763800000000, provider: 'x', response: { headers: { 'Retry-After': 5, 'X-Request-Id': ['r-1', 'r-2'] } } });
    expect(event.responseHeaders).toEqual({ 'retry-after': '5', 'x-request-id': 'r-1, r-2' });
  });

  it('ignores unknown fields', () => {
    expect(eventOf(callEvent({ provider: 'x', extra: { something: { else: 1 } } })).provider).toBe('x');
  });

  it('strips a UTF-8 byte order mark and a trailing CR', () => {
    const text = JSON.stringify(callEvent({ provider: 'setel' }));
    expect(decoder.decode(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`${text}\r`)])).ok).toBe(true);
  });
});

describe('rejecting bad input with a reason', () => {
  it.each([
    ['not JSON', 'hello world', 'not_json'],
    ['truncated JSON', '{"timestamp":"2026-11-20T10:00:00Z","provider":"kus', 'not_json'],
    ['a JSON array', '[1,2]', 'not_object'],
    ['a JSON string', '"x"', 'not_object'],
    ['JSON null', 'null', 'not_object'],
    ['an empty line', '   ', 'empty'],
    ['no timestamp', '{"provider":"kustom"}', 'missing_field'],
    ['no provider', '{"timestamp":"2026-11-20T10:00:00Z"}', 'missing_field'],
    ['a status code that is a string', '{"timestamp":1763800000000,"provider":"x","http":{"status_code":"500"}}', 'wrong_type'],
    ['a provider that is a number', '{"timestamp":1763800000000,"provider":7}', 'wrong_type'],
    ['an attempt of zero', '{"timestamp":1763800000000,"provider":"x","attempt":0}', 'invalid_value'],
    ['a header value that is an object', '{"timestamp":1763800000000,"provider":"x","response":{"headers":{"Retry-After":{"s":5}}}}', 'wrong_type'],
    ['a header value list holding a number', '{"timestamp":1763800000000,"provider":"x","request":{"headers":{"Idempotency-Key":["k",1]}}}', 'wrong_type'],
    ['an unknown environment', '{"timestamp":1763800000000,"provider":"x","environment":"dev"}', 'invalid_value'],
    ['a timestamp that is not RFC 3339', '{"timestamp":"yesterday","provider":"x"}', 'invalid_value'],
    ['a timestamp in seconds', '{"timestamp":1763800000,"provider":"x"}', 'invalid_value'],
    ['a __proto__ key', '{"timestamp":1763800000000,"provider":"x","__proto__":{"polluted":true}}', 'forbidden_key'],
    ['a nested escaped __proto__ key', '{"timestamp":1763800000000,"provider":"x","response":{"body":{"\\u005f_proto__":{"polluted":true}}}}', 'forbidden_key'],
  ])('%s', (_name, input, reason) => {
    const rejection = rejectionOf(input);
    expect(rejection.reason).toBe(reason);
    expect(rejection.detail.length).toBeGreaterThan(5);
  });

  it('names the missing or mistyped field in the detail', () => {
    expect(rejectionOf('{"provider":"kustom"}').detail).toContain('timestamp');
    expect(rejectionOf('{"timestamp":1763800000000,"provider":"x","http":{"status_code":"500"}}').detail).toContain('http.status_code');
  });

  it('rejects binary bytes as not UTF-8', () => {
    expect(rejectionOf(Buffer.from([0xff, 0xfe, 0x00, 0x81, 0x7b])).reason).toBe('not_utf8');
  });

  it('rejects events over the size limit before parsing them', () => {
    const small = createDecoder({ maxBytes: 100, idHeaders });
    const result = small.decode(bytes(callEvent({ provider: 'x', body: 'y'.repeat(200) })));
    expect(result.ok ? null : result.rejection.reason).toBe('too_large');
  });

  it('does not pollute Object.prototype', () => {
    rejectionOf('{"timestamp":1763800000000,"provider":"x","__proto__":{"polluted":true}}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('redaction at decode', () => {
  it('removes credentials, tokens, card numbers and e-mail addresses from every field', () => {
    const event = eventOf(callEvent({
      provider: 'stablegenius', status: 401,
      requestHeaders: { Authorization: 'Bearer sk_live_51HxYzAbCdEfGh', Cookie: 'session=abc' },
      responseHeaders: { 'X-Debug': 'token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N' },
      body: { error: { code: 'invalid_api_key', message: 'key sk_test_abcdef123456 for jane.doe@example.com, card 4242 4242 4242 4242' } },
      correlationId: 'corr for jane.doe@example.com',
    }));
    const text = JSON.stringify(event);
    for (const secret of ['sk_live_51HxYzAbCdEfGh', 'sk_test_abcdef123456', 'jane.doe@example.com', '4242 4242 4242 4242', 'eyJhbGciOiJIUzI1NiJ9', 'session=abc']) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('invalid_api_key');
  });

  it('keeps ids that only look like card numbers when they fail the Luhn check or are UUIDs', () => {
    const event = eventOf(callEvent({ provider: 'x', correlationId: '12345678-1234-1234-1234-123456789012', body: 'order 4242424242424241' }));
    expect(event.correlationId).toBe('12345678-1234-1234-1234-123456789012');
    expect(event.body).toBe('order 4242424242424241');
  });
});
