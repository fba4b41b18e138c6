/**
 * Gorilla XOR value compression (src/analyzer/gorilla.ts): every value comes
 * back bit for bit (NaN payloads, staleness markers, ±0, ±Inf, subnormals),
 * the bit stream is Prometheus' (equal values cost one bit), and an encoder
 * restored from a checkpoint goes on exactly where it stopped.
 */
import t from 'tap';
import { BitReader, BitWriter, XOR_MAX_BITS_PER_VALUE, XorDecoder, XorEncoder, numberOf, wordsOf } from '../src/analyzer/gorilla.js';
import { seededRandom, gaussian } from '../src/analyzer/stats.js';

type Words = [number, number];

function roundTrip(values: readonly Words[]): { back: Words[]; bytes: number } {
  const enc = new XorEncoder();
  for (const [hi, lo] of values) enc.appendWords(hi, lo);
  const dec = new XorDecoder();
  dec.reset(enc.writer.bytes.slice(0, enc.writer.byteLen));
  const back: Words[] = [];
  for (let i = 0; i < values.length; i++) {
    dec.next();
    back.push([dec.hi, dec.lo]);
  }
  return { back, bytes: enc.writer.byteLen };
}

const words = (xs: readonly number[]): Words[] => xs.map((x) => wordsOf(x));

t.test('bit writer and reader: fields of every width from 0 to 32 bits', async (t) => {
  const rand = seededRandom(3);
  const fields: [number, number][] = [];
  const w = new BitWriter(1);
  for (let i = 0; i < 2000; i++) {
    const n = Math.floor(rand() * 33);
    const v = n === 0 ? 0 : Math.floor(rand() * 2 ** n) >>> 0;
    fields.push([v, n]);
    w.write(v, n);
  }
  const r = new BitReader();
  r.reset(w.bytes);
  for (const [v, n] of fields) if (r.read(n) !== v) return t.fail(`field of ${n} bits read back wrong`);
  t.pass('every field read back');
  t.equal(w.byteLen, Math.ceil(fields.reduce((s, [, n]) => s + n, 0) / 8), 'no padding between fields');
});

t.test('random walks, counters and byte gauges come back exactly', async (t) => {
  const rand = seededRandom(11);
  const g = gaussian(rand);
  const walk: number[] = [];
  let x = 0.5;
  for (let i = 0; i < 5000; i++) walk.push((x += g() * 0.01));
  const counter: number[] = [];
  let c = 0;
  for (let i = 0; i < 5000; i++) counter.push((c += Math.floor(rand() * 40)));
  const rss: number[] = [];
  let m = 2.5e8;
  for (let i = 0; i < 5000; i++) rss.push((m += Math.round(g() * 65536)));
  for (const [name, xs] of [
    ['gaussian walk', walk],
    ['counter', counter],
    ['RSS-like bytes', rss],
  ] as const) {
    const { back } = roundTrip(words(xs));
    t.same(back, words(xs), `${name}: every value bit for bit`);
  }
});

t.test('constants cost one bit a value; worst-case random bits stay within the stated bound', async (t) => {
  const n = 120;
  const constant = roundTrip(words(new Array<number>(n).fill(42.125)));
  t.same(constant.back, words(new Array<number>(n).fill(42.125)));
  t.equal(constant.bytes, Math.ceil((64 + (n - 1)) / 8), '64 bits, then 1 bit per repeat');
  const rand = seededRandom(5);
  const noise: Words[] = [];
  for (let i = 0; i < n; i++) noise.push([Math.floor(rand() * 2 ** 32) >>> 0, Math.floor(rand() * 2 ** 32) >>> 0]);
  const r = roundTrip(noise);
  t.same(r.back, noise, 'random 64-bit patterns come back');
  t.ok(r.bytes * 8 <= 64 + (n - 1) * XOR_MAX_BITS_PER_VALUE, `${r.bytes} B for ${n} random values, within ${XOR_MAX_BITS_PER_VALUE} bits each`);
});

t.test('special values: NaN payloads, the staleness marker, ±0, ±Inf, subnormals, extremes', async (t) => {
  const stale: Words = [0x7ff00000, 0x00000002];
  const quietNaN: Words = [0x7ff80000, 0];
  const negNaNPayload: Words = [0xfff12345, 0x6789abcd];
  const special: Words[] = [
    wordsOf(0),
    wordsOf(-0),
    stale,
    quietNaN,
    stale,
    wordsOf(Infinity),
    wordsOf(-Infinity),
    wordsOf(Number.MIN_VALUE),
    wordsOf(-Number.MIN_VALUE),
    wordsOf(Number.MAX_VALUE),
    wordsOf(-Number.MAX_VALUE),
    negNaNPayload,
    wordsOf(1),
    wordsOf(1 + Number.EPSILON),
    wordsOf(2 ** -1074 * 3),
    stale,
    stale,
    wordsOf(0),
    wordsOf(-0),
    wordsOf(-0),
  ];
  const { back } = roundTrip(special);
  t.same(back, special, 'every bit pattern kept');
  t.ok(Object.is(numberOf(...(back[1] as Words)), -0), 'negative zero is still negative');
  t.not((back[0] as Words)[0], (back[1] as Words)[0], '+0 and −0 differ in their sign bit');
  t.same(back[2], stale, 'the staleness marker is not canonicalised into another NaN');
});

t.test('values whose XOR has 32 or more leading or trailing zero bits (one word unchanged)', async (t) => {
  const xs: Words[] = [
    [1, 0],
    [1, 1],
    [1, 0x80000000],
    [0x80000000, 0x80000000],
    [0x80000000, 1],
    [0, 1],
    [0xffffffff, 0xffffffff],
    [0, 0],
    [0x00010000, 0],
    [0x00010000, 0xffffffff],
  ];
  const { back } = roundTrip(xs);
  t.same(back, xs);
});

t.test('an encoder restored from its state and bytes goes on exactly', async (t) => {
  const rand = seededRandom(9);
  const g = gaussian(rand);
  const xs: number[] = [];
  let x = 100;
  for (let i = 0; i < 240; i++) xs.push((x += Math.round(g() * 10) / 4));
  const whole = new XorEncoder();
  for (const v of xs) whole.append(v);
  const first = new XorEncoder();
  for (const v of xs.slice(0, 97)) first.append(v);
  const resumed = XorEncoder.restore(first.writer.bytes.slice(0, first.writer.byteLen), first.state());
  for (const v of xs.slice(97)) resumed.append(v);
  t.same(resumed.writer.bytes.slice(0, resumed.writer.byteLen), whole.writer.bytes.slice(0, whole.writer.byteLen), 'same bit stream');
  t.equal(resumed.count, whole.count);
  t.throws(() => XorEncoder.restore(new Uint8Array(1), first.state()), RangeError, 'a state that does not fit its bytes is refused');
  // A reset encoder starts a new run (what the store does when a block closes).
  whole.reset();
  whole.append(7);
  const dec = new XorDecoder();
  dec.reset(whole.writer.bytes);
  dec.next();
  t.equal(dec.value(), 7);
});
