// The demo teaches what the seeds say: every provider error it generates is raised on an operation
// the provider's catalog documents for that code, so its alerts never name an operation that cannot
// produce the code.
import { describe, expect, it } from 'vitest';
import { createClassifier } from '../../src/classify/classifier.ts';
import type { Classification } from '../../src/classify/classification.ts';
import { createTrafficGenerator, INCIDENTS } from '../../src/demo/traffic.ts';
import { createDecoder } from '../../src/events/decode.ts';

const classifier = await createClassifier();
const decoder = createDecoder({ idHeaders: classifier.idHeaders });

/** The classified errors of a whole demo run (the same seed `paysignal demo` uses). */
function demoErrors(calls = 40_000): Classification[] {
  const traffic = createTrafficGenerator();
  const errors: Classification[] = [];
  const t0 = Date.parse('2026-11-20T10:00:00.000Z');
  for (let i = 0; i < calls; i++) {
    for (const event of traffic.next(i / calls, t0 + i * 10)) {
      const decoded = decoder.decode(Buffer.from(JSON.stringify(event)));
      if (!decoded.ok) throw new Error(`demo event rejected: ${decoded.rejection.detail}`);
      const classification = classifier.classify(decoded.event);
      if (classification.outcome === 'error') errors.push(classification);
    }
  }
  return errors;
}

/** The operations the catalog documents `code` (at `status`) for; null when no entry restricts them. */
function documentedOperations(provider: string, code: string, status: number | null): ReadonlySet<string> | null {
  const entries = (classifier.explain(provider, code)).filter((e) => e.status === null || e.status === status);
  if (entries.length === 0 || entries.some((e) => e.operations === null)) return null;
  return new Set(entries.flatMap((e) => e.operations!));
}

const errors = demoErrors();
const seen = (c: Classification): string => `${c.provider} ${c.code} on ${c.operation}`;

describe('demo traffic against the catalogs', () => {
  it('raises every catalog code only on operations the catalog documents for it', () => {
    const undocumented = new Set<string>();
    let restricted = 0;
    for (const c of errors) {
      if (c.code === null) continue;
      const operations = documentedOperations(c.provider, c.code, c.statusCode);
      if (operations === null) continue;
      restricted++;
      if (c.operation === null || !operations.has(c.operation)) undocumented.add(`${seen(c)} (documented: ${[...operations].join(', ')})`);
    }
    expect([...undocumented]).toEqual([]);
    // Codes restricted to operations are generated at all (Mercado Pago's catalog restricts every code).
    expect(restricted).toBeGreaterThan(100);
  });

  it('raises invalid_total_amount, the Mercado Pago incident, on create_order alone', () => {
    const operations = new Set(errors.filter((c) => c.provider === 'mercadopago' && c.code === 'invalid_total_amount').map((c) => c.operation));
    expect([...operations]).toEqual(['create_order']);
  });

  it('still fails every provider on more than one operation, each with codes documented there', () => {
    for (const provider of ['mercadopago', 'kustom', 'stablegenius']) {
      const operations = new Set(errors.filter((c) => c.provider === provider && c.code !== null).map((c) => c.operation));
      expect(operations.size, provider).toBeGreaterThan(1);
    }
  });

  it('produces the code of every scripted incident', () => {
    const codes = new Set(errors.map((c) => `${c.provider} ${c.code}`));
    const expected: Record<string, string> = {
      merchant_inactive_spike: 'kustom MERCHANT_INACTIVE',
      invalid_total_amount_climb: 'mercadopago invalid_total_amount',
      rate_limit_burst: 'stablegenius rate_limit_exceeded',
      new_setel_code: 'setel 9300777',
      retry_after_non_retryable: 'kustom MERCHANT_INACTIVE',
    };
    expect(INCIDENTS.map((i) => i.name).sort()).toEqual(Object.keys(expected).sort());
    for (const incident of INCIDENTS) expect(codes.has(expected[incident.name]!), incident.name).toBe(true);
  });
});
