/**
 * The collected llmsoak series, phase by phase, through the real rule engine
 * as the rule tests feed it (promtool-style input series → SeriesStore →
 * LocalSource → builtInRules). Expected: the matmul phase reads as
 * compute-bound prefill, the copy phase as bandwidth-bound decode, the idle
 * phases as neither; gpu_throttling's view is reported, never judged.
 *
 * compute_bound_prefill also needs a TTFT histogram, which a GPU load alone
 * has none of: a flat synthetic one (every request between 0.25 and 0.5 s)
 * is added to every phase, so the rule's verdict rests on the GPU series.
 */
import { LocalSource } from '../../src/analyzer/local-source.js';
import { DEFAULT_THRESHOLDS, type RuleContext, type RuleOutcome } from '../../src/analyzer/rule.js';
import { builtInRules } from '../../src/analyzer/rules/index.js';
import { loadSeries, type InputSeries } from '../../src/analyzer/series-notation.js';
import { SeriesStore } from '../../src/analyzer/series-store.js';
import { steady, type CollectorSample, type Phase } from './samples.js';

/** The synthetic TTFT histogram over `slots` samples: 10 requests a second, all between 0.25 and 0.5 s. */
export function syntheticTtft(slots: number): InputSeries[] {
  const n = slots - 1;
  const h = 'llmsoak_time_to_first_token_seconds';
  return [
    { series: `${h}_bucket{scenario="gpu-check",le="0.25"}`, values: `0x${n}` },
    { series: `${h}_bucket{scenario="gpu-check",le="0.5"}`, values: `0+10x${n}` },
    { series: `${h}_bucket{scenario="gpu-check",le="+Inf"}`, values: `0+10x${n}` },
    { series: `${h}_count{scenario="gpu-check"}`, values: `0+10x${n}` },
  ];
}

const GPU_RULES = ['gpu_throttling', 'bandwidth_bound_decode', 'compute_bound_prefill'] as const;
type GpuRuleId = (typeof GPU_RULES)[number];

/** Which rules must fire (true) or stay quiet (false) in each phase. */
export const EXPECTED: Readonly<Record<string, Partial<Record<GpuRuleId, boolean>>>> = {
  idle: { compute_bound_prefill: false, bandwidth_bound_decode: false },
  matmul: { compute_bound_prefill: true, bandwidth_bound_decode: false },
  copy: { compute_bound_prefill: false, bandwidth_bound_decode: true },
  idle2: { compute_bound_prefill: false, bandwidth_bound_decode: false },
};

export interface PhaseReplay {
  phase: string;
  /** Seconds of series replayed (the steady part of the phase). */
  seconds: number;
  outcomes: Record<GpuRuleId, RuleOutcome>;
}

export interface Replay {
  phases: PhaseReplay[];
  failures: string[];
  /** One line per phase: what gpu_throttling saw. */
  throttling: string[];
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

/** The phase's samples of GPU `gpu` as input series, one slot per second from `from` ('_' where a collection is missing). */
export function phaseInput(samples: readonly CollectorSample[], gpu: string, from: number, to: number): { input: InputSeries[]; slots: number } {
  const slots = Math.max(0, Math.floor((to - from) / 1000) + 1);
  const bySeries = new Map<string, Array<number | undefined>>();
  for (const s of samples) {
    if (s.tMs < from - 500 || s.tMs > to + 500) continue;
    const slot = Math.round((s.tMs - from) / 1000);
    if (slot < 0 || slot >= slots) continue;
    for (const x of s.series) {
      if (x.labels.gpu !== gpu) continue;
      const labels = Object.entries(x.labels)
        .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
        .join(',');
      const key = `${x.name}{${labels}}`;
      let vals = bySeries.get(key);
      if (vals === undefined) {
        vals = new Array<number | undefined>(slots).fill(undefined);
        bySeries.set(key, vals);
      }
      vals[slot] = x.value;
    }
  }
  const input = [...bySeries].map(([series, vals]) => ({ series, values: vals.map((v) => (v === undefined ? '_' : String(v))).join(' ') }));
  return { input, slots };
}

function fired(o: RuleOutcome): boolean {
  return o.status === 'ok' && o.findings.length > 0;
}

function describe(o: RuleOutcome): string {
  if (o.status !== 'ok') return `insufficient data (${o.missing.join(', ')})`;
  if (o.findings.length === 0) return 'quiet';
  return o.findings.map((f) => f.summary).join('; ');
}

/** Replays every phase through the GPU rules; a rule that fires where it must not, or not where it must, is a FAIL line. */
export async function replay(samples: readonly CollectorSample[], phases: readonly Phase[], gpu: string): Promise<Replay> {
  const rules = builtInRules().filter((r): r is typeof r & { id: GpuRuleId } => (GPU_RULES as readonly string[]).includes(r.id));
  const out: Replay = { phases: [], failures: [], throttling: [] };
  for (const p of phases) {
    const { from, to } = steady(p);
    const { input, slots } = phaseInput(samples, gpu, from, to);
    if (slots < 5 || input.length === 0) {
      out.failures.push(`FAIL replay [${p.name}]: ${slots} s of series, too few to replay`);
      continue;
    }
    const store = new SeriesStore({ stepSec: 1, rawRetentionSec: 600, tiers: [] });
    const load = loadSeries(store, [...input, ...syntheticTtft(slots)], { startMs: from, intervalSec: 1 });
    const ctx: RuleContext = {
      src: new LocalSource(store),
      now: new Date(load.endMs),
      windowSec: slots - 1,
      leakWindowSec: 3600,
      runStartMs: from,
      warmupSec: 0,
      thresholds: DEFAULT_THRESHOLDS,
      baseline: undefined,
    };
    const outcomes = {} as Record<GpuRuleId, RuleOutcome>;
    for (const r of rules) outcomes[r.id] = await r.evaluate(ctx);
    out.phases.push({ phase: p.name, seconds: slots, outcomes });
    for (const [id, want] of Object.entries(EXPECTED[p.name] ?? {}) as Array<[GpuRuleId, boolean]>) {
      const o = outcomes[id];
      if (o.status !== 'ok') out.failures.push(`FAIL replay [${p.name}] ${id}: ${describe(o)}`);
      else if (fired(o) !== want) out.failures.push(`FAIL replay [${p.name}] ${id}: ${want ? 'did not fire' : `fired: ${describe(o)}`}`);
    }
    const th = outcomes.gpu_throttling;
    if (th.status !== 'ok') out.failures.push(`FAIL replay [${p.name}] gpu_throttling: ${describe(th)}`);
    out.throttling.push(`gpu_throttling [${p.name}]: ${describe(th)}`);
  }
  return out;
}
