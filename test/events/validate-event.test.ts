import { describe, expect, it } from 'vitest';
import { compileSchema } from '../../src/kernel/schema.ts';
import eventSchema from '../../src/events/payment-call-event.schema.json' with { type: 'json' };
import { validateEvent } from '../../src/events/validate-event.ts';
import { callEvent } from '../support/events.ts';

// The shared ajv instance alone, as the decoder validated events before the check in code units.
const validateInCharacters = compileSchema(eventSchema);
// U+1F4B3 CREDIT CARD: one character, two UTF-16 code units.
const CARD = '\u{1F4B3}';

function minLengths(schema: unknown): number[] {
  if (schema === null || typeof schema !== 'object') return [];
  const own = (schema as { minLength?: unknown }).minLength;
  return [...(typeof own === 'number' ? [own] : []), ...Object.values(schema).flatMap(minLengths)];
}

describe('validating a parsed event', () => {
  it('counts string lengths in characters: 64 characters outside the BMP make a valid provider, 65 do not', () => {
    expect(validateEvent(callEvent({ provider: CARD.repeat(64) }))).toBeNull();
    expect(validateEvent(callEvent({ provider: CARD.repeat(65) }))).toEqual({
      segments: ['provider'], path: 'provider', keyword: 'maxLength', message: 'provider must NOT have more than 64 characters',
    });
    expect(validateEvent({ ...callEvent({ provider: 'x' }), correlation_id: `${CARD.repeat(256)}` })).toBeNull();
  });

  it('rejects what the shared ajv instance rejects, with the same first problem', () => {
    const invalid: unknown[] = [
      { provider: 'kustom' },
      { timestamp: 1763800000000 },
      { timestamp: 1763800000000, provider: '' },
      { timestamp: 1763800000000, provider: 'x'.repeat(65) },
      { timestamp: 1763800000000, provider: 7 },
      { timestamp: true, provider: 'x' },
      { timestamp: 1763800000000, provider: 'x', operation: '' },
      { timestamp: 1763800000000, provider: 'x', http: { method: 'M'.repeat(17), status_code: 99.5 } },
      { timestamp: 1763800000000, provider: 'x', http: { status_code: 600 } },
      { timestamp: 1763800000000, provider: 'x', http: { duration_ms: -1 } },
      { timestamp: 1763800000000, provider: 'x', response: { headers: { 'Retry-After': { s: 5 } } } },
      { timestamp: 1763800000000, provider: 'x', request: { headers: { 'Idempotency-Key': ['k', 1] } } },
      { timestamp: 1763800000000, provider: 'x', response: { body: 5 } },
      { timestamp: 1763800000000, provider: 'x', attempt: 0 },
      { timestamp: 1763800000000, provider: 'x', environment: 'dev' },
      { timestamp: 1763800000000, provider: 'x', traceparent: 't'.repeat(129) },
      { timestamp: 1763800000000, provider: 'x', merchant_id: `${CARD.repeat(256)}m` },
    ];
    for (const event of invalid) {
      const expected = validateInCharacters(event);
      expect(expected, JSON.stringify(event)).not.toBeNull();
      expect(validateEvent(event), JSON.stringify(event)).toEqual(expected);
    }
  });

  it('relies on a schema whose minLength is at most 1, where code units and characters agree', () => {
    // A minLength above 1 would let the check in code units accept a string that is too short in characters.
    expect(minLengths(eventSchema).length).toBeGreaterThan(0);
    for (const minLength of minLengths(eventSchema)) expect(minLength).toBeLessThanOrEqual(1);
  });
});
