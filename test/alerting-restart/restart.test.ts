// A restarted `paysignal run` keeps the alert engine's memory: history goes through one process, it
// stops (SIGTERM, or SIGKILL), a second process of the same group restores the state from the state
// topic, and a burst pages as fast as it does in a process that never stopped. The spike rule needs
// 35 minutes of history (its warm-up), so a cold engine stays silent: a corrupt or incompatible
// checkpoint is counted, logged, and the service runs on cold.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { baseTime, minutes, ruleFile, startHarness, stream, type Harness, type Scenario } from './scenario.ts';

let h: Harness;
// Grid-aligned, 3 minutes ago: the burst's minute and the one after it are in the past.
const base = baseTime(3);
// 40 quiet minutes: one refusal and ten successes a minute.
const history = stream('history', base, minutes(-40, 0, 1, 10));
// 30 refusals in minute 0, then successes in minute 1 that move the watermark past its end.
const burst = stream('burst', base, [{ minute: 0, refusals: 30, successes: 5 }, { minute: 1, refusals: 0, successes: 5 }]);
const rules = (name: string): string => ruleFile(name, '0s', '0s');

/** Produces the burst and measures the time until the scenario's alert is in Alertmanager. */
async function burstToPage(s: Scenario): Promise<{ ms: number; startsAt: string }> {
  await h.kafka.produce(s.topic, burst);
  const producedAt = Date.now();
  const alert = await h.page(s, 30_000);
  return { ms: Date.now() - producedAt, startsAt: alert.startsAt };
}

async function historyThroughFirstProcess(s: Scenario) {
  const first = await h.run(s);
  await h.kafka.produce(s.topic, history);
  await h.caughtUp(s);
  return first;
}

let uninterrupted: { ms: number; startsAt: string };

/** A second process of the scenario's group restores the first one's state, and the burst then pages as it does in the uninterrupted run. */
async function restartPagesAsUninterrupted(s: Scenario, stoppedBy: string): Promise<{ ms: number; startsAt: string }> {
  const second = await h.run(s);
  expect(await second.metric('paysignal_alert_state_restores_total', { result: 'restored' })).toBe(1);
  const page = await burstToPage(s);
  expect(page.startsAt).toBe(uninterrupted.startsAt);
  expect(page.ms).toBeLessThan(uninterrupted.ms + 2000);
  console.log(`${stoppedBy} restart: page ${page.ms} ms after the burst, uninterrupted ${uninterrupted.ms} ms`);
  expect(await second.process.stop(15_000)).toBe(0);
  return page;
}

beforeAll(async () => {
  h = await startHarness();
  // The yardstick: history and burst through one process that never stops.
  const s = await h.scenario('uninterrupted', rules('uninterrupted'));
  const p = await historyThroughFirstProcess(s);
  uninterrupted = await burstToPage(s);
  expect(await p.process.stop(15_000)).toBe(0);
});

afterAll(async () => {
  await h?.close();
});

describe('paysignal run restores the alert engine from the state topic', () => {
  it('after SIGTERM and a restart, a burst pages as fast as in a process that never stopped', async () => {
    const s = await h.scenario('sigterm', rules('sigterm'));
    const first = await historyThroughFirstProcess(s);
    expect(await first.process.stop(15_000)).toBe(0);

    const page = await restartPagesAsUninterrupted(s, 'SIGTERM');
    expect(page.startsAt).toBe(new Date(base + 60_000).toISOString()); // evaluated at the end of the burst's minute
  });

  it('after SIGKILL and a restart, a burst pages as fast as in a process that never stopped', async () => {
    const s = await h.scenario('sigkill', rules('sigkill'));
    const first = await historyThroughFirstProcess(s);
    first.process.child.kill('SIGKILL');
    expect((await first.process.exited).signal).toBe('SIGKILL');

    await restartPagesAsUninterrupted(s, 'SIGKILL');
  });

  it('starts cold on a corrupt checkpoint and on one of another format version: counted, logged, and running', async () => {
    const s = await h.scenario('cold', rules('cold'));
    const first = await historyThroughFirstProcess(s);
    expect(await first.process.stop(15_000)).toBe(0);

    // The newest record under the group's key is what a restart reads.
    await h.kafka.produce(s.stateTopic, [{ key: s.group, value: Buffer.from('not a checkpoint at all'), partition: 0 }]);
    const corrupt = await h.run(s);
    expect(await corrupt.metric('paysignal_alert_state_restores_total', { result: 'corrupt' })).toBe(1);
    expect(await corrupt.metric('paysignal_alert_state_restores_total', { result: 'restored' })).toBe(0);
    expect(corrupt.logs()).toContainEqual(expect.objectContaining({ level: 'warn', result: 'corrupt', msg: 'alert engine state: checkpoint ignored, starting cold' }));
    // Cold, the spike rule is in its warm-up: the burst is processed and evaluated, and nobody is paged.
    await h.kafka.produce(s.topic, burst);
    await h.caughtUp(s);
    await sleep(uninterrupted.ms + 2000);
    expect(await h.scenarioAlerts(s)).toEqual([]);
    expect(await corrupt.process.stop(15_000)).toBe(0);
    const afterBurst = await h.storedCheckpoint(s);
    expect(afterBurst.watermark).toBeGreaterThan(base + 60_000); // the burst's minute was evaluated
    expect(afterBurst.rules.flatMap((r) => r.alerts)).toEqual([]); // without an alert, not even pending

    // "PSEC", format version 99, then bytes this version cannot read.
    await h.kafka.produce(s.stateTopic, [{ key: s.group, value: Buffer.concat([Buffer.from('PSEC', 'latin1'), Buffer.from([99]), Buffer.from('future format')]), partition: 0 }]);
    const incompatible = await h.run(s);
    expect(await incompatible.metric('paysignal_alert_state_restores_total', { result: 'incompatible' })).toBe(1);
    expect(incompatible.logs()).toContainEqual(expect.objectContaining({ level: 'warn', result: 'incompatible', msg: 'alert engine state: checkpoint ignored, starting cold' }));
    await h.kafka.produce(s.topic, stream('after', base, [{ minute: 2, refusals: 0, successes: 3 }]));
    await h.caughtUp(s);
    expect(await incompatible.process.stop(15_000)).toBe(0);
  });
});
