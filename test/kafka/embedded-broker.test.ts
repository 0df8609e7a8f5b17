// The embedded Kafka-protocol broker: the C launcher over librdkafka's mock cluster, compiled and
// cached by src/embedded-broker, its stdin command protocol, and its clear errors when the system
// lacks cc, pkg-config or librdkafka.
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { buildLauncher, EmbeddedBrokerError, startEmbeddedBroker, type EmbeddedBroker } from '../../src/embedded-broker/index.ts';
import { isAlive, startProcess, waitFor } from '../support/processes.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'paysignal-broker-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('embedded broker', () => {
  let broker: EmbeddedBroker;

  afterAll(async () => {
    await broker?.stop();
  });

  it('starts brokers on 127.0.0.1, creates topics and speaks Kafka to kafkajs', async () => {
    broker = await startEmbeddedBroker({ brokers: 2, topics: [{ name: 'embedded-a', partitions: 3 }] });
    expect(broker.brokers).toHaveLength(2);
    for (const address of broker.brokers) expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(broker.bootstrapServers).toBe(broker.brokers.join(','));
    await broker.createTopic('embedded-b', 2);

    const kafka = new Kafka({ brokers: [...broker.brokers], clientId: 'embedded-test', logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: ['embedded-a', 'embedded-b'] });
      expect(metadata.topics.map((t) => [t.name, t.partitions.length]).sort()).toEqual([['embedded-a', 3], ['embedded-b', 2]]);
      const brokers = (await admin.describeCluster()).brokers.map((b) => b.nodeId).sort();
      expect(brokers).toEqual([1, 2]);
    } finally {
      await admin.disconnect();
    }
  });

  it('answers fault-injection commands and reports refused ones with a stable code', async () => {
    await broker.brokerDown(2);
    await broker.brokerUp(2);
    await broker.pushRequestErrors(0, [6, 7]); // Produce: NOT_LEADER_FOR_PARTITION, REQUEST_TIMED_OUT
    await broker.clearRequestErrors(0);
    await broker.setRtt(1, 0);
    await expect(broker.pushRequestErrors(0, Array.from({ length: 300 }, () => 6))).rejects.toMatchObject({ code: 'EMBEDDED_BROKER_COMMAND_FAILED' });
    await expect(broker.brokerDown(3)).rejects.toThrow(RangeError);
    await expect(broker.createTopic('bad name', 1)).rejects.toThrow(RangeError);
    // Still answering after refusals.
    await broker.createTopic('embedded-c', 1);
  });

  it('stops when asked, and later commands fail clearly', async () => {
    const b = await startEmbeddedBroker();
    expect(isAlive(b.pid)).toBe(true);
    await b.stop();
    expect(isAlive(b.pid)).toBe(false);
    await expect(b.createTopic('late', 1)).rejects.toMatchObject({ code: 'EMBEDDED_BROKER_STOPPED' });
  });

  it('never outlives the process that started it', async () => {
    const script = join(dir, 'owner.ts');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(
      script,
      `import { startEmbeddedBroker } from ${JSON.stringify(join(root, 'src', 'embedded-broker', 'index.ts'))};\n` +
        `const b = await startEmbeddedBroker();\nprocess.stdout.write('PID ' + b.pid + '\\n');\nsetInterval(() => {}, 1000);\n`,
    );
    const owner = startProcess(join(root, 'node_modules', '.bin', 'node'), [script]);
    const pid = await waitFor('the owner to report the launcher pid', () => {
      const m = /PID (\d+)/.exec(owner.output());
      return m ? Number(m[1]) : undefined;
    }, 20_000, 50);
    expect(isAlive(pid)).toBe(true);
    owner.child.kill('SIGKILL');
    await owner.exited;
    await waitFor('the launcher to exit after its owner died', () => (isAlive(pid) ? undefined : true), 5000, 50);
  });

  it('compiles once per source and reuses the cached binary', async () => {
    const cache = join(dir, 'cache');
    const first = await buildLauncher(cache);
    const built = statSync(first).mtimeMs;
    const second = await buildLauncher(cache);
    expect(second).toBe(first);
    expect(statSync(second).mtimeMs).toBe(built);
  });
});

describe('embedded broker without its system packages', () => {
  async function buildWith(env: Record<string, string | undefined>): Promise<unknown> {
    const saved = { PATH: process.env.PATH, PKG_CONFIG_LIBDIR: process.env.PKG_CONFIG_LIBDIR, PKG_CONFIG_PATH: process.env.PKG_CONFIG_PATH };
    Object.assign(process.env, env);
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k];
    try {
      await buildLauncher(join(dir, `cache-${Math.random().toString(36).slice(2)}`));
      return null;
    } catch (error) {
      return error;
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  }

  it('names the Debian package when pkg-config is missing', async () => {
    const empty = join(dir, 'empty-bin');
    mkdirSync(empty, { recursive: true });
    const error = await buildWith({ PATH: empty });
    expect(error).toBeInstanceOf(EmbeddedBrokerError);
    expect(error).toMatchObject({ code: 'EMBEDDED_BROKER_NO_PKG_CONFIG' });
    expect((error as Error).message).toContain('apt-get install pkg-config');
  });

  it('names the Debian package when librdkafka is missing', async () => {
    const noLibs = join(dir, 'no-pc-files');
    mkdirSync(noLibs, { recursive: true });
    const error = await buildWith({ PKG_CONFIG_LIBDIR: noLibs, PKG_CONFIG_PATH: noLibs });
    expect(error).toMatchObject({ code: 'EMBEDDED_BROKER_NO_LIBRDKAFKA' });
    expect((error as Error).message).toContain('apt-get install librdkafka-dev');
  });

  it('names the Debian package when the C compiler is missing', async () => {
    const onlyPkgConfig = join(dir, 'only-pkg-config');
    mkdirSync(onlyPkgConfig, { recursive: true });
    symlinkSync(execFileSync('sh', ['-c', 'command -v pkg-config'], { encoding: 'utf8' }).trim(), join(onlyPkgConfig, 'pkg-config'));
    const error = await buildWith({ PATH: onlyPkgConfig });
    expect(error).toMatchObject({ code: 'EMBEDDED_BROKER_NO_CC' });
    expect((error as Error).message).toContain('apt-get install gcc');
  });
});
