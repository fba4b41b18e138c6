/**
 * Stress ramp: stepped rate (open loop) or users (closed loop), each level
 * held long enough to measure a steady state, then bisection between the
 * last level that held every SLO and the first that did not. The knee is the
 * highest level that held; the report names why the next one failed and the
 * likely cause.
 */
import type { Knee, Report } from '../report/model.js';
import { increasing, positiveList, timing, type ModeDefinition, type StepTiming } from './mode.js';
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

export interface RampModeConfig extends StepTiming {
  /** What is stepped: the open-loop rate (req/s) or closed-loop users (concurrency). */
  by: 'rate' | 'users';
  from: number;
  to: number;
  /** Number of levels from `from` to `to` inclusive. */
  steps: number;
  /** linear: equal increments; geometric: equal ratios (10 → 1,000 in 5 steps: 10, 32, 100, 316, 1,000). */
  spacing: 'linear' | 'geometric';
  /** Explicit levels instead of from/to/steps (strictly increasing). */
  levels?: number[];
  /** Stop after this many failing levels in a row (0 = run every level). */
  stopAfterFailedSteps: number;
  /** Bisection steps between the last level that held and the first that failed. */
  refineSteps: number;
  /** Pass/fail for pipelines: the knee must be at least this (req/s or users). Absent: pass when any level held. */
  required?: number;
}

/** The levels of a ramp: explicit, or from..to in `steps` (rounded; users to integers), strictly increasing. */
export function rampLevels(r: RampModeConfig): number[] {
  if (r.levels !== undefined && r.levels.length > 0) return [...r.levels];
  const n = r.steps;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const f = n === 1 ? 1 : i / (n - 1);
    const v = n === 1 ? r.to : r.spacing === 'geometric' ? r.from * (r.to / r.from) ** f : r.from + (r.to - r.from) * f;
    const rounded = r.by === 'users' ? Math.max(1, Math.round(v)) : Number(v.toPrecision(4));
    if (out.length === 0 || rounded > (out[out.length - 1] as number)) out.push(rounded);
  }
  return out;
}

export const rampMode: ModeDefinition<'ramp', RampModeConfig> = {
  kind: 'ramp',
  summary: 'stepped rate or users, each level held, then bisection: the knee and why the next level failed',
  properties: {
    by: { type: 'string', enum: ['rate', 'users'], default: 'rate' },
    from: { type: 'number', exclusiveMinimum: 0, default: 1 },
    to: { type: 'number', exclusiveMinimum: 0, default: 20 },
    steps: { type: 'integer', minimum: 1, maximum: 100, default: 5 },
    spacing: { type: 'string', enum: ['linear', 'geometric'], default: 'linear' },
    levels: positiveList(undefined, false),
    stopAfterFailedSteps: { type: 'integer', minimum: 0, default: 1 },
    refineSteps: { type: 'integer', minimum: 0, maximum: 10, default: 2 },
    required: { type: 'number', exclusiveMinimum: 0 },
    ...timing(10, 30, 5),
  },
  run: runRamp,
  describe(r) {
    const unit = r.by === 'rate' ? 'req/s' : 'users';
    return r.levels && r.levels.length > 0 ? `ramp over ${r.levels.join(', ')} ${unit}` : `ramp ${r.from} → ${r.to} ${unit} in ${r.steps} steps`;
  },
  check(r, at, problems) {
    if (r.levels !== undefined && r.levels.length > 0) {
      if (!increasing(r.levels)) problems.push(`${at}.ramp.levels: must be strictly increasing`);
      if (r.by === 'users' && r.levels.some((v) => !Number.isInteger(v))) problems.push(`${at}.ramp.levels: users must be integers`);
    } else if (r.from > r.to) problems.push(`${at}.ramp.from: (${r.from}) is above to (${r.to})`);
  },
  maxUsers: (r) => (r.by === 'users' ? Math.max(1, ...rampLevels(r)) : 1),
};
