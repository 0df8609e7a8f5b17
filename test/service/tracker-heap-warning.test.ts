// The startup warning about correlation.max_keys and the heap (src/classify/correlation.ts,
// trackerHeapWarning) weighs the heap of the thread that holds the tracker: the main thread's without
// workers, each worker's with them, as the worker reports it once it runs.
//
// In production NODE_OPTIONS gives every isolate the same limit. Here the main thread started without
// one (V8 sized it for the machine, gigabytes) and the workers get a small one by setting the V8 flag
// in this process before they start: V8 reads it when a worker creates its heap.
import { setFlagsFromString } from 'node:v8';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.ts';
import { startService, type RunningService } from '../../src/service/service.ts';
import { startTestKafka, type TestKafka } from '../support/kafka.ts';
import { serviceEnv } from '../support/service-env.ts';

const WORKER_OLD_SPACE_MB = 64;
// 400k keys need about 61 MB of heap: more than half of a worker's 64 MB old space plus its young
// generation, far less than half of the main thread's heap.
const MAX_KEYS = 400_000;

let kafka: TestKafka;
let service: RunningService | null = null;

beforeAll(async () => {
  kafka = await startTestKafka();
});

afterEach(async () => {
  await service?.stop();
  service = null;
});

afterAll(async () => {
  await kafka?.stop();
});

async function startWithLogs(workers: number): Promise<Record<string, unknown>[]> {
  const topic = await kafka.createTopic('heap-warning', 1);
  const config = parseConfig(
    `processing:\n  workers: ${workers}\ncorrelation:\n  max_keys: ${MAX_KEYS}\ntracing:\n  enabled: false\n`,
    null,
    serviceEnv(kafka.bootstrapServers, { topic, group: `${topic}-group`, dlq: `${topic}-dlq` }),
  );
  const lines: string[] = [];
  const logger = pino({ level: 'info', base: undefined }, { write: (line: string) => void lines.push(line) });
  setFlagsFromString(`--max-old-space-size=${WORKER_OLD_SPACE_MB} --max-semi-space-size=2`);
  try {
    service = await startService({ config, logger });
  } finally {
    setFlagsFromString('--max-old-space-size=0 --max-semi-space-size=0');
  }
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

const heapWarnings = (logs: readonly Record<string, unknown>[]) => logs.filter((l) => l.level === 40 && l.field === 'correlation.max_keys');

describe('the correlation tracker heap warning at startup', () => {
  it('with workers, weighs max_keys against the heap limit each worker reports', async () => {
    const logs = await startWithLogs(1);
    const mainLimitMb = logs.find((l) => l.msg === 'V8 heap limit')!.heapLimitMb as number;
    expect(mainLimitMb).toBeGreaterThan(4 * WORKER_OLD_SPACE_MB);
    const warnings = heapWarnings(logs);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.heapLimitMb).toBeGreaterThanOrEqual(WORKER_OLD_SPACE_MB);
    expect(warnings[0]!.heapLimitMb).toBeLessThan(WORKER_OLD_SPACE_MB + 16);
    expect(warnings[0]!.msg).toMatch(
      new RegExp(`^correlation.max_keys ${MAX_KEYS} needs about 62 MB of heap, more than half of each processing worker's \\(a tracker per worker\\) V8 heap limit \\(${warnings[0]!.heapLimitMb} MB\\): raise --max-old-space-size`),
    );
  });

  it('without workers, weighs it against the main thread\'s heap, which holds the tracker then', async () => {
    const logs = await startWithLogs(0);
    expect(heapWarnings(logs)).toEqual([]);
  });
});
