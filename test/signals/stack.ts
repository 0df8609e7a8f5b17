// The whole signal path as `paysignal run` wires it, for the end-to-end signal tests:
// decode -> classify -> correlate -> metrics + spans, served over HTTP.
import { createClassifier, type Classifier } from '../../src/classify/classifier.ts';
import { createDecoder } from '../../src/events/decode.ts';
import { createPipeline, type Pipeline } from '../../src/pipeline/pipeline.ts';
import type { DeadLetterSink, Rejection } from '../../src/pipeline/types.ts';
import { startHttpServer, type HttpServer } from '../../src/server/http.ts';
import { createSignals, type Signals, type SignalsOptions } from '../../src/sinks/signals.ts';
import type { SourceRecord } from '../../src/sources/record.ts';
import { DEFAULT_CONFIG } from '../support/config.ts';

export interface Stack {
  readonly pipeline: Pipeline;
  readonly signals: Signals;
  readonly server: HttpServer;
  readonly classifier: Classifier;
  readonly deadLetters: Array<{ record: SourceRecord; rejection: Rejection }>;
  /** Feeds events (objects are JSON-encoded, strings sent as they are) as one Kafka batch. */
  feed(events: readonly unknown[]): Promise<void>;
  metricsText(openMetrics?: boolean): Promise<string>;
  close(): Promise<void>;
}

let offset = 0;

export async function startStack(
  options: Partial<Pick<SignalsOptions, 'registry' | 'metrics' | 'correlation'>> & { readonly tracing?: Partial<SignalsOptions['tracing']> } = {},
): Promise<Stack> {
  const classifier = await createClassifier();
  const signals = createSignals({
    classifier,
    metrics: options.metrics ?? DEFAULT_CONFIG.metrics,
    correlation: options.correlation ?? DEFAULT_CONFIG.correlation,
    ...(options.registry === undefined ? {} : { registry: options.registry }),
    // Every span kept and none sampled away: the tests look at each call's span.
    tracing: { ...DEFAULT_CONFIG.tracing, success_sample_ratio: 1, max_error_spans_per_second: 0, ...options.tracing },
  });
  const deadLetters: Array<{ record: SourceRecord; rejection: Rejection }> = [];
  const deadLetter: DeadLetterSink = {
    add: (record, rejection) => void deadLetters.push({ record, rejection }),
    flush: async () => undefined,
  };
  const pipeline = createPipeline({ decoder: createDecoder({ idHeaders: classifier.idHeaders }), classifier, tracker: signals.tracker, sinks: signals.sinks, deadLetter });
  const server = await startHttpServer({ exposition: signals.exposition, host: '127.0.0.1', port: 0 });
  return {
    pipeline,
    signals,
    server,
    classifier,
    deadLetters,
    async feed(events) {
      const records: SourceRecord[] = events.map((e) => ({
        value: Buffer.from(typeof e === 'string' ? e : JSON.stringify(e)),
        source: 'kafka',
        topic: 'payment-calls',
        partition: 0,
        offset: String(offset++),
        key: null,
        headers: {},
      }));
      await pipeline.handleBatch(records);
    },
    async metricsText(openMetrics = false) {
      const response = await fetch(`${server.url}/metrics`, openMetrics ? { headers: { accept: 'application/openmetrics-text; version=1.0.0' } } : {});
      return await response.text();
    },
    async close() {
      await server.close();
      await pipeline.close();
      await signals.close();
    },
  };
}
