// The signal stage wired once: correlation tracker, metrics sink, span sink and the /metrics
// exposition, sharing one registry and one trace-identity resolver (so exemplars name kept spans).
// `paysignal run` and the demo pass `sinks` and `tracker` to createPipeline and `exposition` to the
// HTTP server.
import type { Registry } from 'prom-client';
import type { Classifier } from '../classify/classifier.ts';
import type { CorrelationConfig } from '../classify/config.ts';
import { createCorrelationTracker, type CorrelationTracker } from '../classify/correlation.ts';
import type { EventSink } from '../pipeline/types.ts';
import type { MetricsConfig, TracingConfig } from './config.ts';
import { createExposition, createMetricsRegistry, type Exposition } from './exposition.ts';
import { createMetricsSink, type MetricsSink } from './metrics.ts';
import { createSpanIdentityResolver } from './trace-identity.ts';
import { createTraceSink, type TraceSink, type TraceSinkOptions } from './traces.ts';

export interface SignalsOptions {
  /** Catalog knowledge for bounded labels: catalog codes and providers pass freely. */
  readonly classifier: Pick<Classifier, 'isCatalogCode' | 'catalogs'>;
  /** Default: a new registry with default process metrics. */
  readonly registry?: Registry;
  /** The `metrics` section of the configuration (plus, for tests, the cap on providers without a catalog). */
  readonly metrics: MetricsConfig & { readonly maxProviders?: number };
  /** The `tracing` section of the configuration, plus exporter settings (OTEL_* otherwise). */
  readonly tracing: TracingConfig & Omit<TraceSinkOptions, 'registry' | 'identity' | 'successSampleRatio' | 'maxErrorSpansPerSecond'>;
  /** The `correlation` section of the configuration. */
  readonly correlation: CorrelationConfig;
}

export interface Signals {
  readonly registry: Registry;
  readonly exposition: Exposition;
  readonly tracker: CorrelationTracker;
  readonly metrics: MetricsSink;
  /** Null when tracing is off (config, OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none). */
  readonly traces: TraceSink | null;
  /** For createPipeline: metrics first, then spans. */
  readonly sinks: readonly EventSink[];
  /** Stops the span export (bounded wait) and the metrics clock. */
  close(): Promise<void>;
}

export function createSignals(options: SignalsOptions): Signals {
  const registry = options.registry ?? createMetricsRegistry();
  const { classifier } = options;
  const { tracing } = options;
  let traces: TraceSink | null = null;
  if (tracing.enabled) {
    const identity = createSpanIdentityResolver({ successSampleRatio: tracing.success_sample_ratio, maxErrorSpansPerSecond: tracing.max_error_spans_per_second });
    const sink = createTraceSink({ ...tracing, registry, identity });
    if (sink.enabled) traces = sink;
    else void sink.close();
  }
  const traceSink = traces;
  const metrics = createMetricsSink({
    registry,
    isCatalogCode: (provider, code) => classifier.isCatalogCode(provider, code),
    isKnownProvider: (provider) => classifier.catalogs.has(provider),
    metrics: options.metrics,
    ...(options.metrics.maxProviders === undefined ? {} : { maxProviders: options.metrics.maxProviders }),
    ...(traceSink !== null ? { exemplarTraceId: traceSink.exemplarTraceId.bind(traceSink) } : {}),
  });
  const tracker = createCorrelationTracker({ correlation: options.correlation });
  return {
    registry,
    exposition: createExposition(registry),
    tracker,
    metrics,
    traces,
    sinks: traces === null ? [metrics] : [metrics, traces],
    async close() {
      await metrics.close?.();
      await traces?.close();
    },
  };
}
