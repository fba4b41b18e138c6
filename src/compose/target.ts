/**
 * The target to soak: the configured URL, or the embedded simulator started
 * here (a child process, stopped last). Resolves the OpenAI base URL, the
 * server's /metrics URL, its process id and the request headers.
 */
import type { Config } from '../config/types.js';
import { startEmbeddedSimulator, type EmbeddedTarget } from '../embedded-target.js';
import type { Logger } from '../log.js';

export interface Target {
  /** OpenAI base URL without a trailing slash, e.g. http://127.0.0.1:18000/v1 (may hold credentials: never shown). */
  baseUrl: string;
  metricsUrl: string;
  /** The target's process, to watch (the embedded simulator's, or target.pid). */
  pid: number | undefined;
  /** Headers of every request to the target (with the API key). */
  headers: Record<string, string>;
  embedded: boolean;
  stop(): Promise<void>;
}

/** `quiet`: the simulator logs to stderr (`llmsoak bench` keeps stdout for its result). */
export async function createTarget(cfg: Config, o: { logger: Logger; quiet: boolean }): Promise<Target> {
  let embedded: EmbeddedTarget | undefined;
  let baseUrl = cfg.target.url;
  let pid = cfg.target.pid;
  let metricsUrl = cfg.target.metricsUrl;
  if (!baseUrl) {
    embedded = await startEmbeddedSimulator(cfg.simulator, cfg.log.level, o.logger, undefined, o.quiet ? 'stderr' : 'stdout');
    baseUrl = `${embedded.url}/v1`;
    pid = embedded.pid;
    metricsUrl ??= `${embedded.url}/metrics`;
  }
  baseUrl = baseUrl.replace(/\/+$/, '');
  metricsUrl ??= `${new URL(baseUrl).origin}/metrics`;
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  if (cfg.target.apiKey) headers.authorization = `Bearer ${cfg.target.apiKey}`;
  return { baseUrl, metricsUrl, pid, headers, embedded: embedded !== undefined, stop: async () => embedded?.stop() };
}
