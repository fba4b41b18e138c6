/**
 * What the live status page at `/` shows: a short, bounded history of rate,
 * p99 TTFT and error rate (one point every few seconds from a recorder meter
 * read and reset each time), and the StatusInput built from the recorder's
 * rolling windows, the analyzer's hints and the report listing.
 */
import type { Clock } from '../clock.js';
import type { Hint } from '../analyzer/hint.js';
import type { Meter, Recorder } from '../metrics/recorder.js';
import type { HdrSnapshot } from '../metrics/hdr-window.js';
import type { ReportListing } from './write.js';
import type { StatusInput, WindowFigure, WindowFigures } from './status-page.js';
import type { FailureEntry, HintEntry } from './model.js';

export interface HistoryPoint {
  t: number;
  rps: number;
  p99TtftSec: number;
  errorRate: number;
}

/** Fixed-size history sampled every `stepMs` (default 5 s, 720 points = 1 h). */
export class LiveHistory {
  private readonly points: HistoryPoint[] = [];
  private timer: NodeJS.Timeout | undefined;
  private meter: Meter | undefined;
  private lastNs = 0n;

  constructor(
    private readonly recorder: Recorder,
    private readonly clock: Clock,
    private readonly stepMs = 5000,
    private readonly capacity = 720,
  ) {}

  start(): void {
    if (this.timer) return;
    this.meter = this.recorder.openMeter();
    this.lastNs = this.clock.monoNs();
    this.timer = setInterval(() => this.sample(), this.stepMs);
    this.timer.unref();
  }

  /** Take one point now (also called by the interval). */
  sample(): void {
    const m = this.meter;
    if (!m) return;
    const now = this.clock.monoNs();
    const sec = Number(now - this.lastNs) / 1e9;
    this.lastNs = now;
    const t = m.totals;
    this.points.push({
      t: this.clock.wallMs(),
      rps: sec > 0 ? Number((t.requests / sec).toFixed(4)) : 0,
      p99TtftSec: Number((m.hdr.ttft.percentile(0.99) ?? 0).toFixed(6)),
      errorRate: t.requests > 0 ? Number(((t.requests - t.ok) / t.requests).toFixed(5)) : 0,
    });
    if (this.points.length > this.capacity) this.points.splice(0, this.points.length - this.capacity);
    m.reset(this.clock.wallMs());
  }

  /** Points, oldest first; within [fromMs, toMs] when given. */
  history(fromMs = -Infinity, toMs = Infinity): HistoryPoint[] {
    return this.points.filter((p) => p.t >= fromMs && p.t <= toMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.meter) this.recorder.closeMeter(this.meter);
    this.meter = undefined;
  }
}

function windowFigures(s: HdrSnapshot): WindowFigures {
  return { count: s.count, p50: s.p50, p90: s.p90, p99: s.p99, max: s.max, mean: s.mean };
}

export function hintEntry(h: Hint): HintEntry {
  return {
    rule: h.rule,
    severity: h.severity,
    cause: h.cause,
    summary: h.summary,
    suggestion: h.suggestion,
    evidence: { ...h.evidence },
    state: h.state,
    activeAt: h.activeAt.toISOString(),
    ...(h.firedAt !== undefined ? { firedAt: h.firedAt.toISOString() } : {}),
    ...(h.resolvedAt !== undefined ? { resolvedAt: h.resolvedAt.toISOString() } : {}),
  };
}

/** The status page's input from the daemon's parts. */
export function statusInput(p: {
  version: string;
  startedAtMs: number;
  nowMs: number;
  target: { url: string; model: string; embedded: boolean };
  mode: string;
  targetRate: number;
  recorder: Recorder;
  windowMs: number;
  hints: Hint[];
  reports: ReportListing[];
  history: HistoryPoint[];
  /** Failures in the server's own words (src/failures/). */
  failures?: FailureEntry[];
}): StatusInput {
  const snap = p.recorder.snapshot();
  const window = {} as Record<WindowFigure, WindowFigures>;
  for (const k of Object.keys(snap.window) as WindowFigure[]) window[k] = windowFigures(snap.window[k]);
  const errors: Record<string, number> = {};
  for (const [k, v] of Object.entries(snap.totals.errors)) if (v !== undefined) errors[k] = v;
  // Achieved rate over the last minute of history (one point alone is too noisy at low rates).
  const recent = p.history.slice(-12);
  const achieved = recent.length > 0 ? recent.reduce((a, h) => a + h.rps, 0) / recent.length : undefined;
  return {
    version: p.version,
    startedAt: new Date(p.startedAtMs).toISOString(),
    now: new Date(p.nowMs).toISOString(),
    target: p.target,
    mode: p.mode,
    targetRate: p.targetRate,
    ...(achieved !== undefined ? { achievedRps: Number(achieved.toFixed(4)) } : {}),
    inFlight: snap.inFlight,
    windowSec: p.windowMs / 1000,
    window,
    totals: { ...snap.totals, errors },
    hints: p.hints.filter((h) => h.state !== 'resolved').map(hintEntry),
    reports: p.reports.slice(0, 20).map((r) => ({ name: r.name, kind: r.kind, startedAt: r.startedAt, pass: r.verdict.pass })),
    history: p.history,
    ...(p.failures !== undefined && p.failures.length > 0 ? { failures: p.failures } : {}),
  };
}
