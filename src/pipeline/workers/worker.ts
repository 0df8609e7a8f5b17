// A processing worker of the Kafka path: decode, classify, correlate, metrics and spans for the
// partitions the main thread routes here. It has its own decoder, classifier, correlation tracker,
// metrics registry and span exporter; the main thread keeps the consumer, the commits, the
// dead-letter producer and the alert engine (docs/architecture.md#worker-threads).
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { createClassifier } from '../../classify/classifier.ts';
import { PaysignalError } from '../../errors.ts';
import { createDecoder } from '../../events/decode.ts';
import { loadMapping } from '../../events/mapping.ts';
import { createLogger } from '../../logging.ts';
import { createMetricsRegistry } from '../../sinks/exposition.ts';
import { eventLine, invalidLine } from '../../sinks/events-file.ts';
import type { SourceRecord } from '../../sources/record.ts';
import { signalsFromConfig } from '../from-config.ts';
import { createPipeline } from '../pipeline.ts';
import type { DeadLetterSink } from '../types.ts';
import type { BatchReply, BatchRequest, MetricSnapshot, WorkerReply, WorkerRequest, WorkerSetup } from './protocol.ts';
import { SignalPacker } from './signal-tuples.ts';

const port = parentPort;
if (port === null) throw new Error('the processing worker must run in a worker thread');
const setup = workerData as WorkerSetup;
const logger = createLogger({ level: setup.logLevel }).child({ component: 'worker', worker: setup.index });
const post = (reply: WorkerReply, transfer: ArrayBuffer[] = []): void => port.postMessage(reply, transfer);

/** Rejections go back to the main thread, whose dead-letter producer writes them. */
const NO_DEAD_LETTER: DeadLetterSink = { add() {}, async flush() {} };
const NO_HEADERS: SourceRecord['headers'] = Object.freeze({});

async function build() {
  const { config } = setup;
  const [classifier, mapping] = await Promise.all([createClassifier(), loadMapping(config.input.mapping)]);
  const decoder = createDecoder({ maxBytes: config.input.max_event_bytes, mapping, idHeaders: classifier.idHeaders });
  const registry = createMetricsRegistry({ defaultMetrics: false });
  const signals = signalsFromConfig(config, classifier, registry);
  const pipeline = createPipeline({ decoder, classifier, tracker: signals.tracker, sinks: signals.sinks, deadLetter: NO_DEAD_LETTER });
  return { registry, signals, pipeline };
}

let built: Awaited<ReturnType<typeof build>>;
try {
  built = await build();
} catch (error) {
  const e = error instanceof PaysignalError ? error : null;
  post({ kind: 'start-failed', code: e?.code ?? 'WORKER_START_FAILED', message: (error as Error).message, file: e?.file, field: e?.field });
  throw error;
}
const { registry, pipeline, signals } = built;
const packer = setup.signalTuples ? new SignalPacker() : null;

async function processBatch(request: BatchRequest): Promise<BatchReply> {
  const { bytes, ends, offsets, source, topic, partition } = request;
  const rejected: { index: number; reason: BatchReply['rejected'][number]['reason']; detail: string }[] = [];
  let lines = '';
  let start = 0;
  for (let i = 0; i < ends.length; i++) {
    const end = ends[i]!;
    const value = end < 0 ? null : Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start);
    if (end >= 0) start = end;
    const record: SourceRecord = { value, source, topic, partition, offset: offsets[i] ?? '', key: null, headers: NO_HEADERS };
    const outcome = pipeline.processRecord(record);
    if (outcome.ok) {
      packer?.add(i, outcome.processed);
      if (setup.eventLines) lines += eventLine(outcome.processed);
    } else {
      rejected.push({ index: i, reason: outcome.rejection.reason, detail: outcome.rejection.detail });
      if (setup.eventLines) lines += invalidLine(record, outcome.rejection);
    }
  }
  await pipeline.flush();
  const tuples = packer?.take() ?? { signals: new Float64Array(0), newClasses: [], newViolations: [] };
  return { id: request.id, ...tuples, rejected, lines, lineCount: setup.eventLines ? ends.length : 0 };
}

// Batches wait here, with an event-loop turn after every TURN_EVERY_MS of processing: the port
// delivers every message it holds in one go, so with the source's fetch-ahead a worker would process
// dozens of batches back to back and its span exporter (its HTTP requests and answers, its timer)
// would get no turn meanwhile: the export queue filled and the spans were dropped as queue_full
// where the main thread, which waits for the brokers between batches, exported them. (A turn after
// every batch costs more than it buys when batches are small.)
const TURN_EVERY_MS = 5;
const waiting: BatchRequest[] = [];
let processing = false;
let turnAt = 0;
// The replies of a run go back in one message when it ends (at the turn, or when no batch is
// waiting), so a reply waits at most TURN_EVERY_MS and one batch; see BatchReplies for why. A
// message holds at most one batch of a partition: the main thread hands all of a message's batches
// to the events file and the engine before the first is committed, and a crash then has the source
// process them again, as with one message per batch: grouping adds at most one batch per partition
// to what a crash repeats (docs/architecture.md, fetch-ahead; test/kafka/run-process.test.ts).
let replies: BatchReply[] = [];
let replied: BatchRequest[] = [];
let transfer: ArrayBuffer[] = [];

function postReplies(): void {
  if (replies.length === 0) return;
  post({ kind: 'batches', replies }, transfer);
  replies = [];
  replied = [];
  transfer = [];
}

function hasReplyOf(request: BatchRequest): boolean {
  for (let i = 0; i < replied.length; i++) if (replied[i]!.partition === request.partition && replied[i]!.topic === request.topic) return true;
  return false;
}

function processNext(): void {
  const request = waiting.shift()!;
  processBatch(request)
    .then(
      (reply) => {
        replies.push(reply);
        replied.push(request);
        transfer.push(reply.signals.buffer as ArrayBuffer);
      },
      (error: unknown) => {
        logger.error({ err: error, topic: request.topic, partition: request.partition }, 'batch failed in the worker');
        postReplies();
        post({ kind: 'batch-failed', id: request.id, message: (error as Error).message });
      },
    )
    .finally(() => {
      if (waiting.length === 0) {
        postReplies();
        processing = false;
      } else if (performance.now() - turnAt < TURN_EVERY_MS) {
        if (hasReplyOf(waiting[0]!)) postReplies();
        processNext();
      } else {
        postReplies();
        startProcessing();
      }
    });
}

/** Processes the waiting batches from the next event-loop turn on. */
function startProcessing(): void {
  processing = true;
  setImmediate(() => {
    turnAt = performance.now();
    processNext();
  });
}

port.on('message', (request: WorkerRequest) => {
  switch (request.kind) {
    case 'batch':
      waiting.push(request);
      if (!processing) startProcessing();
      return;
    case 'metrics':
      registry.getMetricsAsJSON().then(
        (metrics) => post({ kind: 'metrics', id: request.id, metrics: metrics as unknown as MetricSnapshot[] }),
        (error: unknown) => {
          logger.warn({ err: error }, 'reading the worker metrics failed');
          post({ kind: 'metrics', id: request.id, metrics: [] });
        },
      );
      return;
    case 'label-verdicts':
      signals.metrics.guard.settle(request.verdicts);
      return;
    case 'close':
      // Closes the sinks: the last spans are exported.
      pipeline
        .close()
        .catch((error: unknown) => logger.warn({ err: error }, 'closing the worker sinks failed'))
        .finally(() => {
          post({ kind: 'closed' });
          logger.flush();
          port.close();
        });
      return;
  }
});

const metrics = registry.getMetricsAsArray() as unknown as MetricSnapshot[];
post({ kind: 'ready', metrics: metrics.map((m) => ({ name: m.name, help: m.help, type: m.type, aggregator: m.aggregator })), heapLimitBytes: getHeapStatistics().heap_size_limit });
