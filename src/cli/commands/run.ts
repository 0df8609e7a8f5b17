// `paysignal run`: the service. Kafka -> decode -> classify -> sinks, with the dead-letter topic for
// rejected events, offsets committed only after every sink finished (docs/architecture.md#pipeline-stages, #input-the-payment-call-event, #cli-and-configuration).
//
// Exit codes: 0 clean shutdown (SIGTERM/SIGINT), 1 shutdown did not finish within
// kafka.shutdown_timeout or a fatal error, 2 bad configuration or usage.
import { parseArgs } from 'node:util';
import { assertKafkaConfigured, loadConfig, type PaysignalConfig } from '../../config/config.ts';
import { environmentVariables } from '../../config/reference.ts';
import { PaysignalError, usageError } from '../../errors.ts';
import { createLogger } from '../../logging.ts';
import { startService, type RunningService } from '../../service/service.ts';

function wrapWords(text: string, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  return [...lines, line].join('\n');
}

export const RUN_USAGE = `Usage: paysignal run [--config FILE] [--workers N|auto]

Consumes payment-call events from Kafka, classifies them and feeds the sinks. Configuration: the
YAML file (--config or PAYSIGNAL_CONFIG) plus environment overrides (docs/configuration.md):
${wrapWords(environmentVariables().join(', '), 100)}.

--workers: threads that decode, classify and emit metrics and spans (processing.workers; default
auto: one per core beyond the first, at least one; 0 runs everything on the main thread).

Examples:
  KAFKA_BROKERS=kafka:9092 KAFKA_TOPIC=payment-calls paysignal run
  PAYSIGNAL_RULES=rules/ ALERTMANAGER_URL=http://alertmanager:9093 paysignal run --config paysignal.yaml

Exit codes: 0 clean shutdown, 1 shutdown deadline missed or fatal error, 2 usage error (including
bad configuration).`;

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_CONFIG = 2;

export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string', short: 'c' }, workers: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(`${RUN_USAGE}\n`);
    return EXIT_OK;
  }

  if (values.workers !== undefined && !/^(auto|[0-9]+)$/.test(values.workers)) {
    process.stderr.write(`paysignal run: ${usageError(`--workers must be a whole number or auto, got ${JSON.stringify(values.workers)}`, '--workers').describe()}\n`);
    return EXIT_CONFIG;
  }

  let config: PaysignalConfig;
  try {
    // The flag wins over the environment and the file, as PAYSIGNAL_WORKERS does over the file.
    const env = values.workers === undefined ? process.env : { ...process.env, PAYSIGNAL_WORKERS: values.workers };
    config = loadConfig({ file: values.config, env });
    assertKafkaConfigured(config);
  } catch (error) {
    if (error instanceof PaysignalError) {
      process.stderr.write(`paysignal run: ${error.describe()}\n`);
      return EXIT_CONFIG;
    }
    throw error;
  }

  const logger = createLogger();
  // Signals are handled from here on: one that arrives while the service starts stops it as soon as it is up.
  let resolveExit: (code: number) => void = () => {};
  const exited = new Promise<number>((resolve) => (resolveExit = resolve));
  let service: RunningService | null = null;
  let signalled = false;
  const finish = (code: number): void => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    // Everything is closed; should a library still hold a handle, do not hang past this.
    setTimeout(() => process.exit(code), 2000).unref();
    logger.flush(() => resolveExit(code));
  };
  const shutdown = (running: RunningService): void => {
    running.stop().then(
      () => {
        logger.info('shutdown complete');
        finish(EXIT_OK);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown did not complete cleanly');
        finish(EXIT_FAILURE);
      },
    );
  };
  function onSignal(signal: NodeJS.Signals): void {
    if (signalled) {
      logger.warn({ signal }, 'second signal; exiting without waiting');
      logger.flush();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    signalled = true;
    logger.info({ signal, deadlineMs: config.kafka.shutdown_timeout }, 'shutting down: finishing the batch in hand, committing, leaving the group');
    if (service !== null) shutdown(service);
  }
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    service = await startService({ config, logger });
  } catch (error) {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    if (error instanceof PaysignalError) {
      // e.g. MAPPING_NOT_FOUND, KAFKA_TLS_FILE_UNREADABLE: configuration the file named but we cannot use.
      process.stderr.write(`paysignal run: ${error.describe()}\n`);
      logger.flush();
      return EXIT_CONFIG;
    }
    throw error;
  }
  if (signalled) shutdown(service);
  return await exited;
}
