// A classify worker: decodes and classifies chunks of lines, so `paysignal classify` uses every core.
import { parentPort, workerData } from 'node:worker_threads';
import { createClassifier } from '../../classify/classifier.ts';
import { createDecoder } from '../../events/decode.ts';
import { loadMapping } from '../../events/mapping.ts';
import { classifyChunk } from './output.ts';

export interface WorkerSetup {
  readonly mapping: string;
  readonly maxEventBytes: number;
}

export interface ChunkRequest {
  readonly seq: number;
  readonly bytes: Uint8Array;
}

export interface ChunkReply {
  readonly seq: number;
  /** The output lines, UTF-8 encoded here so the main thread only writes them (transferred, not copied). */
  readonly output: Uint8Array;
  readonly lines: number;
  readonly invalid: number;
}

/** The text as UTF-8 in an ArrayBuffer of its own: small Buffers share a pool, which must not be transferred. */
function ownedBytes(text: string): Uint8Array {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.length) return bytes;
  const own = new Uint8Array(bytes.length);
  own.set(bytes);
  return own;
}

const port = parentPort;
if (port === null) throw new Error('classify worker started outside a worker thread');
const setup = workerData as WorkerSetup;
const [classifier, mapping] = await Promise.all([createClassifier(), loadMapping(setup.mapping)]);
const decoder = createDecoder({ maxBytes: setup.maxEventBytes, mapping, idHeaders: classifier.idHeaders });
port.on('message', (request: ChunkRequest) => {
  const result = classifyChunk(request.bytes, decoder, classifier);
  const output = ownedBytes(result.text);
  const reply: ChunkReply = { seq: request.seq, output, lines: result.lines, invalid: result.invalid };
  port.postMessage(reply, [output.buffer as ArrayBuffer]);
});
