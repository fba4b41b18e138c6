/**
 * The preflight at the daemon's start (preflight.enabled): probes the target,
 * logs one line per problem, applies preflight.onMissingEndpoint and returns
 * the traffic config with the scenarios to send. A fatal outcome (policy
 * fail, or nothing left to send) throws: the daemon does not start.
 */
import type { Clock } from '../clock.js';
import type { Config } from '../config/types.js';
import { LlmsoakError } from '../errors.js';
import type { Logger } from '../log.js';
import { redactUrl } from '../security/secrets.js';
import { applyMissingEndpointPolicy } from './policy.js';
import { runPreflight } from './run.js';
import type { PreflightResult } from './types.js';

export interface StartupProbe {
  baseUrl: string;
  metricsUrl: string;
  model: string;
  headers: Record<string, string>;
  countTokens: (s: string) => number;
  scrub: (text: string) => string;
}

/** `onResult` sees what the preflight found before a fatal outcome throws (the CLI prints the table either way). */
export async function preflightAtStart(cfg: Config, p: StartupProbe, o: { logger: Logger; clock: Clock; onResult: (r: PreflightResult) => void }): Promise<Config['traffic']> {
  if (!cfg.preflight.enabled) return cfg.traffic;
  const log = o.logger.child({ component: 'preflight' });
  const result = await runPreflight({
    baseUrl: p.baseUrl,
    shownUrl: redactUrl(p.baseUrl),
    metricsUrl: p.metricsUrl,
    model: p.model,
    modelConfigured: cfg.target.model !== undefined,
    headers: p.headers,
    scenarios: cfg.traffic.scenarios,
    timeoutMs: cfg.preflight.timeoutMs,
    connectTimeoutMs: cfg.target.timeouts.connectMs,
    clock: o.clock,
    countTokens: p.countTokens,
    scrub: p.scrub,
  });
  const decided = applyMissingEndpointPolicy(result, cfg.traffic.scenarios, cfg.preflight.onMissingEndpoint);
  o.onResult(result);
  log.info(
    { durationMs: result.durationMs, ok: result.ok, problems: result.problems.length },
    `preflight: ${result.scenarios.filter((s) => s.runnable).length} of ${result.scenarios.length} scenarios can run, ${result.problems.length} problem(s) (table in /api/status)`,
  );
  for (const line of result.problems) log.warn(`preflight: ${line}`);
  if (decided.fatal !== undefined) {
    const hint =
      cfg.preflight.onMissingEndpoint === 'fail'
        ? 'see the preflight table; preflight.onMissingEndpoint: skip leaves such scenarios out'
        : 'see the preflight table; configure scenarios whose endpoints the target serves';
    throw new LlmsoakError('LLMSOAK_ERR_TARGET', decided.fatal, hint);
  }
  if (decided.skipped.length > 0)
    log.warn(
      `preflight: scenario${decided.skipped.length > 1 ? 's' : ''} ${decided.skipped.join(', ')} skipped: the target lacks ${decided.skipped.length > 1 ? 'their endpoints' : 'its endpoint'} (preflight.onMissingEndpoint: skip)`,
    );
  return decided.skipped.length > 0 ? { ...cfg.traffic, scenarios: decided.run } : cfg.traffic;
}
