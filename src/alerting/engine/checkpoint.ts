// The engine's durable state as bytes: a versioned, compressed, checksummed format, and the contract
// that keeps it consistent with the source's committed offsets.
//
// Consistency contract (for whoever stores checkpoints and commits offsets, e.g. the Kafka state
// topic in src/sources/kafka/):
// - `engine.snapshot()` is the state after exactly the events the engine has been handed. For every
//   partition it records `nextOffset`, the offset after the last event of that partition the state
//   holds. Take it between batches, once the batch's records have all passed the engine.
// - Save the checkpoint first, then commit offsets no further than its `nextOffset`s. If the process
//   dies between the two, the committed offsets are behind the checkpoint: after `engine.restore()`,
//   the engine ignores every record below its partition's checkpointed `nextOffset` (counted in
//   paysignal_alert_events_already_in_state_total), so nothing is counted twice. The other sinks
//   (metrics, spans) see those records again, as at-least-once delivery already allows. The engine
//   does the same without a restore: a batch the source delivers again (after a failed sink flush or
//   checkpoint write) is ignored below the `nextOffset` it has reached, so its state is exactly-once
//   per offset; offsets must therefore only grow within a partition (Kafka's do).
// - If a committed offset is ahead of the checkpoint (a commit without a checkpoint), the records in
//   between are missing from the state: seek such partitions back to the checkpoint's `nextOffset`,
//   or accept the gap.
// - Restore before consuming (after the rules are loaded: the state of a rule is restored only into a
//   rule with the same name and the same meaning, see `fingerprint`). Rules the checkpoint does not
//   know start cold (their warm-up applies); state of rules that are gone or changed is dropped.
//
// Format 1: the 4 bytes "PSEC", a 1-byte format version, then the zlib-deflated (Adler-32 checked)
// UTF-8 JSON of CheckpointPayload, validated against checkpoint.schema.json on decode. A checkpoint
// larger than MAX_CHECKPOINT_BYTES compressed or MAX_CHECKPOINT_JSON_BYTES inflated is refused.
// Bucket counts are stored sparse, as [buckets before head, count] pairs.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { deflateSync, inflateSync } from 'node:zlib';
import { compileSchema } from '../../kernel/schema.ts';
import type { AlertState } from './state-machine.ts';

const require = createRequire(import.meta.url);
const validatePayload = compileSchema<CheckpointPayload>(require('./checkpoint.schema.json') as object);

export const CHECKPOINT_MAGIC = 'PSEC';
export const CHECKPOINT_FORMAT_VERSION = 1;
/** Compressed size limit (10,000 alert groups with the shipped rules take 45 kB; see bench/RESULTS.md). */
export const MAX_CHECKPOINT_BYTES = 16 * 1024 * 1024;
/**
 * Inflated size limit (10,000 groups: 2.4 MB of JSON), so a corrupt or hostile payload cannot inflate
 * beyond what the service's heap (192 MB as shipped) can parse.
 */
export const MAX_CHECKPOINT_JSON_BYTES = 32 * 1024 * 1024;

export interface PartitionCheckpoint {
  readonly topic: string;
  readonly partition: number;
  /** Newest event time seen in the partition; null before its first event. */
  readonly maxEventTs: number | null;
  /** Offset after the last event the state holds; null when the source has no offsets. */
  readonly nextOffset: number | null;
}

export interface GroupCheckpoint {
  /** The group's label values joined by U+0001, in the rule's group_by order. */
  readonly key: string;
  readonly head: number | null;
  readonly olderMax: number | null;
  /** Selected events: [head − bucket, count] pairs, non-zero buckets only. */
  readonly counts: readonly number[];
  /** Calls, for kinds that count them: the same pairs. */
  readonly calls?: readonly number[];
}

export interface AlertCheckpoint {
  readonly key: string;
  readonly state: AlertState;
  readonly value: number;
  readonly activeAt: number;
  readonly firedAt: number | null;
  readonly resolvedAt: number | null;
  readonly keepFiringSince: number | null;
  readonly sent: boolean;
  readonly staleCounted: boolean;
}

export interface RuleCheckpoint {
  readonly name: string;
  /** Hash of the rule's meaning (ruleFingerprint); state is restored only into the same meaning. */
  readonly fingerprint: string;
  readonly nextK: number | null;
  readonly lastEvaluated: number | null;
  readonly firstBucket: number | null;
  readonly groups: readonly GroupCheckpoint[];
  readonly alerts: readonly AlertCheckpoint[];
}

export interface CheckpointPayload {
  /** Wall ms the snapshot was taken (for logs). */
  readonly createdAt: number;
  /** The engine's watermark; null before the first. */
  readonly watermark: number | null;
  readonly partitions: readonly PartitionCheckpoint[];
  readonly rules: readonly RuleCheckpoint[];
}

/** What `engine.snapshot()` returns and `engine.restore()` takes. */
export interface EngineCheckpoint extends CheckpointPayload {
  readonly version: typeof CHECKPOINT_FORMAT_VERSION;
}

export type CheckpointRejection = 'corrupt' | 'incompatible' | 'oversized';

export type DecodedCheckpoint =
  | { readonly ok: true; readonly checkpoint: EngineCheckpoint }
  | { readonly ok: false; readonly reason: CheckpointRejection; readonly detail: string };

/** A short stable hash of a rule's meaning (its loader fingerprint). */
export function ruleFingerprint(meaning: string): string {
  return createHash('sha256').update(meaning).digest('base64url').slice(0, 22);
}

export function encodeCheckpoint(snapshot: EngineCheckpoint): Uint8Array {
  return encodeCheckpointSized(snapshot).bytes;
}

/** encodeCheckpoint, also telling the size of the JSON inside (decode refuses more than MAX_CHECKPOINT_JSON_BYTES). */
export function encodeCheckpointSized(snapshot: EngineCheckpoint): { readonly bytes: Uint8Array; readonly jsonBytes: number } {
  const { version: _version, ...payload } = snapshot;
  const json = Buffer.from(JSON.stringify(payload), 'utf8');
  const body = deflateSync(json);
  const out = new Uint8Array(5 + body.length);
  out.set(Buffer.from(CHECKPOINT_MAGIC, 'latin1'), 0);
  out[4] = CHECKPOINT_FORMAT_VERSION;
  out.set(body, 5);
  return { bytes: out, jsonBytes: json.length };
}

export function decodeCheckpoint(bytes: Uint8Array): DecodedCheckpoint {
  if (bytes.length > MAX_CHECKPOINT_BYTES) {
    return { ok: false, reason: 'oversized', detail: `checkpoint is ${bytes.length} bytes, more than the ${MAX_CHECKPOINT_BYTES} accepted` };
  }
  if (bytes.length < 5 || Buffer.from(bytes.subarray(0, 4)).toString('latin1') !== CHECKPOINT_MAGIC) {
    return { ok: false, reason: 'corrupt', detail: `not a paysignal engine checkpoint (no "${CHECKPOINT_MAGIC}" header)` };
  }
  const version = bytes[4] as number;
  if (version !== CHECKPOINT_FORMAT_VERSION) {
    return { ok: false, reason: 'incompatible', detail: `checkpoint format ${version}; this paysignal reads format ${CHECKPOINT_FORMAT_VERSION}` };
  }
  let text: string;
  try {
    text = inflateSync(bytes.subarray(5), { maxOutputLength: MAX_CHECKPOINT_JSON_BYTES }).toString('utf8');
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') {
      return { ok: false, reason: 'oversized', detail: `checkpoint inflates to more than ${MAX_CHECKPOINT_JSON_BYTES} bytes` };
    }
    return { ok: false, reason: 'corrupt', detail: `checkpoint does not inflate: ${(error as Error).message}` };
  }
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: 'corrupt', detail: `checkpoint is not JSON: ${(error as Error).message}` };
  }
  const problem = validatePayload(payload);
  if (problem !== null) return { ok: false, reason: 'corrupt', detail: `checkpoint does not match format ${CHECKPOINT_FORMAT_VERSION}: ${problem.message}` };
  return { ok: true, checkpoint: { version: CHECKPOINT_FORMAT_VERSION, ...(payload as CheckpointPayload) } };
}
