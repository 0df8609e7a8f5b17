// Output lines of `paysignal classify`, encoded to UTF-8 as each line is made.
//
// Concatenating a chunk's lines into one string and encoding it at the end kept the whole string
// (thousands of small pieces per chunk) alive across every scavenge of the chunk, and flattening it
// for the encoder walked pieces scattered across the heap. Writing each line's bytes into one reused
// buffer right away lets every line's string die young, and the chunk's output is one copy out.

const NEWLINE = 0x0a;
const INITIAL_BYTES = 1 << 20;
/** The most UTF-8 bytes one UTF-16 code unit can take (a surrogate pair is 4 bytes for 2 units). */
const MAX_BYTES_PER_UNIT = 3;

export class LineBuffer {
  #bytes = Buffer.allocUnsafeSlow(INITIAL_BYTES);
  #length = 0;

  /** Appends `line` as UTF-8 and a newline. */
  push(line: string): void {
    const needed = this.#length + line.length * MAX_BYTES_PER_UNIT + 1;
    if (needed > this.#bytes.length) this.#grow(needed);
    this.#length += this.#bytes.write(line, this.#length, 'utf8');
    this.#bytes[this.#length++] = NEWLINE;
  }

  /**
   * The lines pushed since the last call, in memory of their own (an ArrayBuffer nothing else
   * uses, so it can be transferred to another thread), and an empty buffer for the next lines.
   */
  take(): Buffer {
    const out = Buffer.allocUnsafeSlow(this.#length);
    this.#bytes.copy(out, 0, 0, this.#length);
    this.#length = 0;
    return out;
  }

  #grow(needed: number): void {
    const bigger = Buffer.allocUnsafeSlow(Math.max(needed, this.#bytes.length * 2));
    this.#bytes.copy(bigger, 0, 0, this.#length);
    this.#bytes = bigger;
  }
}
