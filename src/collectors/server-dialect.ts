/**
 * What a server dialect is (src/collectors/server-dialects.ts registers
 * them): which metric of one LLM server means which normalised figure. For
 * every figure the alternatives are tried in order; the first that is present
 * wins (newer name first, older name after). An empty list: the server does
 * not expose it.
 */

/** One metric, optionally only its samples whose labels equal `match`. */
export interface Source {
  name: string;
  match?: Readonly<Record<string, string>>;
}

/** A ratio computed from two gauges (Triton KV blocks used / max). */
export interface RatioSource {
  num: Source;
  den: Source;
}

/** A mean from two cumulative values: Δsum / Δcount over the scrape interval. */
export interface MeanSource {
  sum: string;
  count: string;
}

export interface DialectSpec<N extends string = string> {
  /** The name `collectors.server.dialect` forces it by and `llmsoak_server_info{dialect}` carries. */
  name: N;
  /** The server, for docs and messages, e.g. "vLLM (v1; v0 names as fallbacks)". */
  summary: string;
  /** Metric-name prefixes that identify the server. */
  prefixes: readonly string[];
  /** Label carrying the model name, if the server labels by model. */
  modelLabel?: string;
  /** Gauges, summed over label sets of one model. */
  waiting: readonly Source[];
  running: readonly Source[];
  /** Ratio 0–1, the MAX over label sets of one model (the fullest engine). */
  kvUsage: ReadonlyArray<Source | RatioSource>;
  /** Counters (or histogram _sum series, which are cumulative too). */
  preemptions: readonly Source[];
  promptTokens: readonly Source[];
  generationTokens: readonly Source[];
  ttft: readonly MeanSource[];
  itl: readonly MeanSource[];
  /** Prefix-cache hits and queries counters (hit ratio = Δhits / Δqueries). */
  prefixCache: ReadonlyArray<{ hits: string; queries: string }>;
  /** A hit-rate gauge the server computes itself (0–1), averaged over label sets. */
  prefixCacheGauge: readonly Source[];
}

/** A histogram's mean over an interval: Δ<base>_sum / Δ<base>_count. */
export const hist = (base: string): MeanSource => ({ sum: `${base}_sum`, count: `${base}_count` });
