import { pino, type Logger, type LevelWithSilent } from 'pino';
import { SecretScrubber } from './security/secrets.js';

export type { Logger };

/**
 * The one root logger. Components take `root.child({ component })`.
 * Secrets never reach it: the config is redacted before it is logged, and
 * request headers are never logged. With `secrets` (configSecrets(config)),
 * every finished line is also scrubbed of those values, wherever they hide
 * (an error message, a target's echoed body, a URL).
 */
export function createLogger(level: LevelWithSilent = 'info', destination?: NodeJS.WritableStream, secrets: readonly string[] = []): Logger {
  const scrubber = new SecretScrubber(secrets);
  return pino(
    {
      level,
      base: { app: 'llmsoak' },
      redact: {
        paths: ['apiKey', '*.apiKey', '*.*.apiKey', 'authorization', '*.authorization', 'headers.authorization', 'token', '*.token', 'bearerToken', '*.bearerToken', 'password', '*.password'],
        censor: '[redacted]',
      },
      timestamp: pino.stdTimeFunctions.isoTime,
      ...(scrubber.empty ? {} : { hooks: { streamWrite: (line: string) => scrubber.scrub(line) } }),
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}

/** A logger that writes nowhere: for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
