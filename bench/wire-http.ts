/**
 * HTTP/1.1 exchanges on reassembled TCP streams (bench/pcap.ts): each
 * request's first byte and traceparent, each response's first and last
 * content-bearing SSE event (the byte that completes it), as capture times.
 * Keep-alive without pipelining: the n-th response on a connection answers
 * its n-th request.
 */
import { timeAt, type TcpStream } from './pcap.js';

export interface WireRequest {
  method: string;
  startNs: number;
  traceId?: string;
}

export interface WireResponse {
  /** The packet that completed the first SSE event carrying content. */
  firstContentNs?: number;
  lastContentNs?: number;
}

const CRLF2 = Buffer.from('\r\n\r\n');

function headerValue(head: string, name: string): string | undefined {
  const m = new RegExp(`\\r\\n${name}:\\s*([^\\r]*)`, 'i').exec(head);
  return m?.[1]?.trim();
}

export function parseRequests(s: TcpStream): WireRequest[] {
  const out: WireRequest[] = [];
  let at = 0;
  while (at < s.bytes.length) {
    const he = s.bytes.indexOf(CRLF2, at);
    if (he < 0) break;
    const head = s.bytes.toString('latin1', at, he);
    const tp = headerValue(head, 'traceparent');
    const len = Number(headerValue(head, 'content-length') ?? 0);
    const req: WireRequest = { method: head.slice(0, head.indexOf(' ')), startNs: timeAt(s, at) };
    const id = tp?.split('-')[1];
    if (id) req.traceId = id;
    out.push(req);
    at = he + 4 + len;
  }
  return out;
}

/** True when the SSE event's data is a chunk whose first choice carries content (or reasoning, a tool call, text). */
function carriesContent(event: string): boolean {
  const data = event
    .split('\n')
    .filter((l) => l.startsWith('data:'))
    .map((l) => l.slice(5).trimStart())
    .join('\n');
  if (data === '' || data === '[DONE]') return false;
  try {
    const o = JSON.parse(data) as { choices?: { delta?: Record<string, unknown>; text?: unknown }[] };
    const c = o.choices?.[0];
    if (!c) return false;
    const d = c.delta ?? {};
    const ne = (v: unknown) => (typeof v === 'string' || Array.isArray(v)) && v.length > 0;
    return ne(d.content) || ne(d.reasoning_content) || ne(d.reasoning) || ne(d.tool_calls) || ne(c.text);
  } catch {
    return false;
  }
}

export function parseResponses(s: TcpStream): WireResponse[] {
  const out: WireResponse[] = [];
  const b = s.bytes;
  let at = 0;
  while (at < b.length) {
    const he = b.indexOf(CRLF2, at);
    if (he < 0) break;
    const head = b.toString('latin1', at, he);
    const res: WireResponse = {};
    out.push(res);
    let p = he + 4;
    const chunked = /transfer-encoding:\s*chunked/i.test(head);
    // Decoded body text with, per piece, where it starts in the stream.
    let text = '';
    const pieces: { decoded: number; stream: number }[] = [];
    if (chunked) {
      for (;;) {
        const le = b.indexOf('\r\n', p, 'latin1');
        if (le < 0) {
          p = b.length;
          break;
        }
        const size = parseInt(b.toString('latin1', p, le), 16);
        p = le + 2;
        if (!(size > 0)) {
          p += 2; // the last chunk's CRLF (no trailers)
          break;
        }
        pieces.push({ decoded: text.length, stream: p });
        text += b.toString('latin1', p, Math.min(p + size, b.length));
        p += size + 2;
      }
    } else {
      const len = Number(headerValue(head, 'content-length') ?? 0);
      pieces.push({ decoded: 0, stream: p });
      text = b.toString('latin1', p, Math.min(p + len, b.length));
      p += len;
    }
    const streamOffset = (d: number): number => {
      let i = pieces.length - 1;
      while (i > 0 && (pieces[i] as { decoded: number }).decoded > d) i--;
      const piece = pieces[i] as { decoded: number; stream: number };
      return piece.stream + (d - piece.decoded);
    };
    let evStart = 0;
    for (;;) {
      const end = text.indexOf('\n\n', evStart);
      if (end < 0) break;
      if (carriesContent(text.slice(evStart, end))) {
        const t = timeAt(s, streamOffset(end + 1));
        res.firstContentNs ??= t;
        res.lastContentNs = t;
      }
      evStart = end + 2;
    }
    at = p;
  }
  return out;
}
