/**
 * Bounded in-memory time series: what the analyzer reads when no Prometheus
 * server is configured. Memory is fixed at the series cap, whatever the run
 * length: every series owns one ring buffer per tier, allocated once.
 *
 * Layout
 * - All series are written together, one *sample* at a time (the sampler's
 *   self-scrape): beginSample(t) → set()… → commitSample(). So each tier keeps
 *   ONE shared timestamp ring, and a series keeps only values (Float64Array per
 *   tier; no per-point objects, no per-series timestamps).
 * - Tier 0 is raw, one slot per sample (the sampler step), for
 *   `rawRetentionSec` (default 6 h). Each further tier holds one point per
 *   `resolutionSec` bucket (default 60 s for 72 h): for gauges the average of
 *   the bucket's raw values, for counters (and histogram _bucket/_sum/_count)
 *   the last value, so rate()/increase() stay exact at the coarser resolution.
 *   A downsampled point is stamped with the time of the last raw sample of its
 *   bucket (exact for counters; gauges' averages sit up to one bucket late,
 *   which shifts a trend line, never its slope).
 * - A series not written in a sample gets NaN (absent) there; the first
 *   absent sample after a present one gets Prometheus' StaleNaN bit pattern
 *   (0x7ff0000000000002), like a target that stopped exporting a series.
 *   Instant queries stop looking back at a stale marker. A NaN value written
 *   on purpose is stored as absent (Prometheus would keep NaN as a value).
 * - Queries stitch tiers: each part of [from, to] is read from the finest
 *   tier that still holds it (raw for the recent hours, 1-min points before).
 *
 * Memory per series (bytes) = 8 × (raw slots + Σ tier slots) + 32 × tiers + ~0.5 KB
 * of object, key and label strings. With the defaults:
 *   step 15 s: 8 × (1,440 + 4,320) ≈ 46 KB;  step 5 s: 8 × (4,320 + 4,320) ≈ 69 KB.
 * So 2,000 series at 15 s ≈ 92 MB, the 10,000-series cap ≈ 460 MB (allocated
 * as series appear, never more). Beyond the cap new series are refused and
 * counted (`refused`); a series absent for longer than the longest retention
 * is evicted and its buffers reused.
 *
 * Nothing here does I/O or reads a clock: timestamps come from the caller
 * (unix ms). Writes are O(series) per sample; reads are O(log n + points).
 */
import { matchesAll, parseSelector, seriesKey, type Selector } from './selector.js';
import type { Sample } from './source.js';

export type { Sample };

/** How a series is downsampled: gauges average, counters keep the last value. */
export type SeriesKind = 'gauge' | 'counter';

/** One downsampled tier. */
export interface TierSpec {
  /** Bucket width, s (e.g. 60). Must be ≥ 2 × the raw step and increase from tier to tier. */
  resolutionSec: number;
  /** How far back the tier reaches, s (e.g. 72 h). Must exceed the finer tier's retention. */
  retentionSec: number;
}

/** Store configuration. */
export interface SeriesStoreOptions {
  /** Raw sample step, s (the sampler interval). Sizes the raw ring; samples may arrive less often. */
  stepSec: number;
  /** Raw retention, s (default 6 h = 21,600). */
  rawRetentionSec?: number;
  /** Downsampled tiers, finest first (default one tier: 60 s for 72 h). [] keeps raw only. */
  tiers?: TierSpec[];
  /** Most series held at once (default 10,000); new series beyond it are refused and counted. */
  maxSeries?: number;
}

/** Identity of a stored series (read-only view). */
export interface SeriesInfo {
  /** Store-internal id; valid until the series is evicted. */
  readonly id: number;
  /** Metric name (also `labels.__name__`). */
  readonly name: string;
  /** Labels including `__name__`. Frozen: do not mutate. */
  readonly labels: Readonly<Record<string, string>>;
  readonly kind: SeriesKind;
  /** Canonical `name{a="1",…}` text. */
  readonly key: string;
}

/** Counters and shape of the store, for /api/status and self-monitoring. */
export interface SeriesStoreStats {
  /** Series held now. */
  series: number;
  maxSeries: number;
  /** Writes of new series refused because the cap was reached (cumulative). */
  refused: number;
  /** Samples refused because their time was not after the previous sample's. */
  outOfOrder: number;
  /** Series dropped after being absent longer than the longest retention. */
  evicted: number;
  /** Samples committed. */
  samples: number;
  /** Bytes one series costs (values of every tier plus overhead estimate). */
  bytesPerSeries: number;
  /** Estimated bytes held (series buffers, pooled buffers, timestamp rings, overhead). */
  footprintBytes: number;
  tiers: { resolutionSec: number; capacity: number; count: number; oldestMs: number | undefined; newestMs: number | undefined }[];
}

/** Growable parallel arrays of points; reuse one across reads to avoid allocation. */
export class PointBuffer {
  t: Float64Array;
  v: Float64Array;
  /** Number of points held. */
  n = 0;
  constructor(capacity = 1024) {
    this.t = new Float64Array(capacity);
    this.v = new Float64Array(capacity);
  }
  clear(): void {
    this.n = 0;
  }
  push(t: number, v: number): void {
    if (this.n === this.t.length) {
      const nt = new Float64Array(this.t.length * 2);
      nt.set(this.t);
      this.t = nt;
      const nv = new Float64Array(this.v.length * 2);
      nv.set(this.v);
      this.v = nv;
    }
    this.t[this.n] = t;
    this.v[this.n] = v;
    this.n++;
  }
  /** Copy out as Sample objects. */
  toSamples(): Sample[] {
    const out: Sample[] = new Array<Sample>(this.n);
    for (let i = 0; i < this.n; i++) out[i] = { t: this.t[i] as number, v: this.v[i] as number };
    return out;
  }
}

const DEFAULT_RAW_RETENTION_SEC = 6 * 3600;
const DEFAULT_TIERS: TierSpec[] = [{ resolutionSec: 60, retentionSec: 72 * 3600 }];
const DEFAULT_MAX_SERIES = 10_000;
/** Rough per-series overhead of the record object, its key and labels (bytes). */
const OVERHEAD_PER_SERIES = 512;

// Prometheus' staleness marker, 0x7ff0000000000002, checked through a Uint32
// view so that no NaN canonicalisation can lose it.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const HI = LITTLE_ENDIAN ? 1 : 0;
const LO = LITTLE_ENDIAN ? 0 : 1;
const STALE_HI = 0x7ff00000;
const STALE_LO = 0x00000002;

/** True when slot p of the buffer behind `words` holds the staleness marker. */
function isStaleAt(words: Uint32Array, p: number): boolean {
  return words[2 * p + HI] === STALE_HI && words[2 * p + LO] === STALE_LO;
}
function writeStale(words: Uint32Array, p: number): void {
  words[2 * p + HI] = STALE_HI;
  words[2 * p + LO] = STALE_LO;
}

class Tier {
  readonly ts: Float64Array;
  next = 0;
  count = 0;
  /** Open bucket number (floor(t / resMs)) for downsampled tiers. */
  bucket = -Infinity;
  /** Time of the last raw sample in the open bucket. */
  bucketLastT = NaN;
  constructor(readonly cap: number, readonly resMs: number) {
    this.ts = new Float64Array(cap);
  }
  oldest(): number {
    return (this.next - this.count + this.cap) % this.cap;
  }
  tAt(i: number): number {
    return this.ts[(this.oldest() + i) % this.cap] as number;
  }
  /** First logical index with t >= x (count when none). */
  lowerBound(x: number): number {
    let lo = 0;
    let hi = this.count;
    const base = this.oldest();
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ts[(base + mid) % this.cap] as number) < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  /** First logical index with t > x (count when none). */
  upperBound(x: number): number {
    let lo = 0;
    let hi = this.count;
    const base = this.oldest();
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ts[(base + mid) % this.cap] as number) <= x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  /** Append a timestamp; returns the physical slot written. */
  advance(t: number): number {
    const slot = this.next;
    this.ts[slot] = t;
    this.next = (this.next + 1) % this.cap;
    if (this.count < this.cap) this.count++;
    return slot;
  }
}

interface Rec extends SeriesInfo {
  /** Values per tier (index 0 = raw). */
  vals: Float64Array[];
  /** Uint32 views of `vals` (staleness bits). */
  words: Uint32Array[];
  /** Per downsampled tier: [sum, n, last, lastWasStale]. */
  acc: Float64Array;
  /** Sequence number of the sample that last wrote this series. */
  touched: number;
  /** Present in the previous committed sample (so the next absence writes a stale marker). */
  present: boolean;
  /** Time of the last sample with a value, unix ms. */
  lastSeenMs: number;
  alive: boolean;
}

interface Buffers {
  vals: Float64Array[];
  words: Uint32Array[];
  acc: Float64Array;
}

/** The bounded series store. Single writer (the sampler or a test loader); any number of readers. */
export class SeriesStore {
  /** Raw step, s. */
  readonly stepSec: number;
  readonly maxSeries: number;
  /** Tier 0 is raw; further tiers are downsampled. */
  private readonly tiers: Tier[];
  private readonly specs: { resolutionSec: number; retentionSec: number }[];
  private readonly recs: (Rec | undefined)[] = [];
  private readonly freeIds: number[] = [];
  private readonly pool: Buffers[] = [];
  private readonly byKey = new Map<string, Rec>();
  private readonly byName = new Map<string, Set<Rec>>();
  /** Label-order-dependent key → record, to skip sorting labels on every write. */
  private readonly fastKey = new Map<string, Rec>();
  private active = 0;
  private seq = 0;
  private inSample = false;
  private rawSlot = 0;
  private curT = -Infinity;
  private lastT = -Infinity;
  private readonly maxRetentionMs: number;
  private refusedCount = 0;
  private outOfOrderCount = 0;
  private evictedCount = 0;
  private sampleCount = 0;
  private readonly scratch = new PointBuffer(256);

  constructor(opts: SeriesStoreOptions) {
    const step = opts.stepSec;
    if (!(step > 0) || !Number.isFinite(step)) throw new RangeError(`SeriesStore: stepSec must be > 0, got ${step}`);
    const rawRet = opts.rawRetentionSec ?? DEFAULT_RAW_RETENTION_SEC;
    if (!(rawRet >= step)) throw new RangeError(`SeriesStore: rawRetentionSec (${rawRet}) must be ≥ stepSec (${step})`);
    const tiers = opts.tiers ?? DEFAULT_TIERS;
    const maxSeries = opts.maxSeries ?? DEFAULT_MAX_SERIES;
    if (!Number.isInteger(maxSeries) || maxSeries < 1) throw new RangeError(`SeriesStore: maxSeries must be an integer ≥ 1, got ${maxSeries}`);
    this.stepSec = step;
    this.maxSeries = maxSeries;
    this.tiers = [new Tier(Math.ceil(rawRet / step), 0)];
    this.specs = [{ resolutionSec: step, retentionSec: rawRet }];
    let prevRes = step;
    let prevRet = rawRet;
    for (const [i, t] of tiers.entries()) {
      if (!(t.resolutionSec >= 2 * prevRes)) throw new RangeError(`SeriesStore: tiers[${i}].resolutionSec must be ≥ 2 × ${prevRes}`);
      if (!(t.retentionSec > prevRet)) throw new RangeError(`SeriesStore: tiers[${i}].retentionSec must be > ${prevRet}`);
      if (!(prevRet >= 2 * t.resolutionSec)) throw new RangeError(`SeriesStore: the tier before tiers[${i}] must retain ≥ 2 buckets of ${t.resolutionSec} s`);
      this.tiers.push(new Tier(Math.ceil(t.retentionSec / t.resolutionSec), t.resolutionSec * 1000));
      this.specs.push({ resolutionSec: t.resolutionSec, retentionSec: t.retentionSec });
      prevRes = t.resolutionSec;
      prevRet = t.retentionSec;
    }
    this.maxRetentionMs = prevRet * 1000;
  }

  /** Bytes one series costs: values of every tier, accumulators, and an overhead estimate. */
  get bytesPerSeries(): number {
    let b = 0;
    for (const t of this.tiers) b += t.cap * 8;
    return b + (this.tiers.length - 1) * 32 + OVERHEAD_PER_SERIES;
  }

  /** Time of the last committed sample, unix ms (-Infinity before the first). */
  get lastSampleMs(): number {
    return this.lastT;
  }

  // ---------------------------------------------------------------- writing

  /**
   * Open a sample at unix ms `tMs` (strictly after the previous one; otherwise
   * the sample is refused, counted, and false returned: set() calls until the
   * next beginSample are then ignored). Closes downsampling buckets that end
   * before tMs. Throws only if a sample is already open (a caller bug).
   */
  beginSample(tMs: number): boolean {
    if (this.inSample) throw new Error('SeriesStore: beginSample() while a sample is open; call commitSample() first');
    if (!(tMs > this.lastT) || !Number.isFinite(tMs)) {
      this.outOfOrderCount++;
      return false;
    }
    for (let k = 1; k < this.tiers.length; k++) {
      const tier = this.tiers[k] as Tier;
      const b = Math.floor(tMs / tier.resMs);
      if (tier.bucket !== -Infinity && b !== tier.bucket) this.closeBucket(k);
      tier.bucket = b;
    }
    this.rawSlot = (this.tiers[0] as Tier).advance(tMs);
    this.seq++;
    this.curT = tMs;
    this.inSample = true;
    return true;
  }

  /**
   * The id of a series, created when new (kind fixed at creation). Returns -1
   * when the cap is reached (counted in `refused`). Label values may be
   * numbers (prom-client's `le`): they are stored as String(v).
   */
  ref(name: string, labels: Readonly<Record<string, string | number>>, kind: SeriesKind): number {
    let fk = name;
    for (const k in labels) fk += `\u0000${k}\u0001${labels[k] as string | number}`;
    const fast = this.fastKey.get(fk);
    if (fast?.alive) return fast.id;
    const clean: Record<string, string> = {};
    for (const k in labels) if (k !== '__name__') clean[k] = String(labels[k]);
    const key = seriesKey(name, clean);
    let rec = this.byKey.get(key);
    if (!rec) {
      const created = this.create(name, key, clean, kind);
      if (!created) return -1;
      rec = created;
    }
    if (this.fastKey.size > 4 * this.maxSeries) this.fastKey.clear();
    this.fastKey.set(fk, rec);
    return rec.id;
  }

  /** Write a value for series `id` in the open sample. NaN means absent. No-op outside a sample or for id -1. */
  setById(id: number, v: number): void {
    if (!this.inSample || id < 0) return;
    const rec = this.recs[id];
    if (!rec) return;
    (rec.vals[0] as Float64Array)[this.rawSlot] = v;
    rec.touched = this.seq;
  }

  /** ref() + setById(): write one value by name and labels. False when refused. */
  set(name: string, labels: Readonly<Record<string, string | number>>, v: number, kind: SeriesKind = 'gauge'): boolean {
    if (!this.inSample) return false;
    const id = this.ref(name, labels, kind);
    if (id < 0) return false;
    this.setById(id, v);
    return true;
  }

  /** Write the staleness marker for series `id` in the open sample (promtool's `stale`). */
  markStale(id: number): void {
    if (!this.inSample || id < 0) return;
    const rec = this.recs[id];
    if (!rec) return;
    writeStale(rec.words[0] as Uint32Array, this.rawSlot);
    rec.touched = this.seq;
  }

  /**
   * Record series `id` as absent in the open sample WITHOUT a staleness
   * marker (promtool's `_`: a missed scrape, so instant queries still look
   * back past it).
   */
  markAbsent(id: number): void {
    if (!this.inSample || id < 0) return;
    const rec = this.recs[id];
    if (!rec) return;
    (rec.vals[0] as Float64Array)[this.rawSlot] = NaN;
    rec.touched = this.seq;
  }

  /**
   * Close the open sample: series not written get NaN (or the staleness marker
   * on their first absence), downsampling accumulators take the raw values,
   * and series absent longer than the longest retention are evicted.
   */
  commitSample(): void {
    if (!this.inSample) return;
    const slot = this.rawSlot;
    const nDown = this.tiers.length - 1;
    for (let id = 0; id < this.recs.length; id++) {
      const rec = this.recs[id];
      if (!rec) continue;
      const raw = rec.vals[0] as Float64Array;
      const words = rec.words[0] as Uint32Array;
      if (rec.touched !== this.seq) {
        if (rec.present) writeStale(words, slot);
        else raw[slot] = NaN;
        rec.present = false;
      } else {
        const v = raw[slot] as number;
        if (v === v) {
          rec.present = true;
          rec.lastSeenMs = this.curT;
        } else {
          // An explicit stale marker (markStale) or a NaN written on purpose: absent.
          rec.present = false;
        }
      }
      if (nDown > 0) {
        const v = raw[slot] as number;
        const acc = rec.acc;
        if (v === v) {
          for (let k = 0; k < nDown; k++) {
            const o = 4 * k;
            acc[o] = (acc[o] as number) + v;
            acc[o + 1] = (acc[o + 1] as number) + 1;
            acc[o + 2] = v;
            acc[o + 3] = 0;
          }
        } else if (isStaleAt(words, slot)) {
          for (let k = 0; k < nDown; k++) acc[4 * k + 3] = 1;
        }
      }
    }
    for (let k = 1; k < this.tiers.length; k++) (this.tiers[k] as Tier).bucketLastT = this.curT;
    this.lastT = this.curT;
    this.inSample = false;
    this.sampleCount++;
    if ((this.sampleCount & 63) === 0) this.evictAbsent();
  }

  private closeBucket(k: number): void {
    const tier = this.tiers[k] as Tier;
    if (!(tier.bucketLastT === tier.bucketLastT)) return; // no raw sample in this bucket
    const slot = tier.advance(tier.bucketLastT);
    const o = 4 * (k - 1);
    for (let id = 0; id < this.recs.length; id++) {
      const rec = this.recs[id];
      if (!rec) continue;
      const acc = rec.acc;
      const vals = rec.vals[k] as Float64Array;
      const n = acc[o + 1] as number;
      if (n > 0) vals[slot] = rec.kind === 'counter' ? (acc[o + 2] as number) : (acc[o] as number) / n;
      else if (acc[o + 3] === 1) writeStale(rec.words[k] as Uint32Array, slot);
      else vals[slot] = NaN;
      acc[o] = 0;
      acc[o + 1] = 0;
      acc[o + 2] = NaN;
      acc[o + 3] = 0;
    }
    tier.bucketLastT = NaN;
  }

  private create(name: string, key: string, labels: Record<string, string>, kind: SeriesKind): Rec | undefined {
    if (this.active >= this.maxSeries) {
      this.refusedCount++;
      return undefined;
    }
    let bufs = this.pool.pop();
    if (bufs) {
      for (const v of bufs.vals) v.fill(NaN);
    } else {
      const vals = this.tiers.map((t) => new Float64Array(t.cap).fill(NaN));
      bufs = { vals, words: vals.map((v) => new Uint32Array(v.buffer)), acc: new Float64Array(4 * (this.tiers.length - 1)) };
    }
    for (let k = 0; k < this.tiers.length - 1; k++) {
      bufs.acc[4 * k] = 0;
      bufs.acc[4 * k + 1] = 0;
      bufs.acc[4 * k + 2] = NaN;
      bufs.acc[4 * k + 3] = 0;
    }
    const id = this.freeIds.length > 0 ? (this.freeIds.pop() as number) : this.recs.length;
    const rec: Rec = {
      id,
      name,
      key,
      kind,
      labels: Object.freeze({ ...labels, __name__: name }),
      vals: bufs.vals,
      words: bufs.words,
      acc: bufs.acc,
      touched: -1,
      present: false,
      lastSeenMs: this.inSample ? this.curT : this.lastT,
      alive: true,
    };
    this.recs[id] = rec;
    this.byKey.set(key, rec);
    let set = this.byName.get(name);
    if (!set) {
      set = new Set();
      this.byName.set(name, set);
    }
    set.add(rec);
    this.active++;
    return rec;
  }

  private evictAbsent(): void {
    const cutoff = this.lastT - this.maxRetentionMs;
    for (let id = 0; id < this.recs.length; id++) {
      const rec = this.recs[id];
      if (!rec || rec.present || rec.lastSeenMs >= cutoff) continue;
      rec.alive = false;
      this.recs[id] = undefined;
      this.freeIds.push(id);
      this.byKey.delete(rec.key);
      const set = this.byName.get(rec.name);
      set?.delete(rec);
      if (set && set.size === 0) this.byName.delete(rec.name);
      this.pool.push({ vals: rec.vals, words: rec.words, acc: rec.acc });
      this.active--;
      this.evictedCount++;
    }
  }

  // ---------------------------------------------------------------- reading

  /** Series matching a selector (string or parsed). Order: by name, then creation. */
  select(selector: string | Selector): SeriesInfo[] {
    const sel = typeof selector === 'string' ? parseSelector(selector) : selector;
    const out: SeriesInfo[] = [];
    const scan = (recs: Iterable<Rec>) => {
      for (const r of recs) if (matchesAll(r.labels, sel.matchers)) out.push(r);
    };
    if (sel.name !== undefined) {
      const set = this.byName.get(sel.name);
      if (set) scan(set);
    } else {
      for (const set of this.byName.values()) scan(set);
    }
    return out;
  }

  /** The series with this id, or undefined once evicted. */
  info(id: number): SeriesInfo | undefined {
    return this.recs[id];
  }

  /** Every series held (any order). */
  all(): SeriesInfo[] {
    const out: SeriesInfo[] = [];
    for (const r of this.recs) if (r) out.push(r);
    return out;
  }

  /**
   * Append the points of series `id` with fromMs ≤ t ≤ toMs (fromMs < t when
   * `fromExclusive`, as Prometheus 3 range selectors) to `buf`, oldest first,
   * each part of the range from the finest tier that holds it. Absent slots
   * are skipped; staleness markers are skipped unless `keepStale`, in which
   * case they come as NaN values.
   */
  readInto(id: number, fromMs: number, toMs: number, buf: PointBuffer, keepStale = false, fromExclusive = false): void {
    const rec = this.recs[id];
    if (!rec || !(toMs >= fromMs)) return;
    // Walk tiers finest first, collecting [tier, lo, hi) logical ranges, then emit oldest first.
    const parts: number[] = [];
    let upper = toMs;
    let upperExclusive = false;
    for (let k = 0; k < this.tiers.length; k++) {
      const tier = this.tiers[k] as Tier;
      if (tier.count === 0) continue;
      const oldestT = tier.tAt(0);
      const lo = fromMs < oldestT ? 0 : fromExclusive ? tier.upperBound(fromMs) : tier.lowerBound(fromMs);
      const hi = upperExclusive ? tier.lowerBound(upper) : tier.upperBound(upper);
      if (hi > lo) parts.push(k, lo, hi);
      if (oldestT <= fromMs) break;
      // What this tier holds from oldestT on; coarser tiers supply what is older.
      upper = oldestT;
      upperExclusive = true;
    }
    for (let p = parts.length - 3; p >= 0; p -= 3) {
      const k = parts[p] as number;
      const lo = parts[p + 1] as number;
      const hi = parts[p + 2] as number;
      const tier = this.tiers[k] as Tier;
      const vals = rec.vals[k] as Float64Array;
      const words = rec.words[k] as Uint32Array;
      const base = tier.oldest();
      const cap = tier.cap;
      for (let i = lo; i < hi; i++) {
        const ph = (base + i) % cap;
        const v = vals[ph] as number;
        if (v === v) buf.push(tier.ts[ph] as number, v);
        else if (keepStale && isStaleAt(words, ph)) buf.push(tier.ts[ph] as number, NaN);
      }
    }
  }

  /**
   * The finest tier that holds everything from `fromMs` on (its oldest point
   * is at or before fromMs); when none reaches that far back, the tier whose
   * data starts earliest (finest on a tie). A window read from one tier has
   * uniform spacing, which rate() extrapolation needs.
   */
  tierFor(fromMs: number): number {
    let best = 0;
    let bestOldest = Infinity;
    for (let k = 0; k < this.tiers.length; k++) {
      const tier = this.tiers[k] as Tier;
      if (tier.count === 0) continue;
      const oldest = tier.tAt(0);
      if (oldest <= fromMs) return k;
      if (oldest < bestOldest) {
        bestOldest = oldest;
        best = k;
      }
    }
    return best;
  }

  /** Like readInto() but from tier `k` only (0 = raw). */
  readTierInto(k: number, id: number, fromMs: number, toMs: number, buf: PointBuffer, fromExclusive = false): void {
    const rec = this.recs[id];
    const tier = this.tiers[k];
    if (!rec || !tier || tier.count === 0 || !(toMs >= fromMs)) return;
    const lo = fromExclusive ? tier.upperBound(fromMs) : tier.lowerBound(fromMs);
    const hi = tier.upperBound(toMs);
    const vals = rec.vals[k] as Float64Array;
    const base = tier.oldest();
    for (let i = lo; i < hi; i++) {
      const ph = (base + i) % tier.cap;
      const v = vals[ph] as number;
      if (v === v) buf.push(tier.ts[ph] as number, v);
    }
  }

  /** Points of series `id` with fromMs ≤ t ≤ toMs, oldest first (see readInto). */
  points(id: number, fromMs: number, toMs: number): Sample[] {
    const buf = new PointBuffer(64);
    this.readInto(id, fromMs, toMs, buf);
    return buf.toSamples();
  }

  /**
   * Instant value at `atMs`: the newest point in (atMs − lookbackMs, atMs],
   * unless a staleness marker came after it. Undefined when there is none.
   */
  instant(id: number, atMs: number, lookbackMs: number): Sample | undefined {
    const buf = this.scratch;
    buf.clear();
    this.readInto(id, atMs - lookbackMs, atMs, buf, true, true);
    if (buf.n === 0) return undefined;
    const v = buf.v[buf.n - 1] as number;
    if (v !== v) return undefined;
    return { t: buf.t[buf.n - 1] as number, v };
  }

  /** Bytes held: series and pooled buffers, timestamp rings, overhead estimate. Constant once every series exists. */
  footprintBytes(): number {
    let b = 0;
    for (const t of this.tiers) b += t.ts.byteLength;
    const per = (vals: Float64Array[], acc: Float64Array) => {
      let s = acc.byteLength;
      for (const v of vals) s += v.byteLength;
      return s;
    };
    for (const r of this.recs) if (r) b += per(r.vals, r.acc) + OVERHEAD_PER_SERIES + 2 * r.key.length;
    for (const p of this.pool) b += per(p.vals, p.acc);
    return b;
  }

  /** Counters and shape (cheap; O(series) for the footprint). */
  stats(): SeriesStoreStats {
    return {
      series: this.active,
      maxSeries: this.maxSeries,
      refused: this.refusedCount,
      outOfOrder: this.outOfOrderCount,
      evicted: this.evictedCount,
      samples: this.sampleCount,
      bytesPerSeries: this.bytesPerSeries,
      footprintBytes: this.footprintBytes(),
      tiers: this.tiers.map((t, k) => ({
        resolutionSec: (this.specs[k] as { resolutionSec: number }).resolutionSec,
        capacity: t.cap,
        count: t.count,
        oldestMs: t.count > 0 ? t.tAt(0) : undefined,
        newestMs: t.count > 0 ? t.tAt(t.count - 1) : undefined,
      })),
    };
  }

  // ------------------------------------------------------------ checkpoints

  /**
   * Everything the store holds, for a checkpoint (src/state/): shape, counters
   * and series identities as JSON; every ring as bytes, copied now (the store
   * goes on being written while the checkpoint is compressed). Staleness
   * markers survive (the bytes are copied, not the numbers). O(bytes held):
   * a memcpy, about 10 ms per 100 MB.
   */
  toSnapshot(): { json: SeriesStoreSnapshot; blobs: Uint8Array[] } {
    if (this.inSample) throw new Error('SeriesStore: toSnapshot() while a sample is open');
    const blobs: Uint8Array[] = [];
    const copy = (a: Float64Array) => new Uint8Array(a.slice().buffer);
    const tiers = this.tiers.map((t) => {
      blobs.push(copy(t.ts));
      return { cap: t.cap, resMs: t.resMs, next: t.next, count: t.count, bucket: encodeNum(t.bucket), bucketLastT: encodeNum(t.bucketLastT) };
    });
    const series: SeriesSnapshot[] = [];
    for (const r of this.recs) {
      if (!r) continue;
      const labels: Record<string, string> = {};
      for (const k in r.labels) if (k !== '__name__') labels[k] = r.labels[k] as string;
      series.push({ name: r.name, labels, kind: r.kind, present: r.present, lastSeenMs: encodeNum(r.lastSeenMs) });
      for (const v of r.vals) blobs.push(copy(v));
      blobs.push(copy(r.acc));
    }
    return {
      json: {
        v: 1, stepSec: this.stepSec, lastT: encodeNum(this.lastT), tiers, series,
        counters: { refused: this.refusedCount, outOfOrder: this.outOfOrderCount, evicted: this.evictedCount, samples: this.sampleCount },
      },
      blobs,
    };
  }

  /**
   * A store rebuilt from toSnapshot()'s output, with `opts` (which must give
   * the same shape: step, retentions and tiers; else RangeError, and the
   * caller starts with an empty store). Series past `maxSeries` are left out.
   */
  static fromSnapshot(opts: SeriesStoreOptions, snap: { json: unknown; blobs: readonly Uint8Array[] }): SeriesStore {
    const store = new SeriesStore(opts);
    const j = snap.json as SeriesStoreSnapshot;
    if (j?.v !== 1 || !Array.isArray(j.tiers) || !Array.isArray(j.series)) throw new RangeError('SeriesStore: not a store snapshot');
    if (j.stepSec !== store.stepSec || j.tiers.length !== store.tiers.length
      || j.tiers.some((t, k) => t.cap !== (store.tiers[k] as Tier).cap || t.resMs !== (store.tiers[k] as Tier).resMs)) {
      throw new RangeError('SeriesStore: the checkpoint was taken with another step, retention or tiers');
    }
    const blobs = snap.blobs;
    let b = 0;
    const fill = (target: Float64Array) => {
      const blob = blobs[b++];
      if (blob === undefined || blob.byteLength !== target.byteLength) throw new RangeError('SeriesStore: snapshot blob size does not match');
      new Uint8Array(target.buffer, target.byteOffset, target.byteLength).set(blob);
    };
    j.tiers.forEach((t, k) => {
      const tier = store.tiers[k] as Tier;
      fill(tier.ts);
      tier.next = t.next;
      tier.count = t.count;
      tier.bucket = decodeNum(t.bucket);
      tier.bucketLastT = decodeNum(t.bucketLastT);
    });
    for (const s of j.series) {
      if (store.active >= store.maxSeries) break;
      const vals = store.tiers.map((t) => new Float64Array(t.cap));
      const acc = new Float64Array(4 * (store.tiers.length - 1));
      for (const v of vals) fill(v);
      fill(acc);
      const id = store.recs.length;
      const key = seriesKey(s.name, s.labels);
      const rec: Rec = {
        id, name: s.name, key, kind: s.kind, labels: Object.freeze({ ...s.labels, __name__: s.name }),
        vals, words: vals.map((v) => new Uint32Array(v.buffer)), acc,
        touched: -1, present: s.present, lastSeenMs: decodeNum(s.lastSeenMs), alive: true,
      };
      store.recs[id] = rec;
      store.byKey.set(key, rec);
      let set = store.byName.get(s.name);
      if (!set) {
        set = new Set();
        store.byName.set(s.name, set);
      }
      set.add(rec);
      store.active++;
    }
    store.lastT = decodeNum(j.lastT);
    store.curT = store.lastT;
    store.refusedCount = j.counters.refused;
    store.outOfOrderCount = j.counters.outOfOrder;
    store.evictedCount = j.counters.evicted;
    store.sampleCount = j.counters.samples;
    return store;
  }
}

/** One series in a store snapshot. */
interface SeriesSnapshot {
  name: string;
  labels: Record<string, string>;
  kind: SeriesKind;
  present: boolean;
  lastSeenMs: number | string;
}

/** The JSON part of a store snapshot (numbers that may be ±Infinity or NaN are strings). */
export interface SeriesStoreSnapshot {
  v: 1;
  stepSec: number;
  lastT: number | string;
  tiers: { cap: number; resMs: number; next: number; count: number; bucket: number | string; bucketLastT: number | string }[];
  series: SeriesSnapshot[];
  counters: { refused: number; outOfOrder: number; evicted: number; samples: number };
}

function encodeNum(x: number): number | string {
  return Number.isFinite(x) ? x : String(x);
}

function decodeNum(x: number | string): number {
  return typeof x === 'number' ? x : Number(x);
}
