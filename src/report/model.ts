/**
 * The report: one JSON-safe object per run (soak, ramp, sweep, spike,
 * capacity surface, bench), complete and machine-readable. The Markdown and
 * HTML renderers read only this; `llmsoak compare` reads two of them.
 * All durations in seconds, rates per second, times ISO 8601.
 */

/** Percentiles of one figure over a period (from HDR histograms), seconds. */
export interface Figures {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

/** Declared by the analyzer, which finds them; every report carries them. */
import type { IncidentEntry, RunEvent } from '../analyzer/events.js';
export type { IncidentEntry, PeriodFigures, RunEvent } from '../analyzer/events.js';

/**
 * Every kind of run a report can be of, with its title. Each mode
 * (src/modes/registry.ts) is one of these; a report written by an older or
 * newer llmsoak is read only when its kind is listed.
 */
export const RUN_KIND_TITLES = { soak: 'Soak', ramp: 'Stress ramp', sweep: 'Sweep', spike: 'Spike', surface: 'Capacity surface' } as const;
export type RunKind = keyof typeof RUN_KIND_TITLES;
export const RUN_KINDS: ReadonlySet<string> = new Set(Object.keys(RUN_KIND_TITLES));

/** One held load level of a ramp, sweep, spike or surface point; warm-up and cool-down excluded. */
export interface StepResult {
  index: number;
  /** Human label, e.g. "40 req/s" or "c=16, in=2000". */
  label: string;
  /** Asked-for open-loop rate, req/s (absent in closed loop). */
  targetRate?: number;
  /** Closed-loop users / concurrency (absent in open loop). */
  concurrency?: number;
  /** Prompt tokens per request at this point (capacity surface). */
  inputTokens?: number;
  startedAt: string;
  /** Measured part of the step, s. */
  durationSec: number;
  requests: number;
  ok: number;
  achievedRps: number;
  goodputRps: number;
  /** Errors by class during the step. */
  errors: Record<string, number>;
  /** (requests - ok) / requests. */
  errorRate: number;
  outputTokensPerSec: number;
  ttft: Figures;
  itl: Figures;
  tpot: Figures;
  e2e: Figures;
  scheduleLag: Figures;
  /** Mean GPU utilisation 0..1 during the step, when a GPU was seen. */
  gpuUtilization?: number;
  /** Server-side means during the step, when the target exposes them. */
  server?: { waiting?: number; running?: number; kvCacheUsage?: number; preemptions?: number };
  /** Every SLO held (goodput share, error threshold) at this step. */
  sloMet: boolean;
}

export interface Knee {
  /** Highest rate (or concurrency) at which every SLO held. */
  value: number;
  unit: 'req/s' | 'concurrency';
  /** Why the next level failed, e.g. "TTFT p99 3.2 s > SLO 2 s". */
  reason: string;
  /** Likely cause named by the analyzer (a hint's cause), when there was one. */
  cause?: string;
}

export interface Surface {
  concurrency: number[];
  inputTokens: number[];
  /** [concurrency index][input index], seconds; null = not measured. */
  p99TtftSec: (number | null)[][];
  p99E2eSec: (number | null)[][];
  withinSlo: (boolean | null)[][];
}

export interface Spike {
  /** When the spike began. */
  startedAt?: string;
  baseRate: number;
  multiple: number;
  spikeSec: number;
  /** Seconds from the end of the spike until p99 latency is back within the recovery margin of baseline; null = never. */
  recoverySec: number | null;
  /** The window p99 that counted as recovered, s: the baseline level plus the larger of recoveryTolerance and recoveryToleranceMs. Absent in reports of older versions. */
  recoveryThresholdSec?: number;
}

export interface TrendEntry {
  /** Series selector, e.g. llmsoak_target_process_resident_memory_bytes{process="vllm"} */
  series: string;
  unit: string;
  start: number;
  end: number;
  peak: number;
  slopePerHour: number;
  r2: number;
  verdict: 'stable' | 'increasing' | 'decreasing' | 'insufficient data';
  projectedExhaustionSec?: number;
}

export interface HintEntry {
  rule: string;
  severity: 'info' | 'warning' | 'critical';
  cause: string;
  summary: string;
  suggestion: string;
  evidence: Record<string, number | string>;
  state: 'pending' | 'firing' | 'resolved';
  activeAt: string;
  /** When it went from pending to firing (absent while pending). */
  firedAt?: string;
  resolvedAt?: string;
}

/** A time series to chart, with an optional fitted trend line. */
export interface Plot {
  name: string;
  unit: string;
  /** [unix ms, value] */
  points: [number, number][];
  /** Fitted line: value = intercept + slopePerHour × (t − fromMs) / 3.6e6 (intercept is the value at fromMs). */
  fit?: { slopePerHour: number; intercept: number; fromMs: number };
}

/**
 * A failure in the server's own words (src/failures/samples.ts): per scenario
 * and error class, the first distinct messages, scrubbed and cut short.
 */
export interface FailureEntry {
  scenario: string;
  class: string;
  /** Status line and start of the body, or the transport's message. */
  message: string;
  /** Failures with this message since llmsoak started. */
  count: number;
  firstAt: string;
  lastAt: string;
  /** The line counting failures whose message was not kept (caps reached). */
  other?: true;
}

export interface Report {
  kind: RunKind;
  version: string;
  startedAt: string;
  endedAt: string;
  durationSec: number;
  /** Target without credentials. */
  target: { url: string; model: string; embedded: boolean };
  parameters: Record<string, unknown>;
  slo: { ttftMs: number; tpotMs: number; e2eMs: number; maxErrorRate: number };
  totals: { requests: number; ok: number; good: number; dropped: number; errors: Record<string, number>; inputTokens: number; outputTokens: number };
  overall: { ttft: Figures; itl: Figures; tpot: Figures; e2e: Figures; corrected: Figures; scheduleLag: Figures };
  steps: StepResult[];
  knee?: Knee;
  surface?: Surface;
  spike?: Spike;
  trends: TrendEntry[];
  hints: HintEntry[];
  events: RunEvent[];
  /** Incidents in the run (absent in older reports). */
  incidents?: IncidentEntry[];
  /** Failures by scenario, class and message, seen during the run (absent in older reports and when none failed). */
  failures?: FailureEntry[];
  timeseries: Plot[];
  /** Pass/fail against the SLOs, for pipelines (`llmsoak bench` exits 1 when false). */
  verdict: { pass: boolean; failures: string[] };
  /** Encoded HDR histograms of the whole run (base64), for `llmsoak compare`. */
  histograms: Record<string, string>;
}
