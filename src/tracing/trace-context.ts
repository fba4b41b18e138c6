/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): every request
 * llmsoak sends carries `traceparent: 00-<trace id>-<span id>-01`, fresh and
 * random, so one request can be followed from a latency spike (an exemplar)
 * to the request log and to the server's own trace when it propagates it.
 */
import { randomFillSync } from 'node:crypto';

/** Random bytes drawn at once: one syscall serves this many / 24 requests. */
const POOL_BYTES = 24 * 512;
const pool = Buffer.alloc(POOL_BYTES);
let offset = POOL_BYTES;

/** `traceparent` header value; `traceId` = its 32 hex characters after `00-`. */
export interface TraceContext {
  traceId: string;
  traceparent: string;
}

const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** A fresh trace: 16 random bytes of trace id, 8 of span (parent) id, flags 01 (sampled). */
export function newTraceContext(): TraceContext {
  if (offset + 24 > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const traceId = pool.toString('hex', offset, offset + 16);
  const spanId = pool.toString('hex', offset + 16, offset + 24);
  offset += 24;
  // All-zero ids are invalid per the spec; with 2^-128 odds, draw again rather than send one.
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return newTraceContext();
  return { traceId, traceparent: `00-${traceId}-${spanId}-01` };
}

/** What a valid version-00 traceparent looks like (lower-case hex, non-zero ids). */
export const TRACEPARENT_RE = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;
