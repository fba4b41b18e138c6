/**
 * Stress ramp: stepped rate (open loop) or users (closed loop), each level
 * held long enough to measure a steady state, then bisection between the
 * last level that held every SLO and the first that did not. The knee is the
 * highest level that held; the report names why the next one failed and the
 * likely cause.
 */
import type { Knee, Report } from '../report/model.js';
import { rampLevels, type RampModeConfig } from '../config/mode-ramp.js';
import { byLoad, buildReport } from './report.js';
import { fmtLoad, likelyCause, measureStep, startRun, type LoadSpec, type MeasuredStep, type ModeHost } from './runner.js';

export function rampSpec(by: 'rate' | 'users', v: number): LoadSpec {
  return by === 'rate' ? { label: fmtLoad({ rate: v }), rate: v } : { label: fmtLoad({ users: v }), users: v, thinkTimeMs: 0 };
}

export const loadOf = (m: MeasuredStep): number => m.result.targetRate ?? m.result.concurrency ?? 0;

/**
 * The bracket around the knee: `lo` the highest level that held below the
 * lowest level that failed (`hi`). Either may be missing.
 */
export function bracket(steps: MeasuredStep[]): { lo?: MeasuredStep; hi?: MeasuredStep } {
  const sorted = [...steps].sort((a, b) => loadOf(a) - loadOf(b));
  const hi = sorted.find((m) => !m.result.sloMet);
  const below = hi === undefined ? sorted : sorted.filter((m) => loadOf(m) < loadOf(hi));
  const lo = [...below].reverse().find((m) => m.result.sloMet);
  return { ...(lo !== undefined ? { lo } : {}), ...(hi !== undefined ? { hi } : {}) };
}

/** Midpoint of a bracket (users: an integer strictly inside, or undefined when none is left). */
export function midpoint(by: 'rate' | 'users', lo: number, hi: number): number | undefined {
  if (by === 'users') {
    const m = Math.floor((lo + hi) / 2);
    return m > lo && m < hi ? m : undefined;
  }
  const m = Number(((lo + hi) / 2).toPrecision(4));
  return m > lo && m < hi ? m : undefined;
}

/** The knee of a bracket, the reason the level above failed, and its likely cause. */
export function kneeOf(host: ModeHost, all: MeasuredStep[], unit: Knee['unit']): { knee?: Knee; failures: string[] } {
  const { lo, hi } = bracket(all);
  const ceiling = Math.max(0, ...all.map((m) => m.server.runningMax ?? 0));
  const failures: string[] = [];
  if (lo === undefined && hi === undefined) return { failures: ['nothing was measured'] };
  if (hi === undefined) {
    const top = lo as MeasuredStep;
    return { knee: { value: loadOf(top), unit, reason: `no tested level failed (the highest tested was ${top.result.label}); the knee is higher` }, failures };
  }
  const c = likelyCause(hi, host.slo, ceiling > 0 ? ceiling : undefined);
  const reason = `at ${hi.result.label}: ${hi.failures.join('; ')}${c.detail !== undefined ? ` — ${c.detail}` : ''}`;
  // No level held: the knee is below the lowest level tested (0), and the cause is still named.
  if (lo === undefined) failures.push(`no level held every SLO; already ${reason}${c.cause !== undefined ? ` (likely cause: ${c.cause})` : ''}`);
  const knee: Knee = { value: lo === undefined ? 0 : loadOf(lo), unit, reason };
  if (c.cause !== undefined) knee.cause = c.cause;
  return { knee, failures };
}

export async function runRamp(host: ModeHost, cfg: RampModeConfig): Promise<Report> {
  const run = startRun(host);
  const levels = rampLevels(cfg);
  const all: MeasuredStep[] = [];
  let failedInRow = 0;
  for (const [i, v] of levels.entries()) {
    if (host.signal.aborted) break;
    const spec = rampSpec(cfg.by, v);
    host.setActivity(`ramp ${spec.label} (level ${i + 1} of ${levels.length})`);
    const m = await measureStep(host, run.stepMeter, spec, cfg, all.length);
    all.push(m);
    failedInRow = m.result.sloMet ? 0 : failedInRow + 1;
    if (cfg.stopAfterFailedSteps > 0 && failedInRow >= cfg.stopAfterFailedSteps) break;
  }
  for (let k = 0; k < cfg.refineSteps && !host.signal.aborted; k++) {
    const { lo, hi } = bracket(all);
    if (lo === undefined || hi === undefined) break;
    const mid = midpoint(cfg.by, loadOf(lo), loadOf(hi));
    if (mid === undefined) break;
    const spec = rampSpec(cfg.by, mid);
    host.setActivity(`ramp ${spec.label} (refining ${k + 1} of ${cfg.refineSteps})`);
    all.push(await measureStep(host, run.stepMeter, spec, cfg, all.length));
  }
  const { knee, failures } = kneeOf(host, all, cfg.by === 'rate' ? 'req/s' : 'concurrency');
  if (knee !== undefined && cfg.required !== undefined && knee.value < cfg.required) {
    failures.push(
      `capacity ${fmtLoad(cfg.by === 'rate' ? { rate: knee.value } : { users: knee.value })} is below the required ${fmtLoad(cfg.by === 'rate' ? { rate: cfg.required } : { users: cfg.required })} (${knee.reason})`,
    );
  }
  const end = await run.finish();
  if (host.signal.aborted) failures.push('stopped before the ramp ended');
  return buildReport(host, {
    kind: 'ramp',
    startedAtMs: run.startedAtMs,
    endedAtMs: end.endedAtMs,
    durationSec: end.durationSec,
    parameters: { ...cfg, levels },
    meter: run.meter,
    steps: byLoad(all.map((m) => m.result)),
    ...(knee !== undefined ? { knee } : {}),
    events: run.events,
    failures,
  });
}
