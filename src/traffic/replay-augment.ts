/**
 * Replay augmentation: a recording holds few of its longest requests, so a
 * replay seldom tests the tail. Oversampling repeats each request whose input
 * or output length is above a quantile of the recording's `factor` times per
 * lap: the copies are spread evenly over the lap (one per 1/factor of it,
 * jittered by the run's seed), never bunched next to the original.
 */
import type { Rng } from './random.js';
import { replayPeriodSec, type ReplayEntry } from './replay.js';

export interface OversampleConfig {
  /** Times each rare request appears per lap (integer >= 1; 1 = as recorded). */
  factor: number;
  /** Rare = input or output tokens above this quantile (0 < q < 1) of the recording's. */
  quantile: number;
}

/** A replay schedule: entries sorted by `t` within one lap of `periodSec`. */
export interface ReplaySchedule {
  entries: ReplayEntry[];
  periodSec: number;
  /** What oversampling did (absent when not asked for). */
  oversampled?: { rare: number; added: number; inputAbove: number | null; outputAbove: number | null };
}

/** Nearest-rank quantile of positive values; null when there are none. */
export function quantileOf(values: number[], q: number): number | null {
  const xs = values.filter((v) => v > 0).sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const idx = Math.min(xs.length - 1, Math.max(0, Math.ceil(q * xs.length) - 1));
  return xs[idx] as number;
}

/**
 * The recording with rare requests repeated. Lengths that are unknown (a
 * recorded `body` without token counts, embeddings' output) take no part.
 * The lap keeps the recording's length, so the rate goes up by the copies.
 */
export function oversampleRare(entries: ReplayEntry[], cfg: OversampleConfig, rng: Rng): ReplaySchedule {
  const periodSec = replayPeriodSec(entries);
  const inputAbove = quantileOf(
    entries.map((e) => e.inputTokens),
    cfg.quantile,
  );
  const outputAbove = quantileOf(
    entries.filter((e) => e.endpoint !== 'embeddings').map((e) => e.outputTokens),
    cfg.quantile,
  );
  const isRare = (e: ReplayEntry): boolean => (inputAbove !== null && e.inputTokens > inputAbove) || (outputAbove !== null && e.endpoint !== 'embeddings' && e.outputTokens > outputAbove);
  const copies: ReplayEntry[] = [];
  let rare = 0;
  for (const e of entries) {
    if (!isRare(e)) continue;
    rare++;
    const slice = periodSec / cfg.factor;
    for (let j = 1; j < cfg.factor; j++) {
      // Copy j sits j slices after the original, jittered within ±1/4 slice: copies stay at least half a slice apart.
      const t = (e.t + (j + (rng.uniform() - 0.5) / 2) * slice) % periodSec;
      copies.push({ ...e, t });
    }
  }
  // Stable: an original keeps its place before a copy at the same time.
  const all = [...entries, ...copies].sort((a, b) => a.t - b.t);
  return { entries: all, periodSec, oversampled: { rare, added: copies.length, inputAbove, outputAbove } };
}

/** The schedule a replay config asks for: the recording as is, or oversampled (`rng` is only called then). */
export function replaySchedule(entries: ReplayEntry[], augment: { oversample?: OversampleConfig } | undefined, rng: () => Rng): ReplaySchedule {
  if (augment?.oversample === undefined || augment.oversample.factor <= 1) return { entries, periodSec: replayPeriodSec(entries) };
  return oversampleRare(entries, augment.oversample, rng());
}
