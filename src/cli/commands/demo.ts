// `paysignal demo` (and `npm run demo`): the whole pipeline locally; see src/demo/demo.ts.
import { parseArgs } from 'node:util';
import { createLogger } from '../../logging.ts';
import { usageError } from '../../errors.ts';
import { runDemo } from '../../demo/demo.ts';
import { alertLine } from '../../demo/summary.ts';
import { EmbeddedBrokerError } from '../../embedded-broker/index.ts';
import { allowsAnsi } from '../terminal.ts';

export const DEMO_USAGE = `Usage: paysignal demo [--duration SECONDS] [--rate EVENTS_PER_SECOND] [--port PORT]

Runs the whole pipeline on this machine: an embedded Kafka-protocol broker, generated traffic for
Mercado Pago, Kustom, Setel, Digital River and StableGenius with scripted incidents, and the real
service with metrics on http://127.0.0.1:PORT/metrics (default 9464; 0 picks a free port), the
shipped alert rules, alerts printed here and sent to ALERTMANAGER_URL when set, and spans exported
over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set. Ctrl-C stops everything cleanly.
Without --duration it runs for 120 seconds. The live summary redraws in place on a terminal;
with NO_COLOR set (or output not a terminal) it prints plain frames every 10 seconds instead.

Examples:
  paysignal demo
  paysignal demo --duration 600 --rate 500 --port 0
  ALERTMANAGER_URL=http://127.0.0.1:9093 OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 paysignal demo

Exit codes: 0 finished or stopped with Ctrl-C (a second Ctrl-C exits at once with 130), 1 the
embedded broker could not start, 2 usage error.`;

function positiveNumber(name: string, text: string | undefined, fallback: number, allowZero = false): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) throw usageError(`--${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got "${text}"`);
  return n;
}

export async function demoCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string' },
      rate: { type: 'string' },
      port: { type: 'string' },
      seed: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${DEMO_USAGE}\n`);
    return 0;
  }
  const durationS = positiveNumber('duration', values.duration, 120);
  const eventsPerSecond = positiveNumber('rate', values.rate, 300);
  const httpPort = positiveNumber('port', values.port ?? process.env.PAYSIGNAL_HTTP_PORT, 9464, true);
  const seed = positiveNumber('seed', values.seed, 7);
  // The service's own logs would drown the summary; warnings and errors still go to stderr.
  const logger = createLogger({ level: process.env.PAYSIGNAL_LOG_LEVEL ?? 'warn' });
  const abort = new AbortController();
  const onSignal = (): void => {
    if (abort.signal.aborted) process.exit(130);
    process.stdout.write('\nstopping (Ctrl-C again to exit at once) ...\n');
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const result = await runDemo({
      durationS, eventsPerSecond, eventSpanMs: 3 * 3_600_000, warmUpMs: 24 * 3_600_000, httpHost: '127.0.0.1', httpPort,
      alertmanagerUrl: process.env.ALERTMANAGER_URL ?? null, logger, out: process.stdout, ansi: allowsAnsi(process.stdout), signal: abort.signal, seed,
    });
    process.stdout.write(`\npaysignal demo finished: ${result.produced} events produced, ${result.processed} classified, ${result.invalid} rejected to the dead-letter topic.\n`);
    process.stdout.write(`alerts fired (${result.alertsFired.length}):\n`);
    for (const a of result.alertsFired) process.stdout.write(`  ${alertLine(a)}\n`);
    return 0;
  } catch (error) {
    if (error instanceof EmbeddedBrokerError) {
      process.stderr.write(`paysignal demo: ${error.code}: ${error.message}\n`);
      return 1;
    }
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    logger.flush();
  }
}
