// The HTTP endpoints: /metrics (negotiated format), /healthz, /readyz, and nothing else.
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createExposition, createMetricsRegistry } from '../../src/sinks/exposition.ts';
import { createMetricsSink } from '../../src/sinks/metrics.ts';
import { parseConfig } from '../../src/config/config.ts';
import { startHttpServer, type HttpServer, type ReadinessChecks } from '../../src/server/http.ts';
import { event, INTERNAL_SERVER_ERROR, processed } from './fixtures.ts';
import { DEFAULT_CONFIG } from '../support/config.ts';

const OPENMETRICS_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

let server: HttpServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

async function start(readiness?: () => ReadinessChecks | Promise<ReadinessChecks>): Promise<HttpServer> {
  const registry = createMetricsRegistry();
  const sink = createMetricsSink({ registry, metrics: DEFAULT_CONFIG.metrics, exemplarTraceId: () => 'aaaabbbbccccddddeeeeffff00001111' });
  sink.onEvent(processed(event({ statusCode: 500 }), INTERNAL_SERVER_ERROR));
  server = await startHttpServer({ exposition: createExposition(registry), host: '127.0.0.1', port: 0, ...(readiness ? { readiness } : {}) });
  return server;
}

describe('HTTP endpoints', () => {
  it('GET /metrics answers Prometheus text 0.0.4 by default, with process metrics, without exemplars', async () => {
    const s = await start();
    const response = await fetch(`${s.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const body = await response.text();
    expect(body).toContain('payment_provider_errors_total{provider="kustom",operation="create_order",code="INTERNAL_SERVER_ERROR"');
    expect(body).toContain('process_cpu_seconds_total');
    expect(body).toContain('nodejs_heap_size_used_bytes');
    expect(body).not.toContain('trace_id');
  });

  it('GET /metrics answers OpenMetrics with exemplars when the Accept header asks for it (as Prometheus does)', async () => {
    const s = await start();
    const response = await fetch(`${s.url}/metrics`, { headers: { accept: OPENMETRICS_ACCEPT } });
    expect(response.headers.get('content-type')).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    const body = await response.text();
    expect(body).toContain('# {trace_id="aaaabbbbccccddddeeeeffff00001111"}');
    expect(body.endsWith('# EOF\n')).toBe(true);
  });

  it('GET /healthz is 200 while the process runs', async () => {
    const s = await start();
    const response = await fetch(`${s.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz is 503 naming what is not ready, 200 once everything is', async () => {
    const checks = { kafka_group_joined: true, partitions_assigned: false, rules_loaded: false };
    const s = await start(() => checks);
    const notReady = await fetch(`${s.url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: 'not_ready', not_ready: ['partitions_assigned', 'rules_loaded'], checks });
    checks.partitions_assigned = true;
    checks.rules_loaded = true;
    const ready = await fetch(`${s.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', not_ready: [] });
  });

  it('a readiness function that throws makes /readyz 503', async () => {
    const s = await start(async () => {
      throw new Error('boom');
    });
    const response = await fetch(`${s.url}/readyz`);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ status: 'not_ready', not_ready: ['readiness_check_failed'] });
  });

  it('HEAD is allowed and has no body', async () => {
    const s = await start();
    const response = await fetch(`${s.url}/metrics`, { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('');
  });

  it.each(['/', '/metrics/', '/debug/pprof', '/api/v1/query', '/../etc/passwd', '/healthz/x', '/favicon.ico'])('GET %s is 404', async (path) => {
    const s = await start();
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: s.port, path, method: 'GET' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(404);
  });

  it('other methods on the endpoints are 405 with Allow', async () => {
    const s = await start();
    const response = await fetch(`${s.url}/metrics`, { method: 'POST', body: 'x' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, HEAD');
  });

  it('a query string does not change the answer', async () => {
    const s = await start();
    expect((await fetch(`${s.url}/healthz?verbose=1`)).status).toBe(200);
  });

  it('close() stops listening, also with a keep-alive connection open', async () => {
    const s = await start();
    await fetch(`${s.url}/healthz`, { keepalive: true });
    await s.close();
    server = null;
    await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();
  });

  it('host and port come from PAYSIGNAL_HTTP_HOST / PAYSIGNAL_HTTP_PORT, default port 9464', () => {
    expect(parseConfig(null, null, {}).http).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(parseConfig(null, null, { PAYSIGNAL_HTTP_HOST: '127.0.0.1', PAYSIGNAL_HTTP_PORT: '9100' }).http).toEqual({ host: '127.0.0.1', port: 9100 });
    expect(() => parseConfig(null, null, { PAYSIGNAL_HTTP_PORT: 'http' })).toThrow(/PAYSIGNAL_HTTP_PORT/);
  });
});
