// The environment every test service that consumes the test broker is configured with, as a user
// configures it: which broker, topic, group and dead-letter topic, and /metrics served on loopback on
// a port the OS picks (so parallel services never collide).

export interface ConsumedTopic {
  readonly topic: string;
  readonly group: string;
  /** Omitted: KAFKA_DLQ_TOPIC is not set and the service uses its default, as a user who leaves it out. */
  readonly dlq?: string;
}

/** PAYSIGNAL_HTTP_* on 127.0.0.1, port 0: also for runs whose Kafka environment is incomplete on purpose. */
export function loopbackHttpEnv(): Record<string, string> {
  return { PAYSIGNAL_HTTP_HOST: '127.0.0.1', PAYSIGNAL_HTTP_PORT: '0' };
}

/** KAFKA_* for consuming `topic` as `group` from `bootstrapServers`, and PAYSIGNAL_HTTP_* on 127.0.0.1, port 0. */
export function serviceEnv(bootstrapServers: string, consumed: ConsumedTopic): Record<string, string> {
  return {
    KAFKA_BROKERS: bootstrapServers,
    KAFKA_TOPIC: consumed.topic,
    KAFKA_GROUP_ID: consumed.group,
    ...(consumed.dlq === undefined ? {} : { KAFKA_DLQ_TOPIC: consumed.dlq }),
    ...loopbackHttpEnv(),
  };
}
