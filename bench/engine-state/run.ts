// Alert engine checkpoint cost (issue 12): the size of the engine's durable state with the shipped
// rules (rules/) at a given number of alert groups, and the time to take and encode a checkpoint and
// to decode and restore one. Also the size the correlation tracker's keys would add, for the decision
// recorded in rules/README.md ("Durable state").
//
//   node bench/engine-state/run.ts [--groups 100,10000] [--runs 7] [--json FILE]
//
// Groups: for each target, K error series (provider, operation `op<i>`, code `E<i>`, rate_limit) and
// K Mercado Pago `invalid_total_amount` series (operation `op<i>`), 1 to 4 events (pseudo-random) per
// series per minute for 130 minutes of event time (the shipped rules' longest span is 70 minutes, so
// every bucket the rules hold is non-empty, with varied counts: the sparse encoding's worst case). Each series makes groups in several
// rules (new codes, rate-limit bursts, the Mercado Pago spike); K is chosen so that the engine's
// group count comes close to the target. maxGroupsPerRule is raised to hold them all.
//
// Timing: `snapshot + encode` is engine.encodeState() (what a checkpoint costs the main thread);
// `decode + restore` is engine.restoreState(bytes) into a fresh engine with the same rules. Median of
// --runs runs after one warm-up run.
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { deflateSync } from 'node:zlib';
import { createFakeClock } from '../../src/alerting/clock.ts';
import { createAlertEngine, type AlertEngine } from '../../src/alerting/engine/index.ts';
import { loadRules } from '../../src/alerting/loader.ts';
import { toEngineSignal, type SyntheticEvent } from '../../src/alerting/testing.ts';
import type { RuleSet } from '../../src/alerting/types.ts';

const { values } = parseArgs({
  options: {
    groups: { type: 'string', default: '100,10000' },
    runs: { type: 'string', default: '7' },
    json: { type: 'string' },
  },
});

const MIN = 60_000;
const MINUTES = 130;
const PROVIDERS = ['kustom', 'setel', 'digitalriver', 'stablegenius'];
const T0 = Date.UTC(2026, 10, 30, 8, 0, 0);
const log = (s: string): void => void process.stdout.write(`${s}\n`);

const { ruleSets, problems } = await loadRules(['rules']);
if (problems.length > 0) throw new Error(`shipped rules do not load: ${problems.map((p) => p.message).join('; ')}`);

function engineWith(sets: readonly RuleSet[]): AlertEngine {
  return createAlertEngine({
    ruleSets: sets,
    clock: createFakeClock(T0 + (MINUTES + 5) * MIN),
    allowedLatenessMs: 60_000,
    idleTimeoutMs: null,
    maxGroupsPerRule: 1_000_000,
    tickIntervalMs: 5_000,
    maxAlertAgeMs: 15 * 60_000,
  });
}

/** An engine fed K series of each shape for MINUTES minutes (events of one minute in time order). */
function fed(k: number): AlertEngine {
  const engine = engineWith(ruleSets);
  const from = { topic: 'payments', partition: 0, offset: 0 };
  let seed = 12345;
  const next = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648);
  for (let m = 0; m < MINUTES; m++) {
    for (let i = 0; i < k; i++) {
      for (let n = 1 + (next() % 4); n > 0; n--) feedOne(engine, from, T0 + m * MIN + Math.floor((i * MIN) / k) + n, i);
    }
  }
  engine.advanceWatermark(T0 + MINUTES * MIN);
  return engine;
}

/** One event of each shape of series i at `ts`. */
function feedOne(engine: AlertEngine, from: { topic: string; partition: number; offset: number }, ts: number, i: number): void {
  const provider = PROVIDERS[i % PROVIDERS.length] as string;
  const rateLimited: SyntheticEvent = { ts, labels: { provider, operation: `op${i}`, code: `E${i}`, category: 'rate_limit', retry: 'retry_with_backoff' }, violation: null };
  const invalidTotal: SyntheticEvent = { ts, labels: { provider: 'mercadopago', operation: `op${i}`, code: 'invalid_total_amount', category: 'validation', retry: 'fix_and_resubmit' }, violation: null };
  engine.onSignal(toEngineSignal(rateLimited, from));
  from.offset++;
  engine.onSignal(toEngineSignal(invalidTotal, from));
  from.offset++;
}

/** K whose engine holds about `target` groups (a few per-provider groups make it not quite linear). */
function seriesFor(target: number): number {
  let k = 10;
  for (let i = 0; i < 4; i++) k = Math.max(1, Math.round((k * target) / fed(k).stats().groups));
  return k;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

interface Result {
  groups: number;
  alerts: number;
  series: number;
  bytes: number;
  jsonBytes: number;
  encodeMs: number;
  decodeMs: number;
}

const results: Result[] = [];
const runs = Number(values.runs);
for (const target of values.groups.split(',').map(Number)) {
  const k = seriesFor(target);
  const engine = fed(k);
  const { groups } = engine.stats();
  const alerts = engine.alerts(true).length;
  const jsonBytes = Buffer.byteLength(JSON.stringify(engine.snapshot()));
  const encodeTimes: number[] = [];
  const decodeTimes: number[] = [];
  let bytes: Uint8Array = new Uint8Array(0);
  for (let r = 0; r <= runs; r++) {
    const t0 = performance.now();
    bytes = engine.encodeState();
    const t1 = performance.now();
    const fresh = engineWith(ruleSets);
    const t2 = performance.now();
    const report = fresh.restoreState(bytes);
    const t3 = performance.now();
    if (report.result !== 'restored') throw new Error(`restore failed: ${report.detail}`);
    if (fresh.stats().groups !== groups) throw new Error(`restored ${fresh.stats().groups} groups of ${groups}`);
    if (r > 0) {
      encodeTimes.push(t1 - t0);
      decodeTimes.push(t3 - t2);
    }
  }
  const result = { groups, alerts, series: 2 * k, bytes: bytes.length, jsonBytes, encodeMs: median(encodeTimes), decodeMs: median(decodeTimes) };
  results.push(result);
  log(
    `${groups} groups (${alerts} alerts): checkpoint ${bytes.length} bytes (${jsonBytes} bytes of JSON before deflate), ` +
      `snapshot + encode ${result.encodeMs.toFixed(2)} ms, decode + restore ${result.decodeMs.toFixed(2)} ms (median of ${runs})`,
  );
}

// What the correlation tracker's keys would add: per key the fields the tracker keeps (key, first
// operation, attempts, last decision, last code, last event time, last status), with UUID keys, as
// JSON deflated like the checkpoint.
const KEYS = 100_000; // correlation.max_keys default
const operations = ['create_order', 'authorize', 'capture', 'refund_order', 'create_payment_intent'];
const codes = [null, 'MERCHANT_INACTIVE', 'rate_limited', 'invalid_total_amount', '9300001'];
const entries: unknown[] = [];
for (let i = 0; i < KEYS; i++) {
  entries.push([randomUUID(), operations[i % operations.length], 1 + (i % 3), i % 4 === 0 ? 'retry_with_backoff' : null, codes[i % codes.length], T0 + i * 37, i % 4 === 0 ? 429 : 200]);
}
const keysJson = Buffer.from(JSON.stringify(entries));
const keysDeflated = deflateSync(keysJson).length;
log(
  `correlation keys: ${KEYS} keys would add ${keysDeflated} bytes deflated (${keysJson.length} bytes of JSON), ` +
    `${(keysDeflated / KEYS).toFixed(1)} bytes per key`,
);

if (values.json !== undefined) {
  mkdirSync(dirname(values.json), { recursive: true });
  writeFileSync(values.json, JSON.stringify({ results, correlation: { keys: KEYS, jsonBytes: keysJson.length, deflatedBytes: keysDeflated } }, null, 2));
}
