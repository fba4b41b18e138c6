import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * The one root logger. Components take `root.child({ component })`.
 * Secrets never reach it: the config is redacted before it is logged, and
 * request headers are never logged.
 */
export function createLogger(level: LevelWithSilent = 'info', destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { app: 'llmsoak' },
      redact: { paths: ['apiKey', '*.apiKey', '*.*.apiKey', 'authorization', '*.authorization', 'headers.authorization'], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}

/** A logger that writes nowhere: for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
