/** The GPU check's verdict as a markdown report: series table, phase means, rule replay, dashboards, tolerances. */
import { ENERGY_TOLERANCE, ENERGY_WHY, EVENT_AGREEMENT, EVENT_WHY, GPM_CHECKS, GPM_TOLERANCE, GPM_WHY, POINT_CHECKS, formatNumber as f, type Comparison } from './compare.js';
import type { RefSample } from './reference.js';
import type { Replay } from './replay.js';
import { mean, pointsOf, steady, within, type CollectorSample, type Phase } from './samples.js';

export interface CheckResult {
  comparison: Comparison;
  replay: Replay;
  /** FAIL lines of the dashboard check. */
  dashboards: string[];
  /** Every FAIL line, in the order printed. */
  failures: string[];
}

export interface ReportContext {
  collector: readonly CollectorSample[];
  dmon: readonly RefSample[];
  phases: readonly Phase[];
  gpu: string;
  /** Free lines about the run (versions, load rates, nvidia-smi fields). */
  notes: readonly string[];
}

const cell = (s: string): string => s.replace(/\|/g, '\\|');

function phaseTable(ctx: ReportContext): string[] {
  const lines = [
    '| phase | steady s | utilization | power W | SM clock MHz | SM active llmsoak / dmon | DRAM active llmsoak / dmon | tensor active llmsoak / dmon |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const m = (name: string, from: number, to: number, k = 1): string => {
    const v = mean(within(pointsOf(ctx.collector, name, ctx.gpu), from, to).map((p) => p.v));
    return v === undefined ? '–' : f(v / k);
  };
  for (const p of ctx.phases) {
    const { from, to } = steady(p);
    const dmonMean = (field: 'gpmSmActive' | 'gpmDramActive' | 'gpmTensorActive'): string => f(mean(within(ctx.dmon, from, to).flatMap((r) => (r[field] === undefined ? [] : [r[field] as number]))));
    const gpm = (series: string, field: 'gpmSmActive' | 'gpmDramActive' | 'gpmTensorActive'): string => `${m(series, from, to)} / ${dmonMean(field)}`;
    lines.push(
      `| ${p.name} | ${((to - from) / 1000).toFixed(0)} | ${m('llmsoak_gpu_utilization_ratio', from, to)} | ${m('llmsoak_gpu_power_watts', from, to)} | ` +
        `${m('llmsoak_gpu_sm_clock_hertz', from, to, 1e6)} | ${gpm('llmsoak_gpu_sm_active_ratio', 'gpmSmActive')} | ` +
        `${gpm('llmsoak_gpu_dram_active_ratio', 'gpmDramActive')} | ${gpm('llmsoak_gpu_tensor_active_ratio', 'gpmTensorActive')} |`,
    );
  }
  return lines;
}

/** Markdown of the whole check. */
export function renderReport(r: CheckResult, ctx: ReportContext): string {
  const c = r.comparison;
  const out: string[] = [
    '# llmsoak GPU check',
    '',
    `Device: ${c.device.name ?? '?'} (${c.device.uuid ?? '?'}), driver ${c.device.driver ?? '?'}, GPU index ${ctx.gpu}.`,
    ...ctx.notes.map((n) => `- ${n}`),
    '',
    `**Result: ${r.failures.length === 0 ? 'PASS' : `FAIL (${r.failures.length})`}**`,
    ...r.failures.map((l) => `- ${l}`),
    ...c.warnings.map((l) => `- ${l}`),
    '',
    '## Every llmsoak_gpu_* series against nvidia-smi (base units)',
    '',
    '| series | detail | compared with | pairs | llmsoak (median) | nvidia-smi (median) | diff | max diff | tolerance | verdict | note |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...c.rows.map(
      (x) =>
        `| ${x.series} | ${cell(x.detail)} | ${cell(x.against)} | ${x.pairs} | ${f(x.llmsoak)} | ${f(x.reference)} | ${f(x.diff)} | ${f(x.maxDiff)} | ${cell(x.tolerance)} | ${x.verdict} | ${cell(x.note)} |`,
    ),
    '',
    '## Phases (means over the steady part: 3 s after the start to 1 s before the end)',
    '',
    ...phaseTable(ctx),
    '',
    '## Rule replay (collected series per phase → SeriesStore → LocalSource → built-in rules; synthetic flat TTFT histogram)',
    '',
    '| phase | s | compute_bound_prefill | bandwidth_bound_decode | gpu_throttling |',
    '| --- | --- | --- | --- | --- |',
    ...r.replay.phases.map((p) => {
      const d = (id: 'compute_bound_prefill' | 'bandwidth_bound_decode' | 'gpu_throttling'): string => {
        const o = p.outcomes[id];
        if (o.status !== 'ok') return `insufficient data (${o.missing.join(', ')})`;
        return o.findings.length === 0 ? 'quiet' : cell(o.findings.map((x) => x.summary).join('; '));
      };
      return `| ${p.phase} | ${p.seconds} | ${d('compute_bound_prefill')} | ${d('bandwidth_bound_decode')} | ${d('gpu_throttling')} |`;
    }),
    '',
    '## Dashboards',
    '',
    r.dashboards.length === 0 ? 'Every llmsoak_gpu_* name in a Grafana panel query is a series this run produced.' : r.dashboards.map((l) => `- ${l}`).join('\n'),
    '',
    '## Tolerances',
    '',
    ...POINT_CHECKS.map((p) => `- ${p.series}: median |Δ| ≤ ${f(p.tolerance)} ${p.unit} against ${p.against}: ${p.why}.`),
    `- llmsoak_gpu_energy_joules_total: increase within ${ENERGY_TOLERANCE * 100} % of ∫ power.draw dt: ${ENERGY_WHY}.`,
    `- llmsoak_gpu_clock_event_active: per reason, agreement with nvidia-smi's named reason field ≥ ${EVENT_AGREEMENT * 100} % of readings: ${EVENT_WHY}.`,
    `- ${GPM_CHECKS.map((g) => g.series).join(', ')}: per phase, |mean llmsoak − mean dmon| ≤ ${GPM_TOLERANCE}: ${GPM_WHY}.`,
    '',
  ];
  return out.join('\n');
}
