// The output of `paysignal classify`: one JSON line per input line (docs/architecture.md#cli-and-configuration), and the
// classification of a whole chunk of complete lines, which is the unit of work of the workers.
import type { Classifier } from '../../classify/classifier.ts';
import type { Classification } from '../../classify/classification.ts';
import type { Decoder } from '../../events/decode.ts';
import type { Rejection } from '../../pipeline/types.ts';
import { LineBuffer } from './line-buffer.ts';

const str = (value: string | null): string => (value === null ? 'null' : JSON.stringify(value));

// Provider, operation, code, category, retry and field repeat from line to line: their JSON text is
// remembered (bounded, so a stream of made-up codes cannot grow it). Correlation ids never repeat.
const quotedByValue = new Map<string, string>();
const MAX_REMEMBERED_VALUES = 8192;

function quoted(value: string | null): string {
  if (value === null) return 'null';
  let text = quotedByValue.get(value);
  if (text === undefined) {
    text = JSON.stringify(value);
    if (quotedByValue.size < MAX_REMEMBERED_VALUES) quotedByValue.set(value, text);
  }
  return text;
}

const CLASSIFIED_TAIL = ',"reason":null,"detail":null}';

function prefixOf(c: Classification): string {
  return (
    `{"outcome":"${c.outcome}","provider":${quoted(c.provider)},"operation":${quoted(c.operation)},` +
    `"status_code":${c.statusCode === null ? 'null' : c.statusCode},"code":${quoted(c.code)},` +
    `"category":${quoted(c.category)},"retry":${quoted(c.retry)},"known":${c.known},"field":${quoted(c.field)},` +
    '"correlation_id":'
  );
}

// Success lines, most of a log, differ only in provider, operation, status code and correlation id:
// the text before the correlation id is made once per (provider, operation, status code). Bounded,
// like quotedByValue.
const successPrefixes = new Map<string, Map<string | null, Map<number | null, string>>>();
let rememberedPrefixes = 0;
const MAX_REMEMBERED_PREFIXES = 4096;

function successPrefix(c: Classification): string {
  let byOperation = successPrefixes.get(c.provider);
  let byStatus = byOperation?.get(c.operation);
  const known = byStatus?.get(c.statusCode);
  if (known !== undefined) return known;
  const prefix = prefixOf(c);
  if (rememberedPrefixes < MAX_REMEMBERED_PREFIXES) {
    rememberedPrefixes++;
    if (byOperation === undefined) successPrefixes.set(c.provider, (byOperation = new Map()));
    if (byStatus === undefined) byOperation.set(c.operation, (byStatus = new Map()));
    byStatus.set(c.statusCode, prefix);
  }
  return prefix;
}

/** One output line; built by hand because this runs once per event. */
export function formatClassification(c: Classification): string {
  const prefix = c.outcome === 'success' ? successPrefix(c) : prefixOf(c);
  return prefix + str(c.correlationId) + CLASSIFIED_TAIL;
}

export function formatRejection(rejection: Rejection): string {
  return (
    '{"outcome":"invalid","provider":null,"operation":null,"status_code":null,"code":null,' +
    '"category":null,"retry":null,"known":false,"field":null,"correlation_id":null,' +
    `"reason":"${rejection.reason}","detail":${JSON.stringify(rejection.detail)}}`
  );
}

export function tooLargeLine(bytes: number, maxEventBytes: number): string {
  return formatRejection({ reason: 'too_large', detail: `event is ${bytes} bytes; the limit is ${maxEventBytes}` });
}

export interface ChunkResult {
  /** Output lines as UTF-8, each ending in a newline, in an ArrayBuffer of their own (transferable). */
  readonly output: Buffer;
  readonly lines: number;
  readonly invalid: number;
}

const NEWLINE = 0x0a;
const CR = 0x0d;

// One per thread: chunks are classified one at a time, and each takes its lines out at its end.
const outputLines = new LineBuffer();

/** Classifies every line of `chunk`, which holds complete lines (a last line may lack its newline). */
export function classifyChunk(bytes: Uint8Array, decoder: Decoder, classifier: Classifier): ChunkResult {
  // A chunk that came from a worker's message is a plain Uint8Array: as a Buffer, its lines are too.
  const chunk = bytes instanceof Buffer ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let lines = 0;
  let invalid = 0;
  let start = 0;
  while (start < chunk.length) {
    let end = chunk.indexOf(NEWLINE, start);
    if (end === -1) end = chunk.length;
    const stop = end > start && chunk[end - 1] === CR ? end - 1 : end;
    const decoded = decoder.decode(chunk.subarray(start, stop));
    lines++;
    if (decoded.ok) {
      outputLines.push(formatClassification(classifier.classify(decoded.event)));
    } else {
      invalid++;
      outputLines.push(formatRejection(decoded.rejection));
    }
    start = end + 1;
  }
  return { output: outputLines.take(), lines, invalid };
}
