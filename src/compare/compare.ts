/**
 * Two reports, figure by figure: the change, its test (./stats.ts) and a
 * verdict against the tolerances of the `compare` config. A figure is
 * "worse" only when the change is significant AND beyond its tolerance in
 * the bad direction, "better" likewise in the good direction, "same"
 * otherwise; "insufficient" when a run has too few values to test it (never
 * a regression: a short run must not raise false alarms).
 */
import { hdrToWeighted, type WeightedSample } from '../analyzer/stats.js';
import type { Report, RunKind, StepResult } from '../report/model.js';
import type { CompareConfig } from './config.js';
import { CompareInputError } from './input.js';
import { bootstrapQuantileDiff, poissonRateTest, seedFor, twoProportionTest } from './stats.js';

export type Verdict = 'better' | 'same' | 'worse' | 'insufficient';
export type FigureUnit = 'seconds' | 'req/s' | 'ratio' | 'concurrency';

export interface FigureComparison {
  /** Stable key, e.g. "ttft.p99", "throughput", "errorRate", "knee". */
  key: string;
  /** For people, e.g. "TTFT p99". */
  label: string;
  unit: FigureUnit;
  baseline: number | null;
  candidate: number | null;
  /** candidate − baseline. */
  change: number | null;
  /** change / baseline (null when the baseline is 0). */
  relativeChange: number | null;
  test: {
    method: 'bootstrap' | 'poisson' | 'two-proportion' | 'knee-resolution' | 'none';
    /** Two-sided p-value (bootstrap, poisson, two-proportion). */
    p?: number;
    /** Interval of the change (bootstrap). */
    ci?: [number, number];
    significant: boolean;
  };
  /** The tolerance applied, in words. */
  tolerance: string;
  verdict: Verdict;
  /** Why a figure is insufficient, or how the knee was judged. */
  note?: string;
}

export interface RunSummary {
  file?: string;
  kind: RunKind;
  version: string;
  startedAt: string;
  durationSec: number;
  target: string;
  requests: number;
}

export interface Comparison {
  kind: RunKind;
  alpha: number;
  baseline: RunSummary;
  candidate: RunSummary;
  figures: FigureComparison[];
  /** Labels of the figures that got worse. */
  regressions: string[];
  /** No figure got worse (exit 0). */
  pass: boolean;
}

const LATENCY = [
  ['ttft', 'TTFT'],
  ['itl', 'ITL'],
  ['tpot', 'TPOT'],
  ['e2e', 'E2E'],
] as const;
const Q: Record<CompareConfig['percentiles'][number], number> = { p50: 0.5, p90: 0.9, p95: 0.95, p99: 0.99 };

const round = (v: number, d = 9): number => Number(v.toFixed(d));
const rel = (b: number, c: number): number | null => (b !== 0 ? round((c - b) / b, 6) : null);
const pct = (v: number): string => `${Number((v * 100).toPrecision(3))}%`;

function decode(r: Report, key: string, file: string): WeightedSample | undefined {
  const enc = r.histograms[key];
  if (enc === undefined) return undefined;
  try {
    return hdrToWeighted({ encode: () => enc });
  } catch {
    throw new CompareInputError(`${file}: histogram "${key}" is not an encoded HDR histogram`);
  }
}

/** Streams with a first token (the TTFT count), else successful requests. */
function streams(r: Report): number {
  const n = r.overall?.ttft?.count;
  return typeof n === 'number' && n > 0 ? n : r.totals.ok;
}

/** Judge a change whose sign means `bad` (+1: larger is worse; −1: smaller is worse). */
function judge(significant: boolean, beyond: boolean, change: number, bad: 1 | -1): Verdict {
  if (!significant || !beyond) return 'same';
  return Math.sign(change) === bad ? 'worse' : 'better';
}

function latencyFigures(b: Report, c: Report, cfg: CompareConfig, files: { baseline: string; candidate: string }): FigureComparison[] {
  const out: FigureComparison[] = [];
  for (const [key, name] of LATENCY) {
    const tol = cfg.tolerances[key];
    const hb = decode(b, key, files.baseline);
    const hc = decode(c, key, files.candidate);
    for (const pName of cfg.percentiles) {
      const q = Q[pName];
      const tolerance = `±${pct(tol.relative)} and ±${tol.absoluteMs} ms`;
      const fig: FigureComparison = {
        key: `${key}.${pName}`,
        label: `${name} ${pName}`,
        unit: 'seconds',
        baseline: b.overall?.[key]?.[pName] ?? null,
        candidate: c.overall?.[key]?.[pName] ?? null,
        change: null,
        relativeChange: null,
        test: { method: 'bootstrap', significant: false },
        tolerance,
        verdict: 'insufficient',
      };
      // ITLs are not independent within a stream: they count as many values as there were streams.
      const nb = Math.min(hb?.total ?? 0, key === 'itl' ? streams(b) : Infinity);
      const nc = Math.min(hc?.total ?? 0, key === 'itl' ? streams(c) : Infinity);
      const need = Math.ceil(cfg.minTailCount / Math.min(q, 1 - q));
      if (hb === undefined || hc === undefined || nb < need || nc < need) {
        fig.note = `needs at least ${need} values in each run (has ${nb} and ${nc})`;
        out.push(fig);
        continue;
      }
      const d = bootstrapQuantileDiff(hb, hc, q, { alpha: cfg.alpha, resamples: cfg.resamples, seed: seedFor(cfg.seed, fig.key), effectiveN: { baseline: nb, candidate: nc } });
      // The histogram's own percentile (bucket values, within 0.1 % of the report's figure).
      fig.baseline = round(d.baseline);
      fig.candidate = round(d.candidate);
      fig.change = round(d.diff);
      fig.relativeChange = rel(d.baseline, d.candidate);
      fig.test = { method: 'bootstrap', p: round(d.p, 6), ci: [round(d.ci[0]), round(d.ci[1])], significant: d.significant };
      const beyond = Math.abs(d.diff) > tol.absoluteMs / 1000 && (d.baseline === 0 || Math.abs(d.diff) / d.baseline > tol.relative);
      fig.verdict = judge(d.significant, beyond, d.diff, 1);
      out.push(fig);
    }
  }
  return out;
}

function rateFigure(key: 'throughput' | 'goodput', label: string, b: Report, c: Report, cfg: CompareConfig): FigureComparison {
  const count = (r: Report) => (key === 'throughput' ? r.totals.requests : r.totals.good);
  const tol = cfg.tolerances[key].relative;
  const fig: FigureComparison = {
    key,
    label,
    unit: 'req/s',
    baseline: null,
    candidate: null,
    change: null,
    relativeChange: null,
    test: { method: 'poisson', significant: false },
    tolerance: `±${pct(tol)}`,
    verdict: 'insufficient',
  };
  if (!(b.durationSec > 0) || !(c.durationSec > 0)) {
    fig.note = 'a run has no duration';
    return fig;
  }
  const rb = count(b) / b.durationSec;
  const rc = count(c) / c.durationSec;
  fig.baseline = round(rb, 4);
  fig.candidate = round(rc, 4);
  fig.change = round(rc - rb, 4);
  fig.relativeChange = rel(rb, rc);
  const { p } = poissonRateTest(count(b), b.durationSec, count(c), c.durationSec);
  fig.test = { method: 'poisson', p: round(p, 6), significant: p < cfg.alpha };
  const beyond = rb === 0 ? rc > 0 : Math.abs(rc - rb) / rb > tol;
  fig.verdict = judge(fig.test.significant, beyond, rc - rb, -1);
  return fig;
}

function errorRateFigure(b: Report, c: Report, cfg: CompareConfig): FigureComparison {
  const failed = (r: Report) => r.totals.requests - r.totals.ok;
  const tol = cfg.tolerances.errorRate.absolute;
  const fig: FigureComparison = {
    key: 'errorRate',
    label: 'Error rate',
    unit: 'ratio',
    baseline: null,
    candidate: null,
    change: null,
    relativeChange: null,
    test: { method: 'two-proportion', significant: false },
    tolerance: `±${pct(tol)} (absolute)`,
    verdict: 'insufficient',
  };
  if (b.totals.requests === 0 || c.totals.requests === 0) {
    fig.note = 'a run has no requests';
    return fig;
  }
  const eb = failed(b) / b.totals.requests;
  const ec = failed(c) / c.totals.requests;
  fig.baseline = round(eb, 6);
  fig.candidate = round(ec, 6);
  fig.change = round(ec - eb, 6);
  fig.relativeChange = rel(eb, ec);
  const { p } = twoProportionTest(failed(b), b.totals.requests, failed(c), c.totals.requests);
  fig.test = { method: 'two-proportion', p: round(p, 6), significant: p < cfg.alpha };
  fig.verdict = judge(fig.test.significant, Math.abs(ec - eb) > tol, ec - eb, 1);
  return fig;
}

const loadOf = (s: StepResult): number | undefined => s.targetRate ?? s.concurrency;

/**
 * How finely a run located its knee: the distance from the knee to the
 * nearest level measured above it (the bisection's last bracket), or below
 * it when nothing above was measured. 0 when the report has no such level.
 */
export function kneeResolution(r: Report): number {
  const k = r.knee;
  if (k === undefined) return 0;
  const loads = r.steps.map(loadOf).filter((v): v is number => v !== undefined && Number.isFinite(v));
  const above = loads.filter((v) => v > k.value);
  if (above.length > 0) return Math.min(...above) - k.value;
  const below = loads.filter((v) => v < k.value);
  return below.length > 0 ? k.value - Math.max(...below) : 0;
}

function kneeFigure(b: Report, c: Report): FigureComparison | undefined {
  if (b.knee === undefined && c.knee === undefined) return undefined;
  const fig: FigureComparison = {
    key: 'knee',
    label: 'Capacity knee',
    unit: b.knee?.unit === 'concurrency' || c.knee?.unit === 'concurrency' ? 'concurrency' : 'req/s',
    baseline: b.knee?.value ?? null,
    candidate: c.knee?.value ?? null,
    change: null,
    relativeChange: null,
    test: { method: 'knee-resolution', significant: false },
    tolerance: 'the bisection resolution',
    verdict: 'insufficient',
  };
  if (b.knee === undefined || c.knee === undefined) {
    fig.note = `only the ${b.knee === undefined ? 'candidate' : 'baseline'} found a knee`;
    return fig;
  }
  if (b.knee.unit !== c.knee.unit) {
    fig.note = `knees in different units (${b.knee.unit}, ${c.knee.unit})`;
    return fig;
  }
  // Each knee is only known to within its run's last bracket: a change inside the wider one is no change.
  const tol = Math.max(kneeResolution(b), kneeResolution(c));
  const d = c.knee.value - b.knee.value;
  fig.change = round(d, 6);
  fig.relativeChange = rel(b.knee.value, c.knee.value);
  fig.tolerance = `±${Number(tol.toPrecision(4))} ${b.knee.unit} (bisection resolution)`;
  fig.test = { method: 'knee-resolution', significant: Math.abs(d) > tol };
  fig.verdict = judge(fig.test.significant, true, d, -1);
  return fig;
}

function summary(r: Report, file: string | undefined): RunSummary {
  return {
    ...(file !== undefined ? { file } : {}),
    kind: r.kind,
    version: r.version,
    startedAt: r.startedAt,
    durationSec: r.durationSec,
    target: r.target ? `${r.target.url} (${r.target.model})` : '?',
    requests: r.totals.requests,
  };
}

export function compareReports(baseline: Report, candidate: Report, cfg: CompareConfig, files: { baseline: string; candidate: string } = { baseline: 'baseline', candidate: 'candidate' }): Comparison {
  if (baseline.kind !== candidate.kind) {
    throw new CompareInputError(`reports of different kinds: ${files.baseline} is a ${baseline.kind}, ${files.candidate} is a ${candidate.kind}`);
  }
  const figures: FigureComparison[] = [
    ...latencyFigures(baseline, candidate, cfg, files),
    rateFigure('throughput', 'Throughput', baseline, candidate, cfg),
    rateFigure('goodput', 'Goodput', baseline, candidate, cfg),
    errorRateFigure(baseline, candidate, cfg),
  ];
  const knee = kneeFigure(baseline, candidate);
  if (knee !== undefined) figures.push(knee);
  const regressions = figures.filter((f) => f.verdict === 'worse').map((f) => f.label);
  return {
    kind: baseline.kind,
    alpha: cfg.alpha,
    baseline: summary(baseline, files.baseline),
    candidate: summary(candidate, files.candidate),
    figures,
    regressions,
    pass: regressions.length === 0,
  };
}
