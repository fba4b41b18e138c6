/**
 * llmsoak's own HTTP server (src/server/): /metrics, health, the API and the
 * status page, listening on server.listen. It reads the other components
 * through the functions it is given, so it can start before them.
 */
import { readFileSync } from 'node:fs';
import type { Registry } from 'prom-client';
import type { Config } from '../config/types.js';
import { LlmsoakError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { SecretScrubber } from '../security/secrets.js';
import { buildApp } from '../server/app.js';
import { isLoopbackHost } from '../server/auth.js';
import type { DaemonStatus, RunningParts } from './daemon-types.js';

export interface Server {
  /** Where it listens, e.g. http://127.0.0.1:9477 (a wildcard host is shown as loopback). */
  listenUrl: string;
  stop(): Promise<void>;
}

/** The server answers from what runs now: `parts` fill in as the daemon builds them. */
export async function createServer(
  cfg: Config,
  o: { registry: Registry; logger: Logger; secrets: SecretScrubber; parts: RunningParts; ready: () => boolean; status: () => DaemonStatus },
): Promise<Server> {
  const { parts } = o;
  const app = buildApp({
    ready: o.ready,
    status: o.status,
    hints: () => parts.analysis?.analyzer?.snapshot() ?? { topCause: null, untrustworthy: false, hints: [], rules: [], baselineCapturedAt: null, analyzer: 'disabled' },
    reports: {
      reportDir: () => cfg.report.dir,
      listReports: async () => parts.modes?.reports() ?? [],
      statusPage: async () => parts.modes?.statusPage(),
      schedules: () => parts.modes?.schedules() ?? [],
    },
    registry: o.registry,
    logger: o.logger,
    bodyLimit: cfg.server.bodyLimitBytes,
    auth: { ...cfg.server.auth, loopbackOnly: isLoopbackHost(cfg.server.host) },
    ...(cfg.server.tls ? { https: readTls(cfg.server.tls) } : {}),
    secrets: o.secrets,
  });
  try {
    await app.listen({ host: cfg.server.host, port: cfg.server.port });
  } catch (err) {
    throw new LlmsoakError('LLMSOAK_ERR_LISTEN', `cannot listen on ${cfg.server.listen}: ${errorMessage(err)}`, 'choose another with --listen HOST:PORT or server.listen');
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : cfg.server.port;
  const shownHost = cfg.server.host === '0.0.0.0' || cfg.server.host === '::' ? '127.0.0.1' : cfg.server.host;
  const listenUrl = `${cfg.server.tls ? 'https' : 'http'}://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`;
  o.logger.info(`metrics at ${listenUrl}/metrics (health ${listenUrl}/healthz, status ${listenUrl}/api/status)`);
  return { listenUrl, stop: () => app.close().catch(() => undefined) };
}

/** server.tls PEM files, read once; unreadable: one clear line. */
function readTls(tls: { certFile: string; keyFile: string }): { cert: Buffer; key: Buffer } {
  const read = (what: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new LlmsoakError('LLMSOAK_ERR_LISTEN', `cannot read server.tls.${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`, 'point server.tls at readable PEM files');
    }
  };
  return { cert: read('certFile', tls.certFile), key: read('keyFile', tls.keyFile) };
}
