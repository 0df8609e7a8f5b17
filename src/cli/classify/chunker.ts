// Cuts a byte stream into chunks of complete lines for the workers, without ever holding more than
// one chunk plus one line (up to the event size limit): a longer line is skipped as it streams by
// and reported as too large in its place.

export type ChunkItem =
  | { readonly kind: 'lines'; readonly bytes: Buffer }
  | { readonly kind: 'too_large'; readonly bytes: number };

const NEWLINE = 0x0a;

/**
 * A copy in memory of its own: chunks go to workers by transfer, which must never detach the
 * shared pool small Buffers live in, nor memory the input stream reuses.
 */
function ownCopy(bytes: Buffer, before: Buffer | null = null): Buffer {
  const offset = before === null ? 0 : before.length;
  const copy = Buffer.allocUnsafeSlow(offset + bytes.length);
  if (before !== null) before.copy(copy);
  bytes.copy(copy, offset);
  return copy;
}

export class ChunkCutter {
  readonly #maxLineBytes: number;
  #rest: Buffer | null = null;
  /** Bytes of an oversized line seen so far; -1 when not inside one. */
  #skipping = -1;

  constructor(maxLineBytes: number) {
    this.#maxLineBytes = maxLineBytes;
  }

  push(chunk: Buffer, out: ChunkItem[]): void {
    let data = chunk;
    if (this.#skipping >= 0) {
      const newline = data.indexOf(NEWLINE);
      if (newline === -1) {
        this.#skipping += data.length;
        return;
      }
      out.push({ kind: 'too_large', bytes: this.#skipping + newline });
      this.#skipping = -1;
      data = data.subarray(newline + 1);
    }
    const rest = this.#rest;
    this.#rest = null;
    const last = data.lastIndexOf(NEWLINE);
    if (last === -1) {
      this.#keep(rest === null ? data : Buffer.concat([rest, data]));
      return;
    }
    // The kept partial line and this chunk's complete lines go into the chunk's own memory in one copy.
    out.push({ kind: 'lines', bytes: ownCopy(data.subarray(0, last + 1), rest) });
    if (last + 1 < data.length) this.#keep(data.subarray(last + 1));
  }

  end(out: ChunkItem[]): void {
    if (this.#skipping >= 0) out.push({ kind: 'too_large', bytes: this.#skipping });
    else if (this.#rest !== null && this.#rest.length > 0) out.push({ kind: 'lines', bytes: ownCopy(this.#rest) });
    this.#rest = null;
    this.#skipping = -1;
  }

  #keep(partial: Buffer): void {
    if (partial.length > this.#maxLineBytes) {
      this.#skipping = partial.length;
      this.#rest = null;
    } else {
      this.#rest = Buffer.from(partial);
    }
  }
}
