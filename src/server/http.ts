// paysignal's HTTP endpoints (docs/architecture.md#cli-and-configuration and #security): metrics and health only.
//
//   GET|HEAD /metrics  Prometheus text 0.0.4; OpenMetrics 1.0.0 (with exemplars) when Accept prefers it
//   GET|HEAD /healthz  200 while the process runs
//   GET|HEAD /readyz   200 when every readiness check passes, else 503 naming the failing ones
//
// Every other path is 404, other methods on these paths 405. Nothing else is served.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { acceptsOpenMetrics, type Exposition } from '../sinks/exposition.ts';



/** Named readiness checks, e.g. `{ kafka_group_joined: true, partitions_assigned: false, rules_loaded: true }`. */
export type ReadinessChecks = Readonly<Record<string, boolean>>;

export interface HttpServerOptions {
  readonly exposition: Exposition;
  /** Called per /readyz request; may be async. Default: always ready. */
  readonly readiness?: () => ReadinessChecks | Promise<ReadinessChecks>;
  /** `http.host` of the configuration. */
  readonly host: string;
  /** `http.port` of the configuration; 0 picks a free port. */
  readonly port: number;
  /** Called with errors from rendering or readiness (they answer 500 / 503); default ignore. */
  readonly onError?: (error: unknown) => void;
}

export interface HttpServer {
  readonly server: Server;
  readonly host: string;
  readonly port: number;
  /** `http://host:port` (IPv6 hosts in brackets). */
  readonly url: string;
  /** Stops accepting, lets running requests finish for up to `graceMs` (default 2000), then closes the rest. */
  close(graceMs?: number): Promise<void>;
}

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
} as const;

function send(req: IncomingMessage, res: ServerResponse, status: number, contentType: string, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    ...extra,
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function json(req: IncomingMessage, res: ServerResponse, status: number, value: unknown, extra: Record<string, string> = {}): void {
  send(req, res, status, 'application/json; charset=utf-8', `${JSON.stringify(value)}\n`, extra);
}

/** Starts listening; resolves once bound. */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const { host, port } = options;
  const readiness = options.readiness ?? (() => ({}));
  const onError = options.onError ?? (() => undefined);
  const { exposition } = options;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
    if (path !== '/metrics' && path !== '/healthz' && path !== '/readyz') {
      json(req, res, 404, { error: 'not found' });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      json(req, res, 405, { error: 'method not allowed' }, { allow: 'GET, HEAD' });
      return;
    }
    if (path === '/healthz') {
      json(req, res, 200, { status: 'ok' });
      return;
    }
    if (path === '/readyz') {
      let checks: ReadinessChecks;
      try {
        checks = await readiness();
      } catch (error) {
        onError(error);
        json(req, res, 503, { status: 'not_ready', not_ready: ['readiness_check_failed'], checks: {} });
        return;
      }
      const notReady = Object.keys(checks).filter((name) => checks[name] !== true);
      json(req, res, notReady.length === 0 ? 200 : 503, { status: notReady.length === 0 ? 'ready' : 'not_ready', not_ready: notReady, checks });
      return;
    }
    try {
      const rendered = await exposition.render(acceptsOpenMetrics(req.headers.accept));
      send(req, res, 200, rendered.contentType, rendered.body);
    } catch (error) {
      onError(error);
      send(req, res, 500, 'text/plain; charset=utf-8', 'metrics rendering failed\n');
    }
  }

  // Keep-alive outlives common scrape intervals (15 s to 60 s), so a scraper reuses its connection instead of
  // racing our close of an idle one (a reset scrape). Slow senders are still cut by the header and request timeouts.
  const server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 65_000 }, (req, res) => {
    // A request body is never expected; do not buffer one.
    req.resume();
    handle(req, res).catch((error: unknown) => {
      onError(error);
      if (!res.headersSent) send(req, res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    const onListenError = (error: Error): void => reject(error);
    server.once('error', onListenError);
    server.listen(port, host, () => {
      server.off('error', onListenError);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    server,
    host: address.address,
    port: address.port,
    url: `http://${urlHost}:${address.port}`,
    async close(graceMs = 2000): Promise<void> {
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      timer.unref();
      await closed;
      clearTimeout(timer);
    },
  };
}
