/**
 * Open-loop arrival processes: pure schedules of absolute offsets (ns, as a
 * number) from the start of a run. The executor sleeps to `start + offset`
 * and measures lateness against it (schedule lag); nothing here reads a clock
 * or chains sleeps, so a slow consumer never shifts later arrivals.
 *
 * Model. Every process is a sequence of unit-mean "work" gaps W_1, W_2, ...
 * (each kind, one file registered in ./arrival-kinds.ts, says which:
 * constant: 1; poisson: Exp(1); gamma: Gamma(shape = burstiness,
 * scale = 1/burstiness); step: Exp(1) on its own step-function rate) laid out
 * in operational time Lambda(t) = integral of
 * rate(s) ds from 0 to t (rate in requests per second). The first arrival is at
 * offset 0; arrival k is at the t where Lambda(t) equals W_1 + ... + W_k.
 * With a fixed rate this is simply gaps of W/rate seconds; with `rateAt` it is
 * the time-rescaling construction (an inhomogeneous Poisson process for
 * `poisson`), so a rate change takes effect from the current offset onward
 * without a jump and without restarting the process.
 */
import type { Rng } from './random.js';
import type { IntegratedRate } from './arrival-kind.js';
import { arrivalKind, type ArrivalKindName, type ArrivalParams } from './arrival-kinds.js';

export type { IntegratedRate } from './arrival-kind.js';

/** Fields shared by every arrival spec. */
interface ArrivalCommon {
  /** Requests per second (> 0). Used as is when `rateAt` is absent. */
  rate: number;
  /**
   * Optional time-varying rate (rate profiles): requests per second at an offset
   * (ns from run start). Must be >= 0 and pure (same offset, same answer). It is
   * read at the current position and held for at most `rateStepNs`, i.e. the
   * rate is integrated as a step function on that grid. When present, `rate` is
   * only the nominal value (for display).
   */
  rateAt?: (offsetNs: number) => number;
  /**
   * Optional time-varying rate given by its integral (rate profiles): exact
   * time change, no sampling grid; takes precedence over `rateAt`. `rate` is
   * then only the nominal value.
   */
  integrated?: IntegratedRate;
  /** Hold time for a `rateAt` sample, ns (default 100 ms). Smaller = finer profile, more calls. */
  rateStepNs?: number;
  /**
   * With `rateAt`: how far past the previous arrival to keep looking while the
   * rate is 0 before giving up and returning Infinity (ns, default 24 h).
   */
  maxLookaheadNs?: number;
}

/**
 * How requests arrive: a registered kind (./arrival-kinds.ts) with the fields
 * it reads, e.g. `{ kind: 'gamma', rate: 5, burstiness: 0.5 }`. Rates are
 * requests per second.
 */
export type ArrivalSpec = { [K in ArrivalKindName]: { kind: K } & ArrivalParams<K> & ArrivalCommon }[ArrivalKindName];

/** A schedule of arrivals. */
export interface ArrivalProcess {
  /**
   * Offset of the next arrival from run start, ns (non-decreasing; the first
   * call returns 0, or with `integrated` the first offset where the rate is
   * positive). Infinity when a `rateAt` profile stays at 0 past the lookahead
   * (or an `integrated` one for ever).
   */
  next(): number;
}

const NS_PER_S = 1e9;
const DEFAULT_RATE_STEP_NS = 100e6;
const DEFAULT_LOOKAHEAD_NS = 24 * 3600 * NS_PER_S;

/**
 * Build an arrival process. Its rate: `integrated` when given, else `rateAt`,
 * else the kind's own shape (step), else flat at `rate`. Throws RangeError on
 * a non-positive rate or a bad parameter of the kind.
 */
export function createArrivals(spec: ArrivalSpec, rng: Rng): ArrivalProcess {
  const kind = arrivalKind(spec.kind);
  const work = kind.work(spec, rng);
  const even = work === 'even';
  const draw = even ? () => 1 : work;
  if (spec.integrated !== undefined) return new TimeChangedArrivals(even, draw, spec.integrated);
  if (spec.rateAt !== undefined) {
    return new ProfiledArrivals(draw, spec.rateAt, spec.rateStepNs ?? DEFAULT_RATE_STEP_NS, spec.maxLookaheadNs ?? DEFAULT_LOOKAHEAD_NS);
  }
  if (!(spec.rate > 0) || !Number.isFinite(spec.rate)) {
    throw new RangeError(`arrivals: rate must be a positive finite number, got ${spec.rate}`);
  }
  if (kind.shape !== undefined) return new TimeChangedArrivals(even, draw, kind.shape(spec, spec.rate));
  if (even) return new ConstantArrivals(spec.rate);
  return new RandomArrivals(draw, NS_PER_S / spec.rate);
}

/** Fixed-rate constant: offset_k = k * 1e9 / rate, computed fresh each time. */
class ConstantArrivals implements ArrivalProcess {
  private k = 0;
  constructor(private readonly rate: number) {}
  next(): number {
    return (this.k++ * NS_PER_S) / this.rate;
  }
}

/** Fixed-rate random gaps: a running sum is inherent to the process (a random walk). */
class RandomArrivals implements ArrivalProcess {
  private t = 0;
  private started = false;
  constructor(
    private readonly draw: () => number,
    private readonly meanGapNs: number,
  ) {}
  next(): number {
    if (!this.started) {
      this.started = true;
      return 0;
    }
    this.t += this.draw() * this.meanGapNs;
    return this.t;
  }
}

/**
 * Time-varying rate by exact time change: constant arrival k at Λ⁻¹(k),
 * computed fresh each time (no drift however many arrivals); random kinds at
 * Λ⁻¹(W_1 + ... + W_k) (a non-homogeneous Poisson process for `poisson`).
 * The first arrival is at Λ⁻¹(0): offset 0, or where the rate first turns positive.
 */
class TimeChangedArrivals implements ArrivalProcess {
  private k = 0;
  private work = 0;
  private done = false;
  constructor(
    private readonly constant: boolean,
    private readonly draw: () => number,
    private readonly rate: IntegratedRate,
  ) {}
  next(): number {
    if (this.done) return Infinity;
    if (this.constant) this.work = this.k;
    else if (this.k > 0) this.work += this.draw();
    this.k++;
    const at = this.rate.offsetAt(this.work);
    if (!Number.isFinite(at)) this.done = true;
    return at;
  }
}

/** Time-varying rate: integrate a step-function rate (sampled every stepNs) until the work gap is used up. */
class ProfiledArrivals implements ArrivalProcess {
  private t = 0;
  private started = false;
  constructor(
    private readonly draw: () => number,
    private readonly rateAt: (offsetNs: number) => number,
    private readonly stepNs: number,
    private readonly lookaheadNs: number,
  ) {
    if (!(stepNs > 0)) throw new RangeError(`arrivals: rateStepNs must be > 0, got ${stepNs}`);
  }

  next(): number {
    if (!this.started) {
      this.started = true;
      return 0;
    }
    if (this.t === Infinity) return Infinity;
    let work = this.draw(); // in "requests": seconds * (requests/second)
    let t = this.t;
    const giveUpAt = t + this.lookaheadNs;
    for (;;) {
      const r = this.rateAt(t);
      // The rate is held until the next grid point (so evaluations land on a fixed grid).
      const segEnd = (Math.floor(t / this.stepNs) + 1) * this.stepNs;
      if (r > 0) {
        const needNs = (work / r) * NS_PER_S;
        if (t + needNs <= segEnd) {
          this.t = t + needNs;
          return this.t;
        }
        work -= (r * (segEnd - t)) / NS_PER_S;
      }
      t = segEnd;
      if (t > giveUpAt) {
        this.t = Infinity;
        return Infinity;
      }
    }
  }
}
