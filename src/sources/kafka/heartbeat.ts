// Heartbeats while a batch keeps eachBatch busy (in the pipeline, or waiting for room), so a long
// batch does not cost the group membership.
import type { EachBatchPayload } from 'kafkajs';
import type { Logger } from 'pino';

/** Heartbeats every half heartbeat interval (100 ms at least) until the timer is cleared; a failed one is logged at debug level. */
export function heartbeatMeanwhile(payload: EachBatchPayload, heartbeatIntervalMs: number, logger: Logger, failedMessage: string): NodeJS.Timeout {
  const { heartbeat, batch } = payload;
  const { topic, partition } = batch;
  return setInterval(() => {
    heartbeat().catch((error: unknown) => logger.debug({ err: error, topic, partition }, failedMessage));
  }, Math.max(100, Math.floor(heartbeatIntervalMs / 2)));
}
