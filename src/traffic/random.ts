/**
 * Seeded pseudo-random numbers for traffic generation. Deterministic for a
 * given seed (same seed, same sequence, on every platform), so that a schedule
 * or a prompt mix can be replayed exactly.
 *
 * Generator: xoshiro128** (Blackman & Vigna), 128-bit state in four uint32,
 * seeded through splitmix32. `uniform()` uses 53 bits (two outputs) so that
 * distribution tails (exponential gaps, lognormal lengths) are not cut off at
 * 2^-32.
 */

/** A seeded source of random variates. Not cryptographic. */
export interface Rng {
  /** Uniform double in [0, 1), 53-bit resolution. */
  uniform(): number;
  /** Uniform integer in [lo, hi], both inclusive (lo, hi integers, lo <= hi). */
  int(lo: number, hi: number): number;
  /** Standard normal variate (mean 0, variance 1). */
  normal(): number;
  /** Exponential variate with the given rate (mean 1/rate). rate > 0. */
  exponential(rate: number): number;
  /** Gamma variate, mean shape*scale, variance shape*scale^2. shape > 0, scale > 0. */
  gamma(shape: number, scale: number): number;
  /** Poisson variate (non-negative integer) with mean lambda >= 0. */
  poisson(lambda: number): number;
  /**
   * Negative binomial variate (non-negative integer) as a gamma-Poisson mixture:
   * mean `mean`, variance mean + mean^2/dispersion. dispersion = Infinity gives Poisson.
   */
  negativeBinomial(mean: number, dispersion: number): number;
  /** Lognormal variate with the given median (= exp(mu)) and log-space sigma. */
  logNormal(median: number, sigma: number): number;
  /** Index i with probability weights[i] / sum(weights). Weights >= 0, sum > 0. */
  pickWeighted(weights: readonly number[]): number;
  /** A new, independent generator seeded from this one (for separate sub-streams). */
  fork(): Rng;
}

/** splitmix32 step: returns [next state, output]. Used only for seeding. */
function splitmix32(state: number): [number, number] {
  const s = (state + 0x9e3779b9) | 0;
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [s, z >>> 0];
}

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;
const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/** log(k!) for small k, filled lazily. */
let logFactTable: Float64Array | undefined;

/** log(k!) for integer k >= 0: table below 256, Stirling series above (error < 1e-13). */
function logFactorial(k: number): number {
  if (k < 256) {
    if (logFactTable === undefined) {
      logFactTable = new Float64Array(256);
      let acc = 0;
      for (let i = 1; i < 256; i++) {
        acc += Math.log(i);
        logFactTable[i] = acc;
      }
    }
    return logFactTable[k] ?? 0;
  }
  const x = k + 1;
  const x2 = x * x;
  return (x - 0.5) * Math.log(x) - x + LOG_SQRT_2PI + 1 / (12 * x) - 1 / (360 * x * x2) + 1 / (1260 * x2 * x2 * x);
}

class Xoshiro128 implements Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  /** Second variate of the last polar-method pair, if unused. */
  private spareNormal: number | undefined;

  constructor(seed: number) {
    // Fold a (possibly > 32-bit, possibly negative or fractional) seed into two 32-bit words.
    const s = Number.isFinite(seed) ? Math.trunc(seed) : 0;
    const lo = s >>> 0;
    const hi = Math.floor(s / TWO_POW_32) >>> 0;
    // splitmix32's output is a bijection of its state, so (a, c) is distinct for
    // distinct (lo, hi): no two seeds below 2^53 share a state.
    let st = lo | 0;
    let out: number;
    [st, out] = splitmix32(st);
    this.a = out;
    [st, out] = splitmix32(st);
    this.b = out;
    st = (hi ^ 0x6a09e667) | 0;
    [st, out] = splitmix32(st);
    this.c = out;
    [st, out] = splitmix32(st);
    this.d = out;
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1; // all-zero state is a fixed point
  }

  /** Next uint32 of xoshiro128**. */
  private nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9);
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result >>> 0;
  }

  uniform(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / TWO_POW_53;
  }

  /** Uniform in (0, 1]: safe to take the log of. */
  private uniformPos(): number {
    return 1 - this.uniform();
  }

  int(lo: number, hi: number): number {
    return lo + Math.floor(this.uniform() * (hi - lo + 1));
  }

  normal(): number {
    if (this.spareNormal !== undefined) {
      const v = this.spareNormal;
      this.spareNormal = undefined;
      return v;
    }
    // Marsaglia polar method.
    let u: number;
    let v: number;
    let s: number;
    do {
      u = 2 * this.uniform() - 1;
      v = 2 * this.uniform() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    this.spareNormal = v * f;
    return u * f;
  }

  exponential(rate: number): number {
    return -Math.log(this.uniformPos()) / rate;
  }

  gamma(shape: number, scale: number): number {
    if (shape < 1) {
      // Boost: G(a) = G(a+1) * U^(1/a).
      const g = this.gamma(shape + 1, 1);
      return g * this.uniformPos() ** (1 / shape) * scale;
    }
    // Marsaglia & Tsang (2000).
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.uniformPos();
      const x2 = x * x;
      if (u < 1 - 0.0331 * x2 * x2) return d * v * scale;
      if (Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) return d * v * scale;
    }
  }

  poisson(lambda: number): number {
    if (!(lambda > 0)) return 0;
    if (lambda < 10) {
      // Knuth multiplication: fine (expected lambda+1 uniforms) for small lambda.
      const limit = Math.exp(-lambda);
      let k = 0;
      let p = this.uniformPos();
      while (p > limit) {
        k++;
        p *= this.uniformPos();
      }
      return k;
    }
    // PTRS, transformed rejection with squeeze (Hormann 1993), valid for lambda >= 10.
    const slam = Math.sqrt(lambda);
    const loglam = Math.log(lambda);
    const b = 0.931 + 2.53 * slam;
    const a = -0.059 + 0.02483 * b;
    const invalpha = 1.1239 + 1.1328 / (b - 3.4);
    const vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
      const u = this.uniform() - 0.5;
      const v = this.uniform();
      const us = 0.5 - Math.abs(u);
      const k = Math.floor(((2 * a) / us + b) * u + lambda + 0.43);
      if (us >= 0.07 && v <= vr) return k;
      if (k < 0 || (us < 0.013 && v > us)) continue;
      if (Math.log(v) + Math.log(invalpha) - Math.log(a / (us * us) + b) <= -lambda + k * loglam - logFactorial(k)) {
        return k;
      }
    }
  }

  negativeBinomial(mean: number, dispersion: number): number {
    if (!(mean > 0)) return 0;
    if (!Number.isFinite(dispersion)) return this.poisson(mean);
    return this.poisson(this.gamma(dispersion, mean / dispersion));
  }

  logNormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }

  pickWeighted(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    let x = this.uniform() * total;
    let last = -1;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i] ?? 0;
      if (w <= 0) continue;
      last = i;
      if (x < w) return i;
      x -= w;
    }
    if (last < 0) throw new RangeError('pickWeighted: weights must have a positive sum');
    return last; // floating round-off at the top end
  }

  fork(): Rng {
    return new Xoshiro128(this.nextU32() + (this.nextU32() >>> 11) * TWO_POW_32);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A deterministic generator for `seed` (any finite number; integers up to 2^53 are all distinct). */
export function createRng(seed: number): Rng {
  return new Xoshiro128(seed);
}
