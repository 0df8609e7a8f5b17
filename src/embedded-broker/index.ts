// The embedded Kafka-protocol broker (docs/architecture.md#real-components-in-tests): librdkafka's mock cluster behind a small C
// launcher (native/mock-broker/launcher.c), compiled on first use with the system C compiler and
// cached by a hash of its source. Used by the tests and by `paysignal demo`; not for production.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createInterface } from 'node:readline';

const execFileAsync = promisify(execFile);

import type { EmbeddedBrokerErrorCode } from '../error-codes.ts';

export type { EmbeddedBrokerErrorCode };

export class EmbeddedBrokerError extends Error {
  readonly code: EmbeddedBrokerErrorCode;
  constructor(code: EmbeddedBrokerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EmbeddedBrokerError';
    this.code = code;
  }
}

export interface EmbeddedBrokerOptions {
  /** Number of mock brokers (ids 1..n). Default 1. */
  readonly brokers?: number;
  /** Topics created before the promise resolves. */
  readonly topics?: ReadonlyArray<{ readonly name: string; readonly partitions: number }>;
  /** Where the compiled launcher is cached; default node_modules/.cache/paysignal. */
  readonly cacheDir?: string;
  /** Called with each line the launcher writes to stderr (librdkafka errors). */
  readonly onLog?: (line: string) => void;
}

export interface EmbeddedBroker {
  /** `127.0.0.1:port,...` */
  readonly bootstrapServers: string;
  readonly brokers: readonly string[];
  readonly brokerCount: number;
  /** Process id of the launcher. */
  readonly pid: number;
  createTopic(name: string, partitions: number): Promise<void>;
  brokerDown(id: number): Promise<void>;
  brokerUp(id: number): Promise<void>;
  /** The next `errorCodes.length` requests with Kafka API key `apiKey` fail with these error codes, in order. */
  pushRequestErrors(apiKey: number, errorCodes: readonly number[]): Promise<void>;
  clearRequestErrors(apiKey: number): Promise<void>;
  setRtt(id: number, ms: number): Promise<void>;
  stop(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));
const projectRoot = join(here, '..', '..');
export const LAUNCHER_SOURCE = join(projectRoot, 'native', 'mock-broker', 'launcher.c');
// A clone caches the launcher with its other build caches in node_modules/.cache. An installed
// package (no src/) may sit where only root can write (`npm install -g`), so it uses the user's
// cache directory instead.
const DEFAULT_CACHE_DIR = existsSync(join(projectRoot, 'src'))
  ? join(projectRoot, 'node_modules', '.cache', 'paysignal')
  : join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'paysignal');

function missing(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'ENOENT';
}

async function pkgConfigFlags(): Promise<string[]> {
  try {
    const { stdout } = await execFileAsync('pkg-config', ['--cflags', '--libs', 'rdkafka']);
    return stdout.trim().split(/\s+/).filter((s) => s.length > 0);
  } catch (error) {
    if (missing(error)) {
      throw new EmbeddedBrokerError(
        'EMBEDDED_BROKER_NO_PKG_CONFIG',
        'pkg-config is not installed; it finds librdkafka for the embedded Kafka broker. Install the Debian package: apt-get install pkg-config',
        { cause: error },
      );
    }
    throw new EmbeddedBrokerError(
      'EMBEDDED_BROKER_NO_LIBRDKAFKA',
      'librdkafka is not installed (pkg-config knows no "rdkafka"); the embedded Kafka broker is built on its mock cluster. Install the Debian package: apt-get install librdkafka-dev',
      { cause: error },
    );
  }
}

/** Compiles the launcher unless a binary for this exact source and these flags is cached; returns its path. */
export async function buildLauncher(cacheDir = DEFAULT_CACHE_DIR): Promise<string> {
  let source: Buffer;
  try {
    source = readFileSync(LAUNCHER_SOURCE);
  } catch (error) {
    throw new EmbeddedBrokerError('EMBEDDED_BROKER_COMPILE_FAILED', `cannot read ${LAUNCHER_SOURCE}`, { cause: error });
  }
  const flags = await pkgConfigFlags();
  const hash = createHash('sha256').update(source).update('\0').update(flags.join(' ')).update(process.arch).digest('hex').slice(0, 16);
  const binary = join(cacheDir, `mock-broker-${hash}`);
  if (existsSync(binary)) return binary;
  try {
    mkdirSync(cacheDir, { recursive: true });
  } catch (error) {
    throw new EmbeddedBrokerError(
      'EMBEDDED_BROKER_COMPILE_FAILED',
      `cannot create ${cacheDir}, where the compiled launcher is kept (${(error as Error).message}); set XDG_CACHE_HOME to a directory you can write`,
      { cause: error },
    );
  }
  // Compile to a private name and rename, so concurrent test workers never run a half-written file.
  const temp = `${binary}.${process.pid}.${Date.now()}.tmp`;
  try {
    await execFileAsync('cc', ['-O2', '-Wall', '-o', temp, LAUNCHER_SOURCE, ...flags]);
  } catch (error) {
    rmSync(temp, { force: true });
    if (missing(error)) {
      throw new EmbeddedBrokerError(
        'EMBEDDED_BROKER_NO_CC',
        'no C compiler (`cc`) found; it compiles the embedded Kafka broker launcher. Install the Debian package: apt-get install gcc',
        { cause: error },
      );
    }
    const stderr = String((error as { stderr?: unknown }).stderr ?? '');
    if (stderr.includes('rdkafka_mock.h') || stderr.includes('rdkafka.h')) {
      throw new EmbeddedBrokerError(
        'EMBEDDED_BROKER_NO_LIBRDKAFKA',
        `librdkafka headers not found; install the Debian package: apt-get install librdkafka-dev\n${stderr}`,
        { cause: error },
      );
    }
    throw new EmbeddedBrokerError('EMBEDDED_BROKER_COMPILE_FAILED', `compiling ${LAUNCHER_SOURCE} failed:\n${stderr}`, { cause: error });
  }
  renameSync(temp, binary);
  return binary;
}

interface Pending {
  readonly command: string;
  resolve(line: string): void;
  reject(error: Error): void;
}

/** Starts a mock cluster on 127.0.0.1 and resolves once it listens (and the topics exist). */
export async function startEmbeddedBroker(options: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const brokerCount = options.brokers ?? 1;
  if (!Number.isInteger(brokerCount) || brokerCount < 1 || brokerCount > 16) {
    throw new RangeError(`brokers must be an integer 1..16, got ${brokerCount}`);
  }
  const binary = await buildLauncher(options.cacheDir);
  const child: ChildProcess = spawn(binary, ['--brokers', String(brokerCount)], { stdio: ['pipe', 'pipe', 'pipe'] });
  // The launcher exits when its stdin closes; do not keep the parent's event loop alive for it.
  let stderrText = '';
  const stderrLines = createInterface({ input: child.stderr! });
  stderrLines.on('line', (line) => {
    stderrText = (stderrText + line + '\n').slice(-4000);
    options.onLog?.(line);
  });

  const pending: Pending[] = [];
  let exited = false;
  let exitError: EmbeddedBrokerError | null = null;
  let onReady: ((servers: string) => void) | null = null;

  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true;
      exitError = new EmbeddedBrokerError(
        'EMBEDDED_BROKER_STOPPED',
        `embedded broker exited (code ${code}, signal ${signal})${stderrText ? `: ${stderrText.trim()}` : ''}`,
      );
      for (const p of pending.splice(0)) p.reject(exitError);
      resolve();
    });
  });
  child.once('error', (error) => {
    exited = true;
    exitError = new EmbeddedBrokerError('EMBEDDED_BROKER_START_FAILED', `cannot start ${binary}: ${error.message}`, { cause: error });
    for (const p of pending.splice(0)) p.reject(exitError);
  });

  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (line) => {
    if (onReady !== null && line.startsWith('READY ')) {
      const ready = onReady;
      onReady = null;
      ready(line.slice('READY '.length).trim());
      return;
    }
    const next = pending.shift();
    if (next === undefined) return;
    if (line.startsWith('OK')) next.resolve(line);
    else next.reject(new EmbeddedBrokerError('EMBEDDED_BROKER_COMMAND_FAILED', `embedded broker: "${next.command}" failed: ${line.replace(/^ERR /, '')}`));
  });

  const bootstrapServers = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      onReady = null;
      child.kill('SIGKILL');
      reject(new EmbeddedBrokerError('EMBEDDED_BROKER_START_FAILED', `embedded broker did not print READY within 10 s: ${stderrText.trim()}`));
    }, 10_000);
    onReady = (servers) => {
      clearTimeout(timer);
      resolve(servers);
    };
    void exitedPromise.then(() => {
      clearTimeout(timer);
      if (onReady !== null) {
        onReady = null;
        reject(new EmbeddedBrokerError('EMBEDDED_BROKER_START_FAILED', `embedded broker exited before READY: ${stderrText.trim()}`));
      }
    });
  });

  // Commands are answered in order, one line each.
  async function command(text: string): Promise<string> {
    if (exited) throw exitError ?? new EmbeddedBrokerError('EMBEDDED_BROKER_STOPPED', 'embedded broker is stopped');
    if (/[\r\n]/.test(text)) throw new EmbeddedBrokerError('EMBEDDED_BROKER_COMMAND_FAILED', 'command contains a line break');
    return await new Promise<string>((resolve, reject) => {
      pending.push({ command: text, resolve, reject });
      child.stdin!.write(`${text}\n`);
    });
  }

  function brokerId(id: number): number {
    if (!Number.isInteger(id) || id < 1 || id > brokerCount) throw new RangeError(`broker id must be 1..${brokerCount}, got ${id}`);
    return id;
  }

  let stopping: Promise<void> | null = null;
  const broker: EmbeddedBroker = {
    bootstrapServers,
    brokers: bootstrapServers.split(','),
    brokerCount,
    pid: child.pid ?? -1,
    async createTopic(name, partitions) {
      if (!/^[A-Za-z0-9._-]{1,249}$/.test(name)) throw new RangeError(`invalid topic name ${JSON.stringify(name)}`);
      if (!Number.isInteger(partitions) || partitions < 1) throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
      await command(`topic ${name} ${partitions}`);
    },
    async brokerDown(id) {
      await command(`down ${brokerId(id)}`);
    },
    async brokerUp(id) {
      await command(`up ${brokerId(id)}`);
    },
    async pushRequestErrors(apiKey, errorCodes) {
      if (errorCodes.length === 0) return;
      await command(`errors ${apiKey} ${errorCodes.length} ${errorCodes.join(' ')}`);
    },
    async clearRequestErrors(apiKey) {
      await command(`clear ${apiKey}`);
    },
    async setRtt(id, ms) {
      await command(`rtt ${brokerId(id)} ${Math.max(0, Math.round(ms))}`);
    },
    async stop() {
      stopping ??= (async () => {
        if (!exited) {
          child.stdin!.end();
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exitedPromise;
          clearTimeout(timer);
        }
      })();
      await stopping;
    },
  };

  for (const topic of options.topics ?? []) {
    await broker.createTopic(topic.name, topic.partitions);
  }
  return broker;
}
