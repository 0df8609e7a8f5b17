// A provider's id headers are declared once, in its catalog.yaml: the decoder keeps exactly the
// headers some catalog names, and the classifier reads a provider's own headers before the generic ones.
import { afterAll, describe, expect, it } from 'vitest';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClassifier } from '../../src/classify/classifier.ts';
import { createDecoder } from '../../src/events/decode.ts';
import { PROVIDERS_DIR, GENERIC_PROVIDER } from '../../src/providers/registry.ts';
import { bytes, callEvent, type CallSpec } from '../support/events.ts';

const dir = await mkdtemp(join(tmpdir(), 'paysignal-provider-headers-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

// A made-up provider whose only knowledge is its catalog: one correlation and one idempotency header.
await cp(join(PROVIDERS_DIR, GENERIC_PROVIDER), join(dir, GENERIC_PROVIDER), { recursive: true });
await mkdir(join(dir, 'acme'));
await writeFile(
  join(dir, 'acme', 'catalog.yaml'),
  [
    'provider: acme',
    'display_name: Acme Pay',
    'seed: none',
    'extract: { code: [/error/code] }',
    'headers:',
    '  correlation_id: [Acme-Trace-Id]',
    '  idempotency_key: [Acme-Request-Key]',
    'entries: []',
  ].join('\n'),
);

const classifier = await createClassifier(dir);
const decoder = createDecoder({ idHeaders: classifier.idHeaders });

function classify(spec: CallSpec) {
  const decoded = decoder.decode(bytes(callEvent(spec)));
  if (!decoded.ok) throw new Error(`fixture rejected: ${decoded.rejection.detail}`);
  return { event: decoded.event, classification: classifier.classify(decoded.event) };
}

describe('provider id headers come from the catalogs', () => {
  it('keeps and reads a header that only a catalog names', () => {
    const { event, classification } = classify({
      provider: 'acme',
      status: 500,
      requestHeaders: { 'ACME-Request-Key': 'key-7' },
      responseHeaders: { 'acme-trace-id': 'trace-7', 'X-Request-Id': 'generic-7' },
    });
    expect(event.responseHeaders).toEqual({ 'acme-trace-id': 'trace-7', 'x-request-id': 'generic-7' });
    expect(classification).toMatchObject({ correlationId: 'trace-7', idempotencyKey: 'key-7' });
  });

  it("tries the _generic catalog's headers after the provider's own", () => {
    const { classification } = classify({ provider: 'acme', status: 500, responseHeaders: { 'Request-Id': 'generic-8' } });
    expect(classification.correlationId).toBe('generic-8');
  });

  it("does not read one provider's header for another provider", () => {
    const { classification } = classify({ provider: 'someone-else', status: 500, responseHeaders: { 'Acme-Trace-Id': 'trace-9' } });
    expect(classification.correlationId).toBeNull();
  });

  it('drops headers no catalog names', () => {
    const { event } = classify({ provider: 'acme', status: 500, responseHeaders: { 'Klarna-Correlation-Id': 'k-1', 'Retry-After': '3' } });
    expect(event.responseHeaders).toEqual({ 'retry-after': '3' });
  });
});

describe('the shipped catalogs', async () => {
  const shipped = await createClassifier();
  const shippedDecoder = createDecoder({ idHeaders: shipped.idHeaders });
  const shippedClassify = (spec: CallSpec) => {
    const decoded = shippedDecoder.decode(bytes(callEvent(spec)));
    if (!decoded.ok) throw new Error(`fixture rejected: ${decoded.rejection.detail}`);
    return shipped.classify(decoded.event);
  };

  it('read Klarna-Correlation-Id for Kustom, before the generic request-id headers', () => {
    expect(shippedClassify({ provider: 'kustom', status: 500, responseHeaders: { 'X-Request-Id': 'r-1', 'Klarna-Correlation-Id': 'k-1' } }).correlationId).toBe('k-1');
  });

  it('do not read Klarna-Correlation-Id for other providers', () => {
    expect(shippedClassify({ provider: 'mercadopago', status: 500, responseHeaders: { 'Klarna-Correlation-Id': 'k-2' } }).correlationId).toBeNull();
  });
});
