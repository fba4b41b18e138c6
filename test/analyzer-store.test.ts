/**
 * SeriesStore: tiers, stitching, staleness, the series cap, eviction, and
 * memory that stays flat once the rings are full.
 */
import t from 'tap';
import { PointBuffer, SeriesStore } from '../src/analyzer/series-store.js';
import { gaussian, seededRandom } from '../src/analyzer/stats.js';

const T0 = Date.UTC(2025, 0, 1);
const H = 3600_000;

t.test('raw points, left-open/closed reads, select by matchers', async (t) => {
  const s = new SeriesStore({ stepSec: 10, rawRetentionSec: 3600, tiers: [] });
  for (let i = 0; i < 10; i++) {
    t.ok(s.beginSample(T0 + i * 10_000));
    s.set('mem_bytes', { proc: 'a' }, 100 + i);
    s.set('mem_bytes', { proc: 'b' }, 200 + i);
    s.set('up', {}, 1);
    s.commitSample();
  }
  const a = s.select('mem_bytes{proc="a"}');
  t.equal(a.length, 1);
  const id = (a[0] as { id: number }).id;
  t.same(
    s.points(id, T0 + 20_000, T0 + 40_000).map((p) => p.v),
    [102, 103, 104],
  );
  const buf = new PointBuffer(2);
  s.readInto(id, T0 + 20_000, T0 + 40_000, buf, false, true);
  t.same(Array.from(buf.v.subarray(0, buf.n)), [103, 104], 'left-open excludes the start');
  t.equal(s.select('mem_bytes').length, 2);
  t.equal(s.select('mem_bytes{proc!="a"}').length, 1);
  t.equal(s.select('mem_bytes{proc=~"a|b"}').length, 2);
  t.equal(s.select('mem_bytes{proc!~"a.*"}').length, 1);
  t.equal(s.select('{__name__=~"mem_.*"}').length, 2);
  t.equal(s.select('{__name__="up"}').length, 1);
  t.equal(s.select('mem_bytes{missing=""}').length, 2, 'absent label matches ""');
  t.equal(s.select('nothing').length, 0);
  t.same(s.select('up')[0]?.labels, { __name__: 'up' });
  t.throws(() => s.select('mem_bytes{proc=}'), SyntaxError);
  t.equal(s.beginSample(T0), false, 'out-of-order sample refused');
  t.equal(s.stats().outOfOrder, 1);
  // label order does not create a second series
  s.beginSample(T0 + 100_000);
  s.set('two', { b: '2', a: '1' }, 1);
  s.set('two', { a: '1', b: '2' }, 2);
  s.commitSample();
  t.equal(s.select('two').length, 1);
});

t.test('staleness: first absence writes a marker, instant() stops there', async (t) => {
  const s = new SeriesStore({ stepSec: 10, rawRetentionSec: 3600, tiers: [] });
  const id = s.ref('g', {}, 'gauge');
  s.beginSample(T0);
  s.setById(id, 5);
  s.commitSample();
  s.beginSample(T0 + 10_000);
  s.commitSample(); // absent → stale
  t.equal(s.instant(id, T0 + 5_000, 20_000)?.v, 5);
  t.equal(s.instant(id, T0 + 10_000, 20_000), undefined, 'stale marker ends the lookback');
  const buf = new PointBuffer();
  s.readInto(id, T0, T0 + 10_000, buf, true);
  t.equal(buf.n, 2);
  t.ok(Number.isNaN(buf.v[1]), 'stale kept as NaN when asked');
  // markAbsent is a missed scrape: instant() looks back past it
  const id2 = s.ref('h', {}, 'gauge');
  s.beginSample(T0 + 20_000);
  s.setById(id2, 7);
  s.commitSample();
  s.beginSample(T0 + 30_000);
  s.markAbsent(id2);
  s.commitSample();
  t.equal(s.instant(id2, T0 + 30_000, 20_000)?.v, 7);
  t.equal(s.instant(id2, T0 + 40_000, 20_000), undefined, 'outside the lookback');
});

t.test('downsampled tier: gauges average, counters keep the last value; reads stitch tiers', async (t) => {
  const s = new SeriesStore({ stepSec: 10, rawRetentionSec: 600, tiers: [{ resolutionSec: 60, retentionSec: 7200 }] });
  // 30 minutes at 10 s: gauge = i, counter = 10 i
  for (let i = 0; i < 180; i++) {
    s.beginSample(T0 + i * 10_000);
    s.set('g', {}, i);
    s.set('c_total', {}, 10 * i, 'counter');
    s.commitSample();
  }
  const g = (s.select('g')[0] as { id: number }).id;
  const c = (s.select('c_total')[0] as { id: number }).id;
  const st = s.stats();
  t.equal(st.tiers[0]?.capacity, 60);
  t.equal(st.tiers[0]?.count, 60);
  t.equal(st.tiers[1]?.count, 29, 'one point per closed minute');
  const all = s.points(g, T0, T0 + H);
  // older than the raw ring: 1-min averages stamped at each minute's last sample
  t.same(all[0], { t: T0 + 50_000, v: 2.5 });
  t.same(all[1], { t: T0 + 110_000, v: 8.5 });
  // then every raw point of the last 10 minutes
  const raw = all.filter((p) => p.t >= T0 + 120 * 10_000);
  t.equal(raw.length, 60);
  t.equal(raw[0]?.v, 120);
  t.equal(all[all.length - 1]?.v, 179);
  for (let i = 1; i < all.length; i++) t.ok((all[i]?.t as number) > (all[i - 1]?.t as number), 'strictly increasing');
  const cc = s.points(c, T0, T0 + H);
  t.same(cc[0], { t: T0 + 50_000, v: 50 }, 'counter: last value of the minute');
  // a range inside the raw window is served from raw only
  t.equal(s.points(g, T0 + 1500_000, T0 + 1790_000).length, 30);
});

t.test('the series cap refuses and counts new series', async (t) => {
  const s = new SeriesStore({ stepSec: 10, rawRetentionSec: 600, tiers: [], maxSeries: 3 });
  s.beginSample(T0);
  for (let i = 0; i < 5; i++) s.set('x', { i: String(i) }, i);
  s.commitSample();
  t.equal(s.stats().series, 3);
  t.equal(s.stats().refused, 2);
  t.equal(s.ref('x', { i: '9' }, 'gauge'), -1);
  t.equal(s.ref('x', { i: '0' }, 'gauge') >= 0, true, 'existing series still writable');
});

t.test('series absent longer than the retention are evicted and their buffers reused', async (t) => {
  const s = new SeriesStore({ stepSec: 10, rawRetentionSec: 600, tiers: [{ resolutionSec: 60, retentionSec: 1200 }], maxSeries: 2 });
  let tt = T0;
  const tick = (fn: () => void) => {
    s.beginSample(tt);
    fn();
    s.commitSample();
    tt += 10_000;
  };
  tick(() => s.set('old', {}, 1));
  for (let i = 0; i < 200; i++) tick(() => s.set('keep', {}, i));
  t.equal(s.stats().evicted, 1, 'old evicted after 20 min absent');
  t.equal(s.select('old').length, 0);
  const before = s.footprintBytes();
  tick(() => s.set('new', {}, 3));
  t.equal(s.select('new').length, 1, 'a new series fits in the freed slot');
  t.equal(s.stats().refused, 0);
  const newId = (s.select('new')[0] as { id: number }).id;
  t.same(
    s.points(newId, T0, tt).map((p) => p.v),
    [3],
    'reused buffers hold no old data',
  );
  // Its encoders are the evicted series' (pooled, already counted): what it adds is one record and one sample's bits.
  t.ok(s.footprintBytes() - before <= 1024 + 100, `one more series record at most (${s.footprintBytes() - before} B)`);
});

t.test('memory is flat once the windows are full: 80 h of 100 series', async (t) => {
  const s = new SeriesStore({ stepSec: 15 }); // defaults: 6 h raw, 1-min tier for 72 h
  const ids: number[] = [];
  for (let k = 0; k < 100; k++) ids.push(s.ref('series', { k: String(k) }, k % 2 === 0 ? 'gauge' : 'counter'));
  const perHour = 3600 / 15;
  const footprints: number[] = [];
  const arrayBuffers: number[] = [];
  let tt = T0;
  for (let h = 0; h < 80; h++) {
    for (let i = 0; i < perHour; i++) {
      s.beginSample(tt);
      for (let k = 0; k < 100; k++) s.setById(ids[k] as number, k + i);
      s.commitSample();
      tt += 15_000;
    }
    footprints.push(s.footprintBytes());
    arrayBuffers.push(process.memoryUsage().arrayBuffers);
  }
  // Blocks are allocated as data arrives, and dropped whole once the window has left them: after 72 h
  // (every tier's window full) the footprint moves by no more than the blocks that close and drop.
  const full = footprints.slice(73);
  const spread = Math.max(...full) - Math.min(...full);
  t.ok(spread <= 0.05 * (full[0] as number), `footprint flat over hours 73–80: ${Math.min(...full)}–${Math.max(...full)} B`);
  t.ok((footprints[79] as number) <= s.boundBytes, 'within the stated bound');
  const perSeries = (footprints[79] as number) / 100;
  t.ok(perSeries < 50_000, `≈${Math.round(perSeries)} B per series at a 15 s step`);
  // typed-array memory of the process does not grow either once the windows are full
  const grow = (arrayBuffers[79] as number) - (arrayBuffers[73] as number);
  t.ok(grow < 1_000_000, `arrayBuffers growth ${grow} B`);
  const st = s.stats();
  t.equal(st.tiers[0]?.count, st.tiers[0]?.capacity, 'raw ring full');
  t.equal(st.tiers[1]?.count, 4320, '72 h of minutes');
  const pts = s.points(ids[0] as number, tt - 80 * H, tt);
  t.ok((pts[0]?.t as number) >= tt - 72 * H - 60_000, 'oldest point ≈ 72 h back');
  // 19,200 samples; the raw ring starts at minute 4,440 (its first sample); minutes 479..4,798 are kept,
  // so 3,961 one-minute points precede the 1,440 raw ones, with no gap and no overlap.
  t.equal(pts.length, 3961 + 1440, 'coarse points older than the raw ring + raw points of the last 6 h');
  let maxGap = 0;
  for (let i = 1; i < pts.length; i++) maxGap = Math.max(maxGap, (pts[i]?.t as number) - (pts[i - 1]?.t as number));
  t.equal(maxGap, 60_000, 'no gap larger than one minute');
});

t.test('compressed blocks: irregular sample times, values over many blocks, reads across block edges', async (t) => {
  const s = new SeriesStore({ stepSec: 1, rawRetentionSec: 1000, tiers: [] });
  const rand = seededRandom(21);
  const g = gaussian(rand);
  const ref: { t: number; v: number }[] = [];
  const id = s.ref('walk', {}, 'gauge');
  let tt = T0;
  let x = 0;
  for (let i = 0; i < 900; i++) {
    tt += 1 + Math.floor(rand() * 3000); // jitter, and gaps longer than the step
    s.beginSample(tt);
    const missed = i % 97 === 5; // a missed scrape: absent, no value
    if (!missed) {
      x += g();
      const v = i % 50 === 0 ? -0 : x;
      s.setById(id, v);
      ref.push({ t: tt, v });
    } else s.markAbsent(id);
    s.commitSample();
  }
  const all = s.points(id, T0, tt);
  t.equal(all.length, ref.length, 'every written value, no absent one');
  t.same(
    all.map((p) => p.t),
    ref.map((p) => p.t),
    'times kept, irregular as written',
  );
  t.ok(
    all.every((p, i) => Object.is(p.v, ref[i]?.v)),
    'values bit for bit (negative zero included)',
  );
  // Ranges that start and end inside blocks, one sample wide, and empty.
  for (const [a, b] of [
    [100, 400],
    [119, 121],
    [240, 240],
    [0, 899],
    [500, 499],
  ] as const) {
    const from = ref[a]?.t as number;
    const to = ref[Math.max(0, b)]?.t as number;
    const want = ref.filter((p) => p.t >= from && p.t <= to);
    t.same(s.points(id, from, to), want, `range [${a}, ${b}]`);
  }
});

t.test('a reused series id reads nothing of the evicted series, in closed blocks or the head', async (t) => {
  const s = new SeriesStore({ stepSec: 1, rawRetentionSec: 300, tiers: [], maxSeries: 2 });
  let tt = T0;
  const tick = (fn: () => void) => {
    s.beginSample(tt);
    fn();
    s.commitSample();
    tt += 1000;
  };
  for (let i = 0; i < 250; i++)
    tick(() => {
      s.set('keep', {}, i);
      if (i < 10) s.set('gone', {}, 1000 + i);
    });
  for (let i = 0; i < 120; i++) tick(() => s.set('keep', {}, i));
  t.equal(s.stats().evicted, 1);
  tick(() => s.set('fresh', {}, 5));
  const id = (s.select('fresh')[0] as { id: number }).id;
  t.same(
    s.points(id, 0, tt).map((p) => p.v),
    [5],
  );
  t.equal(s.instant(id, tt - 1000, 600_000)?.v, 5);
});

t.test('a snapshot whose blocks do not line up is refused, not misread', async (t) => {
  const opts = { stepSec: 1, rawRetentionSec: 300, tiers: [] };
  const s = new SeriesStore(opts);
  for (let i = 0; i < 250; i++) {
    s.beginSample(T0 + i * 1000);
    s.set('g', {}, i % 7);
    s.commitSample();
  }
  const snap = s.toSnapshot();
  const back = SeriesStore.fromSnapshot(opts, snap);
  const id = (back.select('g')[0] as { id: number }).id;
  t.same(back.points(id, T0, T0 + 250_000), s.points(id, T0, T0 + 250_000), 'a faithful snapshot reads back the same');
  const shifted = structuredClone(snap.json);
  (shifted.tiers[0] as { blocks: number[] }).blocks[0] = 7;
  t.throws(() => SeriesStore.fromSnapshot(opts, { json: shifted, blobs: snap.blobs }), /inconsistent/);
  t.throws(() => SeriesStore.fromSnapshot(opts, { json: { ...snap.json, v: 1 }, blobs: snap.blobs }), /older store format/);
});
