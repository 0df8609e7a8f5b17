// The Kafka-path benchmark (issue 8): `paysignal run`'s pipeline against a no-op kafkajs consumer on
// the same topic of the same broker, in the same run.
//
//   node bench/kafka/run.ts [--messages N] [--partitions P] [--rounds R] [--concurrency C] [--json FILE]
//                           [--profile] [--paysignal-node-options FLAGS]
//
// 1. Starts the embedded broker (librdkafka mock cluster) and one topic with P partitions.
// 2. Produces N provider-native events (the classify benchmark's generator, bench/classify/generate.ts)
//    once, round-robin, keeping every partition under the mock broker's ~5 MB retention (checked: the
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
// Prints events/s per consumer (median of rounds) and paysignal / no-op (target >= 0.85).
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel, Partitioners, type Message } from 'kafkajs';
import { startEmbeddedBroker } from '../../src/embedded-broker/index.ts';
import { SERVICE_NODE_OPTIONS } from '../../src/service-node-options.ts';
import { suppressKafkajsTimeoutNegativeWarning } from '../../src/sources/kafka/warnings.ts';
import { DEFAULT_SEED, ensureDataset, OUT_DIR, ROOT } from '../classify/generate.ts';
import { summarize } from '../classify/profile.ts';

suppressKafkajsTimeoutNegativeWarning();

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '200000' },
    partitions: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '1' },
    json: { type: 'string' },
    profile: { type: 'boolean', default: false },
    // V8 flags for the paysignal consumer; default the ones the image and the chart ship with.
    'paysignal-node-options': { type: 'string', default: SERVICE_NODE_OPTIONS },
  },
});
const N = Number(values.messages);
const P = Number(values.partitions);
const ROUNDS = Number(values.rounds);
const CONCURRENCY = Number(values.concurrency);
const NODE = join(ROOT, 'node_modules', '.bin', 'node');
const PER_PARTITION_LIMIT = 4.5e6; // below the mock broker's ~5 MB per partition

const log = (s: string): void => void process.stderr.write(`${s}\n`);

// --- data: the first N lines of the classify benchmark's dataset -------------------------------
const { dataset } = ensureDataset(N, DEFAULT_SEED);
const lines = readFileSync(dataset.file, 'utf8').split('\n').filter((l) => l.length > 0);
if (lines.length !== N) throw new Error(`dataset has ${lines.length} lines, expected ${N}`);
const bytes = lines.reduce((s, l) => s + Buffer.byteLength(l), 0);
if (bytes / P > PER_PARTITION_LIMIT) throw new Error(`${(bytes / 1e6).toFixed(1)} MB over ${P} partitions exceeds ${PER_PARTITION_LIMIT / 1e6} MB per partition; raise --partitions`);

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

// --- broker and topic ---------------------------------------------------------------------------
const topic = 'bench-events';
const dlq = 'bench-events-dlq';
const broker = await startEmbeddedBroker({ topics: [{ name: topic, partitions: P }, { name: dlq, partitions: 1 }] });
const kafka = new Kafka({ brokers: [...broker.brokers], clientId: 'bench-producer', logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
await producer.connect();
const produceStarted = performance.now();
const CHUNK = 2000;
for (let i = 0; i < N; i += CHUNK) {
  const messages: Message[] = [];
  for (let j = i; j < Math.min(N, i + CHUNK); j++) messages.push({ value: lines[j]!, partition: j % P });
  await producer.send({ topic, messages, acks: 1 });
}
log(`produced ${N} messages (${(bytes / 1e6).toFixed(1)} MB, ${(bytes / N).toFixed(0)} B avg) to ${P} partitions in ${((performance.now() - produceStarted) / 1000).toFixed(1)} s`);
await producer.disconnect();

async function checkRetention(): Promise<void> {
  const offsets = await admin.fetchTopicOffsets(topic);
  let total = 0;
  for (const o of offsets) {
    if (o.low !== '0') throw new Error(`partition ${o.partition} lost messages to retention (low ${o.low})`);
    total += Number(o.high);
  }
  if (total !== N) throw new Error(`topic holds ${total} messages, expected ${N}`);
}
await checkRetention();

interface Result {
  mode: string;
  events: number;
  ms: number;
  eventsPerSec: number;
  cpuMs: number;
  rssMb: number;
  spansStarted?: number;
  spansDropped?: number;
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

type Mode = 'noop' | 'paysignal' | 'rdkafka';
const MODES: readonly Mode[] = ['noop', 'paysignal', 'rdkafka'];

let groupSeq = 0;
function runConsumer(mode: Mode, round: number): Promise<Result> {
  const group = `bench-${mode}-${round}-${groupSeq++}`;
  const args = mode === 'rdkafka' ? [broker.bootstrapServers, topic, group, String(N)] : [
    join(ROOT, 'bench', 'kafka', 'consumer.ts'),
    '--mode', mode, '--brokers', broker.bootstrapServers, '--topic', topic, '--group', group,
    '--expect', String(N), '--concurrency', String(CONCURRENCY), '--rules', join(ROOT, 'rules'), '--dlq', dlq,
  ];
  const nodeArgs: string[] = mode === 'paysignal' ? values['paysignal-node-options'].split(/\s+/).filter((a) => a !== '') : [];
  if (values.profile && mode === 'paysignal') {
    mkdirSync(join(OUT_DIR, 'profile'), { recursive: true });
    nodeArgs.push('--cpu-prof', '--cpu-prof-dir', join(OUT_DIR, 'profile'), '--cpu-prof-name', `kafka-paysignal-${round}.cpuprofile`, '--cpu-prof-interval', '500');
  }
  return new Promise((resolve, reject) => {
    const child = spawn(mode === 'rdkafka' ? rdkafkaConsumer : NODE, mode === 'rdkafka' ? args : [...nodeArgs, ...args], {
      cwd: ROOT,
      env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl, OTEL_SERVICE_NAME: 'paysignal-bench', PAYSIGNAL_LOG_LEVEL: 'warn' },
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
      if (line === undefined) return reject(new Error(`${mode} consumer exited ${code} without a result:\n${err.slice(-3000)}`));
      resolve(JSON.parse(line) as Result);
    });
  });
}

const results: Record<Mode, Result[]> = { noop: [], paysignal: [], rdkafka: [] };
for (let round = 0; round < ROUNDS; round++) {
  // The order rotates from round to round, so no consumer always runs first (or last).
  const order = MODES.map((_, i) => MODES[(i + round) % MODES.length]!);
  for (const mode of order) {
    const r = await runConsumer(mode, round);
    results[mode].push(r);
    log(`round ${round + 1} ${mode.padEnd(9)} ${r.events} events in ${(r.ms / 1000).toFixed(2)} s: ${Math.round(r.eventsPerSec)} events/s, CPU ${(r.cpuMs / 1000).toFixed(2)} s, RSS ${r.rssMb.toFixed(0)} MB${r.spansStarted !== undefined ? `, spans ${r.spansStarted} (dropped ${r.spansDropped})` : ''}`);
  }
}
await checkRetention();

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const noopRate = median(results.noop.map((r) => r.eventsPerSec));
const payRate = median(results.paysignal.map((r) => r.eventsPerSec));
const noopCpu = median(results.noop.map((r) => (r.cpuMs / r.events) * 1e3));
const payCpu = median(results.paysignal.map((r) => (r.cpuMs / r.events) * 1e3));
const rdkRate = median(results.rdkafka.map((r) => r.eventsPerSec));
const rdkCpu = median(results.rdkafka.map((r) => (r.cpuMs / r.events) * 1e3));
const ratio = payRate / noopRate;
const summary = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model, memGiB: totalmem() / 2 ** 30, node: process.version },
  messages: N,
  bytes,
  partitions: P,
  partitionsConsumedConcurrently: CONCURRENCY,
  rounds: ROUNDS,
  noop: { eventsPerSec: noopRate, cpuUsPerEvent: noopCpu, runs: results.noop },
  paysignal: { eventsPerSec: payRate, cpuUsPerEvent: payCpu, runs: results.paysignal },
  rdkafka: { eventsPerSec: rdkRate, cpuUsPerEvent: rdkCpu, runs: results.rdkafka },
  ratio,
  ratioToRdkafka: payRate / rdkRate,
  target: 0.85,
  otlp: { requests: otlpRequests, bytes: otlpBytes },
};
process.stdout.write(
  `Kafka path, ${N} messages on ${P} partitions, partitionsConsumedConcurrently ${CONCURRENCY}, median of ${ROUNDS} rounds\n` +
    `  no-op kafkajs consumer: ${Math.round(noopRate)} events/s (${noopCpu.toFixed(1)} us CPU per event)\n` +
    `  paysignal run pipeline: ${Math.round(payRate)} events/s (${payCpu.toFixed(1)} us CPU per event)\n` +
    `  librdkafka consumer (second ceiling): ${Math.round(rdkRate)} events/s (${rdkCpu.toFixed(1)} us CPU per event)\n` +
    `  ratio paysignal / no-op: ${ratio.toFixed(2)}x (target >= 0.85x: ${ratio >= 0.85 ? 'met' : 'MISSED'})\n` +
    `  ratio paysignal / librdkafka: ${(payRate / rdkRate).toFixed(2)}x; no-op kafkajs / librdkafka: ${(noopRate / rdkRate).toFixed(2)}x\n` +
    `  OTLP black hole received ${otlpRequests} requests, ${(otlpBytes / 1e6).toFixed(1)} MB\n`,
);
if (values.profile) {
  const file = join(OUT_DIR, 'profile', 'kafka-paysignal-0.cpuprofile');
  const s = summarize(JSON.parse(readFileSync(file, 'utf8')));
  const pct = (ms: number): string => `${((ms / s.totalMs) * 100).toFixed(1).padStart(5)}%`;
  process.stdout.write(`\nprofile of paysignal (round 1, whole process incl. startup): ${(s.totalMs / 1000).toFixed(2)} s sampled\ntop 25 self:\n` +
    s.self.slice(0, 25).map(([k, ms]) => `${pct(ms)} ${ms.toFixed(0).padStart(6)} ms  ${k}`).join('\n') + '\ntop 30 inclusive:\n' +
    s.inclusive.slice(0, 30).map(([k, ms]) => `${pct(ms)} ${ms.toFixed(0).padStart(6)} ms  ${k}`).join('\n') + '\n');
}
if (values.json) writeFileSync(values.json, JSON.stringify(summary, null, 2) + '\n');
await admin.disconnect();
await broker.stop();
otlp.close();
