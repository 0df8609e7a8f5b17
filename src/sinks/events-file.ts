// An EventSink that appends every processed event as one JSON line (NDJSON) to a file, or stdout
// for `-`: the classification (the keys of `paysignal classify`) plus where the event came from.
// Invalid events get a line with outcome `invalid` and the reason. `flush` resolves once the lines
// are written to the file (handed to the operating system), so with the Kafka source a committed
// offset implies its line is in the file: an audit trail, a feed for other tools, and how the
// tests observe exactly what was processed.
import { open, type FileHandle } from 'node:fs/promises';
import { PaysignalError } from '../errors.ts';
import type { EventSink, ProcessedEvent, Rejection } from '../pipeline/types.ts';
import type { SourceRecord } from '../sources/record.ts';

export interface EventsFileSink extends EventSink {
  readonly path: string;
  /** Opens (creates) the file now, so a path that cannot be written fails at start (PaysignalError EVENTS_FILE_UNWRITABLE). */
  open(): Promise<void>;
  /** Lines written so far. */
  lines(): number;
  /** Adds lines rendered elsewhere (eventLine/invalidLine, by processing workers); written with the next flush. */
  append(text: string, lines: number): void;
}

const s = (value: string | null): string => (value === null ? 'null' : JSON.stringify(value));

function where(record: SourceRecord): string {
  return `"source":${s(record.source)},"topic":${s(record.topic)},"partition":${record.partition},"offset":${s(record.offset)}`;
}

export function eventLine(processed: ProcessedEvent): string {
  const c = processed.classification;
  const e = processed.event;
  const r = processed.correlation;
  return (
    `{${where(processed.record)},"timestamp":${s(Number.isFinite(e.timestampMs) ? new Date(e.timestampMs).toISOString() : null)},` +
    `"outcome":"${c.outcome}","provider":${s(c.provider)},"operation":${s(c.operation)},` +
    `"status_code":${c.statusCode === null ? 'null' : c.statusCode},"code":${s(c.code)},"category":${s(c.category)},` +
    `"retry":${s(c.retry)},"owner":${s(c.owner)},"known":${c.known},"field":${s(c.field)},` +
    `"correlation_id":${s(c.correlationId)},"idempotency_key":${s(c.idempotencyKey)},"attempt":${e.attempt === null ? 'null' : e.attempt},` +
    `"retry_of_earlier_attempt":${r === null ? 'null' : r.isRetry},"reason":null}\n`
  );
}

export function invalidLine(record: SourceRecord, rejection: Rejection): string {
  return `{${where(record)},"outcome":"invalid","reason":${s(rejection.reason)},"detail":${s(rejection.detail)}}\n`;
}

export function createEventsFileSink(path: string): EventsFileSink {
  let buffer = '';
  let written = 0;
  let pendingLines = 0;
  let handle: Promise<FileHandle> | null = null;
  let chain: Promise<void> = Promise.resolve();
  const toStdout = path === '-';

  function file(): Promise<FileHandle> {
    handle ??= open(path, 'a').catch((error: unknown) => {
      handle = null;
      throw new PaysignalError('EVENTS_FILE_UNWRITABLE', `cannot open the events file for appending: ${(error as Error).message}`, {
        file: path,
        field: 'events_file.path',
        cause: error,
      });
    });
    return handle;
  }

  async function write(text: string): Promise<void> {
    if (toStdout) {
      await new Promise<void>((resolve, reject) => process.stdout.write(text, (error) => (error ? reject(error) : resolve())));
      return;
    }
    const fh = await file();
    await fh.appendFile(text, 'utf8');
  }

  return {
    name: 'events-file',
    path,
    async open() {
      if (!toStdout) await file();
    },
    onEvent(processed) {
      buffer += eventLine(processed);
      pendingLines++;
    },
    onInvalid(record, rejection) {
      buffer += invalidLine(record, rejection);
      pendingLines++;
    },
    append(text, lines) {
      buffer += text;
      pendingLines += lines;
    },
    async flush() {
      const text = buffer;
      const count = pendingLines;
      buffer = '';
      pendingLines = 0;
      // Serialised, so a flush resolves only after everything before it is written.
      const run = chain.then(async () => {
        if (text.length > 0) await write(text);
        written += count;
      });
      chain = run.catch(() => {});
      await run;
    },
    lines() {
      return written;
    },
    async close() {
      await this.flush!();
      if (handle !== null) {
        const fh = await handle;
        handle = null;
        await fh.close();
      }
    },
  };
}
