import { describe, expect, it } from 'vitest';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDecoder } from '../../src/events/decode.ts';
import { loadMapping } from '../../src/events/mapping.ts';
import { createClassifier } from '../../src/classify/classifier.ts';
import { PaysignalError } from '../../src/errors.ts';

const { idHeaders } = await createClassifier();

describe('field mappings', () => {
  it('reads Elastic Common Schema events', async () => {
    const decoder = createDecoder({ mapping: await loadMapping('ecs'), idHeaders });
    const ecs = {
      '@timestamp': '2026-11-20T10:00:00.000Z',
      labels: { payment_provider: 'kustom', correlation_id: 'corr-9' },
      event: { duration: 250_000_000, action: 'create_order' },
      http: { request: { method: 'post' }, response: { status_code: 403, body: { content: '{"error_code":"MERCHANT_INACTIVE","error_messages":[]}' } } },
      url: { path: '/checkout/v3/orders' },
    };
    const result = decoder.decode(Buffer.from(JSON.stringify(ecs)));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.event).toMatchObject({ provider: 'kustom', operation: 'create_order', method: 'POST', route: '/checkout/v3/orders', statusCode: 403, durationMs: 250, correlationId: 'corr-9' });
    const classification = (await createClassifier()).classify(result.event);
    expect(classification).toMatchObject({ code: 'MERCHANT_INACTIVE', category: 'merchant_config', known: true });
  });

  it('reads OpenTelemetry log records in OTLP/JSON form', async () => {
    const decoder = createDecoder({ mapping: await loadMapping('otel'), idHeaders });
    const record = {
      timeUnixNano: '1763632800000000000',
      body: { stringValue: '{"error":{"type":"rate_limit_error","code":"rate_limit_exceeded","message":"slow down"}}' },
      attributes: [
        { key: 'payment.provider', value: { stringValue: 'stablegenius' } },
        { key: 'http.request.method', value: { stringValue: 'POST' } },
        { key: 'url.template', value: { stringValue: '/v1/payment_intents' } },
        { key: 'http.response.status_code', value: { intValue: '429' } },
        { key: 'http.client.request.duration', value: { doubleValue: 0.5 } },
      ],
    };
    const result = decoder.decode(Buffer.from(JSON.stringify(record)));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.event).toMatchObject({ provider: 'stablegenius', statusCode: 429, durationMs: 500, timestampMs: 1_763_632_800_000 });
    expect((await createClassifier()).classify(result.event)).toMatchObject({ code: 'rate_limit_exceeded', category: 'rate_limit', retry: 'retry_with_backoff' });
  });

  it('treats an OpenTelemetry error.type without a status as a network error', async () => {
    const decoder = createDecoder({ mapping: await loadMapping('otel'), idHeaders });
    const result = decoder.decode(Buffer.from(JSON.stringify({ timeUnixNano: '1763632800000000000', attributes: { 'payment.provider': 'setel', 'error.type': 'timeout' } })));
    expect(result.ok && result.event.networkError).toBe('timeout');
  });

  it('rejects a mapped event that lacks a required field, naming it', async () => {
    const decoder = createDecoder({ mapping: await loadMapping('ecs'), idHeaders });
    const result = decoder.decode(Buffer.from(JSON.stringify({ '@timestamp': '2026-11-20T10:00:00Z' })));
    expect(result.ok ? null : result.rejection).toMatchObject({ reason: 'missing_field', detail: expect.stringContaining('provider') });
  });

  it('loads a user mapping file and reports a bad one with its file and field', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'paysignal-mapping-'));
    const good = join(dir, 'good.yaml');
    await writeFile(good, 'name: mine\nfields:\n  /timestamp: { from: ["/ts"] }\n  /provider: { from: ["/psp"] }\n');
    const decoder = createDecoder({ mapping: await loadMapping(good), idHeaders });
    expect(decoder.decode(Buffer.from('{"ts":1763800000000,"psp":"setel"}')).ok).toBe(true);

    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'name: mine\nfields:\n  /timestamp: { from: "/ts" }\n');
    const error = await loadMapping(bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PaysignalError);
    expect((error as PaysignalError).code).toBe('MAPPING_INVALID');
    expect((error as PaysignalError).describe()).toContain('bad.yaml');

    await expect(loadMapping(join(dir, 'missing.yaml'))).rejects.toMatchObject({ code: 'MAPPING_NOT_FOUND' });
  });
});
