/**
 * Bounded in-memory time series: what the analyzer reads when no Prometheus
 * server is configured. Values are compressed the way Prometheus' TSDB does
 * (Gorilla XOR, gorilla.ts), so a series costs what its data needs, up to a
 * bound fixed by the series cap and the retentions.
 *
 * Layout
 * - All series are written together, one *sample* at a time (the sampler's
 *   self-scrape): beginSample(t) → set()… → commitSample(). So each tier keeps
 *   ONE shared timestamp ring (8 B a sample, whatever the number of series:
 *   Gorilla's delta-of-delta timestamps would save almost nothing here) and
 *   a series keeps only values.
 * - Values are cut into blocks of BLOCK_SAMPLES (120) samples aligned across
 *   series. The open (head) block of each series is an appendable XOR
 *   encoder; when the head is full, every series' run is packed back to back
 *   into one immutable Uint8Array with a Uint32Array of offsets by series id
 *   (one allocation per block, not per series). A block that the window has
 *   left is dropped whole.
 * - Tier 0 is raw, one value per sample (the sampler step), for
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
 *   Both cost 1 bit a sample once repeated.
 * - Queries stitch tiers: each part of [from, to] is read from the finest
 *   tier that still holds it (raw for the recent hours, 1-min points before).
 *   A read decodes the blocks it touches from their start.
 *
 * Memory: about 1–2 bytes a stored value for the daemon's series (constant
 * ones 1 bit), plus ~1.5 KB a series (record, key, labels, head encoders)
 * and the timestamp rings. The bound (`boundBytes`): every series at the cap
 * holding incompressible values (9.6 B each, XOR's worst case). Beyond the
 * cap new series are refused and counted (`refused`); a series absent for
 * longer than the longest retention is evicted and its encoders reused.
 *
 * Nothing here does I/O or reads a clock: timestamps come from the caller
 * (unix ms). Writes are O(series) per sample; reads are O(log n + points + one block).
 */
import { matchesAll, parseSelector, seriesKey, type Selector } from './selector.js';
import type { Sample } from './source.js';
import { XOR_MAX_BITS_PER_VALUE, XorDecoder, XorEncoder } from './gorilla.js';

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
  /** Bytes held per series held (footprintBytes / series). */
  bytesPerSeries: number;
  /** Estimated bytes held (blocks, heads, pooled encoders, timestamp rings, overhead). */
  footprintBytes: number;
  /** footprintBytes per value held (storedValues()). */
  bytesPerValue: number;
  /** The most the store can hold (boundBytes). */
  boundBytes: number;
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
/** Samples per compressed block (Prometheus' chunk size: 120 samples). */
export const BLOCK_SAMPLES = 120;
/** Per-series overhead of the record object, its key, labels and map entries, bytes (calibrated on the heap a series takes: bench/footprint.ts holders). */
const OVERHEAD_PER_SERIES = 1024;
/** Rough overhead of one head encoder (its objects and typed array), bytes. */
const OVERHEAD_PER_HEAD = 200;
/** Rough overhead of one closed block's objects, bytes. */
const OVERHEAD_PER_BLOCK = 300;

// Prometheus' staleness marker, 0x7ff0000000000002, and the NaN that means
// "absent": values travel as their two 32-bit words, so neither can be
// canonicalised into the other.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const HI = LITTLE_ENDIAN ? 1 : 0;
const LO = LITTLE_ENDIAN ? 0 : 1;
const STALE_HI = 0x7ff00000;
const STALE_LO = 0x00000002;
const ABSENT_HI = 0x7ff80000;
const ABSENT_LO = 0;

function isNaNWords(hi: number, lo: number): boolean {
  return (hi & 0x7ff00000) === 0x7ff00000 && ((hi & 0x000fffff) !== 0 || lo !== 0);
}

/**
 * BLOCK_SAMPLES samples of every series that existed when it closed, each
 * series' values XOR-compressed and laid back to back. Immutable.
 */
interface Block {
  /** Tier sample number of its first sample (a multiple of BLOCK_SAMPLES). */
  readonly firstSeq: number;
  readonly data: Uint8Array;
  /** Series id → byte offset of its run in `data`; an empty run (or an id past the end) is a series that did not exist. */
  readonly offsets: Uint32Array;
}

class Tier {
  /** Sample times, shared by every series: slot of tier sample number s = s % cap. */
  readonly ts: Float64Array;
  /** Samples ever appended to this tier (their numbers are 0 … total − 1). */
  total = 0;
  /** Samples in the window (the last `count`, at most cap). */
  count = 0;
  /** Open bucket number (floor(t / resMs)) for downsampled tiers. */
  bucket = -Infinity;
  /** Time of the last raw sample in the open bucket. */
  bucketLastT = NaN;
  /** Closed blocks, oldest first, contiguous; a block wholly older than the window is dropped. */
  blocks: Block[] = [];
  /** Sample number of the head's first sample; every live series has a head encoder from there. */
  headFirst = 0;
  /** Values written into every live series' head. */
  headLen = 0;
  constructor(
    readonly cap: number,
    readonly resMs: number,
  ) {
    this.ts = new Float64Array(cap);
  }
  /** Sample number of the oldest sample in the window. */
  firstSeq(): number {
    return this.total - this.count;
  }
  tAt(i: number): number {
    return this.ts[(this.firstSeq() + i) % this.cap] as number;
  }
  /** First logical index with t >= x (count when none). */
  lowerBound(x: number): number {
    let lo = 0;
    let hi = this.count;
    const base = this.firstSeq();
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
    const base = this.firstSeq();
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ts[(base + mid) % this.cap] as number) <= x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  /** Append a sample time (its values follow into the heads); drops blocks the window has left. */
  advance(t: number): void {
    this.ts[this.total % this.cap] = t;
    this.total++;
    if (this.count < this.cap) this.count++;
    const first = this.firstSeq();
    let drop = 0;
    while (drop < this.blocks.length && (this.blocks[drop] as Block).firstSeq + BLOCK_SAMPLES <= first) drop++;
    if (drop > 0) this.blocks.splice(0, drop);
  }
}

interface Rec extends SeriesInfo {
  /** Open (head) block per tier (index 0 = raw). */
  heads: XorEncoder[];
  /** Per tier: the first sample number that belongs to this series (older ones are another series' under a reused id). */
  born: number[];
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
  heads: XorEncoder[];
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
  /** Values written in the open sample, by series id (words view: staleness bits). */
  private cur = new Float64Array(64);
  private curWords = new Uint32Array(this.cur.buffer);
  private active = 0;
  private seq = 0;
  private inSample = false;
  private curT = -Infinity;
  private lastT = -Infinity;
  private readonly maxRetentionMs: number;
  private refusedCount = 0;
  private outOfOrderCount = 0;
  private evictedCount = 0;
  private sampleCount = 0;
  private readonly scratch = new PointBuffer(256);
  private readonly dec = new XorDecoder();

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

  /**
   * The most bytes the store can hold: every series at the cap, every tier
   * full of incompressible values (XOR_MAX_BITS_PER_VALUE each) plus a head
   * block per tier, and the fixed parts. Typical series take 1–2 bytes a
   * value, so the store's real size is a small fraction of this.
   */
  get boundBytes(): number {
    let values = 0;
    let fixed = 0;
    for (const t of this.tiers) {
      values += t.cap + 2 * BLOCK_SAMPLES;
      fixed += t.ts.byteLength + (Math.ceil(t.cap / BLOCK_SAMPLES) + 1) * (OVERHEAD_PER_BLOCK + 4 * this.maxSeries);
    }
    const perSeries = Math.ceil((values * XOR_MAX_BITS_PER_VALUE) / 8) + this.emptySeriesBytes() + 8;
    return fixed + this.maxSeries * perSeries;
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
    (this.tiers[0] as Tier).advance(tMs);
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
    this.cur[id] = v;
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
    this.curWords[2 * id + HI] = STALE_HI;
    this.curWords[2 * id + LO] = STALE_LO;
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
    this.cur[id] = NaN;
    rec.touched = this.seq;
  }

  /**
   * Close the open sample: series not written get NaN (or the staleness marker
   * on their first absence), every series' value goes into its raw head
   * block, downsampling accumulators take the raw values, and series absent
   * longer than the longest retention are evicted.
   */
  commitSample(): void {
    if (!this.inSample) return;
    const nDown = this.tiers.length - 1;
    const words = this.curWords;
    for (let id = 0; id < this.recs.length; id++) {
      const rec = this.recs[id];
      if (!rec) continue;
      let hi: number;
      let lo: number;
      if (rec.touched !== this.seq) {
        hi = rec.present ? STALE_HI : ABSENT_HI;
        lo = rec.present ? STALE_LO : ABSENT_LO;
        rec.present = false;
      } else {
        hi = words[2 * id + HI] as number;
        lo = words[2 * id + LO] as number;
        if (!isNaNWords(hi, lo)) {
          rec.present = true;
          rec.lastSeenMs = this.curT;
        } else {
          // An explicit stale marker (markStale) or a NaN written on purpose: absent.
          rec.present = false;
          if (hi !== STALE_HI || lo !== STALE_LO) {
            hi = ABSENT_HI;
            lo = ABSENT_LO;
          }
        }
      }
      (rec.heads[0] as XorEncoder).appendWords(hi, lo);
      if (nDown > 0) {
        const acc = rec.acc;
        if (!isNaNWords(hi, lo)) {
          const v = this.cur[id] as number;
          for (let k = 0; k < nDown; k++) {
            const o = 4 * k;
            acc[o] = (acc[o] as number) + v;
            acc[o + 1] = (acc[o + 1] as number) + 1;
            acc[o + 2] = v;
            acc[o + 3] = 0;
          }
        } else if (hi === STALE_HI && lo === STALE_LO) {
          for (let k = 0; k < nDown; k++) acc[4 * k + 3] = 1;
        }
      }
    }
    this.headWritten(0);
    for (let k = 1; k < this.tiers.length; k++) (this.tiers[k] as Tier).bucketLastT = this.curT;
    this.lastT = this.curT;
    this.inSample = false;
    this.sampleCount++;
    if ((this.sampleCount & 63) === 0) this.evictAbsent();
  }

  private closeBucket(k: number): void {
    const tier = this.tiers[k] as Tier;
    if (!(tier.bucketLastT === tier.bucketLastT)) return; // no raw sample in this bucket
    tier.advance(tier.bucketLastT);
    const o = 4 * (k - 1);
    for (let id = 0; id < this.recs.length; id++) {
      const rec = this.recs[id];
      if (!rec) continue;
      const acc = rec.acc;
      const head = rec.heads[k] as XorEncoder;
      const n = acc[o + 1] as number;
      if (n > 0) head.append(rec.kind === 'counter' ? (acc[o + 2] as number) : (acc[o] as number) / n);
      else if (acc[o + 3] === 1) head.appendWords(STALE_HI, STALE_LO);
      else head.appendWords(ABSENT_HI, ABSENT_LO);
      acc[o] = 0;
      acc[o + 1] = 0;
      acc[o + 2] = NaN;
      acc[o + 3] = 0;
    }
    this.headWritten(k);
    tier.bucketLastT = NaN;
  }

  /** Every live head of tier k took one more value: close the block when it is full. */
  private headWritten(k: number): void {
    const tier = this.tiers[k] as Tier;
    tier.headLen++;
    if (tier.headLen < BLOCK_SAMPLES) return;
    const n = this.recs.length;
    let bytes = 0;
    for (let id = 0; id < n; id++) bytes += this.recs[id]?.heads[k]?.writer.byteLen ?? 0;
    const data = new Uint8Array(bytes);
    const offsets = new Uint32Array(n + 1);
    let at = 0;
    for (let id = 0; id < n; id++) {
      offsets[id] = at;
      const head = this.recs[id]?.heads[k];
      if (!head) continue;
      data.set(head.writer.bytes.subarray(0, head.writer.byteLen), at);
      at += head.writer.byteLen;
      head.reset();
    }
    offsets[n] = at;
    tier.blocks.push({ firstSeq: tier.headFirst, data, offsets });
    tier.headFirst += BLOCK_SAMPLES;
    tier.headLen = 0;
  }

  /** Bytes of a series before it holds data: record, empty heads, accumulators. */
  private emptySeriesBytes(): number {
    return OVERHEAD_PER_SERIES + this.tiers.length * (OVERHEAD_PER_HEAD + 16) + 32 * (this.tiers.length - 1);
  }

  private create(name: string, key: string, labels: Record<string, string>, kind: SeriesKind): Rec | undefined {
    if (this.active >= this.maxSeries) {
      this.refusedCount++;
      return undefined;
    }
    let bufs = this.pool.pop();
    if (bufs) {
      for (const h of bufs.heads) h.reset();
    } else {
      bufs = { heads: this.tiers.map(() => new XorEncoder()), acc: new Float64Array(4 * (this.tiers.length - 1)) };
    }
    for (let k = 0; k < this.tiers.length - 1; k++) {
      bufs.acc[4 * k] = 0;
      bufs.acc[4 * k + 1] = 0;
      bufs.acc[4 * k + 2] = NaN;
      bufs.acc[4 * k + 3] = 0;
    }
    // The head blocks are aligned across series: a series born mid-block is absent before its birth.
    const born = this.tiers.map((tier, k) => {
      const head = bufs.heads[k] as XorEncoder;
      for (let i = 0; i < tier.headLen; i++) head.appendWords(ABSENT_HI, ABSENT_LO);
      return tier.headFirst + tier.headLen;
    });
    const id = this.freeIds.length > 0 ? (this.freeIds.pop() as number) : this.recs.length;
    if (id >= this.cur.length) {
      const grown = new Float64Array(Math.max(id + 1, 2 * this.cur.length));
      grown.set(this.cur);
      this.cur = grown;
      this.curWords = new Uint32Array(grown.buffer);
    }
    const rec: Rec = {
      id,
      name,
      key,
      kind,
      labels: Object.freeze({ ...labels, __name__: name }),
      heads: bufs.heads,
      born,
      acc: bufs.acc,
      touched: -1,
      present: false,
      lastSeenMs: this.inSample ? this.curT : this.lastT,
      alive: true,
    };
    this.addRec(rec);
    return rec;
  }

  private addRec(rec: Rec): void {
    this.recs[rec.id] = rec;
    this.byKey.set(rec.key, rec);
    let set = this.byName.get(rec.name);
    if (!set) {
      set = new Set();
      this.byName.set(rec.name, set);
    }
    set.add(rec);
    this.active++;
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
      this.pool.push({ heads: rec.heads, acc: rec.acc });
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
      this.emit(rec, parts[p] as number, parts[p + 1] as number, parts[p + 2] as number, buf, keepStale);
    }
  }

  /**
   * Decode series `rec`'s values of tier k at logical indices [lo, hi) into
   * `buf`: absent values skipped, staleness markers as NaN when `keepStale`.
   * Each block is decoded from its start (XOR runs are sequential): a read
   * costs at most BLOCK_SAMPLES − 1 values more than it returns.
   */
  private emit(rec: Rec, k: number, lo: number, hi: number, buf: PointBuffer, keepStale: boolean): void {
    const tier = this.tiers[k] as Tier;
    const base = tier.firstSeq();
    const from = Math.max(base + lo, rec.born[k] as number);
    const to = Math.min(base + hi, tier.headFirst + tier.headLen);
    const dec = this.dec;
    const ts = tier.ts;
    const cap = tier.cap;
    let s = from;
    while (s < to) {
      let chunkFirst: number;
      if (s >= tier.headFirst) {
        chunkFirst = tier.headFirst;
        dec.reset((rec.heads[k] as XorEncoder).writer.bytes, 0);
      } else {
        const first = (tier.blocks[0] as Block).firstSeq;
        const block = tier.blocks[Math.floor((s - first) / BLOCK_SAMPLES)] as Block;
        chunkFirst = block.firstSeq;
        const start = block.offsets[rec.id];
        if (rec.id + 1 >= block.offsets.length || start === block.offsets[rec.id + 1]) {
          s = chunkFirst + BLOCK_SAMPLES; // the id held no series when the block closed
          continue;
        }
        dec.reset(block.data, start);
      }
      const end = Math.min(to, chunkFirst + BLOCK_SAMPLES);
      for (let j = chunkFirst; j < end; j++) {
        dec.next();
        if (j < s) continue;
        const h = dec.hi;
        const l = dec.lo;
        if (!isNaNWords(h, l)) buf.push(ts[j % cap] as number, dec.value());
        else if (keepStale && h === STALE_HI && l === STALE_LO) buf.push(ts[j % cap] as number, NaN);
      }
      s = end;
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
    if (hi > lo) this.emit(rec, k, lo, hi, buf, false);
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

  /**
   * Bytes held: closed blocks, head blocks, timestamp rings, the open
   * sample's values and an overhead estimate per series and per block. Grows
   * with the data until every tier's window is full, then stays within a
   * block's worth of its level (blocks close and drop whole).
   */
  footprintBytes(): number {
    let b = this.cur.byteLength;
    for (const t of this.tiers) {
      b += t.ts.byteLength;
      for (const blk of t.blocks) b += blk.data.byteLength + blk.offsets.byteLength + OVERHEAD_PER_BLOCK;
    }
    const per = (heads: XorEncoder[], acc: Float64Array) => {
      let s = acc.byteLength;
      for (const h of heads) s += h.writer.bytes.byteLength + OVERHEAD_PER_HEAD;
      return s;
    };
    for (const r of this.recs) if (r) b += per(r.heads, r.acc) + OVERHEAD_PER_SERIES + 2 * r.key.length;
    for (const p of this.pool) b += per(p.heads, p.acc);
    return b;
  }

  /** Values held (absent ones included): Σ over tiers of the window's samples × series held. */
  storedValues(): number {
    let n = 0;
    for (const t of this.tiers) n += t.count;
    return n * this.active;
  }

  /** Counters and shape (cheap; O(series) for the footprint). */
  stats(): SeriesStoreStats {
    const footprintBytes = this.footprintBytes();
    const values = this.storedValues();
    return {
      series: this.active,
      maxSeries: this.maxSeries,
      refused: this.refusedCount,
      outOfOrder: this.outOfOrderCount,
      evicted: this.evictedCount,
      samples: this.sampleCount,
      bytesPerSeries: this.active > 0 ? footprintBytes / this.active : 0,
      footprintBytes,
      bytesPerValue: values > 0 ? footprintBytes / values : 0,
      boundBytes: this.boundBytes,
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
   * Everything the store holds, for a checkpoint (src/state/): shape,
   * counters, series identities and head states as JSON; the timestamp rings
   * and heads as bytes copied now (they go on being written while the
   * checkpoint is compressed), closed blocks as they are (immutable).
   */
  toSnapshot(): { json: SeriesStoreSnapshot; blobs: Uint8Array[] } {
    if (this.inSample) throw new Error('SeriesStore: toSnapshot() while a sample is open');
    const blobs: Uint8Array[] = [];
    const bytesOf = (a: Float64Array | Uint32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const tiers = this.tiers.map((t) => {
      blobs.push(bytesOf(t.ts.slice()));
      for (const blk of t.blocks) blobs.push(blk.data, bytesOf(blk.offsets));
      return {
        cap: t.cap,
        resMs: t.resMs,
        total: t.total,
        count: t.count,
        bucket: encodeNum(t.bucket),
        bucketLastT: encodeNum(t.bucketLastT),
        headFirst: t.headFirst,
        headLen: t.headLen,
        blocks: t.blocks.map((blk) => blk.firstSeq),
      };
    });
    const series: SeriesSnapshot[] = [];
    for (const r of this.recs) {
      if (!r) continue;
      const labels: Record<string, string> = {};
      for (const k in r.labels) if (k !== '__name__') labels[k] = r.labels[k] as string;
      series.push({
        id: r.id,
        name: r.name,
        labels,
        kind: r.kind,
        present: r.present,
        lastSeenMs: encodeNum(r.lastSeenMs),
        born: r.born,
        heads: r.heads.map((h) => h.state()),
      });
      for (const h of r.heads) blobs.push(h.writer.bytes.slice(0, h.writer.byteLen));
      blobs.push(bytesOf(r.acc.slice()));
    }
    return {
      json: {
        v: 2,
        stepSec: this.stepSec,
        lastT: encodeNum(this.lastT),
        tiers,
        series,
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
    if (!Array.isArray(j?.tiers) || !Array.isArray(j.series)) throw new RangeError('SeriesStore: not a store snapshot');
    if (j.v !== 2) throw new RangeError(`SeriesStore: the checkpoint holds an older store format (v${String(j.v)})`);
    if (j.stepSec !== store.stepSec || j.tiers.length !== store.tiers.length || j.tiers.some((t, k) => t.cap !== (store.tiers[k] as Tier).cap || t.resMs !== (store.tiers[k] as Tier).resMs)) {
      throw new RangeError('SeriesStore: the checkpoint was taken with another step, retention or tiers');
    }
    const blobs = snap.blobs;
    let b = 0;
    const next = (): Uint8Array => {
      const blob = blobs[b++];
      if (blob === undefined) throw new RangeError('SeriesStore: snapshot blobs missing');
      return blob;
    };
    // Copies into fresh (aligned) buffers: a blob may sit at any offset of the checkpoint.
    const f64 = (blob: Uint8Array, n: number) => {
      if (blob.byteLength !== 8 * n) throw new RangeError('SeriesStore: snapshot blob size does not match');
      return new Float64Array(blob.slice().buffer);
    };
    const u32 = (blob: Uint8Array) => {
      if (blob.byteLength % 4 !== 0) throw new RangeError('SeriesStore: snapshot blob size does not match');
      return new Uint32Array(blob.slice().buffer);
    };
    j.tiers.forEach((t, k) => {
      const tier = store.tiers[k] as Tier;
      tier.ts.set(f64(next(), tier.cap));
      tier.total = t.total;
      tier.count = t.count;
      tier.bucket = decodeNum(t.bucket);
      tier.bucketLastT = decodeNum(t.bucketLastT);
      tier.headFirst = t.headFirst;
      tier.headLen = t.headLen;
      for (const firstSeq of t.blocks) tier.blocks.push({ firstSeq, data: next().slice(), offsets: u32(next()) });
      checkTier(tier);
    });
    const nDown = store.tiers.length - 1;
    for (const s of j.series) {
      const heads = store.tiers.map((_, k) => XorEncoder.restore(next(), s.heads[k] ?? []));
      const acc = f64(next(), 4 * nDown);
      if (store.active >= store.maxSeries) continue;
      const key = seriesKey(s.name, s.labels);
      store.addRec({
        id: s.id,
        name: s.name,
        key,
        kind: s.kind,
        labels: Object.freeze({ ...s.labels, __name__: s.name }),
        heads,
        born: s.born,
        acc,
        touched: -1,
        present: s.present,
        lastSeenMs: decodeNum(s.lastSeenMs),
        alive: true,
      });
    }
    for (let id = store.recs.length - 1; id >= 0; id--) if (!store.recs[id]) store.freeIds.push(id);
    if (store.recs.length > store.cur.length) {
      store.cur = new Float64Array(store.recs.length);
      store.curWords = new Uint32Array(store.cur.buffer);
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

/** Reads rely on these (blocks contiguous up to the head, offsets inside their data): a snapshot that breaks them is refused. */
function checkTier(t: Tier): void {
  const ok =
    Number.isInteger(t.total) &&
    Number.isInteger(t.count) &&
    t.count >= 0 &&
    t.count <= t.cap &&
    t.count <= t.total &&
    t.headFirst % BLOCK_SAMPLES === 0 &&
    t.headLen >= 0 &&
    t.headLen < BLOCK_SAMPLES &&
    t.headFirst + t.headLen <= t.total &&
    t.blocks.every(
      (b, i) =>
        b.firstSeq === t.headFirst - (t.blocks.length - i) * BLOCK_SAMPLES &&
        b.offsets.length > 0 &&
        b.offsets.every((o, j) => o <= b.data.byteLength && (j === 0 || o >= (b.offsets[j - 1] as number))),
    ) &&
    (t.blocks.length === 0 ? t.headFirst <= t.total - t.count : (t.blocks[0] as Block).firstSeq <= t.total - t.count);
  if (!ok) throw new RangeError("SeriesStore: the snapshot's blocks are inconsistent");
}

/** One series in a store snapshot. */
interface SeriesSnapshot {
  id: number;
  name: string;
  labels: Record<string, string>;
  kind: SeriesKind;
  present: boolean;
  lastSeenMs: number | string;
  /** Per tier: first sample number that belongs to the series. */
  born: number[];
  /** Per tier: XorEncoder.state() of the head. */
  heads: number[][];
}

/** The JSON part of a store snapshot (numbers that may be ±Infinity or NaN are strings). */
export interface SeriesStoreSnapshot {
  v: 2;
  stepSec: number;
  lastT: number | string;
  tiers: {
    cap: number;
    resMs: number;
    total: number;
    count: number;
    bucket: number | string;
    bucketLastT: number | string;
    headFirst: number;
    headLen: number;
    /** firstSeq of each closed block, oldest first. */
    blocks: number[];
  }[];
  series: SeriesSnapshot[];
  counters: { refused: number; outOfOrder: number; evicted: number; samples: number };
}

function encodeNum(x: number): number | string {
  return Number.isFinite(x) ? x : String(x);
}

function decodeNum(x: number | string): number {
  return typeof x === 'number' ? x : Number(x);
}
