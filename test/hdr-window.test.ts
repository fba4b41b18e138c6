import t from 'tap';
import v8 from 'node:v8';
import vm from 'node:vm';
import { HdrTotal, HdrWindow } from '../src/metrics/hdr-window.js';
import { createRng } from '../src/traffic/random.js';

/** A fake clock, ms. */
function fakeClock(): { now: () => number; set: (ms: number) => void } {
  let ms = 0;
  return {
    now: () => ms,
    set: (v) => {
      ms = v;
    },
  };
}

/** HDR percentiles are the upper edge of a bucket: equal up to +0.1 %. */
function hdrEq(got: number | undefined, want: number): boolean {
  return got !== undefined && got >= want && got <= want * 1.001;
}

/** Exact sample quantile with HDR's rank convention: the value at rank ceil(q * n). */
function exactQuantile(sorted: number[], q: number): number {
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1] ?? NaN;
}

t.test('percentiles of a known distribution within 0.1 % relative; min/max/mean exact', async (t) => {
  const clock = fakeClock();
  const w = new HdrWindow({ windowMs: 60_000, slices: 6, now: clock.now });
  const total = new HdrTotal();
  const r = createRng(11);
  const xs: number[] = [];
  for (let i = 0; i < 200_000; i++) {
    // Latency-like: lognormal around 80 ms, spread over ~3 decades; spread over the window.
    const x = Math.round(r.logNormal(0.08, 1.1) * 1e6) / 1e6 + 0.002;
    clock.set((i / 200_000) * 59_000);
    w.record(x);
    total.record(x);
    xs.push(x);
  }
  xs.sort((a, b) => a - b);
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  for (const q of [0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 0.9999, 1]) {
    const exact = exactQuantile(xs, q);
    for (const [name, got] of [
      ['window', w.percentile(q)],
      ['total', total.percentile(q)],
    ] as const) {
      const rel = Math.abs((got ?? NaN) - exact) / exact;
      t.ok(rel <= 0.001, `${name} q=${q}: ${got} vs ${exact} (rel ${rel.toExponential(2)})`);
    }
  }
  const s = w.snapshot();
  t.equal(s.count, 200_000);
  t.equal(w.count(), 200_000);
  t.equal(s.min, xs[0], 'exact min');
  t.equal(s.max, xs[xs.length - 1], 'exact max');
  t.ok(Math.abs(s.mean - mean) / mean < 1e-9, 'exact mean');
  t.ok(Math.abs(s.p99 - exactQuantile(xs, 0.99)) / exactQuantile(xs, 0.99) <= 0.001, 'snapshot p99');
  t.ok(Math.abs(s.p999 - exactQuantile(xs, 0.999)) / exactQuantile(xs, 0.999) <= 0.001, 'snapshot p999');
  const ts = total.snapshot();
  t.same({ ...ts, mean: 0 }, { ...s, mean: 0 }, 'total and window agree while nothing has expired');
  t.ok(Math.abs(ts.mean - s.mean) < 1e-12, 'means agree (up to summation order)');
});

t.test('rotation drops old values; slots are reused', async (t) => {
  const clock = fakeClock();
  const w = new HdrWindow({ windowMs: 60_000, slices: 6, now: clock.now }); // 10 s slices
  for (let i = 0; i < 100; i++) {
    clock.set(i * 90); // 0 .. 8.9 s: slice 0
    w.record(1);
  }
  clock.set(30_000);
  for (let i = 0; i < 100; i++) w.record(2);
  t.equal(w.count(), 200);
  t.ok(hdrEq(w.percentile(0.25), 1), 'p25 = 1');
  t.equal(w.percentile(0.75), 2, 'p75 = 2 (clamped to the exact max)');
  clock.set(59_999);
  t.equal(w.count(), 200, 'slice 0 still inside the window at 59.999 s');
  clock.set(60_000);
  t.equal(w.count(), 100, 'slice 0 expired at 60 s');
  t.equal(w.percentile(0.25), 2, 'old values are gone from percentiles');
  t.equal(w.percentile(0), 2, 'p0 is the exact min');
  t.equal(w.snapshot().min, 2, 'and from min');
  clock.set(65_000);
  w.record(3); // lands in the ring slot that held slice 0
  t.equal(w.count(), 101);
  t.equal(w.snapshot().max, 3);
  t.equal(w.snapshot().min, 2);
  clock.set(200_000);
  t.equal(w.count(), 0, 'everything expired');
  t.equal(w.percentile(0.5), undefined, 'empty window: undefined');
  t.same(w.snapshot(), { count: 0, min: 0, max: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, p999: 0 });
  w.record(0.5);
  t.ok(hdrEq(w.percentile(0.5), 0.5), 'records again after a long idle gap');
  clock.set(150_000); // clock going backwards does not corrupt the ring
  w.record(0.7);
  t.equal(w.count(), 2);
  w.reset();
  t.equal(w.count(), 0, 'reset');
});

t.test('queries are cached and stay current', async (t) => {
  const clock = fakeClock();
  const w = new HdrWindow({ windowMs: 1000, slices: 4, now: clock.now });
  w.record(0.1);
  t.equal(w.percentile(1), 0.1);
  t.equal(w.percentile(1), 0.1);
  w.record(0.3);
  t.equal(w.percentile(1), 0.3, 'a record invalidates the merged view');
  t.ok(hdrEq(w.percentile(0.5), 0.1), 'p50');
  clock.set(1000);
  t.equal(w.percentile(1), undefined, 'time passing invalidates it too');
});

t.test('clamping and odd values', async (t) => {
  const clock = fakeClock();
  const w = new HdrWindow({ windowMs: 1000, slices: 2, now: clock.now, highestTrackableSeconds: 10 });
  w.record(5);
  w.record(50);
  w.record(-1);
  w.record(Number.NaN);
  t.equal(w.count(), 3, 'NaN dropped');
  t.equal(w.outOfRange, 3, 'clamped and dropped values counted');
  const s = w.snapshot();
  t.equal(s.max, 50, 'exact max keeps the raw value');
  t.equal(s.min, 0, 'negative clamped to 0');
  const p100 = w.percentile(1) ?? NaN;
  t.ok(p100 >= 10 && p100 <= 10.01, `percentiles stop at the ceiling (${p100})`);
  t.throws(() => w.percentile(1.5), RangeError);
  t.throws(() => new HdrWindow({ windowMs: 1000, slices: 0, now: clock.now }), RangeError);
});

t.test('memory does not grow with records', async (t) => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const clock = fakeClock();
  const w = new HdrWindow({ windowMs: 60_000, slices: 12, now: clock.now });
  const fp0 = w.footprintBytes();
  const r = createRng(1);
  const values = new Float64Array(100_000);
  for (let i = 0; i < values.length; i++) values[i] = r.logNormal(0.05, 2);
  let ms = 0;
  const burst = (n: number): void => {
    for (let i = 0; i < n; i++) {
      ms += 0.7; // ~1.4k records/s of fake time: rotates through the ring many times
      clock.set(ms);
      w.record(values[i % values.length] ?? 0);
    }
    w.percentile(0.99);
  };
  burst(200_000);
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  burst(1_000_000);
  gc();
  const heap1 = process.memoryUsage().heapUsed;
  t.equal(w.footprintBytes(), fp0, `histogram footprint fixed at ${(fp0 / 1024).toFixed(0)} KiB`);
  const grew = heap1 - heap0;
  t.comment(`heap change over 1e6 records: ${(grew / 1024).toFixed(0)} KiB`);
  t.ok(grew < 2 * 1024 * 1024, 'heap does not grow with records');
  t.ok(w.count() > 0 && w.count() <= Math.ceil(60_000 / 0.7) + 1, 'window holds only the last minute');
});

t.test('HdrTotal: merge, encode/decode round trip, window.addTo', async (t) => {
  const a = new HdrTotal();
  const b = new HdrTotal();
  const r = createRng(2);
  for (let i = 0; i < 10_000; i++) {
    a.record(r.exponential(20));
    b.record(0.5 + r.uniform());
  }
  const s = a.encode();
  t.type(s, 'string');
  t.ok(s.length < 20_000, `compact (${s.length} chars)`);
  const back = HdrTotal.decode(s);
  t.equal(back.count(), a.count());
  for (const q of [0.5, 0.9, 0.99, 0.999]) {
    const x = a.percentile(q) ?? NaN;
    const y = back.percentile(q) ?? NaN;
    t.ok(Math.abs(x - y) / x <= 0.001, `decoded q=${q}: ${y} vs ${x}`);
  }
  const m = new HdrTotal();
  m.add(a);
  m.add(b);
  t.equal(m.count(), 20_000);
  t.equal(m.snapshot().max, Math.max(a.snapshot().max, b.snapshot().max));
  const clock = fakeClock();
  const w = new HdrWindow({ windowMs: 1000, slices: 2, now: clock.now });
  w.record(0.25);
  w.record(0.75);
  const sum = new HdrTotal();
  w.addTo(sum);
  t.equal(sum.count(), 2);
  t.equal(sum.snapshot().mean, 0.5);
  t.equal(HdrTotal.decode(w.encode()).count(), 2, 'window encodes too');
  t.equal(HdrTotal.decode(new HdrTotal().encode()).count(), 0, 'empty round trip');
});

t.test('HdrTotal grows with its largest value, at most the ceiling; totals of different sizes merge exactly', async (t) => {
  const empty = new HdrTotal();
  const small = new HdrTotal();
  const r = createRng(5);
  for (let i = 0; i < 10_000; i++) small.record(r.logNormal(0.02, 0.5)); // inter-token gaps: tens of ms
  const ceiling = new HdrTotal();
  ceiling.record(3600);
  const beyond = new HdrTotal();
  beyond.record(1e9); // clamped to the ceiling: no larger than a total that saw 1 h
  const kb = (h: HdrTotal) => `${(h.footprintBytes() / 1024).toFixed(0)} KiB`;
  t.ok(empty.footprintBytes() < small.footprintBytes() && small.footprintBytes() < ceiling.footprintBytes(), `empty ${kb(empty)} < gaps ${kb(small)} < at the 1 h ceiling ${kb(ceiling)}`);
  t.equal(beyond.footprintBytes(), ceiling.footprintBytes(), 'a value past the ceiling grows it no further than the ceiling');
  t.ok(small.footprintBytes() * 2 < ceiling.footprintBytes(), 'a total of tens of ms takes under half of a fixed one');

  // Merging a grown total into a small one (and back) keeps every count and the percentiles.
  const big = new HdrTotal();
  for (let i = 0; i < 100; i++) big.record(100 + i);
  const merged = new HdrTotal();
  merged.add(small);
  merged.add(big);
  t.equal(merged.snapshot().count, 10_100, 'every count kept');
  const p99 = merged.percentile(0.995) ?? NaN;
  t.ok(p99 >= 149 && p99 <= 200 * 1.001, `p99.5 lands among the 100 large values (${p99.toFixed(1)} s)`);
  const p50 = merged.percentile(0.5) ?? NaN;
  const p50Small = small.percentile(0.5 * (10_100 / 10_000)) ?? NaN;
  t.ok(Math.abs(p50 - p50Small) / p50Small < 0.002, `p50 ${p50.toFixed(5)} s where the small total puts it (${p50Small.toFixed(5)} s)`);
});
