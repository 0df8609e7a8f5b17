// The /metrics exposition: one prom-client Registry rendered as Prometheus text 0.0.4 by default and
// as OpenMetrics 1.0.0 (the only format that carries exemplars) when the scraper asks for it.
//
// prom-client 15 switches formats with `registry.setContentType`, and its OpenMetrics rendering renames
// every registered counter in place (`foo_total` -> `foo`, so it can print `# TYPE foo counter` and
// `foo_total`), without renaming it back. Rendering both formats from one registry therefore needs the
// names restored afterwards, and two scrapes must not interleave; `createExposition` does both.
import { collectDefaultMetrics, Registry, type RegistryContentType } from 'prom-client';

export const PROMETHEUS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;
export const OPENMETRICS_CONTENT_TYPE = Registry.OPENMETRICS_CONTENT_TYPE;

export interface MetricsRegistryOptions {
  /** Default process and Node.js metrics (`process_*`, `nodejs_*`); default true. */
  readonly defaultMetrics?: boolean;
}

/**
 * prom-client's default metrics include three gauges named `*_total`, which `promtool check metrics`
 * rejects ("non-counter metrics should not have _total suffix"). Each is the sum of a by-type gauge
 * that stays (`nodejs_active_handles`, `nodejs_active_requests`, `nodejs_active_resources`), so they go.
 */
const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** A fresh registry (never the prom-client global one), with the default process metrics unless told otherwise. */
export function createMetricsRegistry(options: MetricsRegistryOptions = {}): Registry {
  const registry = new Registry();
  if (options.defaultMetrics !== false) {
    collectDefaultMetrics({ register: registry });
    for (const name of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(name);
  }
  return registry;
}

export interface RenderedMetrics {
  readonly contentType: string;
  readonly body: string;
}

export interface Exposition {
  readonly registry: Registry;
  render(openMetrics: boolean): Promise<RenderedMetrics>;
}

export function createExposition(registry: Registry): Exposition {
  // The content type is switched per scrape, so the registry is not bound to one.
  const switchable = registry as unknown as Registry<RegistryContentType>;
  let queue: Promise<unknown> = Promise.resolve();
  async function renderNow(openMetrics: boolean): Promise<RenderedMetrics> {
    if (!openMetrics) {
      switchable.setContentType(PROMETHEUS_CONTENT_TYPE);
      return { contentType: PROMETHEUS_CONTENT_TYPE, body: await switchable.metrics() };
    }
    const metrics = registry.getMetricsAsArray() as { name: string }[];
    const names = metrics.map((m) => m.name);
    switchable.setContentType(OPENMETRICS_CONTENT_TYPE);
    try {
      return { contentType: OPENMETRICS_CONTENT_TYPE, body: await switchable.metrics() };
    } finally {
      metrics.forEach((m, i) => (m.name = names[i]!));
      switchable.setContentType(PROMETHEUS_CONTENT_TYPE);
    }
  }
  return {
    registry,
    render(openMetrics: boolean): Promise<RenderedMetrics> {
      const result = queue.then(() => renderNow(openMetrics));
      queue = result.catch(() => undefined);
      return result;
    },
  };
}

/**
 * True when an HTTP Accept header prefers OpenMetrics text over Prometheus text (content negotiation
 * with q-values; Prometheus 2.x sends `application/openmetrics-text;version=1.0.0,...,text/plain;version=0.0.4;q=0.5,...`).
 */
export function acceptsOpenMetrics(accept: string | undefined): boolean {
  if (accept === undefined || accept === '') return false;
  let openMetricsQ = 0;
  let textQ = 0;
  for (const part of accept.split(',')) {
    const [rawType, ...params] = part.split(';');
    const type = rawType!.trim().toLowerCase();
    let q = 1;
    for (const p of params) {
      const [k, v] = p.split('=');
      if (k?.trim().toLowerCase() === 'q' && v !== undefined) {
        const parsed = Number(v.trim());
        if (Number.isFinite(parsed)) q = parsed;
      }
    }
    if (type === 'application/openmetrics-text') openMetricsQ = Math.max(openMetricsQ, q);
    else if (type === 'text/plain') textQ = Math.max(textQ, q);
  }
  return openMetricsQ > 0 && openMetricsQ >= textQ;
}
