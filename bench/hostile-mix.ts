/**
 * The hostile test server's mix for the memory benches (soak-self, footprint
 * --target=hostile): a third answers well, the rest misbehave in every way
 * test/hostile-server.ts knows (garbage, stalls, resets, cut and endless
 * streams, 10 MB bodies and SSE lines, wrong types, error events, 429/5xx).
 */
import type { startHostileServer } from '../test/hostile-server.js';

export const HOSTILE_SOAK_MIX: Parameters<typeof startHostileServer>[0]['mix'] = {
  ok: 30,
  ok_then_close: 8,
  garbage: 4,
  no_headers: 3,
  stall: 3,
  drip: 2,
  reset: 4,
  cut: 4,
  huge_json: 1,
  huge_sse_line: 1,
  endless: 2,
  wrong_type: 4,
  bad_json: 4,
  error_event: 4,
  http_429: 10,
  http_500: 4,
  http_503: 4,
};
