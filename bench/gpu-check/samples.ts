/** What the GPU check records from llmsoak and from the load, and how it is looked up. */
import type { Registry } from 'prom-client';

/** One llmsoak series value at one collection. */
export interface SeriesValue {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Every llmsoak_gpu_* series after one collection (what /metrics would have shown then). */
export interface CollectorSample {
  /** Middle of the collection, unix ms. */
  tMs: number;
  series: SeriesValue[];
}

/** One phase of the load, as the load script announced it. */
export interface Phase {
  name: string;
  startMs: number;
  endMs: number;
}

/** The phases the load runs, in order; the replay expects what each one names. */
export const PHASE_NAMES = ['idle', 'matmul', 'copy', 'idle2'] as const;

/** One point of one series. */
export interface Point {
  tMs: number;
  v: number;
  labels: Record<string, string>;
}

/** Points of `name` on GPU `gpu` (optionally with extra label values), in time order. */
export function pointsOf(samples: readonly CollectorSample[], name: string, gpu: string, extra: Record<string, string> = {}): Point[] {
  const out: Point[] = [];
  for (const s of samples) {
    for (const x of s.series) {
      if (x.name !== name || x.labels.gpu !== gpu) continue;
      if (!Object.entries(extra).every(([k, v]) => x.labels[k] === v)) continue;
      out.push({ tMs: s.tMs, v: x.value, labels: x.labels });
    }
  }
  return out;
}

/** Points inside [from, to]. */
export function within<T extends { tMs: number }>(xs: readonly T[], from: number, to: number): T[] {
  return xs.filter((x) => x.tMs >= from && x.tMs <= to);
}

/**
 * A phase with its edges trimmed: ramp-up and wind-down seconds, where
 * readings taken up to a second apart legitimately disagree, are left out of
 * phase means and of the replay.
 */
export function steady(p: Phase, headMs = 3000, tailMs = 1000): { from: number; to: number } {
  return { from: p.startMs + headMs, to: p.endMs - tailMs };
}

export function mean(xs: readonly number[]): number | undefined {
  return xs.length === 0 ? undefined : xs.reduce((a, b) => a + b, 0) / xs.length;
}

export function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** The sample of `xs` (sorted by time) nearest to `tMs`, if one lies within `maxMs`. */
export function nearest<T extends { tMs: number }>(xs: readonly T[], tMs: number, maxMs: number): T | undefined {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((xs[mid] as T).tMs < tMs) lo = mid + 1;
    else hi = mid;
  }
  let best: T | undefined;
  for (const i of [lo - 1, lo]) {
    const x = xs[i];
    if (x !== undefined && Math.abs(x.tMs - tMs) <= maxMs && (best === undefined || Math.abs(x.tMs - tMs) < Math.abs(best.tMs - tMs))) best = x;
  }
  return best;
}

/** Every llmsoak_gpu_* value in `reg` now, as one sample at `tMs`. */
export async function snapshot(reg: Registry, tMs: number): Promise<CollectorSample> {
  const series = (await reg.getMetricsAsJSON())
    .filter((m) => m.name.startsWith('llmsoak_gpu_'))
    .flatMap((m) =>
      m.values.flatMap((v) =>
        Number.isFinite(v.value)
          ? [
              {
                name: m.name,
                labels: Object.fromEntries(Object.entries(v.labels).map(([k, x]) => [k, String(x)])),
                value: v.value,
              },
            ]
          : [],
      ),
    );
  return { tMs, series };
}
