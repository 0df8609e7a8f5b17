// Readiness of the Kafka source: joined the group, consuming, and heard from the brokers lately.
import type { SourceContext } from './context.ts';

export class Readiness {
  private readonly ctx: SourceContext;
  private readonly staleMs: number;
  private readonly waiters = new Set<() => void>();

  constructor(ctx: SourceContext) {
    this.ctx = ctx;
    const { sessionTimeoutMs, heartbeatIntervalMs, readinessStaleMs } = ctx.options;
    this.staleMs = readinessStaleMs ?? Math.min(sessionTimeoutMs, Math.max(5000, 3 * heartbeatIntervalMs));
  }

  isReady(): boolean {
    const { joined, stopping, state, lastContactAt } = this.ctx;
    if (!joined || stopping || state !== 'consuming') return false;
    return lastContactAt !== null && Date.now() - lastContactAt < this.staleMs;
  }

  /** The brokers answered (join, heartbeat, fetch): wakes whoever waits for readiness. */
  heardFromBrokers(): void {
    this.ctx.lastContactAt = Date.now();
    this.notify();
  }

  notify(): void {
    if (!this.isReady()) return;
    for (const resolve of this.waiters) resolve();
    this.waiters.clear();
  }

  async waitUntilReady(timeoutMs: number): Promise<void> {
    if (this.isReady()) return;
    let done: () => void = () => {};
    const ready = new Promise<void>((resolve) => (done = resolve));
    this.waiters.add(done);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        ready,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const { state, lastError } = this.ctx;
            reject(new Error(`kafka source not ready within ${timeoutMs} ms (state ${state}${lastError ? `, last error: ${lastError}` : ''})`));
          }, timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      this.waiters.delete(done);
    }
  }
}
