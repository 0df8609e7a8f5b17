// One duration notation for configuration and rule files: Prometheus's.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DURATION_PATTERN, durationProblem, formatDuration, parseDuration } from '../../src/kernel/duration.ts';

describe('durations', () => {
  it('are whole numbers with units, largest first, as in Prometheus', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('10s')).toBe(10_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('2d')).toBe(172_800_000);
    expect(parseDuration('1w')).toBe(604_800_000);
    expect(parseDuration('1y')).toBe(31_536_000_000);
    expect(parseDuration('1m30s250ms')).toBe(90_250);
    expect(parseDuration('0')).toBe(0);
  });

  it('refuse anything else', () => {
    for (const text of ['', '10', '10 s', '1.5s', '30m1h', '1m1m', 's', '-1s', '1S', '1h 30m']) expect(parseDuration(text), text).toBeNull();
  });

  it('print back in the same notation', () => {
    for (const text of ['500ms', '10s', '1h30m', '2d', '1w', '1m30s250ms']) expect(formatDuration(parseDuration(text) as number)).toBe(text);
    expect(formatDuration(0)).toBe('0s');
  });

  it('explain how to write a value in the old decimal notation', () => {
    expect(durationProblem('1.5s')).toBe('"1.5s" is not a duration: parts are whole numbers (Prometheus notation); write 1s500ms');
    expect(durationProblem('0.5h')).toBe('"0.5h" is not a duration: parts are whole numbers (Prometheus notation); write 30m');
    expect(durationProblem('1.0005s')).toBe('"1.0005s" is not a duration: parts are whole numbers and 1000.5ms is not a whole number of milliseconds');
    expect(durationProblem('30m1h')).toBe('"30m1h" is not a duration: units go from largest to smallest, each once; write 1h30m');
    expect(durationProblem(30)).toMatch(/^30 is not a duration; write whole numbers with units ms, s, m, h, d, w, y/);
    expect(durationProblem('1h30m')).toBeNull();
  });

  it('have one JSON Schema pattern, the one the rule set schema uses', () => {
    const ruleSchema = JSON.parse(readFileSync(new URL('../../src/alerting/ruleset.schema.json', import.meta.url), 'utf8')) as { $defs: { duration: { pattern: string } } };
    expect(ruleSchema.$defs.duration.pattern).toBe(DURATION_PATTERN);
    const pattern = new RegExp(DURATION_PATTERN);
    for (const text of ['0', '500ms', '1h30m', '7d']) expect(pattern.test(text), text).toBe(true);
    for (const text of ['1.5s', '10', '']) expect(pattern.test(text), text).toBe(false);
  });
});
