// The worker's per-event signal tuples (src/pipeline/workers/signal-tuples.ts): what the main thread
// reads back is, field by field, what the worker classified, whichever fields two events share.
import { describe, expect, it } from 'vitest';
import { emptySignal } from '../../src/alerting/engine/signal.ts';
import type { ProcessedEvent } from '../../src/pipeline/types.ts';
import { SignalPacker, SignalUnpacker } from '../../src/pipeline/workers/signal-tuples.ts';
import { classification, event, MERCHANT_INACTIVE, record, T0 } from '../signals/fixtures.ts';

function processedWith(overrides: Partial<ProcessedEvent['classification']>, violationOf: { code: string | null; retry: string } | null = null, ts = T0): ProcessedEvent {
  const e = event({ statusCode: 403, timestampMs: ts });
  return {
    record: record(),
    event: e,
    classification: { ...classification(e, MERCHANT_INACTIVE), ...overrides },
    correlation: { key: 'k', attemptNumber: 2, isRetry: true, isStorm: false, violationOf, unmatchedRetry: false },
  };
}

describe('signal tuples', () => {
  it('events that differ in any one label field come back as their own classes, in every batch', () => {
    const variants: ProcessedEvent[] = [
      processedWith({}),
      processedWith({ provider: 'setel' }),
      processedWith({ operation: 'capture' }),
      processedWith({ operation: null }),
      processedWith({ statusCode: 404 }),
      processedWith({ statusCode: null }),
      processedWith({ code: 'OTHER' }),
      processedWith({ code: null }),
      processedWith({ category: 'validation' }),
      processedWith({ retry: 'do_not_retry' }),
      processedWith({ errorType: 'card_error' }),
      processedWith({ outcome: 'success', code: null, category: null, retry: null, owner: null }),
      processedWith({}, { code: 'MERCHANT_INACTIVE', retry: 'contact_provider' }),
      processedWith({}, { code: null, retry: 'do_not_retry' }),
    ];
    const packer = new SignalPacker();
    const records = variants.map((_, i) => record('kafka', i));
    const unpacker = new SignalUnpacker(records[0]!);
    // Twice: the second batch finds every class already known and sends no new table entries.
    for (let batch = 0; batch < 2; batch++) {
      variants.forEach((p, i) => packer.add(i, p));
      const reply = packer.take();
      expect(reply.newClasses.length).toBe(batch === 0 ? variants.length - 2 : 0);
      unpacker.learn(reply);
      variants.forEach((p, k) => {
        const back = unpacker.event(reply.signals, k, records);
        const c = p.classification;
        expect(back.record).toBe(records[k]);
        expect(back.event.timestampMs).toBe(T0);
        expect(back.classification).toEqual({ outcome: c.outcome, provider: c.provider, operation: c.operation, statusCode: c.statusCode, code: c.code, category: c.category, retry: c.retry, errorType: c.errorType });
        expect(back.correlation?.violationOf ?? null).toEqual(p.correlation!.violationOf);
        const signal = unpacker.engineSignal(reply.signals, k, records, emptySignal());
        expect(signal.offset).toBe(k);
        expect(signal.isError).toBe(c.outcome === 'error');
        expect(signal.violationRetry).toBe(p.correlation!.violationOf?.retry ?? null);
      });
    }
  });
});
