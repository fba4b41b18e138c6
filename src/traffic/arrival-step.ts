/**
 * `step`: the rate steps between levels on a schedule. `steps` lists
 * `{ atSec, multiple }`: from `atSec` seconds after the arrivals start, the
 * rate is `traffic.rate` × `multiple`, until the next step; the last level
 * holds. Within a level arrivals are Poisson (exponential gaps), laid on the
 * step function's integral by time change, so a gap that straddles a step is
 * rescaled at the edge, never restarted. Multiples (not absolute rates) keep
 * replicas (rate/N), `--rate` and a mode's level all scaling the whole
 * schedule. The schedule restarts with the arrivals (a rate change).
 */
import type { ArrivalKind, IntegratedRate } from './arrival-kind.js';

export interface RateStep {
  /** Seconds after the arrivals start (the first step at 0, strictly increasing). */
  atSec: number;
  /** traffic.rate × this from atSec on (≥ 0; 0 pauses). */
  multiple: number;
}

const NS_PER_S = 1e9;

/** Λ of a step function (rate × multiple from each step on), inverted per segment in closed form. */
export class StepRate implements IntegratedRate {
  /** Start of each segment, s; its rate, req/s; the work done before it. */
  private readonly starts: number[] = [];
  private readonly rates: number[] = [];
  private readonly workBefore: number[] = [];

  constructor(steps: readonly RateStep[], rate: number) {
    let work = 0;
    steps.forEach((s, i) => {
      this.starts.push(s.atSec);
      this.rates.push(rate * s.multiple);
      this.workBefore.push(work);
      const next = steps[i + 1];
      if (next !== undefined) work += rate * s.multiple * (next.atSec - s.atSec);
    });
  }

  offsetAt(work: number): number {
    const n = this.starts.length;
    for (let i = 0; i < n; i++) {
      const r = this.rates[i] as number;
      if (!(r > 0)) continue;
      const left = work - (this.workBefore[i] as number);
      const end = this.starts[i + 1];
      // Reached strictly inside this segment (or at its start), or this is the last one: it holds for ever.
      if (end === undefined || left < r * (end - (this.starts[i] as number))) return ((this.starts[i] as number) + Math.max(0, left) / r) * NS_PER_S;
    }
    return Infinity;
  }
}

export const stepArrival: ArrivalKind<'step', { steps: RateStep[] }> = {
  kind: 'step',
  summary: 'the rate steps between levels: `steps: [{ atSec, multiple }]` of `rate`, Poisson within a level',
  fields: {
    steps: {
      description: 'arrival step: from atSec seconds after the start, rate × multiple (first at 0; the last level holds).',
      type: 'array',
      minItems: 1,
      maxItems: 1000,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['atSec', 'multiple'],
        properties: {
          atSec: { description: 'Seconds after the arrivals start (the first step at 0, strictly increasing).', type: 'number', minimum: 0 },
          multiple: { description: 'traffic.rate × this from atSec on (≥ 0; 0 pauses).', type: 'number', minimum: 0 },
        },
      },
    },
  },
  work(params, rng) {
    const problems = checkSteps(params.steps, 'steps');
    if (problems.length > 0) throw new RangeError(`arrivals: ${problems.join('; ')}`);
    return () => rng.exponential(1);
  },
  shape: ({ steps }, rate) => new StepRate(steps, rate),
  check(params, ctx, at) {
    if (params.steps === undefined) return [`${at}.steps: arrival step needs steps: [{ atSec, multiple }]`];
    const problems = checkSteps(params.steps, `${at}.steps`);
    if (ctx.profile) problems.push(`${at}.profile: arrival step has its own schedule; remove traffic.profile or use another arrival`);
    return problems;
  },
};

/** The schedule's own rules: first at 0, strictly increasing, finite, some level above 0. */
function checkSteps(steps: readonly RateStep[] | undefined, at: string): string[] {
  if (steps === undefined || steps.length === 0) return [`${at}: at least one step`];
  const out: string[] = [];
  if (steps[0]?.atSec !== 0) out.push(`${at}[0].atSec: the first step starts at 0`);
  steps.forEach((s, i) => {
    if (!Number.isFinite(s.atSec) || !Number.isFinite(s.multiple) || s.multiple < 0) out.push(`${at}[${i}]: atSec and multiple must be finite, multiple ≥ 0`);
    const prev = steps[i - 1];
    if (prev !== undefined && !(s.atSec > prev.atSec)) out.push(`${at}[${i}].atSec: must be after the step before (${prev.atSec})`);
  });
  if (!steps.some((s) => s.multiple > 0)) out.push(`${at}: every multiple is 0 (no arrivals ever)`);
  return out;
}
