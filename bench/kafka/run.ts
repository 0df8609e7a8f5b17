// The Kafka-path benchmark (issue 8): `paysignal run`'s pipeline against a no-op kafkajs consumer on
// the same topic of the same broker, in the same run.
//
//   node bench/kafka/run.ts [--messages N] [--partitions P] [--rounds R] [--concurrency C] [--json FILE]
//                           [--workers LIST] [--span-budgets LIST] [--traffic LIST] [--durable-state LIST]
//                           [--profile] [--paysignal-node-options FLAGS] [--compiled]
//
// LISTs are comma-separated; every combination is measured in the same run, each round running the
// consumers one after the other:
//   --workers       processing.workers of paysignal (default `1,2`; 0 = everything on the main thread)
//   --span-budgets  tracing.max_error_spans_per_second (default `default,0`; `default` leaves it unset)
//   --traffic       share of successful calls in the data (default `0.7,0.5`: the usual mix, and
//                   error-heavy traffic with 50% errors); one topic per mix
//   --durable-state rules.durable_state of paysignal (default `on`, as shipped: the alert engine is
//                   checkpointed to a state topic every rules.checkpoint_interval; `on,off` compares);
//                   runs with it report their checkpoints' count, size and time
// --concurrency is the no-op consumer's partitionsConsumedConcurrently (default 1, kafkajs's own);
// paysignal keeps its shipped kafka.partitions_consumed_concurrently (two per worker, one without).
//
// 1. Starts the embedded broker (librdkafka mock cluster) and one topic with P partitions.
// 2. Produces N provider-native events per traffic mix (the classify benchmark's generator,
//    bench/classify/generate.ts) once, round-robin, keeping every partition under the mock broker's ~5 MB retention (checked: the
//    low watermark of every partition must still be 0 when the runs start, so every consumer sees
//    exactly the same N messages).
// 3. R rounds; in each, a no-op consumer and paysignal (alternating which goes first) each read the
//    whole topic from the beginning with a fresh consumer group, one at a time, each in its own Node
//    process (bench/kafka/consumer.ts). The clock starts at the first batch, so connecting and the
//    group join are not measured.
// 4. paysignal runs the shipped rules (rules/), metrics, the correlation tracker, sampled spans
//    (success_sample_ratio 0.1, every error span) exported over OTLP/HTTP to a black-hole receiver in
//    this process (answers 200 to every POST, discards the body), and the dead-letter producer.
// 5. A librdkafka consumer that only counts (bench/kafka/rdkafka-consumer.c, compiled here) runs in
//    every round too: a second ceiling, to show what the client library itself costs.
// Prints, per traffic mix, events/s and CPU per event per consumer (median of rounds; for the Node
// consumers also by kind of thread: main, processing workers, V8's own threads, the rest) and paysignal's
// ratios to the no-op consumer (targets of issue 13: throughput >= 0.35x, CPU per event <= 3x), as a
// Markdown table ready for bench/RESULTS.md.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel, Partitioners, type Message } from 'kafkajs';
import { startEmbeddedBroker } from '../../src/embedded-broker/index.ts';
import { SERVICE_MALLOC_ENV, SERVICE_NODE_OPTIONS } from '../../src/service-node-options.ts';
import { suppressKafkajsTimeoutNegativeWarning } from '../../src/sources/kafka/warnings.ts';
import { DEFAULT_SEED, ensureDataset, OUT_DIR, ROOT } from '../classify/generate.ts';
import { summarize } from '../classify/profile.ts';
import type { ThreadCpuMs } from './thread-cpu.ts';

suppressKafkajsTimeoutNegativeWarning();

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '200000' },
    partitions: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '1' },
    workers: { type: 'string', default: '1,2' },
    'span-budgets': { type: 'string', default: 'default,0' },
    traffic: { type: 'string', default: '0.7,0.5' },
    'durable-state': { type: 'string', default: 'on' },
    json: { type: 'string' },
    profile: { type: 'boolean', default: false },
    // paysignal from dist/ (run `npm run build` first), main thread and workers, as the image runs it.
    compiled: { type: 'boolean', default: false },
    // V8 flags for the paysignal consumer; default the ones the image and the chart ship with.
    'paysignal-node-options': { type: 'string', default: SERVICE_NODE_OPTIONS },
  },
});
const N = Number(values.messages);
const P = Number(values.partitions);
const ROUNDS = Number(values.rounds);
const CONCURRENCY = Number(values.concurrency);
const list = (text: string): string[] => text.split(',').map((x) => x.trim()).filter((x) => x !== '');
const WORKERS = list(values.workers);
const SPAN_BUDGETS = list(values['span-budgets']);
const TRAFFIC = list(values.traffic).map(Number);
const DURABLE_STATE = list(values['durable-state']);
if (
  WORKERS.some((w) => !/^(auto|[0-9]+)$/.test(w)) ||
  SPAN_BUDGETS.some((b) => !/^(default|[0-9]+)$/.test(b)) ||
  TRAFFIC.some((t) => !(t > 0 && t < 1)) ||
  DURABLE_STATE.some((d) => d !== 'on' && d !== 'off')
) {
  throw new Error('--workers takes counts or auto, --span-budgets counts or default, --traffic shares between 0 and 1, --durable-state on or off');
}
const NODE = join(ROOT, 'node_modules', '.bin', 'node');
const PER_PARTITION_LIMIT = 4.5e6; // below the mock broker's ~5 MB per partition

const log = (s: string): void => void process.stderr.write(`${s}\n`);

// --- data: the first N lines of the classify benchmark's dataset, per traffic mix ---------------
function dataFor(successShare: number): { lines: string[]; bytes: number } {
  const { dataset } = ensureDataset(N, DEFAULT_SEED, false, successShare);
  const lines = readFileSync(dataset.file, 'utf8').split('\n').filter((l) => l.length > 0);
  if (lines.length !== N) throw new Error(`dataset has ${lines.length} lines, expected ${N}`);
  const bytes = lines.reduce((s, l) => s + Buffer.byteLength(l), 0);
  if (bytes / P > PER_PARTITION_LIMIT) throw new Error(`${(bytes / 1e6).toFixed(1)} MB over ${P} partitions exceeds ${PER_PARTITION_LIMIT / 1e6} MB per partition; raise --partitions`);
  return { lines, bytes };
}

// --- black-hole OTLP receiver -------------------------------------------------------------------
let otlpRequests = 0;
let otlpBytes = 0;
const otlp = createServer((req, res) => {
  req.on('data', (c: Buffer) => (otlpBytes += c.length));
  req.on('end', () => {
    otlpRequests++;
    res.writeHead(200, { 'content-type': 'application/x-protobuf' });
    res.end();
  });
});
await new Promise<void>((resolve) => otlp.listen(0, '127.0.0.1', resolve));
const otlpUrl = `http://127.0.0.1:${(otlp.address() as AddressInfo).port}`;

// --- broker and topics: one per traffic mix --------------------------------------------------------
const dlq = 'bench-events-dlq';
const topicOf = (share: number): string => `bench-events-ok${Math.round(share * 100)}`;
// Every paysignal run checkpoints here under its own group id (the embedded broker creates topics only on request).
const stateTopic = 'bench-events-state';
const broker = await startEmbeddedBroker({
  topics: [...TRAFFIC.map((share) => ({ name: topicOf(share), partitions: P })), { name: dlq, partitions: 1 }, { name: stateTopic, partitions: 1 }],
});
const kafka = new Kafka({ brokers: [...broker.brokers], clientId: 'bench-producer', logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
await producer.connect();
const bytesOf = new Map<number, number>();
for (const share of TRAFFIC) {
  const { lines, bytes } = dataFor(share);
  bytesOf.set(share, bytes);
  const produceStarted = performance.now();
  const CHUNK = 2000;
  for (let i = 0; i < N; i += CHUNK) {
    const messages: Message[] = [];
    for (let j = i; j < Math.min(N, i + CHUNK); j++) messages.push({ value: lines[j]!, partition: j % P });
    await producer.send({ topic: topicOf(share), messages, acks: 1 });
  }
  log(`produced ${N} messages (${Math.round((1 - share) * 100)}% errors, ${(bytes / 1e6).toFixed(1)} MB, ${(bytes / N).toFixed(0)} B avg) to ${P} partitions in ${((performance.now() - produceStarted) / 1000).toFixed(1)} s`);
}
await producer.disconnect();

async function checkRetention(topic: string): Promise<void> {
  const offsets = await admin.fetchTopicOffsets(topic);
  let total = 0;
  for (const o of offsets) {
    if (o.low !== '0') throw new Error(`partition ${o.partition} of ${topic} lost messages to retention (low ${o.low})`);
    total += Number(o.high);
  }
  if (total !== N) throw new Error(`${topic} holds ${total} messages, expected ${N}`);
}
for (const share of TRAFFIC) await checkRetention(topicOf(share));

interface Result {
  mode: string;
  events: number;
  ms: number;
  eventsPerSec: number;
  cpuMs: number;
  /** The same CPU by kind of thread (bench/kafka/thread-cpu.ts); null off Linux, absent for the librdkafka consumer. */
  threadsMs?: ThreadCpuMs | null;
  rssMb: number;
  workers?: number;
  spansExported?: number;
  spansDropped?: number;
  checkpoints?: { saved: number; failed: number; meanMs: number; lastBytes: number };
}

// --- the librdkafka ceiling, compiled like the embedded broker's launcher ----------------------------
function buildRdkafkaConsumer(): string {
  const source = join(ROOT, 'bench', 'kafka', 'rdkafka-consumer.c');
  const flags = execFileSync('pkg-config', ['--cflags', '--libs', 'rdkafka'], { encoding: 'utf8' }).trim().split(/\s+/);
  const hash = createHash('sha256').update(readFileSync(source)).update(flags.join(' ')).digest('hex').slice(0, 16);
  const dir = join(ROOT, 'node_modules', '.cache', 'paysignal');
  const binary = join(dir, `rdkafka-consumer-${hash}`);
  if (!existsSync(binary)) {
    mkdirSync(dir, { recursive: true });
    execFileSync('cc', ['-O2', '-Wall', '-o', `${binary}.tmp`, source, ...flags], { stdio: ['ignore', 'inherit', 'inherit'] });
    renameSync(`${binary}.tmp`, binary);
  }
  return binary;
}
const rdkafkaConsumer = buildRdkafkaConsumer();

/** One consumer configuration: a ceiling, or paysignal with a worker count, a span budget and durable state on or off. */
interface Variant {
  readonly key: string;
  readonly mode: 'noop' | 'paysignal' | 'rdkafka';
  readonly workers?: string;
  readonly spanBudget?: string;
  readonly durableState?: string;
}
const VARIANTS: readonly Variant[] = [
  { key: 'noop', mode: 'noop' },
  { key: 'rdkafka', mode: 'rdkafka' },
  ...WORKERS.flatMap((workers) =>
    SPAN_BUDGETS.flatMap((spanBudget) =>
      DURABLE_STATE.map((durableState): Variant => ({
        key: `paysignal workers=${workers} span-budget=${spanBudget}${DURABLE_STATE.length > 1 || durableState === 'off' ? ` durable-state=${durableState}` : ''}`,
        mode: 'paysignal',
        workers,
        spanBudget,
        durableState,
      })),
    ),
  ),
];

const profileDir = (variant: Variant, topic: string, round: number): string =>
  join(OUT_DIR, 'profile', `kafka-paysignal-workers${variant.workers}-budget${variant.spanBudget}-state${variant.durableState}-${topic}-round${round}`);

let groupSeq = 0;
function runConsumer(variant: Variant, topic: string, round: number): Promise<Result> {
  const { mode } = variant;
  const group = `bench-${mode}-${round}-${groupSeq++}`;
  const args = mode === 'rdkafka' ? [broker.bootstrapServers, topic, group, String(N)] : [
    join(ROOT, 'bench', 'kafka', 'consumer.ts'),
    '--mode', mode, '--brokers', broker.bootstrapServers, '--topic', topic, '--group', group,
    '--expect', String(N), '--rules', join(ROOT, 'rules'), '--dlq', dlq,
    ...(mode === 'noop' ? ['--concurrency', String(CONCURRENCY)] : []),
    ...(variant.workers === undefined ? [] : ['--workers', variant.workers]),
    ...(mode === 'paysignal' && values.compiled ? ['--compiled'] : []),
    ...(variant.spanBudget === undefined || variant.spanBudget === 'default' ? [] : ['--span-budget', variant.spanBudget]),
    ...(variant.durableState === undefined ? [] : ['--state-topic', stateTopic, '--durable-state', variant.durableState === 'on' ? 'true' : 'false']),
  ];
  const nodeArgs: string[] = mode === 'paysignal' ? values['paysignal-node-options'].split(/\s+/).filter((a) => a !== '') : [];
  if (values.profile && mode === 'paysignal') {
    // One profile per thread (Node names them CPU.<date>.<time>.<pid>.<thread id>.<seq>), in a directory per run.
    const dir = profileDir(variant, topic, round);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    nodeArgs.push('--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '500');
  }
  return new Promise((resolve, reject) => {
    const child = spawn(mode === 'rdkafka' ? rdkafkaConsumer : NODE, mode === 'rdkafka' ? args : [...nodeArgs, ...args], {
      cwd: ROOT,
      // paysignal with the image's malloc variables too, the ceilings with glibc's defaults.
      env: { ...process.env, ...(mode === 'paysignal' ? SERVICE_MALLOC_ENV : {}), OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl, OTEL_SERVICE_NAME: 'paysignal-bench', PAYSIGNAL_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line === undefined) return reject(new Error(`${variant.key} consumer exited ${code} without a result:\n${err.slice(-3000)}`));
      resolve(JSON.parse(line) as Result);
    });
  });
}

const checkpointText = (r: Result): string =>
  r.checkpoints === undefined || r.checkpoints.saved === 0
    ? ''
    : `, ${r.checkpoints.saved} checkpoints (${r.checkpoints.failed} failed) of ${r.checkpoints.lastBytes} B, ${r.checkpoints.meanMs.toFixed(2)} ms each`;

const threadsText = (r: Result): string =>
  r.threadsMs === null || r.threadsMs === undefined
    ? ''
    : ` (main ${(r.threadsMs.main / 1000).toFixed(2)}, workers ${(r.threadsMs.workers / 1000).toFixed(2)}, V8 ${(r.threadsMs.v8 / 1000).toFixed(2)}, other ${(r.threadsMs.other / 1000).toFixed(2)})`;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface Row {
  readonly variant: string;
  readonly eventsPerSec: number;
  readonly cpuUsPerEvent: number;
  /** Median CPU per event by kind of thread, µs; null off Linux. */
  readonly threadsUsPerEvent: ThreadCpuMs | null;
  readonly rssMb: number;
  readonly ratio: number;
  readonly cpuRatio: number;
  readonly runs: Result[];
}

const byTraffic: { successShare: number; bytes: number; rows: Row[] }[] = [];
for (const share of TRAFFIC) {
  const topic = topicOf(share);
  const results = new Map<string, Result[]>(VARIANTS.map((v) => [v.key, []]));
  for (let round = 0; round < ROUNDS; round++) {
    // The order rotates from round to round, so no consumer always runs first (or last).
    const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]!);
    for (const variant of order) {
      const r = await runConsumer(variant, topic, round);
      results.get(variant.key)!.push(r);
      log(`${Math.round((1 - share) * 100)}% errors, round ${round + 1}, ${variant.key}: ${r.events} events in ${(r.ms / 1000).toFixed(2)} s: ${Math.round(r.eventsPerSec)} events/s, CPU ${(r.cpuMs / 1000).toFixed(2)} s${threadsText(r)}, RSS ${r.rssMb.toFixed(0)} MB${r.spansExported !== undefined ? `, spans exported ${r.spansExported} (dropped ${r.spansDropped})` : ''}${checkpointText(r)}`);
    }
  }
  await checkRetention(topic);
  const rate = (key: string): number => median(results.get(key)!.map((r) => r.eventsPerSec));
  const cpu = (key: string): number => median(results.get(key)!.map((r) => (r.cpuMs / r.events) * 1e3));
  const threads = (key: string): ThreadCpuMs | null => {
    const runs = results.get(key)!;
    if (runs.some((r) => r.threadsMs === null || r.threadsMs === undefined)) return null;
    const per = (pick: (t: ThreadCpuMs) => number): number => median(runs.map((r) => (pick(r.threadsMs!) / r.events) * 1e3));
    return { main: per((t) => t.main), workers: per((t) => t.workers), v8: per((t) => t.v8), other: per((t) => t.other) };
  };
  const noopRate = rate('noop');
  const noopCpu = cpu('noop');
  const rows = VARIANTS.map((v): Row => ({
    variant: v.key,
    eventsPerSec: rate(v.key),
    cpuUsPerEvent: cpu(v.key),
    threadsUsPerEvent: threads(v.key),
    rssMb: median(results.get(v.key)!.map((r) => r.rssMb)),
    ratio: rate(v.key) / noopRate,
    cpuRatio: cpu(v.key) / noopCpu,
    runs: results.get(v.key)!,
  }));
  byTraffic.push({ successShare: share, bytes: bytesOf.get(share)!, rows });
}

const summary = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model, memGiB: totalmem() / 2 ** 30, node: process.version },
  messages: N,
  partitions: P,
  noopPartitionsConsumedConcurrently: CONCURRENCY,
  rounds: ROUNDS,
  targets: { ratio: 0.35, cpuRatio: 3 },
  traffic: byTraffic,
  otlp: { requests: otlpRequests, bytes: otlpBytes },
};
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const threadsCell = (t: ThreadCpuMs | null): string =>
  t === null ? '' : `${t.main.toFixed(1)} / ${t.workers.toFixed(1)} / ${t.v8.toFixed(1)} / ${t.other.toFixed(1)} µs`;
let table = `Kafka path, ${N} messages on ${P} partitions, median of ${ROUNDS} rounds (targets: throughput >= 0.35x the no-op consumer, CPU per event <= 3x)\n\n`;
table += '| traffic | consumer | events/s | CPU per event | RSS | throughput vs no-op | CPU vs no-op | CPU per event by thread: main / workers / V8 / other |\n|---|---|---:|---:|---:|---:|---:|---|\n';
for (const t of byTraffic) {
  for (const r of t.rows) {
    const mine = r.variant.startsWith('paysignal');
    table += `| ${Math.round((1 - t.successShare) * 100)}% errors | ${r.variant} | ${fmt(r.eventsPerSec)} | ${r.cpuUsPerEvent.toFixed(1)} µs | ${r.rssMb.toFixed(0)} MB | ${r.ratio.toFixed(2)}×${mine ? (r.ratio >= 0.35 ? ' (met)' : ' (missed)') : ''} | ${r.cpuRatio.toFixed(2)}×${mine ? (r.cpuRatio <= 3 ? ' (met)' : ' (missed)') : ''} | ${threadsCell(r.threadsUsPerEvent)} |\n`;
  }
}
process.stdout.write(`${table}\nOTLP black hole received ${otlpRequests} requests, ${(otlpBytes / 1e6).toFixed(1)} MB\n`);
if (values.profile) {
  for (const variant of VARIANTS.filter((v) => v.mode === 'paysignal')) {
    for (const share of TRAFFIC) {
      const dir = profileDir(variant, topicOf(share), 0);
      for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort()) {
        const tid = file.split('.').at(-3);
        const thread = tid === '0' ? 'main thread' : `worker thread ${tid}`;
        const s = summarize(JSON.parse(readFileSync(join(dir, file), 'utf8')));
        const pct = (ms: number): string => `${((ms / s.totalMs) * 100).toFixed(1).padStart(5)}%`;
        process.stdout.write(
          `\nprofile of ${variant.key}, ${Math.round((1 - share) * 100)}% errors, ${thread} (round 1, incl. startup): ${(s.totalMs / 1000).toFixed(2)} s sampled\ntop 25 self:\n` +
            s.self.slice(0, 25).map(([k, ms]) => `${pct(ms)} ${ms.toFixed(0).padStart(6)} ms  ${k}`).join('\n') + '\ntop 30 inclusive:\n' +
            s.inclusive.slice(0, 30).map(([k, ms]) => `${pct(ms)} ${ms.toFixed(0).padStart(6)} ms  ${k}`).join('\n') + '\n',
        );
      }
    }
  }
}
if (values.json) writeFileSync(values.json, JSON.stringify(summary, null, 2) + '\n');
await admin.disconnect();
await broker.stop();
otlp.close();
