/**
 * Streaming Server-Sent Events parser (WHATWG HTML "event stream
 * interpretation"), correct for any chunking of the byte stream.
 *
 * Hot path design: works on bytes; line terminators (CR, LF, CRLF) are found
 * with Buffer.indexOf (memchr) and never re-scanned (a scan offset is kept across
 * pushes); the field name is matched on bytes and only a field's value is
 * decoded, once per line. A UTF-8 character cannot straddle a line (CR and LF
 * are ASCII and never occur inside a multi-byte sequence), so decoding per line
 * equals decoding the whole stream. When nothing is buffered, a chunk is parsed
 * in place and only its unterminated tail is copied.
 *
 * Spec points: one leading BOM of the stream is dropped; CR, LF and CRLF end a
 * line, and a CR at the end of one chunk followed by LF at the start of the
 * next is one line break (the CR's line is dispatched at once, the LF skipped);
 * lines starting with ':' are comments; `field:value` with one optional space
 * after the colon, a line without colon is a field with an empty value;
 * `data` lines are joined with '\n'; a blank line dispatches (only if some
 * data field was seen); `id` values containing NUL are ignored; `retry` is
 * taken only when all ASCII digits; unknown fields are ignored; an event not
 * terminated by a blank line when the stream ends is NOT dispatched (see end()).
 */

/** One dispatched event. */
export interface SseEvent {
  /** The `event:` field, 'message' when absent or empty. */
  event: string;
  /** All `data:` lines of the event joined with '\n'. */
  data: string;
  /**
   * The last event ID (spec: `lastEventId`), which persists across events until
   * another `id:` line changes it; absent while it is the empty string.
   */
  id?: string;
}

/** What end() reports about input that never formed a complete event. */
export interface SseEndResult {
  /**
   * Bytes of fields (data/event/id/retry lines, with their line breaks) of an
   * event that was started but never terminated by a blank line, plus any
   * unterminated last line that is not a comment. 0 = the stream ended cleanly
   * on an event boundary.
   */
  pendingBytes: number;
}

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;

/** A Buffer view of the same memory (no copy): Buffer's indexOf is memchr, ~7x Uint8Array's. */
function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/**
 * Streaming SSE parser; feed it raw body chunks with push(), call end() at EOF.
 * Node-only (uses Buffer views over the chunks, never copies of whole chunks).
 */
export class SseParser {
  /** Unconsumed bytes (an unterminated line), in buf[start, end). */
  private buf: Buffer = Buffer.alloc(0);
  private start = 0;
  private end_ = 0;
  /** Position in buf up to which no line terminator exists (never re-scanned). */
  private scan = 0;
  /** The previous chunk ended with CR: drop an LF at the start of the next. */
  private skipLf = false;
  /** Still deciding whether the stream starts with a BOM (EF BB BF). */
  private atStart = true;

  private data = '';
  private hasData = false;
  private eventType = '';
  private lastEventId = '';
  /** Bytes of field lines seen since the last dispatch (for end()). */
  private pendingFieldBytes = 0;

  /**
   * Reconnection time from the last valid `retry:` field, ms (undefined until
   * one is seen). llmsoak does not reconnect; exposed for completeness.
   */
  retryMs: number | undefined;

  /** @param onEvent called synchronously from push() for every dispatched event; must not throw. */
  constructor(private readonly onEvent: (ev: SseEvent) => void) {}

  /**
   * Bytes held for an event that is not complete yet: its field lines so far
   * plus an unterminated line. A hostile stream (no line breaks, or data lines
   * without the blank line that ends an event) grows this without end; the
   * client caps it.
   */
  get pendingBytes(): number {
    return this.pendingFieldBytes + (this.end_ - this.start);
  }

  /** Feed the next chunk of the response body (any size, any split point). */
  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const chunk = asBuffer(bytes);
    if (this.start === this.end_ && !this.atStart) {
      // Nothing buffered: parse in place, copy only the tail.
      const consumed = this.parse(chunk, 0, chunk.length, 0);
      if (consumed < chunk.length) {
        this.append(chunk.subarray(consumed));
        this.scan = this.end_; // the tail holds no terminator: never scan it again
      }
      return;
    }
    this.append(chunk);
    if (this.atStart) {
      if (!this.stripBom()) return; // need more bytes to decide
    }
    const consumed = this.parse(this.buf, this.start, this.end_, this.scan);
    this.start = consumed;
    if (consumed === this.end_) {
      this.start = 0;
      this.end_ = 0;
      this.scan = 0;
    } else {
      this.scan = this.end_;
    }
  }

  /**
   * The stream ended. Does not dispatch an unterminated event (spec); reports
   * how many bytes were left pending, then resets the parser for reuse
   * (`retryMs` and the last event ID are reset too).
   */
  end(): SseEndResult {
    let pending = this.pendingFieldBytes;
    const tailLen = this.end_ - this.start;
    if (tailLen > 0 && (this.atStart || this.buf[this.start] !== COLON)) pending += tailLen;
    this.buf = Buffer.alloc(0);
    this.start = 0;
    this.end_ = 0;
    this.scan = 0;
    this.skipLf = false;
    this.atStart = true;
    this.data = '';
    this.hasData = false;
    this.eventType = '';
    this.lastEventId = '';
    this.pendingFieldBytes = 0;
    this.retryMs = undefined;
    return { pendingBytes: pending };
  }

  /** Append bytes to buf[start, end), compacting or growing (doubling) as needed. */
  private append(bytes: Buffer): void {
    const len = this.end_ - this.start;
    const need = len + bytes.length;
    if (this.end_ + bytes.length > this.buf.length) {
      if (need <= this.buf.length && this.start > 0) {
        this.buf.copyWithin(0, this.start, this.end_);
      } else {
        const grown = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2, 256));
        this.buf.copy(grown, 0, this.start, this.end_);
        this.buf = grown;
      }
      this.scan -= this.start;
      this.start = 0;
      this.end_ = len;
    }
    bytes.copy(this.buf, this.end_);
    this.end_ += bytes.length;
  }

  /** At stream start: drop a complete BOM; returns false while a BOM prefix is still possible. */
  private stripBom(): boolean {
    const bom = [0xef, 0xbb, 0xbf];
    const n = Math.min(3, this.end_ - this.start);
    for (let i = 0; i < n; i++) {
      if (this.buf[this.start + i] !== bom[i]) {
        this.atStart = false;
        return true;
      }
    }
    if (n < 3) return false;
    this.start += 3;
    if (this.scan < this.start) this.scan = this.start;
    this.atStart = false;
    return true;
  }

  /**
   * Process every complete line in bytes[from, to); `scanFrom` is where the
   * search for a terminator resumes. Returns the index of the first byte not
   * consumed (start of an unterminated line).
   */
  private parse(bytes: Buffer, from: number, to: number, scanFrom: number): number {
    let lineStart = from;
    if (this.skipLf && lineStart < to) {
      this.skipLf = false;
      if (bytes[lineStart] === LF) {
        lineStart++;
        if (scanFrom < lineStart) scanFrom = lineStart;
      }
    }
    // Cached next positions of LF and CR (-1 = none before `to`); each byte is looked at once.
    let nextLf = -2;
    let nextCr = -2;
    let pos = scanFrom;
    while (pos < to) {
      if (nextLf !== -1 && nextLf < pos) {
        nextLf = bytes.indexOf(LF, pos);
        if (nextLf >= to) nextLf = -1;
      }
      if (nextCr !== -1 && nextCr < pos) {
        nextCr = bytes.indexOf(CR, pos);
        if (nextCr >= to) nextCr = -1;
      }
      let eol: number;
      if (nextLf === -1 && nextCr === -1) break;
      if (nextCr === -1 || (nextLf !== -1 && nextLf < nextCr)) eol = nextLf;
      else eol = nextCr;
      let next = eol + 1;
      if (bytes[eol] === CR) {
        if (next < to) {
          if (bytes[next] === LF) next++;
        } else {
          this.skipLf = true; // CR ends this chunk: an LF opening the next one belongs to it
        }
      }
      this.line(bytes, lineStart, eol, next - lineStart);
      lineStart = next;
      pos = next;
    }
    return lineStart;
  }

  /** Interpret one line bytes[s, e); `rawLen` includes the terminator (for end()'s accounting). */
  private line(b: Buffer, s: number, e: number, rawLen: number): void {
    if (s === e) {
      this.dispatch();
      return;
    }
    const c0 = b[s];
    if (c0 === COLON) return; // comment
    let colon = b.indexOf(COLON, s);
    if (colon < 0 || colon >= e) colon = e;
    let vs = colon + 1;
    if (vs < e && b[vs] === SPACE) vs++;
    if (vs > e) vs = e;
    const nameLen = colon - s;
    this.pendingFieldBytes += rawLen;
    // Match the field name on bytes: data, event, id, retry.
    if (nameLen === 4 && c0 === 0x64 && b[s + 1] === 0x61 && b[s + 2] === 0x74 && b[s + 3] === 0x61) {
      const v = vs < e ? b.toString('utf8', vs, e) : '';
      if (this.hasData) this.data += '\n' + v;
      else {
        this.data = v;
        this.hasData = true;
      }
    } else if (nameLen === 5 && c0 === 0x65 && b[s + 1] === 0x76 && b[s + 2] === 0x65 && b[s + 3] === 0x6e && b[s + 4] === 0x74) {
      this.eventType = vs < e ? b.toString('utf8', vs, e) : '';
    } else if (nameLen === 2 && c0 === 0x69 && b[s + 1] === 0x64) {
      const nul = b.indexOf(0, vs);
      if (nul < 0 || nul >= e) this.lastEventId = vs < e ? b.toString('utf8', vs, e) : '';
    } else if (nameLen === 5 && c0 === 0x72 && b[s + 1] === 0x65 && b[s + 2] === 0x74 && b[s + 3] === 0x72 && b[s + 4] === 0x79) {
      let ms = 0;
      let ok = vs < e;
      for (let i = vs; i < e; i++) {
        const d = (b[i] ?? 0) - 0x30;
        if (d < 0 || d > 9) {
          ok = false;
          break;
        }
        ms = ms * 10 + d;
      }
      if (ok) this.retryMs = ms;
    }
  }

  private dispatch(): void {
    this.pendingFieldBytes = 0;
    if (!this.hasData) {
      this.eventType = '';
      return;
    }
    const ev: SseEvent = { event: this.eventType === '' ? 'message' : this.eventType, data: this.data };
    if (this.lastEventId !== '') ev.id = this.lastEventId;
    this.data = '';
    this.hasData = false;
    this.eventType = '';
    this.onEvent(ev);
  }
}

/** True for the OpenAI end-of-stream sentinel `data: [DONE]`. */
export function isDone(ev: SseEvent): boolean {
  const d = ev.data;
  return d.length < 16 && d.trim() === '[DONE]';
}
