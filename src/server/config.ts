// The `http` section: where /metrics, /healthz and /readyz are served.
import { section, setting } from '../config/declare.ts';

export const httpSection = section('http', 'The HTTP server of /metrics, /healthz and /readyz.', {
  // A scrape target must be reachable from Prometheus, so all interfaces by default.
  host: setting.string({ description: 'Interface to listen on.', default: '0.0.0.0', env: 'PAYSIGNAL_HTTP_HOST' }),
  // 9464 is the OpenTelemetry Prometheus exporter's port.
  port: setting.integer({ description: 'Port to listen on (0: any free port).', default: 9464, min: 0, max: 65535, env: 'PAYSIGNAL_HTTP_PORT' }),
});
