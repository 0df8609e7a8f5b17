// The state topic: a compacted Kafka topic that keeps the latest value per key (the alert engine's
// checkpoint, keyed by consumer group). Values go to partition 0, so one partition holds every
// version of a key and the newest is the last one read.
//
// - ensure(): the topic exists, or is created with cleanup.policy=compact when the client may;
//   otherwise a PaysignalError (STATE_TOPIC_MISSING) says exactly what to create.
// - load(key): reads partition 0 from its earliest to its end offset as of the call (a consumer
//   with a throwaway group: kafkajs has no group-less reading) and returns the newest value.
// - save(key, bytes): produces with acks from all in-sync replicas (uncompressed: the values it is
//   made for, engine checkpoints, are compressed already).
import { randomUUID } from 'node:crypto';
import { type Admin, type Consumer, type Kafka } from 'kafkajs';
import { connectOnUse } from './client.ts';
import type { Logger } from 'pino';
import { PaysignalError } from '../../errors.ts';

export const STATE_PARTITION = 0;

export interface StateTopicOptions {
  readonly kafka: Kafka;
  readonly topic: string;
  readonly logger: Logger;
  /** Values larger than this are not written (what the reader of a value accepts is its business). */
  readonly maxValueBytes: number;
  /** How long load() may take before it gives up; default 60 s. */
  readonly loadTimeoutMs?: number;
}

export interface StoredValue {
  readonly value: Buffer;
  /** Offset of the record in partition 0. */
  readonly offset: string;
  readonly timestamp: string;
}

export type LoadResult =
  | { readonly found: true; readonly stored: StoredValue }
  /** Never written, or deleted (the newest record is a tombstone). */
  | { readonly found: false; readonly reason: 'none' | 'deleted' };

export interface StateTopic {
  readonly topic: string;
  ensure(): Promise<void>;
  /** Rejects when `signal` aborts first (the reader is stopped). */
  load(key: string, signal?: AbortSignal): Promise<LoadResult>;
  save(key: string, value: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** A value over the size limit (code STATE_VALUE_TOO_LARGE); it was not written. */
export class StateValueTooLarge extends PaysignalError {
  readonly bytes: number;
  constructor(topic: string, bytes: number, limit: number) {
    super('STATE_VALUE_TOO_LARGE', `a ${bytes}-byte value for the state topic ${topic} is over the ${limit}-byte limit; it was not written`);
    this.name = 'StateValueTooLarge';
    this.bytes = bytes;
  }
}

function createTopicErrorType(error: unknown): string | undefined {
  const e = error as { type?: unknown; errors?: ReadonlyArray<{ type?: unknown }> } | null;
  if (typeof e?.type === 'string') return e.type;
  const inner = e?.errors?.find((x) => typeof x.type === 'string');
  return typeof inner?.type === 'string' ? inner.type : undefined;
}

/** What to run on a cluster where paysignal may not create topics. */
export function stateTopicInstruction(topic: string): string {
  return (
    `create it with one partition and cleanup.policy=compact, e.g. ` +
    `kafka-topics.sh --bootstrap-server <broker> --create --topic ${topic} --partitions 1 --config cleanup.policy=compact, ` +
    `or name an existing compacted topic in kafka.state_topic / KAFKA_STATE_TOPIC`
  );
}

export function createStateTopic(options: StateTopicOptions): StateTopic {
  const { kafka, topic, logger, maxValueBytes } = options;
  const loadTimeoutMs = options.loadTimeoutMs ?? 60_000;
  const producer = connectOnUse(() => kafka.producer({ allowAutoTopicCreation: false, idempotent: false, maxInFlightRequests: 1 }));

  async function withAdmin<T>(work: (admin: Admin) => Promise<T>): Promise<T> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      return await work(admin);
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  async function warnUnlessCompacted(admin: Admin): Promise<void> {
    try {
      const described = await admin.describeConfigs({ resources: [{ type: 2 /* TOPIC */, name: topic, configNames: ['cleanup.policy'] }], includeSynonyms: false });
      const policy = described.resources[0]?.configEntries.find((c) => c.configName === 'cleanup.policy')?.configValue;
      if (policy !== undefined && !policy.split(',').includes('compact')) {
        logger.warn({ topic, cleanupPolicy: policy }, `the state topic is not compacted: every checkpoint is kept until retention removes it; set cleanup.policy=compact on ${topic}`);
      }
    } catch (error) {
      // Not every cluster lets a client read topic configs (nor does the embedded broker); the topic works either way.
      logger.debug({ err: error, topic }, 'cannot read the state topic configuration');
    }
  }

  return {
    topic,

    async ensure() {
      await withAdmin(async (admin) => {
        // listTopics, not a metadata request for the topic: that could auto-create it uncompacted.
        if ((await admin.listTopics()).includes(topic)) {
          await warnUnlessCompacted(admin);
          return;
        }
        try {
          await admin.createTopics({
            waitForLeaders: true,
            topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
          });
          logger.info({ topic }, 'created the state topic (1 partition, cleanup.policy=compact)');
        } catch (error) {
          const type = createTopicErrorType(error);
          if (type === 'TOPIC_ALREADY_EXISTS') return;
          // The cluster answered (listTopics) but would not create it: not allowed, a policy, or no
          // controller to ask (the embedded broker). Either way the operator creates it.
          const cause = type ?? (error instanceof Error ? error.message : String(error));
          throw new PaysignalError('STATE_TOPIC_MISSING', `the state topic ${topic} does not exist and paysignal may not create it (${cause}); ${stateTopicInstruction(topic)}`, {
            field: 'kafka.state_topic',
            cause: error,
          });
        }
      });
    },

    async load(key, signal) {
      const { low, high } = await withAdmin(async (admin) => {
        const offsets = await admin.fetchTopicOffsets(topic);
        const p = offsets.find((o) => o.partition === STATE_PARTITION);
        if (p === undefined) throw new PaysignalError('STATE_TOPIC_MISSING', `the state topic ${topic} has no partition ${STATE_PARTITION}; ${stateTopicInstruction(topic)}`, { field: 'kafka.state_topic' });
        return { low: BigInt(p.low), high: BigInt(p.high) };
      });
      if (high <= low) return { found: false, reason: 'none' };

      let latest: StoredValue | { readonly value: null } | null = null;
      let done: () => void = () => {};
      const reachedEnd = new Promise<void>((resolve) => (done = resolve));
      const consumer: Consumer = kafka.consumer({ groupId: `${topic}.reader.${randomUUID()}`, maxWaitTimeInMs: 200, allowAutoTopicCreation: false });
      let timer: NodeJS.Timeout | undefined;
      try {
        await consumer.connect();
        await consumer.subscribe({ topics: [topic], fromBeginning: true });
        await consumer.run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            if (batch.partition !== STATE_PARTITION) return;
            for (const m of batch.messages) {
              if (BigInt(m.offset) >= high) break;
              if (m.key?.toString('utf8') !== key) continue;
              latest = m.value === null || m.value.length === 0 ? { value: null } : { value: m.value, offset: m.offset, timestamp: m.timestamp };
            }
            if (BigInt(batch.lastOffset()) + 1n >= high) done();
          },
        });
        let onAbort: () => void = () => {};
        await Promise.race([
          reachedEnd,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`reading the state topic ${topic} up to offset ${high} took longer than ${loadTimeoutMs} ms`)), loadTimeoutMs);
            onAbort = () => reject(new Error(`reading the state topic ${topic} was aborted`));
            signal?.addEventListener('abort', onAbort, { once: true });
            if (signal?.aborted === true) onAbort();
          }),
        ]).finally(() => signal?.removeEventListener('abort', onAbort));
      } finally {
        clearTimeout(timer);
        await consumer.disconnect().catch(() => {});
      }
      const found = latest as StoredValue | { readonly value: null } | null;
      if (found === null) return { found: false, reason: 'none' };
      if (found.value === null) return { found: false, reason: 'deleted' };
      return { found: true, stored: found };
    },

    async save(key, value) {
      if (value.byteLength > maxValueBytes) throw new StateValueTooLarge(topic, value.byteLength, maxValueBytes);
      const p = await producer.get();
      await p.send({
        topic,
        acks: -1,
        messages: [{ key, value: Buffer.from(value.buffer, value.byteOffset, value.byteLength), partition: STATE_PARTITION }],
      });
    },

    async close() {
      await producer.created?.disconnect().catch(() => {});
    },
  };
}
