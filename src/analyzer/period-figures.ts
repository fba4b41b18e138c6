/**
 * Before/after figures of a target change: what users felt over a window
 * before the change and over the same window after it, read from recorder
 * meters (the recorder is the only writer of traffic figures; nothing here
 * re-derives them from requests).
 *
 * "Before" needs figures of the past, so a few slice meters rotate all the
 * time (SliceMeters): the before-window is the most recent completed slices
 * that ended before the old identity was last confirmed, so requests that
 * failed while the target was down between two observations are not counted
 * as "before". Its resolution is one slice (window / 4): the figures say
 * which interval they cover.
 */
import { HdrTotal } from '../metrics/hdr-window.js';
import type { Meter } from '../metrics/recorder.js';
import type { PeriodFigures } from './events.js';

/** The recorder's meters (src/metrics/recorder.ts). */
export interface MeterSource {
  openMeter(): Meter;
  attachMeter(m: Meter): void;
  closeMeter(m: Meter): void;
}

const FIGS = ['ttft', 'itl', 'e2e'] as const;
const r6 = (x: number): number => Number(x.toFixed(6));

/** Requests, req/s, error rate and TTFT/ITL/E2E p50/p99 of the requests that ended in [fromMs, toMs] (what `meters` saw). */
export function periodFigures(meters: readonly Meter[], fromMs: number, toMs: number): PeriodFigures {
  let requests = 0;
  let ok = 0;
  const out: PeriodFigures = {
    from: new Date(fromMs).toISOString(),
    to: new Date(toMs).toISOString(),
    durationSec: r6(Math.max(0, toMs - fromMs) / 1000),
    requests: 0,
    rps: 0,
    errorRate: 0,
  };
  for (const m of meters) {
    requests += m.totals.requests;
    ok += m.totals.ok;
  }
  for (const f of FIGS) {
    const h = new HdrTotal();
    for (const m of meters) h.add(m.hdr[f]);
    const p50 = h.percentile(0.5);
    const p99 = h.percentile(0.99);
    if (p50 !== undefined && p99 !== undefined) out[f] = { p50: r6(p50), p99: r6(p99) };
  }
  out.requests = requests;
  out.rps = out.durationSec > 0 ? r6(requests / out.durationSec) : 0;
  out.errorRate = requests > 0 ? r6((requests - ok) / requests) : 0;
  return out;
}

interface Slice {
  meter: Meter;
  startMs: number;
  endMs: number;
}

/**
 * `keep` completed slices of `sliceMs` each, plus the one filling now. The
 * owner calls rotate() every slice (one meter reset, no allocation once the
 * ring is full). About 1 MB of histograms per meter.
 */
export class SliceMeters {
  private readonly done: Slice[] = [];
  private current: Meter;
  private currentStartMs: number;

  /** The slices of the window before this time are kept (see rotate). */
  private heldUntilMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly src: MeterSource,
    private readonly keep: number,
    nowMs: number,
    /** The before-window, ms: the slices covering it before the time held are kept. */
    private readonly windowMs: number,
  ) {
    this.current = src.openMeter();
    this.currentStartMs = nowMs;
  }

  /**
   * A change found later may read its "before" up to `untilMs` (the oldest
   * time the target's identity was last seen, of all it is watched by): keep
   * the slices of the window before it.
   */
  holdBefore(untilMs: number): void {
    this.heldUntilMs = untilMs;
  }

  /**
   * Close the slice filling now and start the next. When the ring is full the
   * oldest slice goes, unless it is in the before-window held (holdBefore):
   * then the oldest slice after that goes. While the target is down (a
   * redeploy that loads a model for minutes) its identity is not seen, the
   * time held stays before the downtime, and those figures survive however
   * long it lasts, in the same `keep` meters.
   */
  rotate(nowMs: number): void {
    this.src.closeMeter(this.current);
    this.done.push({ meter: this.current, startMs: this.currentStartMs, endMs: nowMs });
    let next: Meter;
    if (this.done.length > this.keep) {
      const held = new Set(this.pick(this.heldUntilMs, this.windowMs));
      const victim = this.done.findIndex((s) => !held.has(s));
      next = (this.done.splice(Math.max(0, victim), 1)[0] as Slice).meter;
      next.reset(nowMs);
      this.src.attachMeter(next);
    } else {
      next = this.src.openMeter();
    }
    this.current = next;
    this.currentStartMs = nowMs;
  }

  /** The latest completed slices that ended at or before `untilMs`, covering up to `windowMs`, oldest first. */
  private pick(untilMs: number, windowMs: number): Slice[] {
    const picked: Slice[] = [];
    let lastEndMs: number | undefined;
    for (let i = this.done.length - 1; i >= 0; i--) {
      const s = this.done[i] as Slice;
      if (s.endMs > untilMs) continue;
      if (lastEndMs === undefined) lastEndMs = s.endMs;
      else if (lastEndMs - s.startMs > windowMs + 1) break;
      picked.unshift(s);
    }
    return picked;
  }

  /** Figures of the latest completed slices that ended at or before `untilMs`, covering up to `windowMs`; undefined when none did. */
  before(untilMs: number, windowMs: number): PeriodFigures | undefined {
    const picked = this.pick(untilMs, windowMs);
    if (picked.length === 0) return undefined;
    return periodFigures(
      picked.map((s) => s.meter),
      (picked[0] as Slice).startMs,
      (picked[picked.length - 1] as Slice).endMs,
    );
  }

  close(): void {
    this.src.closeMeter(this.current);
  }
}
