/**
 * What a soak report adds to the figures: the analyzer's view of the period
 * (src/analyzer/period.ts) as report entries. Each watched gauge and latency
 * p99 becomes a TrendEntry (start, end, peak, Theil–Sen slope per hour, R²,
 * verdict) and a Plot of its points (at most MAX_PLOT_POINTS) with the fitted
 * line; every hint that fired in the period becomes a HintEntry.
 */
import type { Hint } from '../analyzer/hint.js';
import type { PeriodSeries } from '../analyzer/period.js';
import type { HintEntry, Plot, TrendEntry } from '../report/model.js';
import { hintEntry } from '../report/live.js';
import { downsample } from '../report/svg.js';

export interface SoakAnalysis {
  trends: TrendEntry[];
  timeseries: Plot[];
  hints: HintEntry[];
}

/** Plots stay small: a day of 1 s samples would otherwise make a report of megabytes. */
export const MAX_PLOT_POINTS = 300;

const round = (v: number, sig = 6): number => (Number.isFinite(v) ? Number(v.toPrecision(sig)) : 0);

/** At most MAX_PLOT_POINTS points: each time bucket's minimum and maximum, in time order. */
export function capPoints(points: [number, number][]): [number, number][] {
  // downsample keeps a bucket's min and max, over buckets + 1 buckets.
  return downsample(points, MAX_PLOT_POINTS / 2 - 1);
}

function trendEntry(s: PeriodSeries): TrendEntry | undefined {
  const tr = s.trend;
  const pts = s.points;
  if (pts.length === 0) return undefined;
  // Measured values of the analysed span (after warm-up), or of every point when none was analysed.
  const analysed = Number.isFinite(tr.start) ? pts.filter((p) => p.t >= tr.start && p.t <= tr.end) : pts;
  const span = analysed.length > 0 ? analysed : pts;
  const e: TrendEntry = {
    series: s.name,
    unit: s.unit,
    start: round((span[0] as { v: number }).v),
    end: round((span[span.length - 1] as { v: number }).v),
    peak: round(Math.max(...span.map((p) => p.v))),
    slopePerHour: round(tr.slopePerHour),
    // NaN for a constant series (nothing to explain): 0 in JSON.
    r2: round(tr.r2, 4),
    verdict: tr.verdict,
  };
  if (tr.projectedExhaustionSec !== undefined) e.projectedExhaustionSec = Math.round(tr.projectedExhaustionSec);
  return e;
}

function plotOf(s: PeriodSeries): Plot | undefined {
  if (s.points.length < 2) return undefined;
  const brace = s.name.indexOf('{');
  const points = capPoints(s.points.map((p): [number, number] => [p.t, p.v])).map(([t, v]): [number, number] => [t, round(v)]);
  const plot: Plot = { name: brace >= 0 ? `${s.what} ${s.name.slice(brace)}` : s.what, unit: s.unit, points };
  const tr = s.trend;
  if (tr.verdict !== 'insufficient data' && Number.isFinite(tr.start) && Number.isFinite(tr.fittedEnd)) {
    // The Theil–Sen line, as its value at the first analysed point and its slope.
    const intercept = tr.fittedEnd - (tr.slopePerHour * (tr.end - tr.start)) / 3_600_000;
    plot.fit = { slopePerHour: round(tr.slopePerHour), intercept: round(intercept), fromMs: tr.start };
  }
  return plot;
}

export function soakAnalysisOf(period: { trends: PeriodSeries[]; hints: Hint[] }): SoakAnalysis {
  const trends: TrendEntry[] = [];
  const timeseries: Plot[] = [];
  for (const s of period.trends) {
    const e = trendEntry(s);
    if (e !== undefined) trends.push(e);
    const p = plotOf(s);
    if (p !== undefined) timeseries.push(p);
  }
  return { trends, timeseries, hints: period.hints.map(hintEntry) };
}
