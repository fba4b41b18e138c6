/**
 * preflight.onMissingEndpoint applied: which scenarios the soak sends. Only a
 * MISSING endpoint (404, 405, 501) is acted on; an endpoint that exists but
 * failed its probe (a 500, a timeout, a refused connection) keeps its
 * scenarios: the soak measures those failures, as it should.
 */
import type { ScenarioConfig } from '../traffic/config.js';
import type { MissingEndpointPolicy } from '../config/preflight.js';
import type { PreflightResult } from './types.js';

export interface PolicyOutcome {
  /** The scenarios to send. */
  run: ScenarioConfig[];
  /** Names left out (policy skip). */
  skipped: string[];
  /** Set when the daemon must not start: one line saying why. */
  fatal?: string;
}

/** Decides, and records the decision on each of result.scenarios (`action`). */
export function applyMissingEndpointPolicy(result: PreflightResult, scenarios: ScenarioConfig[], policy: MissingEndpointPolicy): PolicyOutcome {
  const missing = new Set(result.scenarios.filter((s) => s.missing).map((s) => s.name));
  const names = [...missing];
  const reasons = [...new Set(result.scenarios.filter((s) => s.missing).map((s) => s.reason ?? s.endpoint))].join('; ');
  for (const v of result.scenarios) v.action = !missing.has(v.name) ? 'run' : policy === 'keep' ? 'kept' : 'skipped';
  if (missing.size === 0) return { run: scenarios, skipped: [] };
  if (policy === 'fail') {
    return {
      run: scenarios,
      skipped: [],
      fatal: `preflight: scenario${names.length > 1 ? 's' : ''} ${names.join(', ')} need${names.length > 1 ? '' : 's'} an endpoint the target does not have (${reasons}); preflight.onMissingEndpoint is fail`,
    };
  }
  if (policy === 'keep') return { run: scenarios, skipped: [] };
  const run = scenarios.filter((s) => !missing.has(s.name));
  if (run.length === 0) return { run, skipped: names, fatal: `preflight: no scenario can run on this target: every one needs an endpoint it does not have (${reasons})` };
  return { run, skipped: names };
}
