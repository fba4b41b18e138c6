/**
 * What the analyzer finds happening during a run, as reports carry it:
 * target changes with the figures around them, and incidents. Declared here
 * (src/report/model.ts re-exports them), so that the analyzer needs nothing
 * of the reports.
 */

/** What users felt over one period around an event: the requests that ended in it. */
export interface PeriodFigures {
  from: string;
  to: string;
  durationSec: number;
  requests: number;
  /** Requests ended per second. */
  rps: number;
  /** (requests - ok) / requests. */
  errorRate: number;
  /** p50/p99, seconds; absent when no request measured it. */
  ttft?: { p50: number; p99: number };
  itl?: { p50: number; p99: number };
  e2e?: { p50: number; p99: number };
}

/** Something that happened to the target during the run (restart, model change, fault). */
export interface RunEvent {
  at: string;
  kind: string;
  detail: string;
  /** Target changes: the figures over a window before the change (absent in older reports, or with no data before). */
  before?: PeriodFigures;
  /** The same window after it; 'pending' while that window has not passed yet. */
  after?: PeriodFigures | 'pending';
}

/** An incident the analyzer saw: error storm, target down, latency excursion. */
export interface IncidentEntry {
  kind: 'errors' | 'target_down' | 'latency';
  /** The hint's cause (e.g. server_errors, target_unreachable, degradation). */
  cause: string;
  /** First sample where the condition held (looking back from detection). */
  onsetAt: string;
  /** When the hint fired. */
  detectedAt: string;
  /** First sample back within the baseline band (and staying there); absent while open. */
  recoveredAt?: string;
  timeToDetectSec: number;
  timeToRecoverSec?: number;
  /** What was measured, e.g. "error ratio > 0.05 (peak 0.31)". */
  detail: string;
}
