/**
 * What an arrival process kind is (src/traffic/arrival-kinds.ts registers
 * them): the unit-mean "work" gaps it draws, an optional rate shape of its
 * own, the `traffic` fields it reads and their checks. The generic machinery
 * (fixed rate, time change, sampled rate) lives in ./arrivals.ts; a kind only
 * says what is particular to it.
 */
import type { Rng } from './random.js';

/**
 * An integrated rate Λ(t) (expected arrivals in [0, t]) through its inverse:
 * arrival with cumulative work w is at offsetAt(w).
 */
export interface IntegratedRate {
  /**
   * The first offset, ns, at which Λ reaches `work` (requests) with the rate
   * positive just after; non-decreasing in `work`; Infinity when it never does.
   */
  offsetAt(work: number): number;
}

/** Where a kind's config checks run: the `traffic` section around its fields. */
export interface ArrivalCheckContext {
  /** `traffic.profile` is set (a rate shape of the kind's own would clash with it). */
  profile: boolean;
}

/**
 * One arrival process kind. `P` is the fields it reads from `traffic` (and
 * from an ArrivalSpec): gamma's `burstiness`, step's `steps`.
 */
export interface ArrivalKind<K extends string, P extends object> {
  readonly kind: K;
  /** One line: what it is (config schema, CLI help, docs). */
  readonly summary: string;
  /** JSON Schema of each field of P, merged into the `traffic` section of the config schema. */
  readonly fields: { readonly [F in keyof P]-?: Readonly<Record<string, unknown>> };
  /**
   * The unit-mean work gaps W_1, W_2, … of the model in ./arrivals.ts, or
   * 'even' for exactly 1 each (arrival k at Λ⁻¹(k), computed fresh: no drift).
   * Throws RangeError on a bad parameter.
   */
  work(params: P, rng: Rng): (() => number) | 'even';
  /**
   * The kind's own rate over time, as Λ for a base rate `rate` (req/s > 0);
   * absent: flat at `rate`. A profile (`integrated`) or `rateAt` given by the
   * caller takes precedence.
   */
  shape?(params: P, rate: number): IntegratedRate;
  /** Cross-field checks of its fields in a loaded config, each `path: message` (`at` is `traffic`). */
  check?(params: Partial<P>, ctx: ArrivalCheckContext, at: string): string[];
}
