/**
 * Gorilla XOR compression of float64 values (Pelkonen et al., VLDB 2015; the
 * value half of Prometheus' XOR chunk, tsdb/chunkenc/xor.go), bit for bit:
 *
 * - the first value: its 64 bits;
 * - then the XOR with the previous value: `0` when equal (1 bit); else `1`,
 *   and either `0` + the meaningful bits when they fit in the previous
 *   leading/trailing-zero window, or `1` + 5 bits of leading zeros (capped at
 *   31) + 6 bits of meaningful-bit count (64 written as 0) + those bits.
 *
 * A value is handled as its two 32-bit words (hi, lo), never as a JS number,
 * so NaN payloads (Prometheus' staleness marker 0x7ff0000000000002) and
 * negative zero survive exactly: no NaN canonicalisation can touch them.
 *
 * Slowly moving gauges and counters cost 1–2 bytes a value, a constant 1 bit;
 * the worst case (random bits) is 77 bits, 9.6 bytes.
 */

/** Bits of a value in its worst case: control bits, 5 + 6 bits of window, 64 bits. */
export const XOR_MAX_BITS_PER_VALUE = 2 + 5 + 6 + 64;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const HI = LITTLE_ENDIAN ? 1 : 0;
const LO = LITTLE_ENDIAN ? 0 : 1;

/** The high and low 32-bit words of a float64 (as uint32s). */
export function wordsOf(v: number): [hi: number, lo: number] {
  f64[0] = v;
  return [u32[HI] as number, u32[LO] as number];
}

/** The float64 with these words. */
export function numberOf(hi: number, lo: number): number {
  u32[HI] = hi;
  u32[LO] = lo;
  return f64[0] as number;
}

/** Low `n` bits set (n in 0..32), as a uint32. */
function mask(n: number): number {
  return n >= 32 ? 0xffffffff : (1 << n) - 1;
}

/** Trailing zero bits of a uint32 that is not 0. */
function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** Appends bits, most significant first, into a growable byte buffer. */
export class BitWriter {
  bytes: Uint8Array;
  /** Bits written. */
  bitLen = 0;
  constructor(initialBytes = 16) {
    this.bytes = new Uint8Array(Math.max(1, initialBytes));
  }
  /** Bytes in use (the last one partly). */
  get byteLen(): number {
    return (this.bitLen + 7) >>> 3;
  }
  /** Write the low `n` bits of `v` (n in 0..32). */
  write(v: number, n: number): void {
    if (n === 0) return;
    const need = (this.bitLen + n + 7) >>> 3;
    if (need > this.bytes.length) {
      const grown = new Uint8Array(Math.max(need, this.bytes.length * 2));
      grown.set(this.bytes);
      this.bytes = grown;
    }
    let left = n;
    while (left > 0) {
      const free = 8 - (this.bitLen & 7);
      const take = left < free ? left : free;
      const bits = (v >>> (left - take)) & mask(take);
      const i = this.bitLen >>> 3;
      this.bytes[i] = (this.bytes[i] as number) | (bits << (free - take));
      this.bitLen += take;
      left -= take;
    }
  }
  /** Forget what was written; the buffer (zeroed) is kept for the next chunk. */
  reset(): void {
    this.bytes.fill(0, 0, this.byteLen);
    this.bitLen = 0;
  }
}

/** Reads bits, most significant first, from bytes written by BitWriter. */
export class BitReader {
  private bytes: Uint8Array = new Uint8Array(0);
  private pos = 0;
  /** Read from `bytes` at byte `byteOffset`. */
  reset(bytes: Uint8Array, byteOffset = 0): void {
    this.bytes = bytes;
    this.pos = byteOffset * 8;
  }
  /** The next `n` bits (n in 0..32) as a uint32. Reading past the end gives zero bits. */
  read(n: number): number {
    if (n === 0) return 0;
    // The 32 bits from the current position, from (at most) five bytes; a missing byte reads as 0.
    const b = this.bytes;
    const i = this.pos >>> 3;
    const off = this.pos & 7;
    let w = (((b[i] ?? 0) << 24) | ((b[i + 1] ?? 0) << 16) | ((b[i + 2] ?? 0) << 8) | (b[i + 3] ?? 0)) >>> 0;
    if (off !== 0) w = ((w << off) | ((b[i + 4] ?? 0) >>> (8 - off))) >>> 0;
    this.pos += n;
    return n === 32 ? w : w >>> (32 - n);
  }
}

/** Write bits [high..low] (inclusive, 63 = sign) of the 64-bit value (hi, lo). */
function writeSpan(w: BitWriter, hi: number, lo: number, high: number, low: number): void {
  if (high >= 32) {
    const from = low > 32 ? low : 32;
    w.write((hi >>> (from - 32)) & mask(high - from + 1), high - from + 1);
  }
  if (low <= 31) {
    const top = high < 31 ? high : 31;
    w.write((lo >>> low) & mask(top - low + 1), top - low + 1);
  }
}

/**
 * An appendable XOR-compressed run of float64 values (a chunk's value
 * column). Appending is O(1); the bytes are `writer.bytes[0, writer.byteLen)`.
 */
export class XorEncoder {
  readonly writer: BitWriter;
  /** Values appended. */
  count = 0;
  private prevHi = 0;
  private prevLo = 0;
  private leading = 0xff;
  private trailing = 0;

  constructor(initialBytes = 16) {
    this.writer = new BitWriter(initialBytes);
  }

  /** Append a number (use appendWords for NaN payloads that must survive). */
  append(v: number): void {
    f64[0] = v;
    this.appendWords(u32[HI] as number, u32[LO] as number);
  }

  /** Append the float64 with words (hi, lo). */
  appendWords(hi: number, lo: number): void {
    const w = this.writer;
    hi >>>= 0;
    lo >>>= 0;
    if (this.count === 0) {
      w.write(hi, 32);
      w.write(lo, 32);
    } else {
      const xh = (hi ^ this.prevHi) >>> 0;
      const xl = (lo ^ this.prevLo) >>> 0;
      if (xh === 0 && xl === 0) {
        w.write(0, 1);
      } else {
        w.write(1, 1);
        let leading = xh !== 0 ? Math.clz32(xh) : 32 + Math.clz32(xl);
        const trailing = xl !== 0 ? ctz32(xl) : 32 + ctz32(xh);
        if (leading > 31) leading = 31; // 5 bits; the rest is written as meaningful zeros
        if (this.leading !== 0xff && leading >= this.leading && trailing >= this.trailing) {
          w.write(0, 1);
          writeSpan(w, xh, xl, 63 - this.leading, this.trailing);
        } else {
          this.leading = leading;
          this.trailing = trailing;
          const sig = 64 - leading - trailing;
          w.write(1, 1);
          w.write(leading, 5);
          w.write(sig & 63, 6);
          writeSpan(w, xh, xl, 63 - leading, trailing);
        }
      }
    }
    this.prevHi = hi;
    this.prevLo = lo;
    this.count++;
  }

  /** What restore() needs to go on appending (for checkpoints): bits written, count, previous value, window, buffer size. */
  state(): number[] {
    return [this.writer.bitLen, this.count, this.prevHi, this.prevLo, this.leading, this.trailing, this.writer.bytes.length];
  }

  /** An encoder that goes on from `bytes` and a state() taken with them. */
  static restore(bytes: Uint8Array, state: readonly number[]): XorEncoder {
    const [bitLen, count, prevHi, prevLo, leading, trailing, capacity] = state;
    if (state.length !== 7 || !Number.isInteger(bitLen) || ((bitLen as number) + 7) >>> 3 !== bytes.length || !((capacity as number) >= bytes.length)) {
      throw new RangeError('XorEncoder: state does not match the bytes');
    }
    // A head holds at most one block (120 values ≤ 1.2 KB): a corrupt state cannot make it allocate more than 1 MiB.
    const e = new XorEncoder(Math.min(capacity as number, 1 << 20));
    e.writer.bytes.set(bytes);
    e.writer.bitLen = bitLen as number;
    e.count = count as number;
    e.prevHi = prevHi as number;
    e.prevLo = prevLo as number;
    e.leading = leading as number;
    e.trailing = trailing as number;
    return e;
  }

  /** Start a new run; the buffer is kept (zeroed). */
  reset(): void {
    this.writer.reset();
    this.count = 0;
    this.prevHi = 0;
    this.prevLo = 0;
    this.leading = 0xff;
    this.trailing = 0;
  }
}

/** Reads values back from an XorEncoder's bytes; one instance is reused across runs. */
export class XorDecoder {
  /** Words of the value last read. */
  hi = 0;
  lo = 0;
  private readonly r = new BitReader();
  private n = 0;
  private leading = 0;
  private trailing = 0;

  /** Decode a run starting at byte `byteOffset` of `bytes`. */
  reset(bytes: Uint8Array, byteOffset = 0): void {
    this.r.reset(bytes, byteOffset);
    this.n = 0;
    this.hi = 0;
    this.lo = 0;
  }

  /** Read the next value into (hi, lo). The caller knows how many the run holds. */
  next(): void {
    const r = this.r;
    if (this.n++ === 0) {
      this.hi = r.read(32);
      this.lo = r.read(32);
      return;
    }
    if (r.read(1) === 0) return;
    if (r.read(1) === 1) {
      this.leading = r.read(5);
      let sig = r.read(6);
      if (sig === 0) sig = 64;
      this.trailing = 64 - this.leading - sig;
    }
    const high = 63 - this.leading;
    const low = this.trailing;
    let xh = 0;
    let xl = 0;
    if (high >= 32) {
      const from = low > 32 ? low : 32;
      const bits = high - from + 1;
      xh = bits === 32 ? r.read(32) : (r.read(bits) << (from - 32)) >>> 0;
    }
    if (low <= 31) {
      const top = high < 31 ? high : 31;
      const bits = top - low + 1;
      xl = bits === 32 ? r.read(32) : (r.read(bits) << low) >>> 0;
    }
    this.hi = (this.hi ^ xh) >>> 0;
    this.lo = (this.lo ^ xl) >>> 0;
  }

  /** The value last read, as a number (NaN payloads are not preserved here: use hi/lo). */
  value(): number {
    return numberOf(this.hi, this.lo);
  }
}
