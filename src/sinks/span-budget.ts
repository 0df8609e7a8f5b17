// The error-span budget (docs/architecture.md#spans): at most `maxPerSecond` error spans per
// second of wall time, shared fairly between (provider, code) pairs, and every pair that failed in a
// second keeps at least one span of that second, so a rare code is never hidden by a loud one.
//
// Fairness: each pair may keep up to a per-pair cap in the current second. The cap is the max-min
// fair share ("water level") of the budget over what each pair asked for in the previous second:
// pairs that needed less than the level got all they needed, the level is what is left per pair for
// the others. When the previous second fit in the budget there is no per-pair cap, only the total.
//
// Weights: a kept span stands for `seen / kept` errors of its pair in its second. That is only
// known when the second is over, so each decision returns the pair's window for that second; the
// span sink holds the kept spans until the window is closed and then writes the weight.
//
// Hot path: one Date-like clock read and two Map lookups per error; no allocation except one window
// per pair per second.

/** What one (provider, code) pair did in one second of wall time. */
export interface BudgetWindow {
  /** Seconds since the epoch. */
  readonly second: number;
  /** Errors of this pair in this second. */
  seen: number;
  /** Of those, the ones whose span was kept. */
  kept: number;
}

/** Pairs tracked per second at most; beyond that, new pairs share one overflow pair (bounded memory under garbage codes). */
export const MAX_BUDGET_PAIRS = 4096;

interface PairState {
  window: BudgetWindow;
}

export class ErrorSpanBudget {
  readonly maxPerSecond: number;
  /** Error spans the budget refused, since start. */
  dropped = 0;
  private readonly pairs = new Map<string, Map<string, PairState>>();
  private pairCount = 0;
  private overflow: PairState | null = null;
  private second = -1;
  private keptThisSecond = 0;
  /** The per-pair cap of the current second (Infinity when the last second fit in the budget). */
  private level = Infinity;
  private readonly maxPairs: number;

  constructor(maxPerSecond: number, maxPairs = MAX_BUDGET_PAIRS) {
    if (!(Number.isInteger(maxPerSecond) && maxPerSecond > 0)) throw new RangeError(`maxPerSecond must be a positive integer, got ${maxPerSecond}`);
    this.maxPerSecond = maxPerSecond;
    this.maxPairs = maxPairs;
  }

  /** The per-pair cap in force for the current second (for tests and diagnostics). */
  get pairCap(): number {
    return this.level;
  }

  /**
   * Counts one error of (provider, code) at wall time `nowMs`. Returns the pair's window for that
   * second when the span is kept (its `kept` already counts it), or null when the budget drops it.
   */
  admit(provider: string, code: string, nowMs: number): BudgetWindow | null {
    const second = Math.floor(nowMs / 1000);
    // A clock that steps back stays in the current second rather than reopening closed windows.
    if (second > this.second) this.roll(second);
    const state = this.pair(provider, code);
    let window = state.window;
    if (window.second !== this.second) {
      window = { second: this.second, seen: 0, kept: 0 };
      state.window = window;
    }
    window.seen++;
    if (window.kept === 0 || (window.kept < this.level && this.keptThisSecond < this.maxPerSecond)) {
      window.kept++;
      this.keptThisSecond++;
      return window;
    }
    this.dropped++;
    return null;
  }

  private pair(provider: string, code: string): PairState {
    let byCode = this.pairs.get(provider);
    if (byCode === undefined) {
      if (this.pairCount >= this.maxPairs) return this.overflowPair();
      byCode = new Map();
      this.pairs.set(provider, byCode);
    }
    let state = byCode.get(code);
    if (state === undefined) {
      if (this.pairCount >= this.maxPairs) return this.overflowPair();
      state = { window: { second: -1, seen: 0, kept: 0 } };
      byCode.set(code, state);
      this.pairCount++;
    }
    return state;
  }

  private overflowPair(): PairState {
    this.overflow ??= { window: { second: -1, seen: 0, kept: 0 } };
    return this.overflow;
  }

  /** Closes the current second: next second's per-pair cap from this one's demand; forgets idle pairs. */
  private roll(second: number): void {
    const closing = this.second;
    const demands: number[] = [];
    for (const [provider, byCode] of this.pairs) {
      for (const [code, state] of byCode) {
        if (state.window.second === closing) demands.push(state.window.seen);
        else {
          byCode.delete(code);
          this.pairCount--;
        }
      }
      if (byCode.size === 0) this.pairs.delete(provider);
    }
    if (this.overflow !== null && this.overflow.window.second === closing) demands.push(this.overflow.window.seen);
    // Only the second just before counts as demand; after a pause, start without a per-pair cap.
    this.level = second === closing + 1 ? waterLevel(demands, this.maxPerSecond) : Infinity;
    this.second = second;
    this.keptThisSecond = 0;
  }
}

/**
 * The max-min fair share of `budget` over `demands`: the largest level L (at least 1) with
 * sum(min(demand, L)) <= budget; Infinity when all demands fit.
 */
export function waterLevel(demands: number[], budget: number): number {
  let total = 0;
  for (const d of demands) total += d;
  if (total <= budget) return Infinity;
  demands.sort((a, b) => a - b);
  let remaining = budget;
  for (let i = 0; i < demands.length; i++) {
    const share = remaining / (demands.length - i);
    if (demands[i]! > share) return Math.max(1, Math.floor(share));
    remaining -= demands[i]!;
  }
  return Infinity;
}
