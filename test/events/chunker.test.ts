import { describe, expect, it } from 'vitest';
import { ChunkCutter, type ChunkItem } from '../../src/cli/classify/chunker.ts';

function cut(chunks: string[], max = 100): Array<string | number> {
  const cutter = new ChunkCutter(max);
  const items: ChunkItem[] = [];
  for (const c of chunks) cutter.push(Buffer.from(c), items);
  cutter.end(items);
  return items.map((i) => (i.kind === 'lines' ? i.bytes.toString() : i.bytes));
}

describe('cutting input into chunks of whole lines', () => {
  it('never splits a line between chunks', () => {
    expect(cut(['a\nb', 'c\nd'])).toEqual(['a\n', 'bc\n', 'd']);
  });

  it('skips a line longer than the limit as it streams by and reports its size in its place', () => {
    expect(cut(['ok\n' + 'x'.repeat(80), 'x'.repeat(80), 'x'.repeat(40) + '\nnext\n'])).toEqual(['ok\n', 200, 'next\n']);
  });

  it('reports an oversized last line without a newline', () => {
    expect(cut(['ok\n', 'y'.repeat(150)])).toEqual(['ok\n', 150]);
  });

  it('gives each chunk memory of its own, never a shared pool', () => {
    const cutter = new ChunkCutter(100);
    const items: ChunkItem[] = [];
    cutter.push(Buffer.from('a\n'), items);
    const bytes = (items[0] as { bytes: Buffer }).bytes;
    expect(bytes.byteOffset).toBe(0);
    expect(bytes.buffer.byteLength).toBe(bytes.length);
  });
});
