// `paysignal run` as a real process against the embedded broker (or KAFKA_BROKERS): killed with
// SIGKILL mid-stream and restarted, stopped with SIGTERM mid-stream, and started with bad config.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcess, waitFor, type RunningProcess } from '../support/processes.ts';
import { makeEvents, readEventLines, startTestKafka, type EventLine, type TestKafka } from '../support/kafka.ts';
import { loopbackHttpEnv, serviceEnv } from '../support/service-env.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const NODE = join(root, 'node_modules', '.bin', 'node');
const ENTRY = join(root, 'test', 'support', 'paysignal-run.ts');

let kafka: TestKafka;
let dir: string;
const children = new Set<RunningProcess>();

beforeAll(async () => {
  kafka = await startTestKafka();
  dir = mkdtempSync(join(tmpdir(), 'paysignal-run-'));
});

afterAll(async () => {
  for (const child of children) await child.stop(2000);
  await kafka?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const CONFIG = `# paysignal run, tuned for tests: quick heartbeats and small fetches so a stream takes a while
kafka:
  from_beginning: true
  heartbeat_interval: 300ms
  session_timeout: 10s
  max_wait: 200ms
  max_bytes_per_partition: 8192
  shutdown_timeout: 15s
  lag_refresh_interval: 1s
  backoff: { initial: 200ms, max: 2s }
`;

function runPaysignal(env: Record<string, string>, configText = CONFIG, args: readonly string[] = []): RunningProcess {
  const config = join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(config, configText);
  const child = startProcess(NODE, [ENTRY, '--config', config, ...args], {
    cwd: root,
    // Two processing workers whatever the machine (partitions_consumed_concurrently 4 by default then).
    // HTTP on loopback here too, for the bad-configuration runs whose Kafka environment is partial on purpose.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PAYSIGNAL_LOG_LEVEL: 'info', ...loopbackHttpEnv(), PAYSIGNAL_WORKERS: '2', ...env },
  });
  children.add(child);
  return child;
}

async function joined(child: RunningProcess): Promise<void> {
  await waitFor('paysignal run to join its consumer group', () => {
    if (child.child.exitCode !== null) throw new Error(`exited early:\n${child.output()}`);
    return child.output().includes('"msg":"joined the consumer group"') ? true : undefined;
  }, 30_000, 50);
}

/** Produces `events` in chunks of `chunk` every `everyMs`, in the background. */
function produceSlowly(topic: string, events: ReturnType<typeof makeEvents>, chunk: number, everyMs: number): { done: Promise<void> } {
  const done = (async () => {
    for (let i = 0; i < events.length; i += chunk) {
      await kafka.produce(topic, events.slice(i, i + chunk).map((e) => e.message));
      await sleep(everyMs);
    }
  })();
  return { done };
}

function offsetsByPartition(lines: readonly EventLine[]): Map<number, bigint[]> {
  const out = new Map<number, bigint[]>();
  for (const l of lines) {
    const list = out.get(l.partition) ?? [];
    list.push(BigInt(l.offset));
    out.set(l.partition, list);
  }
  for (const list of out.values()) list.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return out;
}

describe('paysignal run as a process', () => {
  it('after SIGKILL mid-stream and a restart, processes every event at least once and repeats only what was not committed yet', async () => {
    const topic = await kafka.createTopic('kill', 3);
    const dlq = await kafka.createTopic('kill-dlq', 1);
    const group = `kill-${topic}`;
    const events = makeEvents('kill', 3000);
    const fileA = join(dir, 'kill-a.ndjson');
    const fileB = join(dir, 'kill-b.ndjson');
    const env = serviceEnv(kafka.bootstrapServers, { topic, group, dlq });

    // A backlog first, so A is busy with batch after batch when it is killed; the rest trickles in.
    await produceSlowly(topic, events.slice(0, 1500), 150, 0).done;
    const a = runPaysignal({ ...env, PAYSIGNAL_EVENTS_FILE: fileA });
    await joined(a);
    const producing = produceSlowly(topic, events.slice(1500), 150, 200);
    await waitFor('run A to process 300 events', () => (readEventLines(fileA).length >= 300 ? true : undefined), 30_000, 5);
    a.child.kill('SIGKILL');
    const exitA = await a.exited;
    expect(exitA.signal).toBe('SIGKILL');
    const committedAtKill = await kafka.committedOffsets(group, topic);
    const linesA = readEventLines(fileA);
    expect(linesA.length).toBeLessThan(events.length); // killed mid-stream

    const b = runPaysignal({ ...env, PAYSIGNAL_EVENTS_FILE: fileB });
    await joined(b);
    await producing.done;
    const high = await kafka.highWatermarks(topic);
    await waitFor('run B to commit everything', async () => {
      const committed = await kafka.committedOffsets(group, topic);
      return [...high].every(([p, h]) => committed.get(p) === h) ? true : undefined;
    }, 60_000, 200);
    expect(await b.stop(15_000)).toBe(0);

    const linesB = readEventLines(fileB);
    // Every produced event was processed at least once, by A or by B.
    const seen = new Set([...linesA, ...linesB].map((l) => l.correlation_id));
    const missing = events.filter((e) => !seen.has(e.id)).map((e) => e.id);
    expect(missing).toEqual([]);

    // B started each partition exactly at the offset A had committed (-1: none, so from the start).
    const byPartitionB = offsetsByPartition(linesB);
    for (const [partition, offsets] of byPartitionB) {
      const committed = committedAtKill.get(partition) ?? -1n;
      expect(offsets[0], `first offset B processed on partition ${partition}`).toBe(committed < 0n ? 0n : committed);
    }

    // Processed twice: only what A had finished but not yet committed. How much that is depends on
    // how far its commits were behind at the kill (docs/architecture.md, fetch-ahead), so the count
    // has no bound here; but A committed as it went, not only when it stops.
    const idsB = new Set(linesB.map((l) => l.correlation_id));
    const twice = linesA.filter((l) => idsB.has(l.correlation_id));
    for (const l of twice) expect(BigInt(l.offset)).toBeGreaterThanOrEqual(committedAtKill.get(l.partition) ?? 0n);
    expect([...committedAtKill.values()].some((c) => c > 0n), 'A committed before it was killed').toBe(true);
    expect(twice.length).toBeLessThan(linesA.length);
    // And nothing A processed below its committed offsets was processed again.
    for (const l of linesB) {
      const committed = committedAtKill.get(l.partition) ?? -1n;
      expect(BigInt(l.offset)).toBeGreaterThanOrEqual(committed < 0n ? 0n : committed);
    }
    console.log(`SIGKILL test: committed at kill ${[...committedAtKill].map(([p, c]) => `${p}:${c}`).join(" ")}, A per partition ${[...offsetsByPartition(linesA)].map(([p, o]) => `${p}:${o.length}`).join(" ")}, A processed ${linesA.length}, B processed ${linesB.length}, processed twice ${twice.length}`);
  });

  it('on SIGTERM mid-stream finishes the batch, commits exactly what it processed, and exits 0', async () => {
    const topic = await kafka.createTopic('term', 3);
    const dlq = await kafka.createTopic('term-dlq', 1);
    const group = `term-${topic}`;
    const events = makeEvents('term', 3000);
    const file = join(dir, 'term.ndjson');
    const child = runPaysignal({ ...serviceEnv(kafka.bootstrapServers, { topic, group, dlq }), PAYSIGNAL_EVENTS_FILE: file });
    await joined(child);
    const producing = produceSlowly(topic, events, 60, 100);
    await waitFor('600 events processed', () => (readEventLines(file).length >= 600 ? true : undefined), 30_000, 10);

    const sentAt = Date.now();
    child.child.kill('SIGTERM');
    const { code, signal } = await child.exited;
    const tookMs = Date.now() - sentAt;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(tookMs).toBeLessThan(15_000);
    expect(child.output()).toContain('"msg":"shutdown complete"');
    await producing.done;

    const lines = readEventLines(file);
    expect(lines.length).toBeLessThan(events.length); // stopped mid-stream
    const committed = await kafka.committedOffsets(group, topic);
    const processed = offsetsByPartition(lines);
    for (const [partition, offsets] of processed) {
      // Each offset from 0 up to the committed one exactly once, nothing beyond it.
      const expected = Array.from({ length: Number(committed.get(partition) ?? 0n) }, (_, i) => BigInt(i));
      expect(offsets, `partition ${partition}`).toEqual(expected);
    }
    for (const [partition, c] of committed) if (c > 0n) expect(processed.has(partition)).toBe(true);
    console.log(`SIGTERM test: exit after ${tookMs} ms, processed ${lines.length}, committed ${[...committed].map(([p, c]) => `${p}:${c}`).join(' ')}`);
  });

  it('shuts down the same way on SIGINT (Ctrl-C)', async () => {
    const topic = await kafka.createTopic('int', 1);
    const dlq = await kafka.createTopic('int-dlq', 1);
    const group = `int-${topic}`;
    const events = makeEvents('int', 50);
    await kafka.produce(topic, events.map((e) => e.message));
    const file = join(dir, 'int.ndjson');
    const child = runPaysignal({ ...serviceEnv(kafka.bootstrapServers, { topic, group, dlq }), PAYSIGNAL_EVENTS_FILE: file });
    await joined(child);
    await waitFor('all 50 processed', () => (readEventLines(file).length === 50 ? true : undefined), 20_000, 20);
    child.child.kill('SIGINT');
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(child.output()).toContain('"signal":"SIGINT"');
    expect((await kafka.committedOffsets(group, topic)).get(0)).toBe(50n);
  });

  // The bad-configuration runs spell out a partial Kafka environment on purpose: what is missing or
  // wrong is what each one tests.
  it('exits 2 naming the file, line and field for a bad configuration', async () => {
    const child = runPaysignal(
      { KAFKA_BROKERS: kafka.bootstrapServers, KAFKA_TOPIC: 'x' },
      'kafka:\n  group_id: paysignal\n  session_timeout: soon\nhttp:\n  port: 9464\n',
    );
    const { code } = await child.exited;
    expect(code).toBe(2);
    expect(child.output()).toMatch(/\S+config-\w+\.yaml:3:20: CONFIG_INVALID kafka\.session_timeout: "soon" is not a duration/);
  });

  it('exits 2 when no brokers are configured, and names the environment variable for a bad value', async () => {
    const noBrokers = runPaysignal({ KAFKA_TOPIC: 'x' }, 'kafka:\n  group_id: g\n');
    expect((await noBrokers.exited).code).toBe(2);
    expect(noBrokers.output()).toMatch(/CONFIG_MISSING .*kafka\.brokers: no Kafka brokers configured: set kafka\.brokers in .* or KAFKA_BROKERS/);

    const noTlsFile = runPaysignal({ KAFKA_BROKERS: kafka.bootstrapServers, KAFKA_TOPIC: 'x' }, 'kafka:\n  tls:\n    ca_file: certs/missing-ca.pem\n');
    expect((await noTlsFile.exited).code).toBe(2);
    expect(noTlsFile.output()).toMatch(/\S+certs\/missing-ca\.pem: KAFKA_TLS_FILE_UNREADABLE kafka\.tls\.ca_file: cannot read the Kafka TLS CA file/);

    const badEventsFile = runPaysignal({ KAFKA_BROKERS: kafka.bootstrapServers, KAFKA_TOPIC: 'x', PAYSIGNAL_EVENTS_FILE: join(dir, 'no-such-dir', 'events.ndjson') }, 'kafka: {}\n');
    expect((await badEventsFile.exited).code).toBe(2);
    expect(badEventsFile.output()).toMatch(/\S+no-such-dir\/events\.ndjson: EVENTS_FILE_UNWRITABLE events_file\.path: cannot open the events file/);

    const badPort = runPaysignal({ KAFKA_BROKERS: kafka.bootstrapServers, KAFKA_TOPIC: 'x', PAYSIGNAL_HTTP_PORT: 'ninety' }, 'kafka: {}\n');
    expect((await badPort.exited).code).toBe(2);
    expect(badPort.output()).toContain('CONFIG_ENV_INVALID PAYSIGNAL_HTTP_PORT: PAYSIGNAL_HTTP_PORT must be a whole number');

    const badWorkers = runPaysignal({ KAFKA_BROKERS: kafka.bootstrapServers, KAFKA_TOPIC: 'x', PAYSIGNAL_WORKERS: 'many' }, 'kafka: {}\n');
    expect((await badWorkers.exited).code).toBe(2);
    expect(badWorkers.output()).toContain('CONFIG_ENV_INVALID PAYSIGNAL_WORKERS:');
    const badWorkersFlag = runPaysignal({ KAFKA_BROKERS: kafka.bootstrapServers, KAFKA_TOPIC: 'x' }, 'kafka: {}\n', ['--workers', 'many']);
    expect((await badWorkersFlag.exited).code).toBe(2);
    expect(badWorkersFlag.output()).toContain('USAGE --workers: --workers must be a whole number or auto, got "many"');

    const grpc = runPaysignal({ KAFKA_BROKERS: kafka.bootstrapServers, KAFKA_TOPIC: 'x', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc' }, 'kafka: {}\n');
    expect((await grpc.exited).code).toBe(2);
    expect(grpc.output()).toContain('OTLP_PROTOCOL_UNSUPPORTED OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="grpc" is not supported');
  });
});
