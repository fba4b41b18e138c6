/**
 * Spike: a base rate (baseline measured), a sudden multiple of it for a short
 * time, then the base rate again while watching how long latency takes to
 * come back. Latency is compared the same way before and after: the p99 over
 * sliding windows of `windowSec` (TTFT when requests stream, else E2E). The
 * baseline level is the 90th percentile of the baseline's window p99s;
 * recovered = the first window after the spike whose p99 is within
 * `recoveryTolerance` (10 %) or `recoveryToleranceMs` (5 ms) of it, whichever
 * is larger: a p99 over one window of a few requests moves by a few ms with
 * the host's scheduling alone, and 10 % of a 20 ms TTFT (2 ms) is inside that.
 */
import { HdrTotal } from '../metrics/hdr-window.js';
import type { Meter } from '../metrics/recorder.js';
import type { Plot, Report, Spike } from '../report/model.js';
import type { SpikeModeConfig } from '../config/mode-spike.js';
import { buildReport } from './report.js';
import { applyLoad, beginHold, endHold, fmtLoad, msLeft, sleep, startRun, type MeasuredStep, type ModeHost } from './runner.js';

/** A window needs this many requests to count. */
const MIN_WINDOW_COUNT = 5;

/** Sliding-window p99 from a ring of meter slices (only the newest is attached to the recorder). */
class SlidingWindow {
  private readonly slices: Meter[] = [];
  private cur = 0;
  private readonly merged = new HdrTotal();
  private filled = 0;

  constructor(
    private readonly host: ModeHost,
    n: number,
  ) {
    for (let i = 0; i < n; i++) {
      const m = host.openMeter();
      host.closeMeter(m);
      this.slices.push(m);
    }
    this.restart();
  }

  /** Forget everything; the next window holds only what ends from now on. */
  restart(): void {
    for (const m of this.slices) {
      this.host.closeMeter(m);
      m.reset(this.host.clock.wallMs());
    }
    this.cur = 0;
    this.filled = 1;
    this.host.attachMeter(this.slices[0] as Meter);
  }

  /** Move to the next slice (the oldest is dropped). */
  rotate(): void {
    this.host.closeMeter(this.slices[this.cur] as Meter);
    this.cur = (this.cur + 1) % this.slices.length;
    const next = this.slices[this.cur] as Meter;
    next.reset(this.host.clock.wallMs());
    this.host.attachMeter(next);
    this.filled = Math.min(this.slices.length, this.filled + 1);
  }

  /** p99 over the live slices (TTFT, or E2E when nothing streamed), or undefined with too few requests. */
  p99(useTtft: boolean): { p99: number; count: number } | undefined {
    this.merged.reset();
    for (let i = 0; i < this.filled; i++) {
      const m = this.slices[(this.cur - i + this.slices.length) % this.slices.length] as Meter;
      this.merged.add(useTtft ? m.hdr.ttft : m.hdr.e2e);
    }
    const count = this.merged.count();
    if (count < MIN_WINDOW_COUNT) return undefined;
    return { p99: this.merged.percentile(0.99) ?? 0, count };
  }

  close(): void {
    for (const m of this.slices) this.host.closeMeter(m);
  }
}

/** The q-quantile of a list (nearest rank). */
function quantile(xs: number[], q: number): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

export async function runSpike(host: ModeHost, cfg: SpikeModeConfig): Promise<Report> {
  const run = startRun(host);
  const sliceSec = Math.min(1, cfg.windowSec);
  const window = new SlidingWindow(host, Math.max(1, Math.round(cfg.windowSec / sliceSec)));
  const points: [number, number][] = [];
  const failures: string[] = [];
  const steps: MeasuredStep[] = [];
  const spikeRate = cfg.baseRate * cfg.multiple;
  let useTtft = true;

  /** Hold the current load for `sec`, sampling the window every slice; returns each sample's p99. */
  const watch = async (sec: number, onSample?: (p99: number, atNs: bigint) => boolean): Promise<number[]> => {
    const out: number[] = [];
    const leftMs = msLeft(host, sec);
    while (!host.signal.aborted) {
      const left = leftMs();
      if (left <= 0) break;
      await sleep(host, Math.min(sliceSec * 1000, left));
      const w = window.p99(useTtft);
      window.rotate();
      if (w === undefined) continue;
      const at = host.clock.wallMs();
      points.push([at, Number(w.p99.toFixed(6))]);
      out.push(w.p99);
      if (onSample?.(w.p99, host.clock.monoNs()) === true) break;
    }
    return out;
  };

  host.setActivity(`spike: warm-up at ${fmtLoad({ rate: cfg.baseRate })}`);
  applyLoad(host, { label: 'base', rate: cfg.baseRate });
  await sleep(host, cfg.warmupSec * 1000);

  host.setActivity(`spike: baseline at ${fmtLoad({ rate: cfg.baseRate })}`);
  window.restart();
  let hold = beginHold(host, run.stepMeter);
  const baselineP99s = await watch(cfg.baselineSec);
  const baseline = await endHold(host, hold, { label: `baseline ${fmtLoad({ rate: cfg.baseRate })}`, rate: cfg.baseRate }, 0);
  steps.push(baseline);
  useTtft = baseline.result.ttft.count > 0;
  if (!useTtft) {
    // Nothing streamed: the windows so far were TTFT; the baseline level comes from E2E of the whole baseline.
    baselineP99s.length = 0;
    if (baseline.result.e2e.count > 0) baselineP99s.push(baseline.result.e2e.p99);
  }
  const level = quantile(baselineP99s, 0.9) ?? (useTtft ? baseline.result.ttft.p99 : baseline.result.e2e.p99);
  const threshold = Math.max(level * (1 + cfg.recoveryTolerance), level + cfg.recoveryToleranceMs / 1000);

  host.setActivity(`spike: ${fmtLoad({ rate: spikeRate })} for ${cfg.spikeSec} s`);
  applyLoad(host, { label: 'spike', rate: spikeRate });
  const spikeStartMs = host.clock.wallMs();
  hold = beginHold(host, run.stepMeter);
  await watch(cfg.spikeSec);
  steps.push(await endHold(host, hold, { label: `spike ${fmtLoad({ rate: spikeRate })}`, rate: spikeRate }, 1));

  host.setActivity(`spike: recovery at ${fmtLoad({ rate: cfg.baseRate })}`);
  applyLoad(host, { label: 'after', rate: cfg.baseRate });
  const spikeEndNs = host.clock.monoNs();
  window.restart();
  hold = beginHold(host, run.stepMeter);
  const recovered: { sec: number | null } = { sec: null };
  await watch(cfg.afterSec, (p99, atNs) => {
    if (recovered.sec === null && p99 <= threshold) recovered.sec = Number((Number(atNs - spikeEndNs) / 1e9).toFixed(3));
    return false;
  });
  const recoverySec = recovered.sec;
  steps.push(await endHold(host, hold, { label: `after ${fmtLoad({ rate: cfg.baseRate })}`, rate: cfg.baseRate }, 2));
  window.close();

  if (!baseline.result.sloMet) failures.push(`the baseline at ${fmtLoad({ rate: cfg.baseRate })} already breaks the SLOs: ${baseline.failures.join('; ')}`);
  if (recoverySec === null) failures.push(`latency did not come back to within ${fmtSec(threshold - level)} of baseline (p99 ${fmtSec(level)}) within ${cfg.afterSec} s after the spike`);
  else if (cfg.maxRecoverySec !== undefined && recoverySec > cfg.maxRecoverySec) failures.push(`recovery took ${recoverySec} s, more than the allowed ${cfg.maxRecoverySec} s`);
  const end = await run.finish();
  if (host.signal.aborted) failures.push('stopped before the spike run ended');
  const spike: Spike = {
    startedAt: new Date(spikeStartMs).toISOString(),
    baseRate: cfg.baseRate,
    multiple: cfg.multiple,
    spikeSec: cfg.spikeSec,
    recoverySec,
    recoveryThresholdSec: Number(threshold.toFixed(6)),
  };
  const plot: Plot = { name: `${useTtft ? 'TTFT' : 'E2E'} p99 (${cfg.windowSec} s windows)`, unit: 'seconds', points };
  return buildReport(host, {
    kind: 'spike',
    startedAtMs: run.startedAtMs,
    endedAtMs: end.endedAtMs,
    durationSec: end.durationSec,
    parameters: { ...cfg, baselineP99Sec: Number(level.toFixed(6)), recoveryThresholdSec: Number(threshold.toFixed(6)) },
    meter: run.meter,
    steps: steps.map((m) => m.result),
    spike,
    timeseries: points.length > 0 ? [plot] : [],
    events: run.events,
    failures,
  });
}

function fmtSec(s: number): string {
  return s < 1 ? `${Math.round(s * 1000)} ms` : `${Number(s.toPrecision(3))} s`;
}
