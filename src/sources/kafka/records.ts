// A fetched kafkajs batch as the pipeline's source records.
import type { Batch, KafkaMessage } from 'kafkajs';
import type { SourceRecord } from '../record.ts';

function headerValue(value: Buffer | string | (Buffer | string)[] | undefined): Buffer | string | undefined {
  if (Array.isArray(value)) return value[value.length - 1];
  return value;
}

export function toSourceRecord(topic: string, partition: number, message: KafkaMessage): SourceRecord {
  const headers: Record<string, Buffer | string | undefined> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) headers[name] = headerValue(value);
  return {
    value: message.value,
    source: 'kafka',
    topic,
    partition,
    offset: message.offset,
    key: message.key,
    headers,
  };
}

/** The offset kafkajs fetched a batch from (kafkajs's Batch has it; its typings omit it). */
export function fetchedFrom(batch: Batch): bigint | null {
  const offset = (batch as Batch & { readonly fetchedOffset?: string }).fetchedOffset ?? batch.firstOffset();
  return offset === null || offset === undefined ? null : BigInt(offset);
}
