import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../../src/sources/file/line-splitter.ts';

function split(chunks: string[], max = 1000): Array<[string, number]> {
  const splitter = new LineSplitter(max);
  const out: Array<[string, number]> = [];
  const sink = (line: Buffer, oversize: number) => out.push([line.toString('utf8'), oversize]);
  for (const chunk of chunks) splitter.push(Buffer.from(chunk), sink);
  splitter.end(sink);
  return out;
}

describe('splitting a byte stream into lines', () => {
  it('joins lines that span chunks and strips CRLF', () => {
    expect(split(['{"a":', '1}\r\n{"b"', ':2}\n'])).toEqual([['{"a":1}', 0], ['{"b":2}', 0]]);
  });

  it('emits a last line without a newline, and blank lines in place', () => {
    expect(split(['a\n\nb'])).toEqual([['a', 0], ['', 0], ['b', 0]]);
  });

  it('drops an oversized line without buffering it, reports its size, and goes on', () => {
    const big = 'x'.repeat(5000);
    expect(split(['ok1\n', big.slice(0, 2000), big.slice(2000), '\nok2\n'], 1000)).toEqual([['ok1', 0], ['', 5000], ['ok2', 0]]);
  });

  it('does not split a multi-byte UTF-8 character across chunks', () => {
    const bytes = Buffer.from('{"m":"ünïcødé"}\n');
    const splitter = new LineSplitter(100);
    const out: string[] = [];
    splitter.push(bytes.subarray(0, 8), (l) => out.push(l.toString()));
    splitter.push(bytes.subarray(8), (l) => out.push(l.toString()));
    expect(out).toEqual(['{"m":"ünïcødé"}']);
  });
});
