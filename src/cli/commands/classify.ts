// `paysignal classify [FILE|-]`: one JSON line per input line, in order (DESIGN section 9).
import { createReadStream } from 'node:fs';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import type { Readable, Writable } from 'node:stream';
import { createClassifier, type Classifier } from '../../classify/classifier.ts';
import type { Classification } from '../../classify/classification.ts';
import { createDecoder, DEFAULT_MAX_EVENT_BYTES, type Decoder } from '../../events/decode.ts';
import { loadMapping } from '../../events/mapping.ts';
import { LineSplitter } from '../../sources/file/line-splitter.ts';
import type { Rejection } from '../../pipeline/types.ts';
import { PaysignalError } from '../../errors.ts';

export const CLASSIFY_USAGE = `Usage: paysignal classify [FILE|-] [--mapping native|ecs|otel|FILE] [--max-event-bytes N]

Reads payment-call events as NDJSON from FILE (or standard input for - or no FILE) and writes one
JSON line per input line, in order: outcome, provider, operation, status_code, code, category,
retry, known, field, correlation_id, reason, detail. Invalid lines stay in place with a reason.`;

const str = (value: string | null): string => (value === null ? 'null' : JSON.stringify(value));

/** One output line; built by hand because this runs once per event. */
export function formatClassification(c: Classification): string {
  return (
    `{"outcome":"${c.outcome}","provider":${str(c.provider)},"operation":${str(c.operation)},` +
    `"status_code":${c.statusCode === null ? 'null' : c.statusCode},"code":${str(c.code)},` +
    `"category":${str(c.category)},"retry":${str(c.retry)},"known":${c.known},"field":${str(c.field)},` +
    `"correlation_id":${str(c.correlationId)},"reason":null,"detail":null}`
  );
}

export function formatRejection(rejection: Rejection): string {
  return (
    '{"outcome":"invalid","provider":null,"operation":null,"status_code":null,"code":null,' +
    '"category":null,"retry":null,"known":false,"field":null,"correlation_id":null,' +
    `"reason":"${rejection.reason}","detail":${JSON.stringify(rejection.detail)}}`
  );
}

export interface ClassifyCounts {
  lines: number;
  invalid: number;
}

/** Streams `input` to `output`; resolves with line counts when the input ended and output drained. */
export async function classifyStream(input: Readable, output: Writable, decoder: Decoder, classifier: Classifier, maxEventBytes: number): Promise<ClassifyCounts> {
  const splitter = new LineSplitter(maxEventBytes);
  const counts: ClassifyCounts = { lines: 0, invalid: 0 };
  let out = '';
  const onLine = (line: Buffer, oversizeBytes: number): void => {
    counts.lines++;
    if (oversizeBytes > 0) {
      counts.invalid++;
      out += formatRejection({ reason: 'too_large', detail: `event is ${oversizeBytes} bytes; the limit is ${maxEventBytes}` }) + '\n';
      return;
    }
    const decoded = decoder.decode(line);
    if (decoded.ok) {
      out += formatClassification(classifier.classify(decoded.event)) + '\n';
    } else {
      counts.invalid++;
      out += formatRejection(decoded.rejection) + '\n';
    }
  };
  for await (const chunk of input) {
    splitter.push(chunk as Buffer, onLine);
    if (out.length > 0) {
      const ok = output.write(out);
      out = '';
      if (!ok) await once(output, 'drain');
    }
  }
  splitter.end(onLine);
  if (out.length > 0) output.write(out);
  return counts;
}

export async function classifyCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      mapping: { type: 'string', default: 'native' },
      'max-event-bytes': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${CLASSIFY_USAGE}\n`);
    return 0;
  }
  if (positionals.length > 1) throw new PaysignalError('USAGE', `classify takes one FILE (or -), got ${positionals.length}\n${CLASSIFY_USAGE}`);
  const maxEventBytes = values['max-event-bytes'] === undefined ? DEFAULT_MAX_EVENT_BYTES : Number(values['max-event-bytes']);
  if (!Number.isInteger(maxEventBytes) || maxEventBytes <= 0) {
    throw new PaysignalError('USAGE', `--max-event-bytes must be a positive integer, got "${values['max-event-bytes']}"`);
  }
  const file = positionals[0] ?? '-';
  const input = file === '-' ? process.stdin : createReadStream(file, { highWaterMark: 1 << 20 });
  const opened = file === '-' ? Promise.resolve() : once(input, 'open');
  try {
    await opened;
  } catch (error) {
    throw new PaysignalError('INPUT_NOT_READABLE', `cannot read input: ${(error as Error).message}`, { file });
  }
  const [classifier, mapping] = await Promise.all([createClassifier(), loadMapping(values.mapping)]);
  const decoder = createDecoder({ maxBytes: maxEventBytes, mapping });
  await classifyStream(input, process.stdout, decoder, classifier, maxEventBytes);
  return 0;
}
