/**
 * The preflight's requests: one small request per endpoint (and streaming)
 * the scenarios use, GET /models twice, GET /metrics once, all at once, each
 * bounded by the timeout. What they mean is judged in ./judge.ts (pure).
 */
import { Agent, Pool } from 'undici';
import type { Clock } from '../clock.js';
import type { ScenarioConfig } from '../traffic/config.js';
import type { Endpoint } from '../types.js';
import { probeEndpoint, type ProbeTarget } from './endpoint-probe.js';
import { probeModels } from './models-probe.js';
import { probeMetrics } from './metrics-probe.js';
import { judge } from './judge.js';
import { redactUrl } from '../security/secrets.js';
import type { EndpointProbe, PreflightResult } from './types.js';

export interface PreflightDeps {
  /** OpenAI base URL, e.g. http://127.0.0.1:8000/v1 (with its password, if any: never shown). */
  baseUrl: string;
  /** Shown in the result (no password). */
  shownUrl: string;
  metricsUrl: string;
  model: string;
  /** Was the model configured (then it must be among GET /models' ids)? */
  modelConfigured: boolean;
  headers: Record<string, string>;
  scenarios: ScenarioConfig[];
  timeoutMs: number;
  connectTimeoutMs: number;
  clock: Clock;
  countTokens: (text: string) => number;
  scrub: (text: string) => string;
}

/** The (endpoint, stream) pairs to probe: each endpoint not streamed, and streamed too where a scenario streams it. */
export function probePlan(scenarios: ScenarioConfig[]): { endpoint: Endpoint; stream: boolean; ignoreEos: boolean }[] {
  const plan = new Map<string, { endpoint: Endpoint; stream: boolean; ignoreEos: boolean }>();
  const add = (endpoint: Endpoint, stream: boolean, ignoreEos: boolean) => {
    const k = `${endpoint}/${stream}`;
    const cur = plan.get(k);
    plan.set(k, { endpoint, stream, ignoreEos: ignoreEos || (cur?.ignoreEos ?? false) });
  };
  for (const sc of scenarios) {
    add(sc.endpoint, false, sc.ignoreEos);
    if (sc.stream) add(sc.endpoint, true, sc.ignoreEos);
  }
  return [...plan.values()];
}

export async function runPreflight(d: PreflightDeps): Promise<PreflightResult> {
  const t0 = d.clock.monoNs();
  const url = new URL(d.baseUrl);
  const plan = probePlan(d.scenarios);
  // Its own small pool: the probes never share a connection with (or wait behind) the soak's.
  const pool = new Pool(url.origin, { connections: plan.length + 1, connect: { timeout: d.connectTimeoutMs }, headersTimeout: d.timeoutMs, bodyTimeout: d.timeoutMs });
  // The metrics URL may be on another origin.
  const metricsAgent = new Agent({ connections: 1, connect: { timeout: d.connectTimeoutMs } });
  try {
    const target: ProbeTarget = {
      basePath: url.pathname.replace(/\/+$/, ''),
      model: d.model,
      client: {
        dispatcher: pool,
        headers: d.headers,
        clock: d.clock,
        totalTimeoutMs: d.timeoutMs,
        maxBodyBytes: 1024 * 1024,
        countTokens: d.countTokens,
        scrub: d.scrub,
      },
    };
    const [endpoints, models, metrics] = await Promise.all([
      Promise.all(plan.map((p): Promise<EndpointProbe> => probeEndpoint(target, p.endpoint, p.stream, p.ignoreEos))),
      probeModels(d.baseUrl, { dispatcher: pool, headers: d.headers, timeoutMs: d.timeoutMs, clock: d.clock, scrub: d.scrub }),
      probeMetrics(d.metricsUrl, { dispatcher: metricsAgent, timeoutMs: d.timeoutMs, scrub: d.scrub }),
    ]);
    const durationMs = Number((Number(d.clock.monoNs() - t0) / 1e6).toFixed(1));
    return judge({
      at: new Date(d.clock.wallMs()).toISOString(),
      target: d.shownUrl,
      model: d.scrub(d.model),
      modelConfigured: d.modelConfigured,
      durationMs,
      scenarios: d.scenarios,
      endpoints,
      models,
      metrics: { ...metrics, url: redactUrl(metrics.url) },
    });
  } finally {
    await Promise.all([pool.destroy(), metricsAgent.destroy()]).catch(() => undefined);
  }
}
