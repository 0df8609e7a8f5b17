// Fills the report model from NDJSON log files: every line goes through the same decoder,
// classifier and correlation tracker as `paysignal run`, and is counted the way the metrics sink
// counts it (docs/architecture.md#metrics), so the same events give the same numbers as Prometheus would.
// Events of the report week and of the week before are counted; all others only feed the
// correlation tracker (a retry violation needs the attempt before it). The tracker is built from the
// configuration's `correlation` section, as `paysignal run` builds its own (src/sinks/signals.ts), so
// one setting decides what a retry, a storm and a retry violation are on both paths
// (docs/architecture.md#weekly-report).
import { createReadStream } from 'node:fs';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Classifier } from '../classify/classifier.ts';
import type { CorrelationConfig } from '../classify/config.ts';
import { createCorrelationTracker } from '../classify/correlation.ts';
import { createDecoder, DEFAULT_MAX_EVENT_BYTES } from '../events/decode.ts';
import type { FieldMapping } from '../events/mapping.ts';
import { PaysignalError, usageError } from '../errors.ts';
import { formatDuration } from '../kernel/duration.ts';
import { LineSplitter } from '../sources/file/line-splitter.ts';
import { HOUR_MS, HOURS_PER_WEEK, shiftWeek, type IsoWeek } from './week.ts';
import { NO_CODE, type CallCount, type ErrorCount, type ProviderCount, type ReportInput, type ViolationCount, type WeekCounts } from './model.ts';

export interface LogsSourceOptions {
  /** NDJSON files (`-` for standard input; names ending in .gz are gunzipped). */
  readonly files: readonly string[];
  readonly classifier: Classifier;
  /** The configuration's `correlation` section: the same keys, TTL and storm threshold as `paysignal run`. */
  readonly correlation: CorrelationConfig;
  readonly mapping?: FieldMapping | null;
  readonly maxEventBytes?: number;
  /** Standard input, for `-`. */
  readonly stdin?: Readable;
}

export const LOGS_ALERTS_UNAVAILABLE =
  'Not available from log files: which alerts fired is recorded by Prometheus (`ALERTS`, `paysignal_alerts_firing`). Run the report with `--source prometheus` to see them.';

const SEP = '\u0000';

class Tally {
  readonly calls = new Map<string, number>();
  readonly errors = new Map<string, number>();
  readonly violations = new Map<string, number>();
  readonly retries = new Map<string, number>();
  readonly stormAttempts = new Map<string, number>();

  static bump(map: Map<string, number>, key: string): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }

  counts(): WeekCounts {
    const split = (key: string): string[] => key.split(SEP);
    return {
      calls: [...this.calls].map(([k, count]): CallCount => {
        const [provider, outcome] = split(k) as [string, string];
        return { provider, outcome: outcome === 'error' ? 'error' : 'success', count };
      }),
      errors: [...this.errors].map(([k, count]): ErrorCount => {
        const [provider, code, category, retry] = split(k) as [string, string, string, string];
        return { provider, code, category, retry, count };
      }),
      violations: [...this.violations].map(([k, count]): ViolationCount => {
        const [provider, code, retry] = split(k) as [string, string, string];
        return { provider, code, retry, count };
      }),
      retries: [...this.retries].map(([provider, count]): ProviderCount => ({ provider, count })),
      stormAttempts: [...this.stormAttempts].map(([provider, count]): ProviderCount => ({ provider, count })),
    };
  }
}

function open(file: string, stdin: Readable | undefined): { stream: Readable; opened: Promise<unknown> } {
  if (file === '-') {
    const stream = stdin ?? process.stdin;
    return { stream, opened: Promise.resolve() };
  }
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  const opened = once(raw, 'open');
  return { stream: file.endsWith('.gz') ? raw.pipe(createGunzip()) : raw, opened };
}

export async function fromLogs(week: IsoWeek, options: LogsSourceOptions): Promise<ReportInput> {
  if (options.files.length === 0) throw usageError('--source logs needs at least one FILE (or - for standard input)');
  const previousWeek = shiftWeek(week, -1);
  const maxEventBytes = options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
  const decoder = createDecoder({ maxBytes: maxEventBytes, mapping: options.mapping ?? null, idHeaders: options.classifier.idHeaders });
  const classifier = options.classifier;
  // The configured TTL, not a longer floor for logs: with a longer one the report would tie attempts
  // that `paysignal run` let expire, and count retry violations Prometheus never saw. Event time
  // drives the tracker, so the TTL means the same here as live; the wall clock only bounds how far
  // ahead event time may run, and is set far ahead so no event of a past week counts as future.
  const ttlMs = options.correlation.ttl;
  const tracker = createCorrelationTracker({ correlation: options.correlation, now: () => Number.MAX_SAFE_INTEGER / 2 });
  const current = new Tally();
  const previous = new Tally();
  const hourly = new Map<string, number[]>();
  let invalid = 0;
  let outside = 0;
  let lines = 0;
  // Keyed events read more than the TTL behind the tracker's clock (the newest keyed event) found
  // their earlier attempts expired (as a late event does live), so they could not be tied to them:
  // counted for a note, because it means the files were not given in time order.
  let lateKeyed = 0;

  const onLine = (line: Buffer, oversize: number): void => {
    lines++;
    if (oversize > 0) {
      invalid++;
      return;
    }
    const decoded = decoder.decode(line);
    if (!decoded.ok) {
      if (decoded.rejection.reason !== 'empty') invalid++;
      return;
    }
    const event = decoded.event;
    const c = classifier.classify(event);
    const facts = tracker.observe(event, c);
    const ts = event.timestampMs;
    const late = facts.key !== null && tracker.clockMs - ts > ttlMs;
    const tally = ts >= week.startMs && ts < week.endMs ? current : ts >= previousWeek.startMs && ts < previousWeek.endMs ? previous : null;
    if (tally === null) {
      outside++;
      return;
    }
    if (late) lateKeyed++;
    Tally.bump(tally.calls, c.provider + SEP + c.outcome);
    if (c.outcome === 'error') {
      const code = c.code ?? NO_CODE;
      Tally.bump(tally.errors, [c.provider, code, c.category ?? 'unknown', c.retry ?? 'do_not_retry'].join(SEP));
      if (tally === current) {
        let hours = hourly.get(c.provider);
        if (hours === undefined) {
          hours = new Array<number>(HOURS_PER_WEEK).fill(0);
          hourly.set(c.provider, hours);
        }
        hours[Math.floor((ts - week.startMs) / HOUR_MS)]! += 1;
      }
    }
    if (facts.isRetry) Tally.bump(tally.retries, c.provider);
    if (facts.isStorm) Tally.bump(tally.stormAttempts, c.provider);
    const violation = facts.violationOf;
    if (violation !== null) Tally.bump(tally.violations, [c.provider, violation.code ?? NO_CODE, violation.retry].join(SEP));
  };

  for (const file of options.files) {
    const { stream, opened } = open(file, options.stdin);
    try {
      await opened;
    } catch (error) {
      throw new PaysignalError('INPUT_NOT_READABLE', `cannot read log file: ${(error as Error).message}`, { file });
    }
    const splitter = new LineSplitter(maxEventBytes);
    try {
      for await (const chunk of stream) splitter.push(chunk as Buffer, onLine);
    } catch (error) {
      throw new PaysignalError('INPUT_NOT_READABLE', `cannot read log file: ${(error as Error).message}`, { file });
    }
    splitter.end(onLine);
  }

  const notes: string[] = [];
  if (invalid > 0) {
    notes.push(`${invalid} of ${lines} lines ${invalid === 1 ? 'was not a valid event and was' : 'were not valid events and were'} skipped (\`paysignal classify\` shows why).`);
  }
  if (lateKeyed > 0) {
    const [events, keys] = lateKeyed === 1 ? ['event', 'its key was'] : ['events', 'their keys were'];
    notes.push(
      `${lateKeyed} ${events} with an idempotency key or correlation id came after events more than correlation.ttl (${formatDuration(ttlMs)}) newer: ` +
        `the earlier attempts under ${keys} already forgotten, so retries, storm attempts and retry violations may be undercounted. Give the log files in time order.`,
    );
  }
  if (outside > 0) notes.push(`${outside} ${outside === 1 ? 'event' : 'events'} outside ${previousWeek.label} and ${week.label} ${outside === 1 ? 'was' : 'were'} not counted.`);
  return {
    week,
    previousWeek,
    source: { kind: 'logs', description: options.files.join(', ') },
    current: current.counts(),
    previous: previous.counts(),
    hourlyErrors: [...hourly].map(([provider, hours]) => ({ provider, hours })),
    alerts: { available: false, reason: LOGS_ALERTS_UNAVAILABLE },
    notes,
  };
}
