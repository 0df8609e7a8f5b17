// A rule's group keys (src/alerting/engine/rule-runtime.ts): the group label values joined, whether the
// rule keeps the key of that value tuple ready or builds it, and labelsOfKey turns one back.
import { describe, expect, it } from 'vitest';
import { emptySignal, type EngineSignal } from '../../src/alerting/engine/signal.ts';
import { GROUP_KEY_CACHE_LIMIT, RuleRuntime } from '../../src/alerting/engine/rule-runtime.ts';
import { ruleSetFromYaml } from '../support/engine.ts';

function runtime(groupBy: string): RuleRuntime {
  const set = ruleSetFromYaml(
    `
apiVersion: paysignal/v1
kind: RuleSet
metadata: { name: keys }
rules:
  - name: Errors
    kind: threshold
    selector: { provider: kustom }
    group_by: ${groupBy}
    window: 5m
    threshold: { op: '>', value: 3 }
`,
    'keys.yaml',
  );
  return new RuleRuntime(set.rules[0]!, 60_000);
}

function signal(code: string | null, operation: string | null = 'create_order'): EngineSignal {
  return { ...emptySignal(), isError: true, provider: 'kustom', operation, code, category: 'validation', retry: 'fix_and_resubmit' };
}

describe('group keys', () => {
  it('one label: the value itself', () => {
    expect(runtime('[provider]').groupKey(signal('E1'))).toBe('kustom');
  });

  it('several labels: the values joined, absent ones as the label shows them, for more value tuples than the rule keeps ready', () => {
    const rt = runtime('[provider, operation, code]');
    expect(rt.groupKey(signal(null, null))).toBe('kustom\u0001unknown\u0001none');
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < GROUP_KEY_CACHE_LIMIT + 50; i++) {
        const key = rt.groupKey(signal(`E${i}`));
        expect(key).toBe(`kustom\u0001create_order\u0001E${i}`);
      }
    }
    expect(rt.labelsOfKey(rt.groupKey(signal('E7')))).toEqual({ provider: 'kustom', operation: 'create_order', code: 'E7' });
  });
});
