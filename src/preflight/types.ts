/** What a preflight found: JSON-safe (it is /api/status's `preflight`), rendered by ./table.ts. */
import type { Endpoint, Outcome } from '../types.js';

/** What a chunk or answer carried besides nothing: content, reasoning content, tool-call deltas. */
export type DeltaKind = 'content' | 'reasoning' | 'tool_calls';

/** One small request to one endpoint, streamed or not. */
export interface EndpointProbe {
  endpoint: Endpoint;
  stream: boolean;
  /** Request path, e.g. /v1/chat/completions. */
  path: string;
  outcome: Outcome;
  httpStatus?: number;
  /** The server's words when it failed (scrubbed, short). */
  message?: string;
  /** 404, 405 or 501: the server has no such endpoint. */
  missing: boolean;
  /** Send to end, ms. */
  ms: number;
  /** Generation endpoints: max_tokens asked, whether ignore_eos was sent, and what came back. */
  askedTokens?: number;
  ignoreEos?: boolean;
  outputTokens?: number;
  tokenSource?: 'usage' | 'tokenizer';
  /** Tokenizer count of the text that arrived (beside usage, when usage came). */
  tokenizerTokens?: number;
  deltaKinds?: DeltaKind[];
  /** Content-bearing chunks (a stream). */
  chunks?: number;
}

export interface ModelsProbe {
  ok: boolean;
  httpStatus?: number;
  ids: string[];
  /** Why it failed. */
  message?: string;
  /** A second GET /models on the warm connection, ms: the round trip of a trivial request. */
  rttMs?: number;
}

export interface MetricsProbe {
  url: string;
  /** Detected by the server collector's own rules (src/collectors/server-dialects.ts). */
  dialect?: string;
  /** Metric names found (0 when unreachable). */
  names: number;
  message?: string;
}

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'info';

/** One line of the table. */
export interface PreflightCheck {
  check: string;
  status: CheckStatus;
  detail: string;
}

export interface ScenarioVerdict {
  name: string;
  endpoint: Endpoint;
  stream: boolean;
  /** The probe of its endpoint (and streaming) succeeded. */
  runnable: boolean;
  /** Its endpoint is missing on the target (the onMissingEndpoint policy applies). */
  missing: boolean;
  /** Why not, when not runnable. */
  reason?: string;
  /** What the daemon did with it: run, skipped (policy skip) or kept (policy keep). */
  action?: 'run' | 'skipped' | 'kept';
}

export interface PreflightResult {
  at: string;
  target: string;
  model: string;
  durationMs: number;
  /** Every scenario can run. */
  ok: boolean;
  checks: PreflightCheck[];
  endpoints: EndpointProbe[];
  models: ModelsProbe;
  metrics: MetricsProbe;
  scenarios: ScenarioVerdict[];
  /** One clear line per thing that will not work. */
  problems: string[];
}
