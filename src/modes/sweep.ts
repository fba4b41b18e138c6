/**
 * Sweep, as GuideLLM does it, continued to a knee search: a synchronous
 * baseline (one user, closed loop, no think time), the maximum throughput
 * (`maxUsers` users, closed loop), open-loop rates equally spaced between the
 * two, then (when even the maximum held in open loop) a few probes above it,
 * then bisection between the highest rate that held every SLO (with errors
 * under the threshold) and the lowest that did not.
 */
import type { Report } from '../report/model.js';
import type { SweepModeConfig } from '../config/mode-sweep.js';
import { bracket, kneeOf, loadOf } from './ramp.js';
import { buildReport, byLoad } from './report.js';
import { fmtLoad, measureStep, startRun, type LoadSpec, type MeasuredStep, type ModeHost } from './runner.js';

const rateSpec = (r: number, label?: string): LoadSpec => ({ label: label ?? fmtLoad({ rate: r }), rate: r });
const sig = (v: number): number => Number(v.toPrecision(3));
/** Open-loop probes above the measured maximum when everything up to it held. */
const UPWARD_PROBES = 3;

/** The open-loop rates strictly between the synchronous and the maximum rate, equally spaced. */
export function sweepRates(sync: number, max: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 1; i <= n; i++) {
    const r = sig(sync + ((max - sync) * i) / (n + 1));
    if (r > 0 && (out.length === 0 || r > (out[out.length - 1] as number))) out.push(r);
  }
  return out;
}

export async function runSweep(host: ModeHost, cfg: SweepModeConfig): Promise<Report> {
  const run = startRun(host);
  const closed: MeasuredStep[] = [];
  const open: MeasuredStep[] = [];
  const failures: string[] = [];
  const measure = (spec: LoadSpec) => measureStep(host, run.stepMeter, spec, cfg, closed.length + open.length);

  host.setActivity('sweep: synchronous (1 user)');
  const sync = await measure({ label: 'synchronous (1 user)', users: 1, thinkTimeMs: 0 });
  closed.push(sync);
  let knee: ReturnType<typeof kneeOf>['knee'];
  if (!host.signal.aborted) {
    host.setActivity(`sweep: maximum throughput (${cfg.maxUsers} users)`);
    const thr = await measure({ label: `throughput (${cfg.maxUsers} users)`, users: cfg.maxUsers, thinkTimeMs: 0 });
    closed.push(thr);
    const syncRate = sync.result.achievedRps;
    // Rates are the fleet's: maxUsers were shared among the replicas, so the fleet's maximum is about count × this replica's.
    const maxRate = thr.result.achievedRps * (host.replicas?.count ?? 1);
    const rates = maxRate > syncRate ? sweepRates(syncRate, maxRate, cfg.rates) : [];
    for (const [i, r] of rates.entries()) {
      if (host.signal.aborted) break;
      host.setActivity(`sweep: ${fmtLoad({ rate: r })} (${i + 1} of ${rates.length})`);
      open.push(await measure(rateSpec(r)));
    }
    // Nothing failed between: does the maximum rate hold in open loop, and above it? (A short
    // closed-loop hold can under-measure the maximum.) Up to UPWARD_PROBES steps of ×1.25.
    for (let k = 0, r = sig(maxRate); k <= UPWARD_PROBES && r > 0 && !host.signal.aborted && open.every((m) => m.result.sloMet); k++, r = sig(r * 1.25)) {
      host.setActivity(`sweep: ${fmtLoad({ rate: r })} (${k === 0 ? 'maximum' : 'above the maximum'}, open loop)`);
      open.push(await measure(rateSpec(r)));
    }
    // The synchronous rate held as a lower end of the bracket when every open-loop rate failed.
    const floor: MeasuredStep[] = sync.result.sloMet && syncRate > 0 ? [{ ...sync, result: { ...sync.result, targetRate: sig(syncRate) } }] : [];
    for (let k = 0; k < cfg.bisectSteps && !host.signal.aborted; k++) {
      const { lo, hi } = bracket([...floor, ...open]);
      if (lo === undefined || hi === undefined) break;
      const a = loadOf(lo);
      const b = loadOf(hi);
      if ((b - a) / Math.max(a, 1e-9) < cfg.tolerance) break;
      const mid = sig((a + b) / 2);
      if (!(mid > a && mid < b)) break;
      host.setActivity(`sweep: knee search ${fmtLoad({ rate: mid })} (${k + 1} of ${cfg.bisectSteps})`);
      open.push(await measure(rateSpec(mid)));
    }
    if (!sync.result.sloMet) failures.push(`a single user already breaks the SLOs: ${sync.failures.join('; ')}`);
    const k = kneeOf(host, [...floor, ...open], 'req/s');
    knee = k.knee;
    if (sync.result.sloMet) failures.push(...k.failures);
    if (knee !== undefined && cfg.required !== undefined && knee.value < cfg.required) {
      failures.push(`capacity ${fmtLoad({ rate: knee.value })} is below the required ${fmtLoad({ rate: cfg.required })} (${knee.reason})`);
    }
  }
  const end = await run.finish();
  if (host.signal.aborted) failures.push('stopped before the sweep ended');
  return buildReport(host, {
    kind: 'sweep',
    startedAtMs: run.startedAtMs,
    endedAtMs: end.endedAtMs,
    durationSec: end.durationSec,
    parameters: { ...cfg, synchronousRps: sync.result.achievedRps, maxThroughputRps: closed[1]?.result.achievedRps ?? null },
    meter: run.meter,
    // Closed-loop steps first, then the open-loop rates in increasing order (the charts read those).
    steps: [...closed.map((m) => m.result), ...byLoad(open.map((m) => m.result))],
    ...(knee !== undefined ? { knee } : {}),
    events: run.events,
    failures,
  });
}
