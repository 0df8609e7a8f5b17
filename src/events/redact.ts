// Redaction of secrets and personal data (docs/architecture.md#security). It runs once, at decode, so no sink
// ever sees the original values.

export const REDACTED = '[REDACTED]';

/**
 * Keys in a response body whose values are secret or personal whatever they look like (credential
 * header names too: some providers echo the request's headers back in their error bodies).
 */
const SENSITIVE_KEYS: ReadonlySet<string> = new Set([
  'authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', 'api-key', 'x-auth-token', 'x-access-token',
  'password', 'card_number', 'cvv', 'cvc', 'pan', 'api_key', 'secret', 'access_token', 'refresh_token',
]);

// One pass over a string finds every kind of secret; the alternation order puts the cheap,
// anchored prefixes first. Card numbers (issuer digits 2-6, contiguous or in the printed groups,
// never part of a longer id such as a UUID) are confirmed with the Luhn check in the replacer.
const SECRET_PATTERN =
  /\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{6,}|\b[Bb]earer\s+[A-Za-z0-9._~+/=-]{8,}|\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*|[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}|(?<![\w-])(?:[2-6]\d{12,18}|[2-6]\d{3}[ -]\d{4}[ -]\d{4}[ -]\d{1,7}|3\d{3}[ -]\d{6}[ -]\d{5})(?![\w-])/g;

// 1 for every ASCII character that is not a hexadecimal digit.
const NOT_HEX = new Uint8Array(128).fill(1);
for (const c of '0123456789abcdefABCDEF') NOT_HEX[c.charCodeAt(0)] = 0;

/**
 * Whether the string is a UUID in its canonical text form (8-4-4-4-12 hexadecimal digits), the most
 * common id in events (correlation ids, idempotency keys, request ids). SECRET_PATTERN cannot match
 * one: it has no `_`, `@`, `r` or `y`, and a card number can only start where no word character or
 * hyphen precedes, that is at the UUID's start, where it would need a separator as the fifth character
 * (a UUID has a hex digit there) or thirteen digits in a row (a UUID has a hyphen as the ninth). On a
 * UUID this check costs about a quarter of the scan below, whose branches a random mix of digits and
 * letters makes unpredictable (about 55 against 210 ns per UUID, 2026-11-30).
 */
function isCanonicalUuid(value: string): boolean {
  if (value.length !== 36 || value.charCodeAt(8) !== 45 || value.charCodeAt(13) !== 45 || value.charCodeAt(18) !== 45 || value.charCodeAt(23) !== 45) return false;
  let notHex = 0;
  for (let i = 0; i < 36; i++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) continue;
    const c = value.charCodeAt(i);
    notHex |= c < 128 ? NOT_HEX[c]! : 1;
  }
  return notHex === 0;
}

/**
 * Whether a string could hold anything SECRET_PATTERN finds. Most strings in an event (codes,
 * routes, ids, timestamps) cannot, and a scan for its markers is far cheaper than the full pattern.
 */
function mayHoldSecret(value: string): boolean {
  const n = value.length;
  if (n < 8 || isCanonicalUuid(value)) return false;
  // One pass over the characters instead of a native scan per marker: these strings are short, so
  // call overhead, not scanning, is what costs.
  let digits = 0;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      // A card number is 13 or more digits, possibly grouped by spaces or hyphens.
      if (++digits >= 13) return true;
      continue;
    }
    if (c !== 32 && c !== 45) digits = 0;
    if (c === 64 /* @ */) return true;
    if (c === 95 /* _ */ && (value.startsWith('live_', i + 1) || value.startsWith('test_', i + 1))) return true;
    if (c === 101 /* e: eyJ (JWT), [Bb]earer */ && (value.startsWith('yJ', i + 1) || value.startsWith('arer', i + 1))) return true;
  }
  return false;
}

function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

function replaceSecret(match: string): string {
  const first = match.charCodeAt(0);
  if (first >= 48 && first <= 57) {
    const digits = match.replace(/[ -]/g, '');
    return luhnValid(digits) ? REDACTED : match;
  }
  return REDACTED;
}

/** The string with every secret and personal datum replaced by `[REDACTED]`. */
export function redactString(value: string): string {
  return mayHoldSecret(value) ? redactWithPattern(value) : value;
}

/** redactString without the cheap check that spares most strings the pattern: same result, slower. */
export function redactWithPattern(value: string): string {
  SECRET_PATTERN.lastIndex = 0;
  return value.replace(SECRET_PATTERN, replaceSecret);
}


/**
 * Redacts a value freshly made by JSON.parse in place (the decoder owns it, so no copy is needed)
 * and returns it; strings are immutable, so a top-level string comes back redacted.
 */
export function redactParsed(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 32) return REDACTED;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (typeof item === 'string') value[i] = redactString(item);
      else if (item !== null && typeof item === 'object') value[i] = redactParsed(item, depth + 1);
    }
    return value;
  }
  const record = value as Record<string, unknown>;
  for (const key in record) {
    const item = record[key];
    if (SENSITIVE_KEYS.has(key.toLowerCase())) record[key] = REDACTED;
    else if (typeof item === 'string') record[key] = redactString(item);
    else if (item !== null && typeof item === 'object') record[key] = redactParsed(item, depth + 1);
  }
  return value;
}
