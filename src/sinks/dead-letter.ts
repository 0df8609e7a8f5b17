// The dead-letter topic (docs/architecture.md#input-the-payment-call-event): every rejected record is written with its original bytes,
// key and headers, plus headers saying why and where it came from. `flush` resolves only when every
// record added so far is acknowledged by the brokers; when a write fails it rejects, so the source
// does not commit the batch and the records come again (nothing is lost). Failures are logged and
// counted.
import { Partitioners, type Kafka, type Message, type Producer, type IHeaders } from 'kafkajs';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { DeadLetterSink, Rejection } from '../pipeline/types.ts';
import type { SourceRecord } from '../sources/record.ts';

export const DEAD_LETTER_HEADERS = {
  reason: 'paysignal-reason',
  detail: 'paysignal-detail',
  sourceTopic: 'paysignal-source-topic',
  sourcePartition: 'paysignal-source-partition',
  sourceOffset: 'paysignal-source-offset',
} as const;

const OWN_HEADERS = new Set<string>(Object.values(DEAD_LETTER_HEADERS));

/** Details longer than this are cut (they are for people; the original bytes travel in the value). */
const MAX_DETAIL_BYTES = 1024;

export interface KafkaDeadLetterOptions {
  readonly kafka: Kafka;
  readonly topic: string;
  readonly registry: Registry;
  readonly logger: Logger;
  /** Per-send timeout for the brokers' acknowledgement (ms; `dead_letter.timeout`). */
  readonly timeoutMs: number;
  /** Producer-level retries of a failed send before flush rejects. */
  readonly retries?: number;
}

export interface KafkaDeadLetterSink extends DeadLetterSink {
  connect(): Promise<void>;
  /** Records added and not yet written. */
  pending(): number;
  close(): Promise<void>;
}

function dlqCounters(registry: Registry): { events: Counter; failures: Counter } {
  const events =
    (registry.getSingleMetric('paysignal_dead_letter_events_total') as Counter | undefined) ??
    new Counter({
      name: 'paysignal_dead_letter_events_total',
      help: 'Rejected events written to the dead-letter topic (counted once the brokers acknowledged them).',
      registers: [registry],
    });
  const failures =
    (registry.getSingleMetric('paysignal_dead_letter_failures_total') as Counter | undefined) ??
    new Counter({
      name: 'paysignal_dead_letter_failures_total',
      help: 'Failed writes to the dead-letter topic (the batch is not committed and is processed again).',
      registers: [registry],
    });
  return { events, failures };
}

function truncate(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= MAX_DETAIL_BYTES) return text;
  return `${bytes.subarray(0, MAX_DETAIL_BYTES - 3).toString('utf8').replace(/\uFFFD$/, '')}...`;
}

/** The dead-letter message for one rejected record. */
export function deadLetterMessage(record: SourceRecord, rejection: Rejection): Message {
  const headers: IHeaders = {};
  for (const [name, value] of Object.entries(record.headers)) {
    if (value === undefined || OWN_HEADERS.has(name.toLowerCase())) continue;
    headers[name] = value;
  }
  headers[DEAD_LETTER_HEADERS.reason] = rejection.reason;
  headers[DEAD_LETTER_HEADERS.detail] = truncate(rejection.detail);
  headers[DEAD_LETTER_HEADERS.sourceTopic] = record.topic;
  headers[DEAD_LETTER_HEADERS.sourcePartition] = String(record.partition);
  headers[DEAD_LETTER_HEADERS.sourceOffset] = record.offset;
  return { key: record.key, value: record.value, headers };
}

export function createKafkaDeadLetterSink(options: KafkaDeadLetterOptions): KafkaDeadLetterSink {
  const { kafka, topic, logger } = options;
  const counters = dlqCounters(options.registry);
  const producer: Producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
    idempotent: false,
    maxInFlightRequests: 1,
    retry: { retries: options.retries ?? 3, initialRetryTime: 200, maxRetryTime: 5000 },
  });
  let buffered: Message[] = [];
  let connected: Promise<void> | null = null;
  let chain: Promise<void> = Promise.resolve();
  const inflight = new Set<Promise<void>>();

  async function ensureConnected(): Promise<void> {
    connected ??= producer.connect().catch((error: unknown) => {
      connected = null;
      throw error;
    });
    await connected;
  }

  async function write(messages: Message[]): Promise<void> {
    try {
      await ensureConnected();
      await producer.send({ topic, messages, acks: -1, timeout: options.timeoutMs });
      counters.events.inc(messages.length);
    } catch (error) {
      counters.failures.inc();
      logger.error({ err: error, topic, records: messages.length }, 'writing to the dead-letter topic failed; the batch will not be committed');
      throw error;
    }
  }

  return {
    async connect() {
      await ensureConnected();
    },
    add(record, rejection) {
      buffered.push(deadLetterMessage(record, rejection));
    },
    pending() {
      return buffered.length;
    },
    async flush() {
      // A flush resolves only when every record added before it is written. With partitions handled
      // concurrently another batch's flush may have taken our records into its write, so wait for
      // every write in flight; when any fails, reject (the batch is processed again; at worst a
      // record is dead-lettered twice, never lost).
      const messages = buffered;
      buffered = [];
      if (messages.length > 0) {
        const run = chain.then(() => write(messages));
        chain = run.catch(() => {});
        inflight.add(run);
        const settle = (): void => void inflight.delete(run);
        run.then(settle, settle);
      }
      await Promise.all([...inflight]);
    },
    async close() {
      await chain;
      await producer.disconnect();
      connected = null;
    },
  };
}
