/**
 * Public types shared between modules. Modules talk through these, never
 * through each other's internals (see DESIGN.md).
 */

export type Endpoint = 'chat' | 'completions' | 'embeddings' | 'moderations';

/**
 * How a request failed. Every request ends as exactly one record; `ok` or one
 * of these.
 * - connect: TCP/TLS connect failed or was refused
 * - timeout_connect / timeout_headers / timeout_idle / timeout_total: which phase ran out
 *   (headers = the TTFT limit, idle = a stall between chunks, total = whole request)
 * - http_429, http_4xx, http_5xx: the status the server answered with
 * - stream_cut: the connection closed or reset after the response started (partial tokens kept)
 * - malformed: a body or SSE event that is not what the API promises
 * - empty: a 200 with no content at all
 * - cancelled: llmsoak itself cancelled it (shutdown past the grace deadline)
 */
export type ErrorClass =
  | 'connect'
  | 'timeout_connect'
  | 'timeout_headers'
  | 'timeout_idle'
  | 'timeout_total'
  | 'http_429'
  | 'http_4xx'
  | 'http_5xx'
  | 'stream_cut'
  | 'malformed'
  | 'empty'
  | 'cancelled';

export const ERROR_CLASSES: readonly ErrorClass[] = [
  'connect',
  'timeout_connect',
  'timeout_headers',
  'timeout_idle',
  'timeout_total',
  'http_429',
  'http_4xx',
  'http_5xx',
  'stream_cut',
  'malformed',
  'empty',
  'cancelled',
];

export type Outcome = 'ok' | ErrorClass;

/** One per finished request, success or not. All instants are monotonic ns. */
export interface RequestRecord {
  id: string;
  scenario: string;
  endpoint: Endpoint;
  model: string;
  stream: boolean;
  /** Open-loop intended send time. */
  scheduledAt: bigint;
  sentAt: bigint;
  /** First chunk carrying content, reasoning content or a tool-call delta. */
  firstTokenAt?: bigint;
  /** Last content chunk. */
  lastTokenAt?: bigint;
  /** Stream close / response end. */
  endedAt: bigint;
  /** Every gap between content chunks, ns. */
  tokenGapsNs: number[];
  /** Number of content-bearing chunks. */
  contentChunks: number;
  inputTokens: number;
  outputTokens: number;
  tokenSource: 'usage' | 'tokenizer';
  /** Tokenizer count of the output when usage was also present (for the usage/tokenizer gap). */
  tokenizerOutputTokens?: number;
  outcome: Outcome;
  httpStatus?: number;
  /**
   * A failure in the server's own words (status line and the start of the
   * body) or the transport's (the error's message); secrets scrubbed, at most
   * 300 characters (src/traffic/error-detail.ts). Absent when ok.
   */
  errorDetail?: string;
  /** Server-reported timings when the target sends them (the simulator does). */
  serverTimings?: ServerTimings;
  /** W3C trace id (32 hex) of the `traceparent` this request carried. */
  traceId?: string;
  /** Where its time went on the wire, ns per phase (src/tracing/wire-phases.ts). */
  phases?: RequestPhases;
  /** Chosen for the request log; its latencies carry its trace id as an exemplar. */
  sampled?: boolean;
}

/** A request's phases, in order; dns, connect and tls only for a request that opened a connection. */
export const REQUEST_PHASES = ['dns', 'connect', 'tls', 'request_sent', 'headers', 'first_token', 'last_token', 'close'] as const;
export type RequestPhase = (typeof REQUEST_PHASES)[number];
/** ns per phase; a phase not reached is absent. */
export type RequestPhases = Partial<Record<RequestPhase, number>>;

/** Ground truth the simulator reports per request (llama.cpp-style `timings`). */
export interface ServerTimings {
  /** Time spent waiting for a slot / KV, ms. */
  queue_ms: number;
  /** Server-side time from request arrival to first token written, ms. */
  ttft_ms: number;
  /** Every gap between token writes, ms. */
  itl_ms: number[];
  prompt_tokens: number;
  completion_tokens: number;
  preemptions: number;
}
