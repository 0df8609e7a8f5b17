// Label selectors: parsed from the rule file once, then used two ways — as precompiled matchers on the
// engine's hot path, and as PromQL label matchers in the compiler. Label values of an event are the
// ones the metrics sink writes (src/sinks/metrics.ts), so the engine and Prometheus group the same way.
import type { EngineSignal } from './engine/signal.ts';
import type { LabelMatcher, LabelName, Signal } from './types.ts';

/** Label value of `operation` when nothing names it; same as the metrics sink. */
export const UNKNOWN_OPERATION = 'unknown';
/** Label value of `code` for an error without a provider code; same as the metrics sink. */
export const NO_CODE = 'none';

/** Numeric label ids, so the hot path switches on small integers. */
const LABEL_ID: Readonly<Record<LabelName, number>> = {
  provider: 0,
  operation: 1,
  code: 2,
  category: 3,
  retry: 4,
  outcome: 5,
};

/**
 * The value of a label for an event counted under a signal. For `retry_violations`, `code` and `retry`
 * are those of the earlier decision the attempt violated (as in payment_provider_retry_violations_total).
 */
export function labelValue(s: EngineSignal, signal: Signal, labelId: number): string {
  switch (labelId) {
    case 0:
      return s.provider;
    case 1:
      return s.operation ?? UNKNOWN_OPERATION;
    case 2:
      if (signal === 'retry_violations') return s.violationCode ?? NO_CODE;
      return s.code ?? NO_CODE;
    case 3:
      return s.category ?? 'unknown';
    case 4:
      if (signal === 'retry_violations') return s.violationRetry ?? 'do_not_retry';
      return s.retry ?? 'do_not_retry';
    default:
      return s.isError ? 'error' : 'success';
  }
}

export function labelId(label: LabelName): number {
  return LABEL_ID[label];
}

/** Constructs the selector features JavaScript and RE2 (Prometheus) read differently, or not at all. */
const UNPORTABLE_REGEX = /\(\?[=!<]|\\[1-9]|\\k<|\(\?[a-zA-Z]*[sUx]|\\[pP]\{/;

/** Null when the pattern is usable by both the engine and Prometheus, else why not. */
export function regexProblem(pattern: string): string | null {
  if (UNPORTABLE_REGEX.test(pattern)) {
    return 'uses a construct JavaScript and Prometheus (RE2) read differently (lookaround, backreference, flags, \\p{...})';
  }
  try {
    new RegExp(`^(?:${pattern})$`);
  } catch (error) {
    return `is not a valid regular expression: ${(error as Error).message}`;
  }
  return null;
}

/** A matcher compiled for the hot path: no allocation per test. */
export interface CompiledMatcher {
  readonly labelId: number;
  readonly negate: boolean;
  readonly one: string | null;
  readonly set: ReadonlySet<string> | null;
  readonly regex: RegExp | null;
}

export function compileMatchers(matchers: readonly LabelMatcher[]): CompiledMatcher[] {
  return matchers.map((m) => {
    const negate = m.op === 'neq' || m.op === 'nin' || m.op === 'nre';
    if (m.op === 're' || m.op === 'nre') {
      return { labelId: LABEL_ID[m.label], negate, one: null, set: null, regex: new RegExp(`^(?:${m.pattern ?? ''})$`) };
    }
    if (m.values.length === 1) return { labelId: LABEL_ID[m.label], negate, one: m.values[0] as string, set: null, regex: null };
    return { labelId: LABEL_ID[m.label], negate, one: null, set: new Set(m.values), regex: null };
  });
}

/** True when the event, counted under `signal`, satisfies every matcher. */
export function matchesAll(matchers: readonly CompiledMatcher[], s: EngineSignal, signal: Signal): boolean {
  for (let i = 0; i < matchers.length; i++) {
    const m = matchers[i] as CompiledMatcher;
    const value = labelValue(s, signal, m.labelId);
    let hit: boolean;
    if (m.one !== null) hit = value === m.one;
    else if (m.set !== null) hit = m.set.has(value);
    else hit = (m.regex as RegExp).test(value);
    if (hit === m.negate) return false;
  }
  return true;
}

/** The same test on a plain label map (rule unit tests, synthetic histories). */
export function matchesLabels(matchers: readonly LabelMatcher[], labels: Readonly<Record<string, string>>): boolean {
  for (const m of matchers) {
    const value = labels[m.label] ?? '';
    let hit: boolean;
    switch (m.op) {
      case 'eq':
      case 'neq':
      case 'in':
      case 'nin':
        hit = m.values.includes(value);
        break;
      default:
        hit = new RegExp(`^(?:${m.pattern ?? ''})$`).test(value);
    }
    const negate = m.op === 'neq' || m.op === 'nin' || m.op === 'nre';
    if (hit === negate) return false;
  }
  return true;
}

/** RE2 / JavaScript escaping of a literal value inside a regex. */
function escapeRegex(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** PromQL string literal (double-quoted, Go escapes). */
export function promString(value: string): string {
  return JSON.stringify(value);
}

/** PromQL label matchers for a selector, e.g. `provider="kustom",code=~"A|B"`. */
export function promMatchers(matchers: readonly LabelMatcher[]): string {
  return matchers
    .map((m) => {
      switch (m.op) {
        case 'eq':
          return `${m.label}=${promString(m.values[0] ?? '')}`;
        case 'neq':
          return `${m.label}!=${promString(m.values[0] ?? '')}`;
        case 'in':
          return `${m.label}=~${promString(m.values.map(escapeRegex).join('|'))}`;
        case 'nin':
          return `${m.label}!~${promString(m.values.map(escapeRegex).join('|'))}`;
        case 're':
          return `${m.label}=~${promString(m.pattern ?? '')}`;
        case 'nre':
          return `${m.label}!~${promString(m.pattern ?? '')}`;
      }
      throw new Error('unreachable');
    })
    .join(',');
}
