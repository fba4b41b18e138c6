/**
 * SeriesSource over the in-process SeriesStore. Each method computes exactly
 * the PromQL expression documented on SeriesSource (source.ts), with
 * Prometheus 3 semantics: ranges are left-open `(t − range, t]`, rate and
 * increase extrapolate like promql/functions.go, histogram_quantile
 * interpolates like promql/quantile.go, subquery steps are aligned to
 * absolute multiples of the step.
 *
 * Everything is synchronous underneath (the returned promises are already
 * resolved) and allocation is proportional to the points read. It never reads
 * a clock: `now` comes from the caller.
 */
import { PointBuffer, type SeriesStore } from './series-store.js';
import { parseSelector } from './selector.js';
import { bucketQuantile, extrapolatedRate, parseLe, type Aggregation, type Bucket, type Sample, type Series, type SeriesSource, type StepOptions } from './source.js';

/** LocalSource configuration. */
export interface LocalSourceOptions {
  /** Instant-query lookback, s (default 2 × the store step). */
  lookbackSec?: number;
  /** Default lookback of rate()/quantileOverTime(), s (default max(60, 4 × step), Prometheus' advice). */
  rateWindowSec?: number;
  /** Default spacing of per-step results, s (default the store step). */
  stepSec?: number;
}

/** `name{inner}` from a metric name and optional matchers text (braces optional). */
export function withMatchers(name: string, matchers?: string): string {
  let m = (matchers ?? '').trim();
  if (m.startsWith('{') && m.endsWith('}')) m = m.slice(1, -1).trim();
  return m === '' ? name : `${name}{${m}}`;
}

function labelsWithoutName(labels: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in labels) if (k !== '__name__') out[k] = labels[k] as string;
  return out;
}

/** The local implementation of SeriesSource. */
export class LocalSource implements SeriesSource {
  readonly stepSec: number;
  readonly rateWindowSec: number;
  readonly lookbackSec: number;
  private readonly buf = new PointBuffer(4096);
  private prefix = new Float64Array(4096);

  constructor(
    private readonly store: SeriesStore,
    opts: LocalSourceOptions = {},
  ) {
    this.stepSec = opts.stepSec ?? store.stepSec;
    this.rateWindowSec = opts.rateWindowSec ?? Math.max(60, 4 * store.stepSec);
    this.lookbackSec = opts.lookbackSec ?? 2 * store.stepSec;
    for (const [k, v] of Object.entries({ stepSec: this.stepSec, rateWindowSec: this.rateWindowSec, lookbackSec: this.lookbackSec })) {
      if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`LocalSource: ${k} must be > 0, got ${v}`);
    }
  }

  async range(selector: string, windowSec: number, now: Date): Promise<Series[]> {
    return this.rangeSync(selector, windowSec, now.getTime());
  }

  /** Synchronous range() (the store is in memory). */
  rangeSync(selector: string, windowSec: number, nowMs: number): Series[] {
    const out: Series[] = [];
    for (const info of this.store.select(selector)) {
      const buf = this.buf;
      buf.clear();
      this.store.readInto(info.id, nowMs - windowSec * 1000, nowMs, buf, false, true);
      if (buf.n > 0) out.push({ labels: { ...info.labels }, points: buf.toSamples() });
    }
    return out;
  }

  async rate(selector: string, windowSec: number, now: Date, opts?: StepOptions): Promise<Series[]> {
    const nowMs = now.getTime();
    const r = (opts?.rateWindowSec ?? this.rateWindowSec) * 1000;
    const step = (opts?.stepSec ?? this.stepSec) * 1000;
    const out: Series[] = [];
    for (const info of this.store.select(selector)) {
      const points = this.rateOf(info.id, nowMs, windowSec * 1000, r, step);
      if (points.length > 0) out.push({ labels: labelsWithoutName(info.labels), points });
    }
    return out;
  }

  async increase(selector: string, windowSec: number, now: Date): Promise<number | undefined> {
    const nowMs = now.getTime();
    let sum = 0;
    let seen = false;
    for (const info of this.store.select(selector)) {
      const inc = this.increaseOf(info.id, nowMs, windowSec * 1000);
      if (inc !== undefined) {
        sum += inc;
        seen = true;
      }
    }
    return seen ? sum : undefined;
  }

  async quantile(q: number, metric: string, windowSec: number, now: Date, matchers?: string): Promise<number | undefined> {
    const nowMs = now.getTime();
    const byLe = new Map<number, number>();
    for (const info of this.store.select(withMatchers(`${metric}_bucket`, matchers))) {
      const le = parseLe(info.labels.le);
      if (Number.isNaN(le)) continue;
      const inc = this.increaseOf(info.id, nowMs, windowSec * 1000);
      if (inc === undefined) continue;
      byLe.set(le, (byLe.get(le) ?? 0) + inc);
    }
    if (byLe.size === 0) return undefined;
    const buckets: Bucket[] = [];
    for (const [le, count] of byLe) buckets.push({ le, count });
    return bucketQuantile(q, buckets);
  }

  async quantileOverTime(q: number, metric: string, windowSec: number, now: Date, matchers?: string, opts?: StepOptions): Promise<Sample[]> {
    const nowMs = now.getTime();
    const r = (opts?.rateWindowSec ?? this.rateWindowSec) * 1000;
    const step = (opts?.stepSec ?? this.stepSec) * 1000;
    // t → (le → summed rate)
    const byT = new Map<number, Map<number, number>>();
    for (const info of this.store.select(withMatchers(`${metric}_bucket`, matchers))) {
      const le = parseLe(info.labels.le);
      if (Number.isNaN(le)) continue;
      for (const p of this.rateOf(info.id, nowMs, windowSec * 1000, r, step)) {
        let m = byT.get(p.t);
        if (!m) {
          m = new Map();
          byT.set(p.t, m);
        }
        m.set(le, (m.get(le) ?? 0) + p.v);
      }
    }
    const out: Sample[] = [];
    for (const t of [...byT.keys()].sort((a, b) => a - b)) {
      const buckets: Bucket[] = [];
      for (const [le, count] of byT.get(t) as Map<number, number>) buckets.push({ le, count });
      const v = bucketQuantile(q, buckets);
      if (v !== undefined) out.push({ t, v });
    }
    return out;
  }

  async instant(selector: string, now: Date): Promise<Series[]> {
    return this.instantSync(selector, now.getTime());
  }

  /** Synchronous instant(). */
  instantSync(selector: string, nowMs: number): Series[] {
    const out: Series[] = [];
    for (const info of this.store.select(selector)) {
      const p = this.store.instant(info.id, nowMs, this.lookbackSec * 1000);
      if (p) out.push({ labels: { ...info.labels }, points: [p] });
    }
    return out;
  }

  async last(selector: string, now: Date, agg: Aggregation = 'sum'): Promise<number | undefined> {
    const values = this.instantSync(selector, now.getTime()).map((s) => (s.points[0] as Sample).v);
    return aggregate(values, agg);
  }

  async avgOverTime(selector: string, windowSec: number, now: Date): Promise<number | undefined> {
    const means: number[] = [];
    for (const s of this.rangeSync(selector, windowSec, now.getTime())) {
      let sum = 0;
      for (const p of s.points) sum += p.v;
      means.push(sum / s.points.length);
    }
    return aggregate(means, 'avg');
  }

  async maxOverTime(selector: string, windowSec: number, now: Date): Promise<number | undefined> {
    let max = -Infinity;
    let seen = false;
    for (const s of this.rangeSync(selector, windowSec, now.getTime())) {
      for (const p of s.points) if (p.v > max) max = p.v;
      seen = true;
    }
    return seen ? max : undefined;
  }

  /** Prometheus increase() of one series over (now − w, now]. */
  private increaseOf(id: number, nowMs: number, wMs: number): number | undefined {
    const buf = this.buf;
    buf.clear();
    this.store.readInto(id, nowMs - wMs, nowMs, buf, false, true);
    if (buf.n < 2) return undefined;
    let corr = 0;
    for (let i = 1; i < buf.n; i++) {
      const prev = buf.v[i - 1] as number;
      if ((buf.v[i] as number) < prev) corr += prev;
    }
    return extrapolatedRate(buf.t, buf.v, 0, buf.n, corr, nowMs - wMs, nowMs, true, false);
  }

  /**
   * rate(series[r]) at every multiple of stepMs in (now − w, now]. Each run
   * of instants whose lookback one tier fully holds is computed from that
   * tier alone (uniform spacing: no extrapolation artefacts where the raw and
   * downsampled tiers meet). Points are read once per run and two pointers
   * slide over them; counter corrections come from a prefix sum, so the cost
   * is O(points + steps).
   */
  private rateOf(id: number, nowMs: number, wMs: number, rMs: number, stepMs: number): Sample[] {
    const out: Sample[] = [];
    let te = (Math.floor((nowMs - wMs) / stepMs) + 1) * stepMs;
    while (te <= nowMs) {
      const k = this.store.tierFor(te - rMs);
      let last = te;
      while (last + stepMs <= nowMs && this.store.tierFor(last + stepMs - rMs) === k) last += stepMs;
      this.rateRun(k, id, te, last, rMs, stepMs, out);
      te = last + stepMs;
    }
    return out;
  }

  private rateRun(k: number, id: number, first: number, last: number, rMs: number, stepMs: number, out: Sample[]): void {
    const buf = this.buf;
    buf.clear();
    this.store.readTierInto(k, id, first - rMs, last, buf, true);
    const n = buf.n;
    if (n < 2) return;
    if (this.prefix.length < n) this.prefix = new Float64Array(Math.max(n, this.prefix.length * 2));
    const pre = this.prefix;
    const t = buf.t;
    const v = buf.v;
    // pre[i] = Σ_{1≤j≤i} (v[j] < v[j−1] ? v[j−1] : 0)
    pre[0] = 0;
    for (let i = 1; i < n; i++) {
      const prev = v[i - 1] as number;
      pre[i] = (pre[i - 1] as number) + ((v[i] as number) < prev ? prev : 0);
    }
    let lo = 0;
    let hi = 0;
    for (let te = first; te <= last; te += stepMs) {
      const start = te - rMs;
      while (lo < n && (t[lo] as number) <= start) lo++;
      while (hi < n && (t[hi] as number) <= te) hi++;
      if (hi - lo < 2) continue;
      const corr = (pre[hi - 1] as number) - (pre[lo] as number);
      const rate = extrapolatedRate(t, v, lo, hi, corr, start, te, true, true);
      if (rate !== undefined) out.push({ t: te, v: rate });
    }
  }
}

/** Aggregate values as PromQL's sum/avg/max/min/count; undefined when empty. */
export function aggregate(values: readonly number[], agg: Aggregation): number | undefined {
  if (values.length === 0) return undefined;
  switch (agg) {
    case 'sum':
      return values.reduce((a, b) => a + b, 0);
    case 'avg':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'max':
      return Math.max(...values);
    case 'min':
      return Math.min(...values);
    case 'count':
      return values.length;
  }
}

/** Parse a selector now so a typo fails at rule construction, not at evaluation. */
export function checkSelector(selector: string): void {
  parseSelector(selector);
}
