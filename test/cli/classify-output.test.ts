// The bytes `paysignal classify` writes, specified independently of how they are built: per input
// line, JSON.stringify of the documented keys in order (README, "paysignal classify"), as UTF-8.
// Checked on the benchmark's generated events, which cover every provider's shapes, plus lines that
// need escaping.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../../bench/classify/generate.ts';
import { createClassifier, type Classifier } from '../../src/classify/classifier.ts';
import type { Classification } from '../../src/classify/classification.ts';
import type { Rejection } from '../../src/pipeline/types.ts';
import { classifyChunk, formatClassification } from '../../src/cli/classify/output.ts';
import { createDecoder, type Decoder } from '../../src/events/decode.ts';
import { callEvent, line } from '../support/events.ts';
import { runPaysignal } from '../support/cli.ts';

const EDGE_LINES = [
  // Correlation ids and codes outside ASCII, with quotes, backslashes, control characters and a lone surrogate.
  line(callEvent({ provider: 'kustom', status: 200, correlationId: 'é-日本-😀' })),
  line(callEvent({ provider: 'kustom', status: 403, correlationId: 'say "hi" \\ \u0001 \ud800', body: { error_code: 'CÓDIGO_"X"' } })),
  line(callEvent({ provider: 'setel', status: 400, body: { error: { code: 'ñ\u2028' } } })),
  '{"broken": ',
  '',
  '[1,2]',
];

function classifiedLine(c: Classification): string {
  return JSON.stringify({
    outcome: c.outcome, provider: c.provider, operation: c.operation, status_code: c.statusCode, code: c.code,
    category: c.category, retry: c.retry, known: c.known, field: c.field, correlation_id: c.correlationId, reason: null, detail: null,
  });
}

function rejectedLine(r: Rejection): string {
  return JSON.stringify({
    outcome: 'invalid', provider: null, operation: null, status_code: null, code: null, category: null, retry: null,
    known: false, field: null, correlation_id: null, reason: r.reason, detail: r.detail,
  });
}

/** The output line of one input line, decoded and classified on its own. */
function expectedLine(bytes: Uint8Array, decoder: Decoder, classifier: Classifier): string {
  const decoded = decoder.decode(bytes);
  return decoded.ok ? classifiedLine(classifier.classify(decoded.event)) : rejectedLine(decoded.rejection);
}

describe('classify output bytes', () => {
  let dir: string;
  let file: string;
  let expected: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'paysignal-classify-output-'));
    file = join(dir, 'events.ndjson');
    generate({ lines: 6000, seed: 7, out: file });
    await writeFile(file, `${EDGE_LINES.join('\n')}\n`, { flag: 'a' });
    const classifier = await createClassifier();
    const decoder = createDecoder({ idHeaders: classifier.idHeaders });
    const input = (await readFile(file, 'utf8')).split('\n').slice(0, -1);
    const lines = input.map((l) => expectedLine(Buffer.from(l), decoder, classifier));
    expected = Buffer.from(lines.join('\n') + '\n', 'utf8');
  }, 60_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('are the JSON of the documented keys, one line per input line, on one thread and on two workers', async () => {
    for (const workers of ['0', '2']) {
      const result = await runPaysignal(['classify', file, '--workers', workers]);
      expect(result.code).toBe(0);
      expect(Buffer.from(result.stdout, 'utf8').equals(expected)).toBe(true);
    }
    expect(expected.toString('utf8')).toContain('é-日本-😀');
  }, 60_000);
});

describe('classifying a chunk of lines', () => {
  it('gives each line of a chunk what decoding that line alone gives: bad lines, CRLF, UTF-8 text, bytes that are not UTF-8, a line over the limit in bytes only', async () => {
    const lines = [
      line(callEvent({ provider: 'kustom', status: 403, body: { error_code: 'MERCHANT_INACTIVE' }, correlationId: 'c-1' })),
      `${line(callEvent({ provider: 'setel', status: 500 }))}\r`,
      '{"broken": ',
      '',
      '   ',
      '[1,2]',
      '{"timestamp":1763800000000,"provider":"x","__proto__":{"admin":true}}',
      line(callEvent({ provider: 'kustom', status: 400, body: 'x'.repeat(2000) })),
      line(callEvent({ provider: 'mercadopago', status: 200, correlationId: 'c-2' })),
      line(callEvent({ provider: 'kustom', status: 403, correlationId: 'é-日本', body: { error_code: 'MERCHANT_INACTIVE' } })),
      Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
      line(callEvent({ provider: 'kustom', status: 400, body: 'é'.repeat(480) })),
    ].map((l) => (typeof l === 'string' ? Buffer.from(l) : l));
    expect(lines.at(-1)!.toString('utf8').length).toBeLessThan(1000);
    expect(lines.at(-1)!.length).toBeGreaterThan(1000);
    const classifier = await createClassifier();
    const decoder = createDecoder({ idHeaders: classifier.idHeaders, maxBytes: 1000 });
    const expected = lines.map((l) => expectedLine(l.at(-1) === 0x0d ? l.subarray(0, -1) : l, decoder, classifier));

    const result = classifyChunk(Buffer.concat(lines.flatMap((l, i) => (i === 0 ? [l] : [Buffer.from('\n'), l]))), decoder, classifier);
    expect(result.lines).toBe(lines.length);
    expect(result.output.toString('utf8')).toBe(`${expected.join('\n')}\n`);
  });
});

describe('formatClassification', () => {
  const success = (operation: string, statusCode: number, correlationId: string | null): Classification => ({
    outcome: 'success', provider: 'kustom', operation, statusCode, code: null, message: null, category: null, retry: null,
    owner: null, known: false, field: null, errorType: null, correlationId, idempotencyKey: null, matchedBy: 'success',
    entry: null, remediation: null,
  });

  it('writes success lines the same way before and after it stops remembering their prefixes', () => {
    // More distinct (provider, operation, status) triples than it remembers, each seen twice.
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 2500; i++) {
        for (const status of [200, 201]) {
          const c = success(`op "${i}"`, status, i % 2 ? `corr-${i}-${round}` : null);
          expect(formatClassification(c)).toBe(classifiedLine(c));
        }
      }
    }
  });
});
