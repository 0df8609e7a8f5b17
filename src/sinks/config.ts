// The configuration sections of the sinks: dead letter, metrics, spans and the events file.
import { section, setting, type SectionValue } from '../config/declare.ts';

export const deadLetterSection = section('dead_letter', 'Events that cannot be decoded go to a dead-letter topic with their original bytes and the reason in headers.', {
  enabled: setting.boolean({ description: 'Write rejected events to the dead-letter topic (off: they are counted and logged, then skipped).', default: true }),
  topic: setting.string({
    description: 'The dead-letter topic.',
    default: { text: '`<first of kafka.topics>.dead-letter`', from: (raw) => `${firstTopic(raw) ?? 'paysignal'}.dead-letter` },
    env: 'KAFKA_DLQ_TOPIC',
    example: 'payment-calls.dead-letter',
    pattern: '^[A-Za-z0-9._-]{1,249}$',
    patternMessage: 'is not a valid Kafka topic name (letters, digits, ., _ and - only)',
  }),
  timeout: setting.duration({ description: 'How long one dead-letter write may take before the batch is retried.', default: '30s' }),
});

export const metricsSection = section('metrics', 'Prometheus metrics on /metrics.', {
  unknown_code_cap: setting.integer({
    description: 'Error codes outside the catalog kept as their own series per provider; beyond it they count as `__overflow__`.',
    default: 50,
    min: 0,
  }),
  unknown_operation_cap: setting.integer({
    description: 'Operations outside the catalog kept as their own series per provider; beyond it they count as `__overflow__`.',
    default: 50,
    min: 0,
  }),
});

export const tracingSection = section('tracing', 'OpenTelemetry spans over OTLP/HTTP (endpoint and protocol from the standard OTEL_* variables).', {
  enabled: setting.boolean({ description: 'Export one span per call.', default: true }),
  success_sample_ratio: setting.ratio({ description: 'Share of successful calls that get a span (chosen by trace id, so all attempts of a payment agree); errors are limited by max_error_spans_per_second instead.', default: 0.1 }),
  max_error_spans_per_second: setting.integer({
    description: 'Error spans kept per second; above it, sampled per (provider, code), kept spans carry payment.sample_weight. 0 = keep every error span.',
    default: 1000,
    min: 0,
  }),
});

export const eventsFileSection = section('events_file', "Every processed event's classification as one JSON line (NDJSON), written before its offset is committed.", {
  path: setting.path({ description: 'The file (`-` for standard output); off when unset.', default: null, env: 'PAYSIGNAL_EVENTS_FILE', names: ['-'], example: 'processed.ndjson' }),
});

function firstTopic(raw: Readonly<Record<string, unknown>>): string | undefined {
  const topics = (raw.kafka as { topics?: unknown } | undefined)?.topics;
  return Array.isArray(topics) && typeof topics[0] === 'string' ? topics[0] : undefined;
}

export type MetricsConfig = SectionValue<typeof metricsSection>;
export type TracingConfig = SectionValue<typeof tracingSection>;
