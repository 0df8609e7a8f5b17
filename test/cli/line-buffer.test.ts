import { describe, expect, it } from 'vitest';
import { LineBuffer } from '../../src/cli/classify/line-buffer.ts';

describe('the output lines of classify, as UTF-8', () => {
  it('holds exactly the UTF-8 of the lines pushed, each ending in a newline, beyond its first megabyte', () => {
    const buffer = new LineBuffer();
    // Two-, three- and four-byte characters (a surrogate pair), enough of them to grow the buffer.
    const lines = Array.from({ length: 40_000 }, (_, i) => `{"n":${i},"id":"é-日本-😀-${'x'.repeat(i % 7)}"}`);
    for (const l of lines) buffer.push(l);
    const bytes = buffer.take();
    expect(bytes.length).toBeGreaterThan(1 << 20);
    expect(Buffer.from(bytes).equals(Buffer.from(lines.join('\n') + '\n', 'utf8'))).toBe(true);
  });

  it('makes room for a line whose UTF-8 is three times its length in characters', () => {
    const buffer = new LineBuffer();
    const long = '日'.repeat(600_000);
    buffer.push(long);
    expect(Buffer.from(buffer.take()).toString('utf8')).toBe(`${long}\n`);
  });

  it('gives each taken batch an ArrayBuffer of its own, which later lines do not touch', () => {
    const buffer = new LineBuffer();
    buffer.push('first');
    const first = buffer.take();
    buffer.push('second');
    const second = buffer.take();
    expect(Buffer.from(first).toString()).toBe('first\n');
    expect(Buffer.from(second).toString()).toBe('second\n');
    for (const b of [first, second]) {
      expect(b.byteOffset).toBe(0);
      expect(b.buffer.byteLength).toBe(b.length);
    }
  });

  it('takes an empty batch when nothing was pushed', () => {
    expect(new LineBuffer().take().length).toBe(0);
  });
});
