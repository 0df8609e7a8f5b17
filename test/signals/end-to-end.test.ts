// decode -> classify -> correlate -> metrics + spans, end to end: secrets never leave in /metrics or in
// exported spans, and a flood of distinct unknown codes stays within the label caps and bounded memory.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callEvent } from '../support/events.ts';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.ts';
import { waitFor } from '../support/processes.ts';
import { startStack, type Stack } from './stack.ts';
import { DEFAULT_CONFIG } from '../support/config.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const SECRETS = {
  apiKey: 'sk_live_51HxYzAbCdEfGhIjKlMnOpQr',
  testKey: 'sk_test_4eC39HqLyjWDarjtT1zdp7dc',
  jwt: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkphbmUifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
  card: '4111111111111111',
  cardSpaced: '5555 5555 5555 4444',
  email: 'jane.doe@example.com',
  bearer: 'Bearer abc.def.ghi-secret-token',
};

let receiver: OtlpReceiver;
let stack: Stack;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  stack = await startStack({
    tracing: { otlp: { url: receiver.tracesUrl }, scheduledDelayMillis: 20 },
    metrics: { unknown_code_cap: 50, unknown_operation_cap: 20 },
    correlation: { ...DEFAULT_CONFIG.correlation, max_keys: 5000 },
  });
});

afterAll(async () => {
  await stack?.close();
  await receiver?.close();
});

describe('secrets and personal data never leave paysignal', () => {
  it('planted in codes, messages, ids, headers and fields, they appear neither in /metrics nor in spans', async () => {
    const planted = [
      callEvent({
        provider: 'kustom',
        operation: 'create_order',
        method: 'POST',
        route: '/checkout/v3/orders',
        status: 403,
        durationMs: 300,
        body: { error_code: SECRETS.apiKey, error_messages: [`card ${SECRETS.card} of ${SECRETS.email} token ${SECRETS.jwt}`], correlation_id: SECRETS.email },
        requestHeaders: { Authorization: SECRETS.bearer, 'X-Api-Key': SECRETS.testKey, 'Idempotency-Key': `idem-${SECRETS.card}` },
        correlationId: SECRETS.jwt,
        extra: { merchant_id: SECRETS.email, attempt: 1 },
      }),
      callEvent({
        provider: 'mercadopago',
        operation: 'create_order',
        status: 400,
        body: { errors: [{ code: SECRETS.testKey, message: `required property '${SECRETS.email}' is missing`, details: [SECRETS.cardSpaced] }] },
        responseHeaders: { 'x-request-id': SECRETS.jwt },
        idempotencyKey: SECRETS.apiKey,
      }),
      callEvent({
        provider: 'stablegenius',
        operation: 'create_payment_intent',
        status: 401,
        body: { error: { type: 'authentication_error', code: 'invalid_api_key', message: `Invalid API key provided: ${SECRETS.apiKey}`, param: SECRETS.email } },
      }),
      callEvent({ provider: 'setel', operation: 'authorize', networkError: 'timeout', correlationId: SECRETS.cardSpaced }),
      callEvent({ provider: 'digitalriver', operation: 'create_order', status: 201, durationMs: 50, correlationId: SECRETS.email }),
    ];
    await stack.feed(planted);
    await stack.signals.traces!.forceFlush();
    const spans = await waitFor('the planted calls as spans', () => (receiver.spans.length >= planted.length ? receiver.spans : undefined));
    const prometheusText = await stack.metricsText(false);
    const openMetricsText = await stack.metricsText(true);
    const spanText = JSON.stringify(spans, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

    expect(prometheusText).toContain('payment_provider_errors_total{provider="kustom"');
    expect(spanText).toContain('kustom create_order');
    const leaks: string[] = [];
    for (const [name, secret] of Object.entries(SECRETS)) {
      const needles = [secret, secret.replace(/\s/g, ''), secret.slice(0, 16)];
      for (const [where, text] of [['/metrics', prometheusText], ['/metrics (OpenMetrics)', openMetricsText], ['spans', spanText]] as const) {
        if (needles.some((n) => text.includes(n))) leaks.push(`${name} in ${where}`);
      }
    }
    expect(leaks).toEqual([]);
    expect(/sk_(live|test)_/.test(prometheusText + openMetricsText + spanText)).toBe(false);
  });
});

describe('correlation across replicas', () => {
  it('retries whose first attempts went to another instance show on /metrics as unmatched, per provider', async () => {
    // What one replica sees of a topic keyed by something else: attempt 2 of payments whose attempt 1
    // went to another partition, and one payment whose attempts both arrived here.
    const retry = (key: string, attempt: number, second: number) =>
      callEvent({ provider: 'stablegenius', operation: 'get_payment_intent', status: 200, timestamp: `2026-11-20T11:00:0${second}.000Z`, idempotencyKey: key, extra: { attempt } });
    await stack.feed([retry('sg-a', 2, 1), retry('sg-b', 2, 2), retry('sg-c', 1, 3), retry('sg-c', 2, 4)]);
    const text = await stack.metricsText();
    expect(text).toMatch(/^# TYPE paysignal_correlation_unmatched_retries_total counter$/m);
    expect(text).toMatch(/^paysignal_correlation_unmatched_retries_total\{provider="stablegenius"\} 2$/m);
    expect(text).toMatch(/^payment_provider_retries_total\{provider="stablegenius",operation="get_payment_intent"\} 3$/m);
  });
});

describe('cardinality attack through the whole pipeline', () => {
  it('100k distinct unknown codes: series stay under the cap, tracker and heap stay bounded, every event is counted', async () => {
    const calls = (from: number, n: number) =>
      Array.from({ length: n }, (_, j) => {
        const i = from + j;
        return callEvent({
          provider: 'kustom',
          operation: i % 2 === 0 ? 'create_order' : `op_${i}`,
          status: 400,
          durationMs: 20,
          body: { error_code: `ATTACK_${i}_${'Z'.repeat(24)}`, error_messages: [], correlation_id: `attack-corr-${i}` },
        });
      });
    const count = async (expr: RegExp): Promise<number> => (await stack.metricsText()).split('\n').filter((l) => expr.test(l)).length;

    // Warm up so the heap baseline includes the catalogs, JIT code and the sinks' fixed state.
    await stack.feed(calls(0, 5000));
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    const started = performance.now();
    for (let from = 5000; from < 100_000; from += 5000) await stack.feed(calls(from, 5000));
    const elapsed = performance.now() - started;
    gc();
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;

    const text = await stack.metricsText();
    const line = (re: RegExp) => Number(re.exec(text)?.[1]);
    expect(line(/^paysignal_events_total\{source="kafka",result="classified"\} (\d+)$/m)).toBeGreaterThanOrEqual(100_000);
    // 50 unknown codes admitted for kustom, plus __overflow__; 20 operations plus __overflow__.
    const kustomCodes = new Set([...text.matchAll(/^payment_provider_errors_total\{provider="kustom",[^}]*code="([^"]+)"/gm)].map((m) => m[1]));
    expect(kustomCodes.size).toBeLessThanOrEqual(51);
    expect(kustomCodes.has('__overflow__')).toBe(true);
    const kustomOperations = new Set([...text.matchAll(/^payment_provider_calls_total\{provider="kustom",operation="([^"]+)"/gm)].map((m) => m[1]));
    expect(kustomOperations.size).toBeLessThanOrEqual(21);
    expect(await count(/^payment_provider_errors_total\{/)).toBeLessThan(200);
    expect(line(/^paysignal_label_overflow_total\{metric="payment_provider_errors_total",label="code"\} (\d+)$/m)).toBeGreaterThan(99_000);
    expect(stack.signals.tracker.size).toBeLessThanOrEqual(5000);
    expect(heapGrowth).toBeLessThan(30 * 1024 * 1024);
    console.log(`cardinality attack: 95k events through decode+classify+correlate+sinks in ${elapsed.toFixed(0)} ms, heap growth after GC ${(heapGrowth / 1024 / 1024).toFixed(1)} MiB, error series ${await count(/^payment_provider_errors_total\{/)}`);
  });
});
