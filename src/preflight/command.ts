/**
 * `llmsoak check-target`: the preflight alone. Prints the table (stdout) and
 * exits 0 when every configured scenario can run on the target, 1 when one
 * cannot; bad input (config, URL) is exit 2 through the CLI's usual path.
 * Without a target URL it checks the built-in simulator.
 */
import { request } from 'undici';
import type { Config } from '../config/types.js';
import { ExitCode, UsageError } from '../errors.js';
import type { Logger } from '../log.js';
import { SecretScrubber, configSecrets, redactUrl } from '../security/secrets.js';
import { startEmbeddedSimulator, type EmbeddedTarget } from '../embedded-target.js';
import { systemClock } from '../clock.js';
import { PromptBuilder } from '../traffic/prompts.js';
import { createRng } from '../traffic/random.js';
import { runPreflight } from './run.js';
import { applyMissingEndpointPolicy } from './policy.js';
import { renderPreflight } from './table.js';

/** The first model id GET /models lists, or undefined (one try: the preflight then reports why). */
async function firstModel(baseUrl: string, headers: Record<string, string>, timeoutMs: number): Promise<string | undefined> {
  try {
    const res = await request(`${baseUrl}/models`, { headers, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.body.text();
    if (res.statusCode !== 200 || text.length > 1024 * 1024) return undefined;
    const id = (JSON.parse(text) as { data?: { id?: unknown }[] }).data?.[0]?.id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

export async function runCheckTarget(cfg: Config, logger: Logger, opts: { json: boolean; out?: NodeJS.WritableStream } = { json: false }): Promise<number> {
  const out = opts.out ?? process.stdout;
  let embedded: EmbeddedTarget | undefined;
  try {
    let baseUrl = cfg.target.url;
    let metricsUrl = cfg.target.metricsUrl;
    if (baseUrl === undefined) {
      embedded = await startEmbeddedSimulator(cfg.simulator, 'warn', logger, undefined, 'stderr');
      baseUrl = `${embedded.url}/v1`;
      metricsUrl ??= `${embedded.url}/metrics`;
    }
    baseUrl = baseUrl.replace(/\/+$/, '');
    let origin: string;
    try {
      origin = new URL(baseUrl).origin;
      if (metricsUrl !== undefined) new URL(metricsUrl);
    } catch {
      throw new UsageError(`not a URL: ${redactUrl(cfg.target.url ?? baseUrl)}`);
    }
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    if (cfg.target.apiKey) headers.authorization = `Bearer ${cfg.target.apiKey}`;
    const secrets = new SecretScrubber(configSecrets(cfg));
    const model = cfg.target.model ?? (await firstModel(baseUrl, headers, cfg.preflight.timeoutMs)) ?? 'default';
    const prompts = new PromptBuilder(createRng(1));
    const result = await runPreflight({
      baseUrl,
      shownUrl: redactUrl(baseUrl),
      metricsUrl: metricsUrl ?? `${origin}/metrics`,
      model,
      modelConfigured: cfg.target.model !== undefined,
      headers,
      scenarios: cfg.traffic.scenarios,
      timeoutMs: cfg.preflight.timeoutMs,
      connectTimeoutMs: cfg.target.timeouts.connectMs,
      clock: systemClock,
      countTokens: (s) => prompts.countTokens(s),
      scrub: (text) => secrets.scrub(text),
    });
    const decided = applyMissingEndpointPolicy(result, cfg.traffic.scenarios, cfg.preflight.onMissingEndpoint);
    if (opts.json) out.write(`${secrets.scrub(JSON.stringify(result, null, 2))}\n`);
    else {
      out.write(secrets.scrub(renderPreflight(result)));
      if (decided.fatal !== undefined) out.write(`llmsoak run would not start: ${decided.fatal}\n`);
      else if (decided.skipped.length > 0) out.write(`llmsoak run would skip ${decided.skipped.join(', ')} (preflight.onMissingEndpoint: ${cfg.preflight.onMissingEndpoint})\n`);
    }
    return result.ok ? ExitCode.ok : ExitCode.failed;
  } finally {
    await embedded?.stop();
  }
}
