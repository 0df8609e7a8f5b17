// The ceiling for `paysignal classify` on a file: the plainest Node way to read NDJSON, a readline
// loop that JSON.parses every line and does nothing else. paysignal reads, parses, validates,
// redacts, classifies and writes, so it can only approach this number.
// `node bench/classify/ceiling.ts FILE` prints {"lines":N,"errors":E} on stdout.
//
// The file stream uses the same 1 MiB read size as `paysignal classify`; readline's 'line' event is
// used rather than `for await (const line of rl)`, which is measurably slower, so the ceiling is
// the faster of the two plain loops.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

const file = process.argv[2];
if (file === undefined) {
  process.stderr.write('usage: node bench/classify/ceiling.ts FILE\n');
  process.exit(64);
}

let lines = 0;
let errors = 0;
const rl = createInterface({ input: createReadStream(file, { highWaterMark: 1 << 20 }), crlfDelay: Infinity });
rl.on('line', (line) => {
  const event = JSON.parse(line) as { http?: { status_code?: number } };
  lines++;
  // Touch one field so the parsed value is used.
  const status = event.http?.status_code;
  if (status === undefined || status >= 400) errors++;
});
rl.on('close', () => {
  process.stdout.write(`${JSON.stringify({ lines, errors })}\n`);
});
