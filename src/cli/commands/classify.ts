// `paysignal classify [FILE|-]`: one JSON line per input line, in order (docs/architecture.md#cli-and-configuration).
import { createReadStream } from 'node:fs';
import { once } from 'node:events';
import { extname } from 'node:path';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import type { Readable, Writable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { DEFAULT_MAX_EVENT_BYTES } from '../../events/limits.ts';
import { PaysignalError, usageError } from '../../errors.ts';
import { ChunkCutter, type ChunkItem } from '../classify/chunker.ts';
import { classifyChunk, tooLargeLine } from '../classify/output.ts';
import type { ChunkReply, ChunkRequest, WorkerSetup } from '../classify/worker.ts';

export { formatClassification, formatRejection } from '../classify/output.ts';

export const CLASSIFY_USAGE = `Usage: paysignal classify [FILE|-] [--mapping native|ecs|otel|FILE] [--max-event-bytes N] [--workers N]

Reads payment-call events as NDJSON from FILE (or standard input for - or no FILE) and writes one
JSON line per input line, in order: outcome, provider, operation, status_code, code, category,
retry, known, field, correlation_id, reason, detail. Invalid lines stay in place with a reason.
--workers: threads that classify (default: one per core, at most 4; 0 classifies on the main thread).

Examples:
  paysignal classify events.ndjson
  zcat filebeat-events.ndjson.gz | paysignal classify - --mapping ecs
  paysignal classify events.ndjson | jq 'select(.retry == "contact_provider")'

Exit codes: 0 classified (invalid lines included, each with a reason), 1 the input or mapping
could not be read, 2 usage error.`;

export interface ClassifyCounts {
  lines: number;
  invalid: number;
}

export interface ClassifyStreamOptions {
  readonly maxEventBytes: number;
  /** `native`, `ecs`, `otel` or a mapping file; it must load (check it before). */
  readonly mapping: string;
  /** Worker threads; 0 classifies on the calling thread. */
  readonly workers: number;
}

// The worker module has this module's extension: worker.ts from the sources, worker.js in the
// compiled package (which rewrites import specifiers, not URLs).
const WORKER_URL = new URL(`../classify/worker${extname(import.meta.url)}`, import.meta.url);

/** Below this, input is gathered before it is cut: fewer, larger chunks for the workers. */
const MIN_CHUNK_BYTES = 256 * 1024;

/** Where chunks of lines are classified: on this thread, or by a pool of workers. */
interface ChunkClassifier {
  /** Resolves, in any order, with each chunk's output; `onResult` is called once per submitted chunk. */
  submit(seq: number, bytes: Buffer): void;
  close(): Promise<void>;
}

/** A chunk's output lines as UTF-8 and its counts. */
interface ChunkOutput {
  readonly output: Uint8Array;
  readonly lines: number;
  readonly invalid: number;
}

// The decoder and the catalogs are loaded where chunks are classified: here only without workers.
async function inProcess(options: ClassifyStreamOptions, onResult: (seq: number, r: ChunkOutput) => void): Promise<ChunkClassifier> {
  const [{ createClassifier }, { createDecoder }, { loadMapping }] = await Promise.all([
    import('../../classify/classifier.ts'),
    import('../../events/decode.ts'),
    import('../../events/mapping.ts'),
  ]);
  const [classifier, mapping] = await Promise.all([createClassifier(), loadMapping(options.mapping)]);
  const decoder = createDecoder({ maxBytes: options.maxEventBytes, mapping, idHeaders: classifier.idHeaders });
  return {
    submit(seq, bytes) {
      onResult(seq, classifyChunk(bytes, decoder, classifier));
    },
    close: async () => undefined,
  };
}

/** The index of the smallest count; the first of equals. */
export function leastQueued(queued: readonly number[]): number {
  let least = 0;
  for (let i = 1; i < queued.length; i++) if (queued[i]! < queued[least]!) least = i;
  return least;
}

function workerPool(options: ClassifyStreamOptions, onResult: (seq: number, r: ChunkOutput) => void, onError: (e: Error) => void): ChunkClassifier {
  const setup: WorkerSetup = { mapping: options.mapping, maxEventBytes: options.maxEventBytes };
  // Chunks waiting for or in each worker. A chunk goes to the worker with the fewest, so a worker
  // that falls behind (a slower start, a busy core) is not handed its turn while another waits idle.
  const queued = new Array<number>(options.workers).fill(0);
  const workers = Array.from({ length: options.workers }, (_, i) => {
    const worker = new Worker(WORKER_URL, { workerData: setup });
    worker.on('message', (reply: ChunkReply) => {
      queued[i]!--;
      onResult(reply.seq, reply);
    });
    worker.on('error', onError);
    return worker;
  });
  return {
    submit(seq, bytes) {
      const least = leastQueued(queued);
      queued[least]!++;
      const request: ChunkRequest = { seq, bytes };
      workers[least]!.postMessage(request, [bytes.buffer as ArrayBuffer]);
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

/**
 * Streams `input` to `output`, one output line per input line, in order. Chunks of complete lines
 * are classified in parallel; at most a few chunks per worker are in flight, so memory stays bounded
 * whatever the input size.
 */
export async function classifyStream(input: Readable, output: Writable, options: ClassifyStreamOptions): Promise<ClassifyCounts> {
  const counts: ClassifyCounts = { lines: 0, invalid: 0 };
  const ready = new Map<number, Uint8Array>();
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  let inFlight = 0;
  const onResult = (seq: number, r: ChunkOutput): void => {
    ready.set(seq, r.output);
    counts.lines += r.lines;
    counts.invalid += r.invalid;
    inFlight--;
    wake?.();
  };
  const onError = (error: Error): void => {
    failure = error;
    wake?.();
  };
  const classifier = options.workers > 0 ? workerPool(options, onResult, onError) : await inProcess(options, onResult);
  const maxInFlight = Math.max(2, options.workers * 2);
  const waitForResult = (): Promise<void> => new Promise((resolve) => (wake = resolve));
  let seq = 0;
  let next = 0;

  const writeReady = async (): Promise<void> => {
    for (let bytes = ready.get(next); bytes !== undefined; bytes = ready.get(next)) {
      ready.delete(next);
      next++;
      if (bytes.length > 0 && !output.write(bytes)) await once(output, 'drain');
    }
  };
  const dispatch = async (items: ChunkItem[]): Promise<void> => {
    for (const item of items) {
      if (item.kind === 'too_large') {
        counts.lines++;
        counts.invalid++;
        ready.set(seq++, Buffer.from(`${tooLargeLine(item.bytes, options.maxEventBytes)}\n`));
        continue;
      }
      while (inFlight >= maxInFlight && failure === null) {
        await waitForResult();
        await writeReady();
      }
      if (failure) throw failure;
      inFlight++;
      classifier.submit(seq++, item.bytes);
    }
    await writeReady();
  };

  try {
    const cutter = new ChunkCutter(options.maxEventBytes);
    let gathered: Buffer[] = [];
    let gatheredBytes = 0;
    for await (const chunk of input) {
      gathered.push(chunk as Buffer);
      gatheredBytes += (chunk as Buffer).length;
      if (gatheredBytes < MIN_CHUNK_BYTES) continue;
      const items: ChunkItem[] = [];
      cutter.push(gathered.length === 1 ? gathered[0]! : Buffer.concat(gathered, gatheredBytes), items);
      gathered = [];
      gatheredBytes = 0;
      await dispatch(items);
    }
    const items: ChunkItem[] = [];
    if (gatheredBytes > 0) cutter.push(Buffer.concat(gathered, gatheredBytes), items);
    cutter.end(items);
    await dispatch(items);
    while (next < seq) {
      if (failure) throw failure;
      if (!ready.has(next)) await waitForResult();
      await writeReady();
    }
    return counts;
  } finally {
    await classifier.close();
  }
}

export async function classifyCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      mapping: { type: 'string', default: 'native' },
      'max-event-bytes': { type: 'string' },
      workers: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${CLASSIFY_USAGE}\n`);
    return 0;
  }
  if (positionals.length > 1) throw usageError(`classify takes one FILE (or -), got ${positionals.length}\n${CLASSIFY_USAGE}`);
  const maxEventBytes = values['max-event-bytes'] === undefined ? DEFAULT_MAX_EVENT_BYTES : Number(values['max-event-bytes']);
  if (!Number.isInteger(maxEventBytes) || maxEventBytes <= 0) {
    throw usageError(`--max-event-bytes must be a positive integer, got "${values['max-event-bytes']}"`);
  }
  const workers = values.workers === undefined ? Math.min(4, availableParallelism()) : Number(values.workers);
  if (!Number.isInteger(workers) || workers < 0 || workers > 64) {
    throw usageError(`--workers must be a whole number from 0 to 64, got "${values.workers}"`);
  }
  const file = positionals[0] ?? '-';
  const input = file === '-' ? process.stdin : createReadStream(file, { highWaterMark: 1 << 20 });
  const opened = file === '-' ? Promise.resolve() : once(input, 'open');
  try {
    await opened;
  } catch (error) {
    throw new PaysignalError('INPUT_NOT_READABLE', `cannot read input: ${(error as Error).message}`, { file });
  }
  // Load the mapping here first: a bad one is a clear error, not a failing worker.
  if (values.mapping !== 'native') await (await import('../../events/mapping.ts')).loadMapping(values.mapping);
  await classifyStream(input, process.stdout, { maxEventBytes, mapping: values.mapping, workers });
  return 0;
}
