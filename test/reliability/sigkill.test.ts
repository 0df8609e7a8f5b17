// Five SIGKILLs at random points of a stream: `paysignal run` child processes (the CLI's runCommand,
// test/support/paysignal-run.ts) consume a topic that is still being written; each is killed with
// SIGKILL at a random moment after it processed a random number of events, and a new one takes over
// the same consumer group. After the fifth kill a last process finishes the stream. Every produced
// event id must be in some process's events file (PAYSIGNAL_EVENTS_FILE; a line is written before
// its offset is committed): processed at least once. The random points come from a seed that is
// printed (RELIABILITY_SEED reproduces a run).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_NODE, ROOT } from '../support/cli.ts';
import { makeEvents, readEventLines, startTestKafka, type TestKafka } from '../support/kafka.ts';
import { startProcess, waitFor, type RunningProcess } from '../support/processes.ts';
import { rng } from '../support/random.ts';
import { serviceEnv } from '../support/service-env.ts';

const ENTRY = join(ROOT, 'test', 'support', 'paysignal-run.ts');
const SEED = Number(process.env.RELIABILITY_SEED ?? Date.now() % 1_000_000);

let kafka: TestKafka;
let dir: string;
const children = new Set<RunningProcess>();

beforeAll(async () => {
  kafka = await startTestKafka();
  dir = mkdtempSync(join(tmpdir(), 'paysignal-sigkill-'));
});

afterAll(async () => {
  for (const child of children) await child.stop(2000);
  await kafka?.stop();
  rmSync(dir, { recursive: true, force: true });
});


// Short session timeout (6 s, the usual broker minimum): a killed member is dropped from the group
// quickly, so the next one joins fast.
const CONFIG = `kafka:
  from_beginning: true
  heartbeat_interval: 200ms
  session_timeout: 6s
  max_wait: 100ms
  max_bytes_per_partition: 8192
  shutdown_timeout: 10s
  lag_refresh_interval: 1s
  backoff: { initial: 100ms, max: 1s }
tracing:
  enabled: false
`;

describe('SIGKILL at random points of a stream', () => {
  it('five kills and restarts: every event processed at least once', async () => {
    const random = rng(SEED);
    const topic = await kafka.createTopic('sigkill', 3);
    const dlq = await kafka.createTopic('sigkill-dlq', 1);
    const group = `sigkill-${topic}`;
    const MAX = 12_000;
    const events = makeEvents('sk', MAX);
    let produced = 1500;
    let killsDone = false;
    const config = join(dir, 'config.yaml');
    writeFileSync(config, CONFIG);
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      PAYSIGNAL_LOG_LEVEL: 'info',
      ...serviceEnv(kafka.bootstrapServers, { topic, group, dlq }),
      // Worker mode, whatever the machine's cores: the batches in hand are on worker threads when killed.
      PAYSIGNAL_WORKERS: '2',
    };
    const files: string[] = [];
    const start = (n: number): RunningProcess => {
      const file = join(dir, `events-${n}.ndjson`);
      files.push(file);
      const child = startProcess(PROJECT_NODE, [ENTRY, '--config', config], { cwd: ROOT, env: { ...env, PAYSIGNAL_EVENTS_FILE: file } });
      children.add(child);
      return child;
    };

    // A backlog, then the rest trickles in while processes are killed.
    await kafka.produce(topic, events.slice(0, 1500).map((e) => e.message));
    const producing = (async () => {
      // About 100 events/s until the fifth kill, then two more seconds: every kill lands mid-stream,
      // however long the restarts take on a loaded machine.
      let after = -1;
      while (produced < MAX && after !== 0) {
        await kafka.produce(topic, events.slice(produced, produced + 50).map((e) => e.message));
        produced += 50;
        if (killsDone) after = after === -1 ? 3 : after - 1;
        await sleep(500);
      }
    })();

    const kills: string[] = [];
    for (let k = 0; k < 5; k++) {
      const child = start(k);
      const file = files[k]!;
      // Kill after a random number of processed events (30..400), plus a random 0..300 ms.
      // (A process that has caught up processes about 100 events/s, the production rate.)
      const after = 30 + Math.floor(random() * 370);
      const extraMs = Math.floor(random() * 300);
      try {
        await waitFor(`process ${k} to process ${after} events`, () => {
          if (child.child.exitCode !== null) throw new Error(`process ${k} exited early:\n${child.output()}`);
          return readEventLines(file).length >= after ? true : undefined;
        }, 30_000, 5);
      } catch (error) {
        throw new Error(`${(error as Error).message}\n--- output of process ${k} ---\n${child.output().slice(-4000)}`);
      }
      await sleep(extraMs);
      child.child.kill('SIGKILL');
      expect((await child.exited).signal).toBe('SIGKILL');
      children.delete(child);
      kills.push(`#${k + 1} after ${readEventLines(file).length} events (+${extraMs} ms)`);
    }
    killsDone = true;
    const producedAtLastKill = produced;
    await producing;
    const TOTAL = produced;

    const last = start(5);
    // Earlier processes may have committed everything already; the last one must still be up and in
    // the group before it is stopped, or SIGTERM would hit it while Node is still loading.
    await waitFor('the last process to join the group', () => {
      if (last.child.exitCode !== null) throw new Error(`last process exited:\n${last.output()}`);
      return last.output().includes('joined the consumer group') ? true : undefined;
    }, 30_000, 50);
    const high = await kafka.highWatermarks(topic);
    await waitFor('the last process to commit everything', async () => {
      if (last.child.exitCode !== null) throw new Error(`last process exited:\n${last.output()}`);
      const committed = await kafka.committedOffsets(group, topic);
      return [...high].every(([p, h]) => committed.get(p) === h) ? true : undefined;
    }, 40_000, 200);
    const lastCode = await last.stop(20_000);
    expect(lastCode, last.output().slice(-3000)).toBe(0);
    children.delete(last);

    const lines = files.flatMap((f) => readEventLines(f));
    const seen = new Set(lines.map((l) => l.correlation_id));
    const missing = events.slice(0, TOTAL).filter((e) => !seen.has(e.id)).map((e) => e.id);
    expect(missing, `seed ${SEED}`).toEqual([]);
    expect(producedAtLastKill, 'the fifth kill came before the stream ended').toBeLessThan(TOTAL);
    console.log(`sigkill (seed ${SEED}): kills ${kills.join(', ')}; ${lines.length} lines for ${TOTAL} events (${lines.length - seen.size} processed more than once); last process ${readEventLines(files[5]!).length}`);
  }, 150_000);
});
