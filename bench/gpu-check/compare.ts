/**
 * llmsoak's GPU series held against nvidia-smi's readings at the nearest time.
 * Every series the collector defines gets a row; a series missing, or off by
 * more than its tolerance, is a FAIL line. Tolerances are stated with their
 * unit and reason (TOLERANCES), and printed with the table.
 */
import { nearest, median, mean, pointsOf, steady, within, type CollectorSample, type Phase, type Point } from './samples.js';
import type { RefSample } from './reference.js';

type RefField = 'utilization' | 'memoryBusy' | 'memoryUsed' | 'memoryTotal' | 'temperature' | 'power' | 'powerLimit' | 'smClock' | 'memClock' | 'pcieRx' | 'pcieTx';
type GpmField = 'gpmSmActive' | 'gpmSmOccupancy' | 'gpmTensorActive' | 'gpmDramActive';

/** A series compared sample by sample with the nearest reading. */
interface PointCheck {
  series: string;
  field: RefField;
  source: 'query' | 'dmon';
  against: string;
  /** Largest median |llmsoak − nvidia-smi| accepted, in the series' base unit. */
  tolerance: number;
  unit: string;
  why: string;
}

const MIB = 1024 * 1024;

export const POINT_CHECKS: readonly PointCheck[] = [
  {
    series: 'llmsoak_gpu_utilization_ratio',
    field: 'utilization',
    source: 'query',
    against: 'utilization.gpu % / 100',
    tolerance: 0.05,
    unit: 'ratio',
    why: 'the same driver counter, refreshed every 1/6 to 1 s, read up to 0.5 s apart; the median leaves out the few samples at phase edges',
  },
  {
    series: 'llmsoak_gpu_memory_busy_ratio',
    field: 'memoryBusy',
    source: 'query',
    against: 'utilization.memory % / 100',
    tolerance: 0.05,
    unit: 'ratio',
    why: 'as utilization: one driver counter read up to 0.5 s apart',
  },
  {
    series: 'llmsoak_gpu_memory_used_bytes',
    field: 'memoryUsed',
    source: 'query',
    against: 'memory.used MiB × 2^20',
    tolerance: 32 * MIB,
    unit: 'bytes',
    why: 'the load allocates once before its phases, so used memory is flat; nvidia-smi rounds to 1 MiB. Memory reserved by the driver (about 0.5 GiB on an H100) counted by one side only exceeds it, on purpose',
  },
  {
    series: 'llmsoak_gpu_memory_total_bytes',
    field: 'memoryTotal',
    source: 'query',
    against: 'memory.total MiB × 2^20',
    tolerance: 1 * MIB,
    unit: 'bytes',
    why: 'a constant; nvidia-smi prints whole MiB',
  },
  {
    series: 'llmsoak_gpu_temperature_celsius',
    field: 'temperature',
    source: 'query',
    against: 'temperature.gpu °C',
    tolerance: 1,
    unit: '°C',
    why: 'whole degrees that may tick by one between two reads up to 0.5 s apart',
  },
  {
    series: 'llmsoak_gpu_power_watts',
    field: 'power',
    source: 'query',
    against: 'power.draw W',
    tolerance: 15,
    unit: 'W',
    why: 'both read board power (a 1-s average on Ampere and newer) up to 0.5 s apart; under a steady load it moves a few W a second; a mW/W slip is a factor of 1000',
  },
  { series: 'llmsoak_gpu_power_limit_watts', field: 'powerLimit', source: 'query', against: 'enforced.power.limit W', tolerance: 1, unit: 'W', why: 'a constant; nvidia-smi prints two decimals' },
  {
    series: 'llmsoak_gpu_sm_clock_hertz',
    field: 'smClock',
    source: 'query',
    against: 'clocks.sm MHz × 10^6',
    tolerance: 30e6,
    unit: 'Hz',
    why: 'boost moves in 15 MHz steps between reads up to 0.5 s apart',
  },
  {
    series: 'llmsoak_gpu_memory_clock_hertz',
    field: 'memClock',
    source: 'query',
    against: 'clocks.mem MHz × 10^6',
    tolerance: 10e6,
    unit: 'Hz',
    why: 'the memory clock holds still while the GPU is in P0',
  },
  {
    series: 'llmsoak_gpu_pcie_transmit_bytes_per_second',
    field: 'pcieTx',
    source: 'dmon',
    against: 'dmon txpci MB/s × 10^6',
    tolerance: 50e6,
    unit: 'B/s',
    why: 'each side takes its own 20 ms driver sample; the load moves nothing over PCIe, so this catches gross errors only',
  },
  { series: 'llmsoak_gpu_pcie_receive_bytes_per_second', field: 'pcieRx', source: 'dmon', against: 'dmon rxpci MB/s × 10^6', tolerance: 50e6, unit: 'B/s', why: 'as transmit' },
];

/** GPM ratios compared per phase (means over the steady part) with dmon --gpm-metrics. */
export const GPM_CHECKS: ReadonlyArray<{ series: string; field: GpmField; metric: number }> = [
  { series: 'llmsoak_gpu_sm_active_ratio', field: 'gpmSmActive', metric: 2 },
  { series: 'llmsoak_gpu_sm_occupancy_ratio', field: 'gpmSmOccupancy', metric: 3 },
  { series: 'llmsoak_gpu_tensor_active_ratio', field: 'gpmTensorActive', metric: 5 },
  { series: 'llmsoak_gpu_dram_active_ratio', field: 'gpmDramActive', metric: 10 },
];
export const GPM_TOLERANCE = 0.1;
export const GPM_WHY = 'each side computes GPM over its own 1 s interval, not aligned; phase means over 20 s agree far closer unless a metric id or the ÷100 is wrong';

/** Energy: the counter's increase over the run against ∫ power.draw dt. */
export const ENERGY_TOLERANCE = 0.05;
export const ENERGY_WHY = 'nvidia-smi has no energy field to read on every driver; integrating its 1-s average power once a second approximates energy within a few percent';

/** Clock events: share of readings on which llmsoak's 0/1 and nvidia-smi's Active/Not Active agree. */
export const EVENT_AGREEMENT = 0.9;
export const EVENT_WHY = 'reasons flip at phase edges and sw_power_cap may flicker under load; a wrong bit disagrees most of the time';

/** Readings further apart than this are not paired. */
export const MAX_PAIR_MS = 1000;

export type Verdict = 'PASS' | 'FAIL' | 'WARN';

export interface Row {
  series: string;
  /** Label that tells rows of one series apart (a reason, a phase). */
  detail: string;
  against: string;
  pairs: number;
  llmsoak: number | undefined;
  reference: number | undefined;
  /** Median |llmsoak − reference| (or the mean difference, or 1 − agreement, as `against` says). */
  diff: number | undefined;
  maxDiff: number | undefined;
  tolerance: string;
  verdict: Verdict;
  note: string;
}

export interface Comparison {
  device: { name: string | undefined; uuid: string | undefined; driver: string | undefined };
  rows: Row[];
  /** One line per FAIL row: what, by how much, against what. */
  failures: string[];
  warnings: string[];
}

export interface CompareInput {
  collector: readonly CollectorSample[];
  query: readonly RefSample[];
  dmon: readonly RefSample[];
  phases: readonly Phase[];
  /** GPU index compared. */
  gpu: string;
  /** Every series name the collector defines (derived from its registry). */
  defined: readonly string[];
}

function fmt(x: number | undefined): string {
  if (x === undefined) return '–';
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 1e5 || a < 1e-3 ? x.toExponential(3) : String(Number(x.toPrecision(4)));
}

function row(series: string, o: Partial<Row> & Pick<Row, 'against' | 'tolerance' | 'verdict'>): Row {
  return { series, detail: '', pairs: 0, llmsoak: undefined, reference: undefined, diff: undefined, maxDiff: undefined, note: '', ...o };
}

function pairs(points: readonly Point[], refs: readonly RefSample[], field: RefField): Array<[number, number]> {
  const withValue = refs.filter((r) => r[field] !== undefined);
  const out: Array<[number, number]> = [];
  for (const p of points) {
    const r = nearest(withValue, p.tMs, MAX_PAIR_MS);
    if (r !== undefined) out.push([p.v, r[field] as number]);
  }
  return out;
}

function pointRow(c: PointCheck, input: CompareInput): Row {
  const points = pointsOf(input.collector, c.series, input.gpu);
  const refs = c.source === 'query' ? input.query : input.dmon;
  const tol = `${fmt(c.tolerance)} ${c.unit}`;
  if (points.length === 0) return row(c.series, { against: c.against, tolerance: tol, verdict: 'FAIL', note: 'missing: llmsoak exported no value' });
  const ps = pairs(points, refs, c.field);
  const llm = median(points.map((p) => p.v));
  if (ps.length < points.length / 2) {
    // the query loop is the reference of the check: unpaired there is unverified (FAIL); dmon may lack a group (WARN)
    return row(c.series, {
      against: c.against,
      tolerance: tol,
      verdict: c.source === 'query' ? 'FAIL' : 'WARN',
      pairs: ps.length,
      llmsoak: llm,
      note: `only ${ps.length} of ${points.length} values paired with a ${c.source === 'query' ? 'nvidia-smi query' : 'nvidia-smi dmon'} reading within ${MAX_PAIR_MS} ms`,
    });
  }
  const d = ps.map(([a, b]) => Math.abs(a - b));
  const diff = median(d) as number;
  return row(c.series, {
    against: c.against,
    tolerance: tol,
    pairs: ps.length,
    llmsoak: llm,
    reference: median(ps.map(([, b]) => b)),
    diff,
    maxDiff: Math.max(...d),
    verdict: diff <= c.tolerance ? 'PASS' : 'FAIL',
  });
}

/** Trapezoid ∫ power dt over [from, to], W·s = J, from readings sorted by time (linear between them). */
function integratePower(refs: readonly RefSample[], from: number, to: number): number | undefined {
  const pts = refs.filter((r) => r.power !== undefined).map((r) => ({ t: r.tMs, p: r.power as number }));
  if (pts.length < 2 || (pts[0] as { t: number }).t > from || (pts[pts.length - 1] as { t: number }).t < to) return undefined;
  const at = (t: number): number => {
    for (let i = 1; i < pts.length; i++) {
      const a = pts[i - 1] as { t: number; p: number };
      const b = pts[i] as { t: number; p: number };
      if (t <= b.t) return b.t === a.t ? b.p : a.p + ((b.p - a.p) * (t - a.t)) / (b.t - a.t);
    }
    return (pts[pts.length - 1] as { p: number }).p;
  };
  const ts = [from, ...pts.map((x) => x.t).filter((t) => t > from && t < to), to];
  let j = 0;
  for (let i = 1; i < ts.length; i++) {
    const a = ts[i - 1] as number;
    const b = ts[i] as number;
    j += ((at(a) + at(b)) / 2) * ((b - a) / 1000);
  }
  return j;
}

function energyRow(input: CompareInput): Row {
  const name = 'llmsoak_gpu_energy_joules_total';
  const pts = pointsOf(input.collector, name, input.gpu);
  const tol = `${ENERGY_TOLERANCE * 100} % of the increase`;
  const against = '∫ power.draw dt (J)';
  if (pts.length < 2) return row(name, { against, tolerance: tol, verdict: 'FAIL', note: 'missing: fewer than two values of the energy counter' });
  // the counter's points inside the span nvidia-smi's power readings cover
  const powerTimes = input.query.filter((r) => r.power !== undefined).map((r) => r.tMs);
  const inside = powerTimes.length < 2 ? [] : within(pts, powerTimes[0] as number, powerTimes[powerTimes.length - 1] as number);
  const first = inside[0];
  const last = inside[inside.length - 1];
  const ref = first !== undefined && last !== undefined && last.tMs > first.tMs ? integratePower(input.query, first.tMs, last.tMs) : undefined;
  if (first === undefined || last === undefined || ref === undefined || ref <= 0) {
    return row(name, { against, tolerance: tol, verdict: 'FAIL', note: 'unverified: no power.draw readings spanning two energy values' });
  }
  const inc = last.v - first.v;
  const rel = Math.abs(inc - ref) / ref;
  return row(name, {
    detail: `increase over ${((last.tMs - first.tMs) / 1000).toFixed(0)} s`,
    against,
    tolerance: tol,
    pairs: pts.length,
    llmsoak: inc,
    reference: ref,
    diff: rel,
    verdict: rel <= ENERGY_TOLERANCE ? 'PASS' : 'FAIL',
    note: 'diff is relative',
  });
}

function eventRows(input: CompareInput): Row[] {
  const name = 'llmsoak_gpu_clock_event_active';
  const all = pointsOf(input.collector, name, input.gpu);
  const tol = `agreement ≥ ${EVENT_AGREEMENT * 100} %`;
  if (all.length === 0) return [row(name, { against: 'clocks_event_reasons.*', tolerance: tol, verdict: 'FAIL', note: 'missing: llmsoak exported no value' })];
  const reasons = [...new Set(all.map((p) => p.labels.reason ?? ''))].sort();
  const refs = input.query.filter((r) => r.reasons !== undefined);
  return reasons.map((reason) => {
    const pts = all.filter((p) => p.labels.reason === reason);
    const matched = pts.flatMap((p) => {
      const r = nearest(refs, p.tMs, MAX_PAIR_MS);
      const active = r?.reasons?.[reason];
      return active === undefined ? [] : [[p.v, active ? 1 : 0] as const];
    });
    const against = `clocks_event_reasons (Active = 1)`;
    if (matched.length < pts.length / 2) {
      return row(name, {
        detail: reason,
        against,
        tolerance: tol,
        verdict: 'FAIL',
        pairs: matched.length,
        llmsoak: mean(pts.map((p) => p.v)),
        note: `unverified: only ${matched.length} of ${pts.length} values paired with nvidia-smi's reading of this reason`,
      });
    }
    const agree = matched.filter(([a, b]) => a === b).length / matched.length;
    return row(name, {
      detail: reason,
      against,
      tolerance: tol,
      pairs: matched.length,
      llmsoak: mean(matched.map(([a]) => a)),
      reference: mean(matched.map(([, b]) => b)),
      diff: 1 - agree,
      verdict: agree >= EVENT_AGREEMENT ? 'PASS' : 'FAIL',
      note: 'values are the share of time active; diff is 1 − agreement',
    });
  });
}

function gpmRows(input: CompareInput): Row[] {
  const rows: Row[] = [];
  for (const g of GPM_CHECKS) {
    const pts = pointsOf(input.collector, g.series, input.gpu);
    const against = `dmon --gpm-metrics ${g.metric} % / 100, phase mean`;
    const tol = `${GPM_TOLERANCE} ratio`;
    if (pts.length === 0) {
      const dmonHas = input.dmon.some((r) => r[g.field] !== undefined);
      rows.push(
        row(g.series, {
          against,
          tolerance: tol,
          verdict: 'FAIL',
          note: `missing: llmsoak exported no value${dmonHas ? ' while dmon read this GPM metric' : ' (dmon read no GPM either: GPM unavailable here?)'}`,
        }),
      );
      continue;
    }
    for (const p of input.phases) {
      const { from, to } = steady(p);
      const inPhase = within(pts, from, to);
      const l = mean(inPhase.map((x) => x.v));
      const r = mean(within(input.dmon, from, to).flatMap((x) => (x[g.field] === undefined ? [] : [x[g.field] as number])));
      if (l === undefined) {
        rows.push(row(g.series, { detail: p.name, against, tolerance: tol, verdict: 'FAIL', note: 'missing in this phase' }));
      } else if (r === undefined) {
        rows.push(row(g.series, { detail: p.name, against, tolerance: tol, verdict: 'WARN', llmsoak: l, note: 'dmon gave no GPM reading' }));
      } else {
        const d = Math.abs(l - r);
        rows.push(row(g.series, { detail: p.name, against, tolerance: tol, pairs: inPhase.length, llmsoak: l, reference: r, diff: d, verdict: d <= GPM_TOLERANCE ? 'PASS' : 'FAIL' }));
      }
    }
  }
  return rows;
}

function labelRow(input: CompareInput, device: Comparison['device']): Row {
  const seen = input.collector.flatMap((s) => s.series.filter((x) => x.labels.gpu === input.gpu && x.name !== 'llmsoak_gpu_backend_info'));
  const bad = seen.filter((x) => x.labels.uuid !== device.uuid || x.labels.name !== device.name);
  const against = 'nvidia-smi uuid, name';
  if (seen.length === 0) return row('labels gpu/uuid/name', { against, tolerance: 'equal', verdict: 'FAIL', note: `no series on GPU ${input.gpu}` });
  const first = bad[0];
  return row('labels gpu/uuid/name', {
    against,
    tolerance: 'equal',
    pairs: seen.length,
    verdict: bad.length === 0 ? 'PASS' : 'FAIL',
    note: first === undefined ? `${device.name ?? ''} ${device.uuid ?? ''}` : `${bad.length} series labelled uuid=${first.labels.uuid ?? ''} name=${first.labels.name ?? ''}`,
  });
}

function backendRow(input: CompareInput): Row {
  const name = 'llmsoak_gpu_backend_info';
  const vals = input.collector.map((s) => s.series.find((x) => x.name === name && x.labels.backend === 'nvml')?.value);
  const ok = vals.length > 0 && vals.every((v) => v === 1);
  return row(name, {
    detail: 'backend="nvml"',
    against: '1 at every collection',
    tolerance: 'equal',
    pairs: vals.length,
    verdict: ok ? 'PASS' : 'FAIL',
    note: ok ? '' : 'the collector did not use NVML at every collection',
  });
}

/** Compares every defined llmsoak_gpu_* series with nvidia-smi. */
export function compare(input: CompareInput): Comparison {
  const first = input.query.find((r) => r.index === Number(input.gpu));
  const device = { name: first?.name, uuid: first?.uuid, driver: first?.driver };
  const rows: Row[] = [backendRow(input), labelRow(input, device), ...POINT_CHECKS.map((c) => pointRow(c, input)), energyRow(input), ...eventRows(input), ...gpmRows(input)];
  const covered = new Set(rows.map((r) => r.series));
  for (const name of input.defined) {
    if (!covered.has(name)) rows.push(row(name, { against: '–', tolerance: '–', verdict: 'FAIL', note: 'defined by the collector but not compared by this check' }));
  }
  const failures = rows
    .filter((r) => r.verdict === 'FAIL')
    .map((r) => {
      const what = r.diff === undefined ? r.note : `llmsoak ${fmt(r.llmsoak)} vs ${fmt(r.reference)} (${r.against}), diff ${fmt(r.diff)} > ${r.tolerance}${r.note ? `; ${r.note}` : ''}`;
      return `FAIL ${r.series}${r.detail ? ` [${r.detail}]` : ''}: ${what}`;
    });
  const warnings = rows.filter((r) => r.verdict === 'WARN').map((r) => `WARN ${r.series}${r.detail ? ` [${r.detail}]` : ''}: ${r.note}`);
  return { device, rows, failures, warnings };
}

export { fmt as formatNumber };
