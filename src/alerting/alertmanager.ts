// Alertmanager v2 client (POST /api/v2/alerts), the engine's notifier.
//
// - `update(alerts)` receives the engine's full set of alerts at every tick. New alerts, resolves and
//   changed annotations are queued at once; every alert still known is re-sent every `resendIntervalMs`
//   (as Prometheus does), firing ones with `endsAt` = now + 4 × resendInterval so Alertmanager resolves
//   them by itself if paysignal disappears; resolved ones carry their `endsAt` and are re-sent until
//   Prometheus's 15 min retention passes.
// - Labels are exactly the rule's (alertname, severity, group labels, rule labels): no instance or
//   replica label, so every replica sends the same alert and Alertmanager deduplicates.
// - The queue holds at most one entry per alert (the newest state wins) and at most `queueCapacity`
//   entries (the oldest is dropped, counted `dropped`). While Alertmanager is unreachable, attempts back
//   off exponentially (initialBackoffMs doubling up to maxBackoffMs); nothing is lost while it fits.
import type { Registry } from 'prom-client';
import { systemClock, type Clock, type TimerHandle } from './clock.ts';
import type { AlertNotifier, AlertUpdate } from './engine/index.ts';
import { alertingMetrics, type AlertingMetrics } from './metrics.ts';

export interface PostableAlert {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly startsAt: string;
  readonly endsAt: string;
  readonly generatorURL?: string;
}

export interface AlertmanagerClientOptions {
  /** Base URL of Alertmanager, e.g. http://alertmanager:9093 (a path prefix is kept). */
  readonly url: string;
  /**
   * Link in every alert's generatorURL, e.g. a Grafana dashboard. `{{ $labels.NAME }}` and
   * `{{ $labels.alertname }}` are replaced with URL-encoded label values. Default: none.
   */
  readonly generatorUrl?: string;
  /** Re-send period of known alerts (`alertmanager.resend_interval`). */
  readonly resendIntervalMs: number;
  /** How long resolved alerts are re-sent; default 15 min. */
  readonly resolvedRetentionMs?: number;
  /** Most alerts waiting (`alertmanager.queue_size`); the oldest are dropped beyond it. */
  readonly queueSize: number;
  /** Alerts per POST; default 100. */
  readonly batchSize?: number;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Per-request timeout; default 10 s. */
  readonly timeoutMs?: number;
  readonly clock?: Clock;
  readonly registry?: Registry;
  readonly fetch?: typeof fetch;
  readonly logger?: { warn(obj: object, msg?: string): void; info(obj: object, msg?: string): void };
}

export interface AlertmanagerClient extends AlertNotifier {
  /** Starts the re-send timer (update() works without it). */
  start(): void;
  /** Alerts waiting to be posted. */
  queued(): number;
  /** Resolves once the queue is empty, or after `timeoutMs` (false then). */
  drain(timeoutMs?: number): Promise<boolean>;
  close(timeoutMs?: number): Promise<void>;
  stats(): { readonly sent: number; readonly failed: number; readonly dropped: number; readonly posts: number };
}

interface Known {
  alert: AlertUpdate;
  /** Fingerprint of what was last queued (state + annotations + startsAt). */
  version: string;
  lastQueuedAt: number;
}

function fingerprint(labels: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]));
}

export function createAlertmanagerClient(options: AlertmanagerClientOptions): AlertmanagerClient {
  const clock = options.clock ?? systemClock;
  const endpoint = `${options.url.replace(/\/+$/, '')}/api/v2/alerts`;
  const resendMs = options.resendIntervalMs;
  const retentionMs = options.resolvedRetentionMs ?? 15 * 60_000;
  const capacity = options.queueSize;
  const batchSize = options.batchSize ?? 100;
  const initialBackoff = options.initialBackoffMs ?? 500;
  const maxBackoff = options.maxBackoffMs ?? 30_000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const doFetch = options.fetch ?? fetch;
  const metrics: AlertingMetrics | null = options.registry ? alertingMetrics(options.registry) : null;
  const logger = options.logger ?? null;

  const known = new Map<string, Known>();
  /** fingerprint → alert to post; Map order = age. */
  const queue = new Map<string, AlertUpdate>();
  let inFlight = false;
  let backoff = 0;
  let retryTimer: TimerHandle | null = null;
  let resendTimer: TimerHandle | null = null;
  let closed = false;
  let sent = 0;
  let failed = 0;
  let dropped = 0;
  let posts = 0;
  const drainWaiters = new Set<() => void>();

  const generatorUrl = (labels: Readonly<Record<string, string>>): string | undefined => {
    if (options.generatorUrl === undefined) return undefined;
    return options.generatorUrl.replace(/\{\{\s*\$labels\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (_, name: string) => encodeURIComponent(labels[name] ?? ''));
  };

  const toPostable = (a: AlertUpdate, now: number): PostableAlert => {
    const endsAt = a.endsAt === null ? now + 4 * resendMs : a.endsAt;
    const url = generatorUrl(a.labels);
    return {
      labels: { ...a.labels },
      annotations: { ...a.annotations },
      startsAt: new Date(a.startsAt).toISOString(),
      endsAt: new Date(Math.max(endsAt, a.startsAt)).toISOString(),
      ...(url === undefined ? {} : { generatorURL: url }),
    };
  };

  const setQueueGauge = (): void => {
    metrics?.queueLength.set(queue.size);
  };

  const enqueue = (fp: string, a: AlertUpdate): void => {
    queue.delete(fp);
    queue.set(fp, a);
    while (queue.size > capacity) {
      const oldest = queue.keys().next().value as string;
      queue.delete(oldest);
      dropped++;
      metrics?.notifications.inc({ result: 'dropped' });
    }
    setQueueGauge();
  };

  const notifyDrained = (): void => {
    if (queue.size === 0 && !inFlight) for (const w of [...drainWaiters]) w();
  };

  const schedule = (): void => {
    if (closed && queue.size === 0) return;
    if (inFlight || retryTimer !== null || queue.size === 0) {
      notifyDrained();
      return;
    }
    void flushOnce();
  };

  const flushOnce = async (): Promise<void> => {
    inFlight = true;
    const batch: [string, AlertUpdate][] = [];
    for (const entry of queue) {
      batch.push(entry);
      if (batch.length >= batchSize) break;
    }
    for (const [fp] of batch) queue.delete(fp);
    setQueueGauge();
    const now = clock.now();
    const body = JSON.stringify(batch.map(([, a]) => toPostable(a, now)));
    let ok = false;
    let why = '';
    try {
      posts++;
      const response = await doFetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      ok = response.ok;
      if (!ok) why = `HTTP ${response.status}: ${(await response.text()).slice(0, 200)}`;
      else await response.arrayBuffer();
    } catch (error) {
      why = (error as Error).message;
    }
    inFlight = false;
    if (ok) {
      sent += batch.length;
      metrics?.notifications.inc({ result: 'sent' }, batch.length);
      backoff = 0;
    } else {
      failed += batch.length;
      metrics?.notifications.inc({ result: 'failed' }, batch.length);
      // Put back what no newer state replaced, ahead of newer entries.
      const rest = [...queue];
      queue.clear();
      for (const [fp, a] of batch) if (!rest.some(([f]) => f === fp)) queue.set(fp, a);
      for (const [fp, a] of rest) queue.set(fp, a);
      while (queue.size > capacity) {
        queue.delete(queue.keys().next().value as string);
        dropped++;
        metrics?.notifications.inc({ result: 'dropped' });
      }
      setQueueGauge();
      backoff = backoff === 0 ? initialBackoff : Math.min(maxBackoff, backoff * 2);
      logger?.warn({ err: why, alerts: batch.length, retryInMs: backoff }, 'posting alerts to Alertmanager failed');
      retryTimer = clock.setTimeout(() => {
        retryTimer = null;
        schedule();
      }, backoff);
      return;
    }
    schedule();
  };

  const resendAll = (): void => {
    const now = clock.now();
    for (const [fp, k] of known) {
      if (k.alert.endsAt !== null && now - k.alert.endsAt > retentionMs) {
        known.delete(fp);
        continue;
      }
      if (now - k.lastQueuedAt >= resendMs) {
        k.lastQueuedAt = now;
        enqueue(fp, k.alert);
      }
    }
    schedule();
  };

  const client: AlertmanagerClient = {
    update(alerts: readonly AlertUpdate[]): void {
      const now = clock.now();
      const present = new Set<string>();
      for (const a of alerts) {
        const fp = fingerprint(a.labels);
        present.add(fp);
        const version = `${a.endsAt === null ? 'firing' : `resolved@${a.endsAt}`}|${a.startsAt}|${JSON.stringify(a.annotations)}`;
        const k = known.get(fp);
        if (k === undefined || k.version !== version) {
          known.set(fp, { alert: a, version, lastQueuedAt: now });
          enqueue(fp, a);
        } else k.alert = a;
      }
      // A firing alert the engine no longer reports (rule removed, engine restarted its state) ends now.
      for (const [fp, k] of known) {
        if (!present.has(fp) && k.alert.endsAt === null) {
          const resolved: AlertUpdate = { ...k.alert, endsAt: Math.max(k.alert.startsAt, now) };
          known.set(fp, { alert: resolved, version: `resolved@${resolved.endsAt}`, lastQueuedAt: now });
          enqueue(fp, resolved);
        }
      }
      resendAll();
    },

    start(): void {
      if (resendTimer !== null) return;
      resendTimer = clock.setInterval(resendAll, Math.max(1000, Math.floor(resendMs / 4)));
    },

    queued: () => queue.size + (inFlight ? 1 : 0),

    async drain(timeout = 10_000): Promise<boolean> {
      if (queue.size === 0 && !inFlight) return true;
      return await new Promise<boolean>((resolveDrain) => {
        const done = (result: boolean): void => {
          drainWaiters.delete(onDrained);
          clearTimeout(t);
          resolveDrain(result);
        };
        const onDrained = (): void => done(true);
        const t = setTimeout(() => done(false), timeout);
        drainWaiters.add(onDrained);
        schedule();
      });
    },

    async close(timeout = 5_000): Promise<void> {
      if (resendTimer !== null) clock.clearInterval(resendTimer);
      resendTimer = null;
      if (retryTimer !== null) {
        clock.clearTimeout(retryTimer);
        retryTimer = null;
      }
      await client.drain(timeout);
      closed = true;
      if (retryTimer !== null) clock.clearTimeout(retryTimer);
    },

    stats: () => ({ sent, failed, dropped, posts }),
  };
  return client;
}
