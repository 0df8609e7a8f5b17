// What every source hands to the pipeline: the raw bytes of one event and where they came from.

export interface SourceRecord {
  /** The raw event bytes; null for a Kafka tombstone. */
  readonly value: Buffer | null;
  /** `kafka`, `file` or `stdin`: the `source` label of paysignal_events_total. */
  readonly source: string;
  /** Topic name, or the file path for file sources. */
  readonly topic: string;
  readonly partition: number;
  /** Kafka offset (decimal string), or the 1-based line number for files. */
  readonly offset: string;
  readonly key: Buffer | null;
  readonly headers: Readonly<Record<string, Buffer | string | undefined>>;
}
