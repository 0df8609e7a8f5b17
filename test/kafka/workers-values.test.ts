// A processing worker decodes the values of a batch from the one buffer they travel in
// (src/pipeline/workers/worker.ts). Whatever the bytes (ASCII, other UTF-8, a byte order mark, bytes
// that are not UTF-8, a value over the size limit in bytes but not in characters, a tombstone), it
// must process every record exactly as one thread does: the same events, the same rejections with
// the same reasons, the same metrics.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { WorkerPool } from '../../src/pipeline/workers/pool.ts';
import { createEventsFileSink } from '../../src/sinks/events-file.ts';
import type { SourceRecord } from '../../src/sources/record.ts';
import { callEvent, line } from '../support/events.ts';
import { expectSameSeries, exposedSeries, inThread, poolConfig, recordingDeadLetter, startTestPool, valueRecords } from '../support/worker-pool.ts';

const MAX_EVENT_BYTES = 600;
const config = poolConfig(`input:\n  max_event_bytes: ${MAX_EVENT_BYTES}\n`);

let pool: WorkerPool | null = null;
let dir: string | null = null;

afterEach(async () => {
  await pool?.close();
  pool = null;
  if (dir !== null) await rm(dir, { recursive: true, force: true });
  dir = null;
});

const kustomError = (n: number) =>
  line(callEvent({ provider: 'kustom', status: 403, operation: 'create_order', body: { error_code: 'MERCHANT_INACTIVE' }, correlationId: `ascii-${n}`, extra: { attempt: 1 + (n % 2) } }));

/** ASCII values: good events and each way to be refused at decode. */
const ASCII_VALUES: (string | null)[] = [
  kustomError(1),
  line(callEvent({ provider: 'mercadopago', status: 400, operation: 'create_payment', body: { cause: [{ code: 'invalid_total_amount' }] }, correlationId: 'ascii-2' })),
  '',
  '   ',
  null,
  'not json at all',
  '[1,2]',
  '{"timestamp":1763800000000,"provider":"x","__proto__":{"polluted":true}}',
  '{"timestamp":"yesterday","provider":"x"}',
  '{"provider":"kustom"}',
  line(callEvent({ provider: 'setel', status: 500, body: 'y'.repeat(MAX_EVENT_BYTES) })),
  `${kustomError(3)}\r`,
  line(callEvent({ provider: 'kustom', status: 200, operation: 'create_order', correlationId: 'ascii-4', extra: { merchant_id: 'card 4111 1111 1111 1111' } })),
  kustomError(5),
];

/** The same with values whose bytes are not ASCII: UTF-8 text, a byte order mark, bytes that are not UTF-8. */
const OTHER_VALUES: (Buffer | string | null)[] = [
  ...ASCII_VALUES,
  line(callEvent({ provider: 'mercadopago', status: 400, operation: 'create_payment', body: { message: 'Cartão recusado: saldo insuficiente €' }, correlationId: 'não-ascii' })),
  Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(kustomError(6))]),
  Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
  // Under the limit in characters, over it in UTF-8 bytes: the limit is in bytes.
  line(callEvent({ provider: 'setel', status: 500, body: 'é'.repeat(MAX_EVENT_BYTES / 2) })),
];

/** What a pool of one processing worker makes of these batches, handed over one by one. */
async function inWorker(batches: readonly SourceRecord[][]) {
  dir = await mkdtemp(join(tmpdir(), 'paysignal-worker-values-'));
  const eventsFile = createEventsFileSink(join(dir, 'events.ndjson'));
  await eventsFile.open();
  const deadLetter = recordingDeadLetter();
  const started = await startTestPool(config, 1, { deadLetter, eventsFile });
  pool = started.pool;
  for (const batch of batches) await pool.handleBatch(batch);
  const metrics = await started.registry.metrics();
  await pool.close();
  pool = null;
  return { metrics, lines: await readFile(eventsFile.path, 'utf8'), deadLettered: deadLetter.records };
}

describe('a processing worker reading its batches', () => {
  it('processes a batch of ASCII values and a batch with other bytes exactly as one thread does', async () => {
    const ascii = valueRecords('calls', 0, ASCII_VALUES);
    const other = valueRecords('calls', 1, OTHER_VALUES);
    expect(ascii.every((r) => r.value === null || r.value.every((b) => b < 0x80))).toBe(true);
    expect(other.some((r) => r.value !== null && r.value.some((b) => b >= 0x80))).toBe(true);

    const worker = await inWorker([ascii, other]);
    const reference = await inThread(config, [...ascii, ...other]);

    expect(worker.lines.split('\n')).toEqual(reference.lines.split('\n'));
    expect(worker.deadLettered).toEqual(reference.deadLettered);
    expectSameSeries(exposedSeries(worker.metrics), exposedSeries(reference.metrics));
    // Both paths refused what they should, for the reasons they should.
    expect(reference.deadLettered).toEqual([
      '0/2 empty', '0/3 empty', '0/4 empty', '0/5 not_json', '0/6 not_object', '0/7 forbidden_key', '0/8 invalid_value', '0/9 missing_field', '0/10 too_large',
      '1/2 empty', '1/3 empty', '1/4 empty', '1/5 not_json', '1/6 not_object', '1/7 forbidden_key', '1/8 invalid_value', '1/9 missing_field', '1/10 too_large',
      '1/16 not_utf8', '1/17 too_large',
    ]);
    // Redaction runs on the worker's path too.
    expect(worker.lines).not.toContain('4111 1111 1111 1111');
    expect(worker.lines).toContain('"outcome":"error"');
  });
});
