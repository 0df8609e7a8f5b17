// paysignal's own logs: structured JSON on stderr (stdout belongs to command output), with the
// credential-bearing keys redacted in case an error object carries them.
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino(
    {
      name: options.name ?? 'paysignal',
      level: options.level ?? process.env.PAYSIGNAL_LOG_LEVEL ?? 'info',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: ['*.authorization', '*.password', '*.sasl.password', '*.headers.authorization', 'config.kafka.sasl.password'],
        censor: '[REDACTED]',
      },
    },
    pino.destination({ fd: 2, sync: false }),
  );
}
