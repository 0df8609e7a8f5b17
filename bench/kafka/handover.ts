// What the handover between the main thread and a processing worker costs, per record, for the two
// shapes the worker pool could use (src/pipeline/workers/):
//
//   node bench/kafka/handover.ts [--messages N] [--batch B] [--rounds R]
//
// - request: the batch's values copied into one buffer that is transferred, plus the offsets (what
//   the pool sends), against an array of one object per record (value Buffer, offset, topic,
//   partition, key, headers) that structured clone copies;
// - reply: one Float64Array of 4 numbers per event that is transferred (what the worker sends back
//   for the alert engine), against one object per event with the label strings.
// Records are the classify benchmark's lines. The worker only acknowledges each message (the
// reply shapes are built and posted by the worker, as in the pool). Prints, per shape, the main
// thread's and the worker's CPU time per record (median of rounds) and the wall time per record.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { DEFAULT_SEED, ensureDataset } from '../classify/generate.ts';

interface Setup {
  readonly replyShape: 'tuples' | 'objects';
}

if (!isMainThread) {
  const { replyShape } = workerData as Setup;
  const port = parentPort!;
  const labels = ['kustom', 'create_order', 'MERCHANT_INACTIVE', 'merchant_config', 'contact_provider'];
  port.on('message', (message: { id: number; count: number; bytes?: Uint8Array; records?: unknown[] }) => {
    const count = message.count;
    const started = process.threadCpuUsage();
    if (replyShape === 'tuples') {
      const signals = new Float64Array(count * 4);
      for (let i = 0; i < count; i++) {
        signals[i * 4] = i;
        signals[i * 4 + 1] = 1_700_000_000_000 + i;
      }
      port.postMessage({ id: message.id, signals }, [signals.buffer]);
    } else {
      const events = new Array<unknown>(count);
      for (let i = 0; i < count; i++) {
        events[i] = { index: i, timestampMs: 1_700_000_000_000 + i, provider: labels[0], operation: labels[1], code: labels[2], category: labels[3], retry: labels[4], outcome: 'error' };
      }
      port.postMessage({ id: message.id, events });
    }
    const used = process.threadCpuUsage(started);
    port.postMessage({ cpuUs: used.user + used.system });
  });
} else {
  const { values } = parseArgs({ options: { messages: { type: 'string', default: '200000' }, batch: { type: 'string', default: '3000' }, rounds: { type: 'string', default: '5' } } });
  const N = Number(values.messages);
  const B = Number(values.batch);
  const ROUNDS = Number(values.rounds);
  const { dataset } = ensureDataset(N, DEFAULT_SEED);
  const lines = readFileSync(dataset.file, 'utf8').split('\n').filter((l) => l.length > 0).slice(0, N);
  // As kafkajs hands them over: one Buffer per value, offsets as decimal strings.
  const records = lines.map((line, i) => ({ value: Buffer.from(line), offset: String(i), topic: 'bench-events', partition: 0, key: null, headers: {} }));

  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

  async function run(requestShape: 'buffer' | 'objects', replyShape: Setup['replyShape']): Promise<{ mainUs: number; workerUs: number; wallUs: number }> {
    const worker = new Worker(new URL(import.meta.url), { workerData: { replyShape } satisfies Setup });
    let workerCpu = 0;
    let pending: (() => void) | null = null;
    worker.on('message', (m: { cpuUs?: number }) => {
      if (m.cpuUs !== undefined) {
        workerCpu += m.cpuUs;
        pending?.();
      }
    });
    const mainStart = process.threadCpuUsage();
    const wallStart = performance.now();
    for (let from = 0, id = 0; from < records.length; from += B, id++) {
      const batch = records.slice(from, from + B);
      const done = new Promise<void>((resolve) => (pending = resolve));
      if (requestShape === 'buffer') {
        let total = 0;
        for (const r of batch) total += r.value.length;
        const bytes = new Uint8Array(total);
        const ends = new Int32Array(batch.length);
        const offsets = new Array<string>(batch.length);
        let at = 0;
        for (let i = 0; i < batch.length; i++) {
          bytes.set(batch[i]!.value, at);
          at += batch[i]!.value.length;
          ends[i] = at;
          offsets[i] = batch[i]!.offset;
        }
        worker.postMessage({ id, count: batch.length, bytes, ends, offsets }, [bytes.buffer, ends.buffer]);
      } else {
        worker.postMessage({ id, count: batch.length, records: batch });
      }
      await done;
    }
    const wallUs = ((performance.now() - wallStart) * 1000) / records.length;
    const main = process.threadCpuUsage(mainStart);
    await worker.terminate();
    return { mainUs: (main.user + main.system) / records.length, workerUs: workerCpu / records.length, wallUs };
  }

  const shapes = [
    ['buffer', 'tuples'],
    ['objects', 'objects'],
  ] as const;
  const results = new Map<string, { mainUs: number[]; workerUs: number[]; wallUs: number[] }>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [request, reply] of round % 2 === 0 ? shapes : [...shapes].reverse()) {
      const key = `request ${request}, reply ${reply}`;
      const r = await run(request, reply);
      const list = results.get(key) ?? { mainUs: [], workerUs: [], wallUs: [] };
      list.mainUs.push(r.mainUs);
      list.workerUs.push(r.workerUs);
      list.wallUs.push(r.wallUs);
      results.set(key, list);
    }
  }
  process.stdout.write(`handover of ${records.length} records in batches of ${B}, median of ${ROUNDS} rounds\n\n| shape | main thread CPU per record | worker CPU per record (building and posting the reply) | wall per record |\n|---|---:|---:|---:|\n`);
  for (const [key, r] of results) {
    process.stdout.write(`| ${key} | ${median(r.mainUs).toFixed(2)} µs | ${median(r.workerUs).toFixed(2)} µs | ${median(r.wallUs).toFixed(2)} µs |\n`);
  }
}
