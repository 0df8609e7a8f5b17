// Spans from the processing workers (src/pipeline/workers/worker.ts) with the error-span budget off:
// a worker exports what the main thread would. With fetch-ahead the source hands a worker many
// batches at once; processed back to back, they left its span exporter no turn, so its queue filled
// and the spans were dropped as queue_full.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.ts';
import type { WorkerPool } from '../../src/pipeline/workers/pool.ts';
import { EVENT_KINDS } from '../support/kafka.ts';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.ts';
import { waitFor } from '../support/processes.ts';
import { exposedSeries, partitionRecords, startTestPool } from '../support/worker-pool.ts';

const TOPIC = 'calls';
let otlp: OtlpReceiver;
let pool: WorkerPool | null = null;
const savedEndpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;

beforeAll(async () => {
  otlp = await startOtlpReceiver();
  // Read by the worker's span exporter (a worker's environment is a copy of this one).
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = otlp.url;
});

afterEach(async () => {
  await pool?.close();
  pool = null;
});

afterAll(async () => {
  await otlp?.close();
  if (savedEndpoint === undefined) delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  else process.env.OTEL_EXPORTER_OTLP_ENDPOINT = savedEndpoint;
});

describe('spans of a processing worker with the error-span budget off', () => {
  it('are all exported when many batches reach the worker at once, none dropped for a full queue', async () => {
    // Every failed call gets a span, no success does. 225 batches of 400 calls, one in ten of them
    // failed, are 9,000 spans: more than the export queue holds (8,192), so unless exports run while
    // the worker works through the batches, the last 808 are dropped.
    const config = parseConfig('tracing:\n  success_sample_ratio: 0\n  max_error_spans_per_second: 0\n', null, {});
    const started = await startTestPool(config, 1);
    pool = started.pool;
    const base = Date.UTC(2026, 10, 22, 10, 0, 0);
    const kind = (i: number) => EVENT_KINDS[i % 10 === 0 ? (i / 10) % 4 : 4]!; // kinds 0-3 fail, 4 succeeds
    const batches = Array.from({ length: 225 }, (_, b) =>
      partitionRecords(TOPIC, b % 4, Array.from({ length: 400 }, (_, i) => kind(i).build(`span-${b}-${i}`, base + b * 400 + i)), b * 400),
    );
    // As the Kafka source hands them over with fetch-ahead: all of them before the first is answered.
    await Promise.all(batches.map((records) => pool!.handleBatch(records)));

    const exposed = exposedSeries(await started.registry.metrics());
    expect(exposed.get('paysignal_spans_dropped_total{reason="queue_full"}') ?? 0).toBe(0);
    expect(exposed.get('paysignal_spans_dropped_total{reason="budget"}') ?? 0).toBe(0);
    await waitFor('every span at the receiver', () => (otlp.spans.length >= 9000 ? true : undefined), 20_000, 100);
    expect(new Set(otlp.spans.map((s) => s.attributes['payment.correlation_id'])).size).toBe(9000);
  });
});
