// Splits a byte stream into lines without ever holding more than one line (up to a limit) in
// memory, so a 1 GB file or a 2 MB line costs constant memory. Works on bytes: decoding is the
// decoder's job, and a line's bytes are what a dead letter must keep.

export interface LineSink {
  /** `line` excludes the newline and a trailing CR; `oversizeBytes` > 0 means the line was dropped for size. */
  (line: Buffer, oversizeBytes: number): void;
}

const NEWLINE = 0x0a;
const CR = 0x0d;
const EMPTY = Buffer.alloc(0);

export class LineSplitter {
  readonly #maxLineBytes: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #oversize = false;

  constructor(maxLineBytes: number) {
    this.#maxLineBytes = maxLineBytes;
  }

  push(chunk: Buffer, onLine: LineSink): void {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(NEWLINE, start);
      if (newline === -1) break;
      this.#emit(chunk.subarray(start, newline), onLine);
      start = newline + 1;
    }
    if (start < chunk.length) this.#keep(chunk.subarray(start));
  }

  /** Emits the last line when the input did not end with a newline. */
  end(onLine: LineSink): void {
    if (this.#pendingBytes > 0 || this.#oversize) this.#emit(EMPTY, onLine);
  }

  #keep(part: Buffer): void {
    this.#pendingBytes += part.length;
    if (this.#oversize) return;
    if (this.#pendingBytes > this.#maxLineBytes) {
      this.#oversize = true;
      this.#pending = [];
      return;
    }
    // Copy: the chunk's memory is reused by the stream after we return.
    this.#pending.push(Buffer.from(part));
  }

  #emit(tail: Buffer, onLine: LineSink): void {
    if (this.#pendingBytes === 0 && !this.#oversize) {
      onLine(stripCr(tail), 0);
      return;
    }
    const total = this.#pendingBytes + tail.length;
    if (this.#oversize || total > this.#maxLineBytes) {
      onLine(EMPTY, total);
    } else {
      this.#pending.push(tail);
      onLine(stripCr(Buffer.concat(this.#pending, total)), 0);
    }
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#oversize = false;
  }
}

function stripCr(line: Buffer): Buffer {
  return line.length > 0 && line[line.length - 1] === CR ? line.subarray(0, line.length - 1) : line;
}
