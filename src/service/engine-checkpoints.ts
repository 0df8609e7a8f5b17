// The alert engine's durable state on the Kafka state topic (docs/architecture.md, durable state;
// the contract is in src/alerting/engine/checkpoint.ts):
//
// - restore(): before the source reads, the newest checkpoint of this consumer group is read and
//   handed to the engine (which counts and logs restored / missing / corrupt / incompatible /
//   oversized, and starts cold on anything but restored). Reading is retried while the brokers are
//   unreachable (there is nothing to consume then either). A state topic that does not exist and may
//   not be created (STATE_TOPIC_MISSING) does not stop alerting: the error says what to create, the
//   engine starts cold, checkpoints are skipped (counted), and the topic is looked for again every
//   back-off maximum; once it exists, checkpoints are written.
// - checkpoint(): the source calls it before every offset commit (which it makes every
//   rules.checkpoint_interval): a checkpoint covering everything the engine has been handed is
//   written, so every committed offset is covered by a stored checkpoint, and after a restart the
//   engine ignores the records below its checkpoint's offsets that the source delivers again.
//   Callers that arrive while a write is under way share the next write.
//   Why an interval rather than every batch: bench/RESULTS.md (a checkpoint per batch halved the
//   throughput on the Kafka benchmark, where batches are small).
import { setTimeout as sleep } from 'node:timers/promises';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { AlertEngine } from '../alerting/engine/types.ts';
import { PaysignalError } from '../errors.ts';
import type { Logger } from '../logging.ts';
import { StateValueTooLarge, type StateTopic } from '../sources/kafka/state-topic.ts';

export interface EngineCheckpointsOptions {
  readonly engine: Pick<AlertEngine, 'encodeState' | 'restoreState'>;
  readonly store: StateTopic;
  /** The record key of this engine's checkpoints: the consumer group id. */
  readonly key: string;
  readonly registry: Registry;
  readonly logger: Logger;
  /** Back-off between attempts to read the state; default 500 ms doubling to 30 s. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
}

export interface EngineCheckpoints {
  /** Restores the engine from the state topic; resolves true once done, false when `signal` aborted it first. */
  restore(signal: AbortSignal): Promise<boolean>;
  /** Resolves once a checkpoint taken after this call is stored; rejects when writing it failed. */
  checkpoint(): Promise<void>;
  close(): Promise<void>;
}

export type CheckpointResult = 'saved' | 'failed' | 'oversized' | 'no_topic';

interface CheckpointMetrics {
  readonly checkpoints: Counter<'result'>;
  readonly duration: Histogram<string>;
}

function checkpointMetrics(registry: Registry): CheckpointMetrics {
  const checkpoints =
    (registry.getSingleMetric('paysignal_alert_state_checkpoints_total') as Counter<'result'> | undefined) ??
    new Counter({
      name: 'paysignal_alert_state_checkpoints_total',
      help: 'Alert engine checkpoints by result: saved, failed (the offsets are held and retried), oversized (not written; the stored one stays), no_topic (the state topic is missing; not written).',
      labelNames: ['result'] as const,
      registers: [registry],
    });
  for (const result of ['saved', 'failed', 'oversized', 'no_topic'] satisfies CheckpointResult[]) checkpoints.inc({ result }, 0);
  const duration =
    (registry.getSingleMetric('paysignal_alert_state_checkpoint_duration_seconds') as Histogram<string> | undefined) ??
    new Histogram({
      name: 'paysignal_alert_state_checkpoint_duration_seconds',
      help: 'Time to snapshot, encode and store one alert engine checkpoint (acknowledged by the in-sync replicas).',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    });
  return { checkpoints, duration };
}

export function createEngineCheckpoints(options: EngineCheckpointsOptions): EngineCheckpoints {
  const { engine, store, key, logger } = options;
  const metrics = checkpointMetrics(options.registry);
  const backoffInitialMs = options.backoff?.initialMs ?? 500;
  const backoffMaxMs = options.backoff?.maxMs ?? 30_000;
  let writing: Promise<void> | null = null;
  let next: Promise<void> | null = null;
  /** False while the state topic is missing (STATE_TOPIC_MISSING); checkpoints are skipped then. */
  let topicExists = true;
  let lookAgain: NodeJS.Timeout | null = null;

  function isTopicMissing(error: unknown): error is PaysignalError {
    return error instanceof PaysignalError && error.code === 'STATE_TOPIC_MISSING';
  }

  function lookForTopicLater(): void {
    lookAgain = setTimeout(() => {
      store.ensure().then(
        () => {
          topicExists = true;
          lookAgain = null;
          logger.info({ topic: store.topic }, 'the state topic exists now; the alert engine is checkpointed from here on');
        },
        (error: unknown) => {
          if (isTopicMissing(error)) logger.error({ code: error.code, topic: store.topic }, `${error.message}; the alert engine state is not durable meanwhile`);
          else logger.warn({ err: error, topic: store.topic }, 'cannot look for the state topic; trying again');
          lookForTopicLater();
        },
      );
    }, backoffMaxMs);
    lookAgain.unref();
  }

  async function write(): Promise<void> {
    if (!topicExists) {
      metrics.checkpoints.inc({ result: 'no_topic' });
      return;
    }
    const stopTimer = metrics.duration.startTimer();
    // Taken now, synchronously: it holds every batch handed to the engine before this line.
    const bytes = engine.encodeState();
    try {
      await store.save(key, bytes);
    } catch (error) {
      if (error instanceof StateValueTooLarge) {
        // Holding the batch would not make the next one smaller; the stored checkpoint stays, older
        // than the offsets committed from now on (a restart then misses the records in between).
        metrics.checkpoints.inc({ result: 'oversized' });
        logger.error({ topic: store.topic, key, bytes: bytes.length, code: error.code }, `${error.message}; the alert engine state is not durable until it shrinks (fewer groups or shorter windows)`);
        return;
      }
      metrics.checkpoints.inc({ result: 'failed' });
      throw error;
    }
    stopTimer();
    metrics.checkpoints.inc({ result: 'saved' });
  }

  function checkpoint(): Promise<void> {
    if (writing === null) {
      writing = write().finally(() => {
        writing = null;
      });
      return writing;
    }
    // The write under way took its snapshot before this caller's batch; the next one covers it.
    next ??= writing
      .catch(() => {})
      .then(() => {
        next = null;
        return checkpoint();
      });
    return next;
  }

  return {
    async restore(signal) {
      for (let attempt = 1; !signal.aborted; attempt++) {
        try {
          await store.ensure();
          const loaded = await store.load(key, signal);
          if (signal.aborted) return false;
          const report = engine.restoreState(loaded.found ? loaded.stored.value : null);
          logger.info(
            { topic: store.topic, key, result: report.result, bytes: report.bytes, ...(loaded.found ? { offset: loaded.stored.offset, writtenAt: new Date(Number(loaded.stored.timestamp)).toISOString() } : {}) },
            report.result === 'restored' ? 'alert engine state restored from the state topic' : 'alert engine starts cold',
          );
          return true;
        } catch (error) {
          if (isTopicMissing(error)) {
            logger.error({ code: error.code, topic: store.topic, field: error.field }, `${error.message}; the alert engine starts cold and is not durable until the topic exists`);
            topicExists = false;
            engine.restoreState(null);
            lookForTopicLater();
            return true;
          }
          const delay = Math.min(backoffMaxMs, backoffInitialMs * 2 ** Math.min(20, attempt - 1));
          if (error instanceof PaysignalError) {
            logger.error({ err: error, code: error.code, topic: store.topic, retryInMs: delay }, `${error.message}; consumption waits for the alert engine state`);
          } else {
            logger.warn({ err: error, topic: store.topic, attempt, retryInMs: delay }, 'cannot read the alert engine state from the state topic; retrying (consumption waits for it)');
          }
          await sleep(delay, undefined, { signal }).catch(() => {});
        }
      }
      return false;
    },

    checkpoint,

    async close() {
      if (lookAgain !== null) clearTimeout(lookAgain);
      await writing?.catch(() => {});
      await next?.catch(() => {});
      await store.close();
    },
  };
}
