// An OTLP/HTTP receiver that answers 200 to every POST and discards the body, in a child process of
// its own: a benchmark that measures its own process (memory, CPU) must not also carry the receiver,
// just as paysignal never shares a process with its collector.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export interface OtlpBlackHole {
  readonly url: string;
  /** Stops the receiver and returns what it received. */
  close(): Promise<{ requests: number; bytes: number }>;
}

const RECEIVER = `
const { createServer } = require('node:http');
let requests = 0, bytes = 0;
const server = createServer((req, res) => {
  req.on('data', (c) => (bytes += c.length));
  req.on('end', () => { requests++; res.writeHead(200, { 'content-type': 'application/x-protobuf' }); res.end(); });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
process.stdin.on('end', () => { process.stdout.write(JSON.stringify({ requests, bytes }) + '\\n'); process.exit(0); });
process.stdin.resume();
`;

export async function startOtlpBlackHole(): Promise<OtlpBlackHole> {
  // stdin is the lifeline: when the benchmark exits, however it exits, the receiver sees EOF and stops.
  const child = spawn(process.execPath, ['-e', RECEIVER], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw new Error('the OTLP black hole exited before it listened');
  const url = `http://127.0.0.1:${Number(first.value)}`;
  return {
    url,
    async close() {
      child.stdin!.end();
      const last = await lines.next();
      await once(child, 'exit');
      return last.done ? { requests: 0, bytes: 0 } : (JSON.parse(last.value) as { requests: number; bytes: number });
    },
  };
}
