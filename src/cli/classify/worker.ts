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

const port = parentPort;
if (port === null) throw new Error('classify worker started outside a worker thread');
const setup = workerData as WorkerSetup;
const [classifier, mapping] = await Promise.all([createClassifier(), loadMapping(setup.mapping)]);
const decoder = createDecoder({ maxBytes: setup.maxEventBytes, mapping, idHeaders: classifier.idHeaders });
port.on('message', (request: ChunkRequest) => {
  const { output, lines, invalid } = classifyChunk(request.bytes, decoder, classifier);
  const reply: ChunkReply = { seq: request.seq, output, lines, invalid };
  port.postMessage(reply, [output.buffer as ArrayBuffer]);
});
