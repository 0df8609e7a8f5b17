// The same stream through one process, and through a process SIGKILLed in the middle of it plus a
// second one of the same group, gives the same alert timeline: the same alerts (labels), pending
// since the same evaluation time, firing and resolved at the same evaluation times, with the same
// rules in both. The kill lands while the alert is firing and the rest of the stream is arriving.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Message } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineCheckpoint } from '../../src/alerting/engine/checkpoint.ts';
import { waitFor } from '../support/processes.ts';
import { baseTime, minutes, ruleFile, startHarness, stream, type Harness } from './scenario.ts';

let h: Harness;
// Grid-aligned, 18 minutes ago: the whole stream, up to minute 16, is in the past.
const base = baseTime(18);
// 40 quiet minutes, then a 4-minute spike: pending from the end of minute 0, firing 2 minutes later.
const beforeKill = stream('det', base, [...minutes(-40, 0, 1, 10), ...minutes(0, 4, 25, 10)]);
// 10 quiet minutes in which it stops (end of minute 7) and resolves after keep_firing_for (end of
// minute 9), then 2 minutes of successes that move the watermark past the last evaluation.
const afterKill = stream('det', base, [...minutes(4, 14, 1, 10), ...minutes(14, 16, 0, 10)]);
const rules = (name: string): string => ruleFile(name, '2m', '2m');

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

/** Each alert's life: its group (the labels it adds to the rule's), state, and the evaluation times (event time) of each change. */
function timeline(checkpoint: EngineCheckpoint) {
  return checkpoint.rules.flatMap((r) =>
    r.alerts.map((a) => ({ rule: r.name, group: a.key, state: a.state, activeAt: a.activeAt, firedAt: a.firedAt, resolvedAt: a.resolvedAt, keepFiringSince: a.keepFiringSince })),
  );
}

async function produceSlowly(topic: string, messages: readonly Message[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 10) {
    await h.kafka.produce(topic, messages.slice(i, i + 10));
    await sleep(100);
  }
}

describe('alert timelines with and without a SIGKILL in the middle of the stream', () => {
  it('are identical: labels, activeAt, firedAt, resolvedAt', async () => {
    // Without a restart.
    const once = await h.scenario('once', rules('once'));
    const only = await h.run(once);
    await h.kafka.produce(once.topic, [...beforeKill, ...afterKill]);
    await h.caughtUp(once);
    expect(await only.process.stop(15_000)).toBe(0);
    const expected = timeline(await h.storedCheckpoint(once));
    const MIN = 60_000;
    expect(expected).toEqual([
      { rule: 'RefusalSpike', group: expect.stringContaining('MERCHANT_INACTIVE'), state: 'inactive', activeAt: base + MIN, firedAt: base + 3 * MIN, resolvedAt: base + 10 * MIN, keepFiringSince: base + 8 * MIN },
    ]);

    // With a SIGKILL while the alert fires and the rest of the stream is arriving.
    const killed = await h.scenario('killed', rules('killed'));
    const first = await h.run(killed);
    await h.kafka.produce(killed.topic, beforeKill);
    await h.caughtUp(killed);
    expect(timeline(await h.storedCheckpoint(killed))).toEqual([expect.objectContaining({ state: 'firing', activeAt: base + MIN, firedAt: base + 3 * MIN })]);
    const producing = produceSlowly(killed.topic, afterKill);
    const killAt = BigInt(beforeKill.length + 10);
    await waitFor('the first process to get into the rest of the stream', async () => (((await h.kafka.committedOffsets(killed.group, killed.topic)).get(0) ?? 0n) >= killAt ? true : undefined), 30_000, 20);
    first.process.child.kill('SIGKILL');
    expect((await first.process.exited).signal).toBe('SIGKILL');
    const committedAtKill = (await h.kafka.committedOffsets(killed.group, killed.topic)).get(0)!;
    expect(committedAtKill).toBeLessThan(BigInt(beforeKill.length + afterKill.length)); // killed mid-stream
    // The state it left behind: still firing.
    expect(timeline(await h.storedCheckpoint(killed))).toEqual([expect.objectContaining({ state: 'firing', resolvedAt: null })]);

    const second = await h.run(killed);
    expect(await second.metric('paysignal_alert_state_restores_total', { result: 'restored' })).toBe(1);
    await producing;
    await h.caughtUp(killed);
    const replayed = await second.metric('paysignal_alert_events_already_in_state_total', {});
    expect(await second.process.stop(15_000)).toBe(0);
    expect(timeline(await h.storedCheckpoint(killed))).toEqual(expected);
    console.log(`determinism: killed at committed offset ${committedAtKill} of ${beforeKill.length + afterKill.length}; records delivered again but already in the restored state: ${replayed}`);
  });
});
