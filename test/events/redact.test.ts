import { describe, expect, it } from 'vitest';
import { REDACTED, redactString, redactWithPattern } from '../../src/events/redact.ts';

// A deterministic stream of numbers in [0, 1), so a failure names a reproducible string.
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff;
    return s / 0x80000000;
  };
}

const HEX = '0123456789abcdefABCDEF';
// Characters and fragments that make or break what the secret pattern looks for.
const EDITS = ['@', '_', ' ', '-', 'e', 'y', 'J', 'r', 'Z', '4', '0', 'é', '\u{1F4B3}', 'a@b.co', 'sk_live_ab12cd', 'Bearer abcdefgh', 'eyJab.cdef.g', '4242 4242 4242 4242', '4242424242424242', '378282246310005'];

function uuidLike(next: () => number, digitsOnly: boolean): string {
  const alphabet = digitsOnly ? '0123456789' : HEX;
  let out = '';
  for (let i = 0; i < 36; i++) out += i === 8 || i === 13 || i === 18 || i === 23 ? '-' : alphabet[Math.floor(next() * alphabet.length)];
  return out;
}

describe('redacting a string', () => {
  it('leaves UUIDs as they are, even those made only of digits', () => {
    for (const id of ['d07cfdf8-0f64-44d2-8907-606ae23d1630', '42424242-4242-4242-4242-424242424242', '12345678-1234-1234-1234-123456789012', 'D07CFDF8-0F64-44D2-8907-606AE23D1630']) {
      expect(redactString(id)).toBe(id);
    }
  });

  it('still redacts secrets in strings of a UUID\'s length and shape that are not UUIDs', () => {
    for (const [value, redacted] of [
      ['a@b.cdef-abcd-abcd-abcd-abcdefabcdef', `${REDACTED}-abcd-abcd-abcd-abcdefabcdef`],
      ['Bearer a-bcde-fghi-jklm-nopqrstuvwxy', REDACTED],
      ['sk_live_-abcd-abcd-abcd-abcdefabcdef', 'sk_live_-abcd-abcd-abcd-abcdefabcdef'],
    ]) {
      expect(value).toHaveLength(36);
      expect(redactString(value!)).toBe(redacted);
    }
  });

  it('gives what the full pattern gives for strings around the UUID shape', () => {
    const next = random(20261130);
    for (let n = 0; n < 20_000; n++) {
      let value = uuidLike(next, next() < 0.3);
      for (let edits = Math.floor(next() * 3); edits > 0; edits--) {
        const at = Math.floor(next() * value.length);
        const edit = EDITS[Math.floor(next() * EDITS.length)]!;
        // Mostly written over the UUID, so that the length and often the hyphens stay; sometimes inserted.
        value = next() < 0.8 ? (value.slice(0, at) + edit + value.slice(at + edit.length)).slice(0, 36) : value.slice(0, at) + edit + value.slice(at);
      }
      expect(redactString(value), value).toBe(redactWithPattern(value));
    }
  });
});
