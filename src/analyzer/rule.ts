/**
 * The rule contract (as Prometheus' rules): a rule evaluates at a time given
 * to it, through a SeriesSource only; it never does I/O of its own, never
 * reads the clock, and never calls a notifier. It returns the findings whose
 * condition holds now, or says which inputs it lacked ("insufficient data").
 */
import type { Finding, Severity } from './hint.js';
import type { SeriesSource } from './source.js';
import type { ErrorClass } from '../types.js';

/** Thresholds of the built-in rule pack (config `analyzer.thresholds`); what each means: THRESHOLD_DESCRIPTIONS. */
export interface Thresholds {
  kvUsageRatio: number;
  errorRatio: number;
  minRequests: number;
  queueWaiting: number;
  cpuBoundCores: number;
  gpuBusyRatio: number;
  latencyIncrease: number;
  alpha: number;
  leakMiBPerHour: number;
  leakMinGrowthMiB: number;
  leakR2: number;
  scheduleLagP99Sec: number;
  eventLoopLagP99Sec: number;
  dramActiveRatio: number;
  tensorActiveRatio: number;
  qualityDrop: number;
}

/** What each threshold means: the config reference (docs/configuration.md) is generated from these. */
export const THRESHOLD_DESCRIPTIONS: Record<keyof Thresholds, string> = {
  kvUsageRatio: 'KV-cache usage ratio above which the cache is "full".',
  errorRatio: 'Error share of requests in the window above which errors are a storm.',
  minRequests: 'Fewest requests in the window before an error ratio means anything.',
  queueWaiting: 'Mean waiting requests on the server above which a queue is "growing".',
  cpuBoundCores: 'Target process CPU, in cores, at or above which a single-threaded frontend is saturated.',
  gpuBusyRatio: 'GPU utilisation below which the GPU is "not the bottleneck".',
  latencyIncrease: 'Latency increase over the baseline (relative, 0.2 = +20%) before it counts.',
  alpha: 'Significance level of the degradation test (Mann–Whitney).',
  leakMiBPerHour: 'Leak: smallest slope worth a hint, MiB per hour.',
  leakMinGrowthMiB:
    'Leak of memory (RSS, GPU memory): smallest rise over the window worth a hint, MiB. Below it a steep but short rise is a runtime sizing its heap (a fresh Node process grew ~3-20 MB in its first minute with nothing leaking) or one GC cycle; over the default 6 h window the slope threshold asks for far more.',
  leakR2: 'Leak: goodness of fit (R²) of the robust line at or above which the rise is a trend, not noise.',
  scheduleLagP99Sec: "Generator bound: llmsoak's own schedule lag p99 above this, s.",
  eventLoopLagP99Sec: "Generator bound: llmsoak's own event-loop lag p99 above this, s.",
  dramActiveRatio: 'GPU: DRAM bandwidth active ratio at or above which decode is bandwidth-bound.',
  tensorActiveRatio: 'GPU: tensor active ratio at or above which prefill is compute-bound.',
  qualityDrop: 'Quality score drop from its baseline that counts as drift (absolute, 0..1).',
};

export const DEFAULT_THRESHOLDS: Thresholds = {
  kvUsageRatio: 0.9,
  errorRatio: 0.05,
  minRequests: 20,
  queueWaiting: 2,
  cpuBoundCores: 0.8,
  gpuBusyRatio: 0.5,
  latencyIncrease: 0.3,
  alpha: 0.001,
  leakMiBPerHour: 50,
  leakMinGrowthMiB: 16,
  leakR2: 0.8,
  scheduleLagP99Sec: 0.05,
  eventLoopLagP99Sec: 0.1,
  dramActiveRatio: 0.7,
  tensorActiveRatio: 0.7,
  qualityDrop: 0.1,
};

/** Latency figures captured after warm-up, for degradation and network rules. */
export interface Baseline {
  /** When it was captured (unix ms). */
  capturedAt: number;
  /** Per-step medians over the baseline period, s, by figure. */
  samples: Record<BaselineFigure, number[]>;
  /** Quality score per suite at baseline. */
  quality: Record<string, number>;
  /** Client TTFT median minus server TTFT mean at baseline, s (network rule). */
  clientServerTtftGapSec?: number;
  /** Server-side TTFT mean at baseline, s (network rule: "server flat"). */
  serverTtftSec?: number;
}
/** E2E is left out on purpose: it follows the output-length mix, not the server; TPOT is length-normalised. */
export type BaselineFigure = 'ttft' | 'itl' | 'tpot';

/** The server's own words for failures (src/failures/samples.ts), read by the error-storm rule as evidence. */
export interface FailureMessages {
  /** The most frequent message of a class among those seen since `sinceMs` (unix ms). */
  top(cls: ErrorClass, sinceMs: number): { scenario: string; message: string; count: number } | undefined;
}

export interface RuleContext {
  src: SeriesSource;
  now: Date;
  /** Window most rules look back over, s. */
  windowSec: number;
  /** Window of leak trends, s. */
  leakWindowSec: number;
  /** Start of the run (unix ms); data before runStart + warmupSec is warm-up. */
  runStartMs: number;
  warmupSec: number;
  thresholds: Thresholds;
  /** Undefined until captured after warm-up. */
  baseline: Baseline | undefined;
  /** Failure messages, when this process sends the traffic (absent: rules go without them). */
  failures?: FailureMessages;
  /** Host memory total, bytes, when known (projections). */
}

export type RuleOutcome = { status: 'ok'; findings: Finding[] } | { status: 'insufficient data'; missing: string[] };

export interface Rule {
  readonly id: string;
  readonly severity: Severity;
  /** Condition must hold this long before the hint fires, s. */
  readonly forSec: number;
  /** Keep firing this long after the condition clears, s. */
  readonly keepFiringForSec?: number;
  /** One line: what the rule recognises. */
  readonly description: string;
  evaluate(ctx: RuleContext): Promise<RuleOutcome>;
}

export const ok = (findings: Finding[] = []): RuleOutcome => ({ status: 'ok', findings });
export const insufficient = (...missing: string[]): RuleOutcome => ({ status: 'insufficient data', missing });

/** Round for evidence: 4 significant digits. */
export function r4(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  return Number(x.toPrecision(4));
}
