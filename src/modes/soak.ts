/**
 * Soak reports. `llmsoak bench` with mode soak: the configured load for
 * `durationSec` (after a warm-up left out), judged as one long step. A
 * schedule of kind soak (and the final report on stop): a report of the
 * running soak since the last one, from a meter the daemon keeps open
 * (paused while a mode pauses the soak). Both carry the analyzer's trends of
 * the watched gauges over the period, their plots with the fitted lines, and
 * the hints that fired in it (./soak-analysis.ts).
 */
import type { Meter } from '../metrics/recorder.js';
import type { Plot, Report } from '../report/model.js';
import type { SoakModeConfig } from '../config/mode-soak.js';
import { buildReport } from './report.js';
import { msLeft, readMeter, sleep, startRun, stepFromMeter, type ModeHost } from './runner.js';
import type { SoakAnalysis } from './soak-analysis.js';
import { errorMessage } from '../errors.js';

/** The host's analysis of a period; a failure is an event in the report, never a lost report. */
export async function analyseSoak(host: ModeHost, fromMs: number, toMs: number, events: { at: string; kind: string; detail: string }[]): Promise<SoakAnalysis | undefined> {
  if (host.soakAnalysis === undefined) return undefined;
  try {
    return await host.soakAnalysis(fromMs, toMs);
  } catch (err) {
    events.push({ at: new Date(host.clock.wallMs()).toISOString(), kind: 'analysis_failed', detail: `trends and hints left out: ${errorMessage(err)}` });
    return undefined;
  }
}

function soakLabel(load: ModeHost['soakLoad']): string {
  const parts: string[] = [];
  if (load.rate > 0) parts.push(`${load.rate} req/s`);
  if (load.users > 0) parts.push(`${load.users} users`);
  return parts.join(' + ') || 'no load';
}

export async function runSoak(host: ModeHost, cfg: SoakModeConfig): Promise<Report> {
  const load = host.soakLoad;
  host.setActivity(`soak ${soakLabel(load)} (warm-up)`);
  host.setRate(load.rate);
  host.setUsers(load.users, load.thinkTimeMs);
  await sleep(host, cfg.warmupSec * 1000);
  const run = startRun(host);
  host.setActivity(`soak ${soakLabel(load)}`);
  // Points for the charts: one per slice (about 60 over the run, 1–60 s each).
  const sliceSec = Math.min(60, Math.max(1, cfg.durationSec / 60));
  const ttft: [number, number][] = [];
  const rps: [number, number][] = [];
  const slice = run.stepMeter;
  const t0 = host.clock.monoNs();
  const leftMs = msLeft(host, cfg.durationSec);
  for (;;) {
    const left = leftMs();
    if (left <= 0 || host.signal.aborted) break;
    slice.reset(host.clock.wallMs());
    const s0 = host.clock.monoNs();
    await sleep(host, Math.min(sliceSec * 1000, left));
    const sec = Number(host.clock.monoNs() - s0) / 1e9;
    const at = host.clock.wallMs();
    if (slice.hdr.ttft.count() > 0) ttft.push([at, Number((slice.hdr.ttft.percentile(0.99) ?? 0).toFixed(6))]);
    if (sec > 0) rps.push([at, Number((slice.totals.requests / sec).toFixed(4))]);
  }
  const soakSec = Number(host.clock.monoNs() - t0) / 1e9;
  // Judged as one step once what was sent has ended (finish() drains), so sent and ended compare.
  const end = await run.finish();
  const measured = stepFromMeter(host, readMeter(run.meter), { label: `soak ${soakLabel(load)}` }, 0, new Date(run.startedAtMs).toISOString(), soakSec);
  const failures = measured.failures.map((f) => `over the soak: ${f}`);
  if (host.signal.aborted) failures.push('stopped before the soak ended');
  const timeseries: Plot[] = [];
  if (ttft.length > 1) timeseries.push({ name: `TTFT p99 (${Math.round(sliceSec)} s slices)`, unit: 'seconds', points: ttft });
  if (rps.length > 1) timeseries.push({ name: 'Completed requests per second', unit: 'req/s', points: rps });
  const analysis = await analyseSoak(host, run.startedAtMs, end.endedAtMs, run.events);
  if (analysis !== undefined) timeseries.push(...analysis.timeseries);
  return buildReport(host, {
    kind: 'soak',
    startedAtMs: run.startedAtMs,
    endedAtMs: end.endedAtMs,
    durationSec: end.durationSec,
    parameters: { ...cfg, rate: load.rate, users: load.users, thinkTimeMs: load.thinkTimeMs },
    meter: run.meter,
    steps: [],
    timeseries,
    events: run.events,
    ...(analysis !== undefined ? { trends: analysis.trends, hints: analysis.hints } : {}),
    failures,
  });
}

/** A report of the running soak over a period: the daemon's soak meter, `measuredSec` of soaking (pauses left out). */
export function soakPeriodReport(
  host: ModeHost,
  meter: Meter,
  p: { fromMs: number; toMs: number; measuredSec: number; timeseries: Plot[]; parameters: Record<string, unknown>; analysis?: SoakAnalysis; events?: { at: string; kind: string; detail: string }[] },
): Report {
  const load = host.soakLoad;
  // Requests in flight at the edges of the period are not comparable: no keeping-up check here
  // (an overloaded target shows in latency and errors).
  const { sent: _sent, ...snap } = readMeter(meter);
  const m = stepFromMeter(host, snap, { label: 'soak' }, 0, new Date(p.fromMs).toISOString(), p.measuredSec);
  return buildReport(host, {
    kind: 'soak',
    startedAtMs: p.fromMs,
    endedAtMs: p.toMs,
    durationSec: p.measuredSec,
    parameters: { ...p.parameters, rate: load.rate, users: load.users },
    meter,
    steps: [],
    timeseries: [...p.timeseries, ...(p.analysis?.timeseries ?? [])],
    ...(p.analysis !== undefined ? { trends: p.analysis.trends, hints: p.analysis.hints } : {}),
    ...(p.events !== undefined ? { events: p.events } : {}),
    failures: m.failures.map((f) => `over the soak: ${f}`),
  });
}
