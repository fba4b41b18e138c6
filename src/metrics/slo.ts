/** slo.*: the per-request SLOs (goodput) and the modes' pass criteria; the recorder and the modes read them. */
export interface SloConfig {
  ttftMs: number;
  tpotMs: number;
  e2eMs: number;
  /** Modes: largest share of failed requests a step (or run) may have. */
  maxErrorRate: number;
  /** Modes: smallest share of requests meeting every per-request SLO. */
  minGoodRatio: number;
  /** Modes, open loop: completions per second at least this share of the asked rate. */
  minAchievedRatio: number;
}
