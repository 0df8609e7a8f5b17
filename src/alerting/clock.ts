// Time sources for the alerting parts. Event time comes from events; wall time (evaluation ticks,
// re-sends, backoff, max_alert_age) comes from a Clock, so tests drive it with a fake one.

export type TimerHandle = { readonly id: number } | ReturnType<typeof setTimeout>;

export interface Clock {
  /** Wall time in epoch ms. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle): void;
}

/** The real clock. Timers are unref'd: alerting never keeps a process alive by itself. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
  setInterval(fn, ms) {
    const t = setInterval(fn, ms);
    t.unref();
    return t;
  },
  clearInterval(handle) {
    clearInterval(handle as ReturnType<typeof setInterval>);
  },
};

export interface FakeClock extends Clock {
  /** Moves time forward, running due timers in time order. */
  advance(ms: number): void;
  /** Moves time to `ms` (never backwards), running due timers. */
  set(ms: number): void;
  /** Timers waiting. */
  pending(): number;
}

interface FakeTimer {
  readonly id: number;
  at: number;
  readonly every: number | null;
  readonly fn: () => void;
}

export function createFakeClock(startMs = 0): FakeClock {
  let now = startMs;
  let nextId = 1;
  const timers = new Map<number, FakeTimer>();
  const add = (fn: () => void, ms: number, every: number | null): TimerHandle => {
    const t: FakeTimer = { id: nextId++, at: now + Math.max(0, ms), every, fn };
    timers.set(t.id, t);
    return { id: t.id };
  };
  const clear = (handle: TimerHandle): void => {
    timers.delete((handle as { id: number }).id);
  };
  const runUntil = (target: number): void => {
    for (;;) {
      let due: FakeTimer | null = null;
      for (const t of timers.values()) if (t.at <= target && (due === null || t.at < due.at || (t.at === due.at && t.id < due.id))) due = t;
      if (due === null) break;
      now = Math.max(now, due.at);
      if (due.every !== null) due.at += Math.max(1, due.every);
      else timers.delete(due.id);
      due.fn();
    }
    now = Math.max(now, target);
  };
  return {
    now: () => now,
    setTimeout: (fn, ms) => add(fn, ms, null),
    clearTimeout: clear,
    setInterval: (fn, ms) => add(fn, ms, ms),
    clearInterval: clear,
    advance: (ms) => runUntil(now + ms),
    set: (ms) => runUntil(ms),
    pending: () => timers.size,
  };
}
