/**
 * A recorded GPU-check run built from test/fixtures/gpu-check/h100-phases.json:
 * per second, what llmsoak's collector exported (through the real GpuSeries
 * and registry, as the device run snapshots it), the nvidia-smi query line
 * and the dmon line, each in its own units and at its own instant within the
 * second. A Distortion plants the kind of mistake the check must catch.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { GpuSeries, type GpuReading } from '../src/collectors/gpu-series.js';
import type { RunRecord } from '../bench/gpu-check/analyse.js';
import { DMON_GPM_IDS, QUERY_FIELDS } from '../bench/gpu-check/reference.js';
import { snapshot, type CollectorSample, type Phase } from '../bench/gpu-check/samples.js';
import { ROOT } from './helpers.js';

interface PhaseSpec {
  name: string;
  seconds: number;
  util: number;
  memBusy: number;
  tempC: number;
  powerW: number;
  smClockMHz: number;
  reasons: string;
  gpm: { smActive: number; smOccupancy: number; tensorActive: number; dramActive: number };
  pcieMBs: { tx: number; rx: number };
}

export interface H100Spec {
  gpu: { index: number; uuid: string; name: string; driver: string; memoryTotalMiB: number; memoryUsedMiB: number; powerLimitW: number; memClockMHz: number };
  startMs: number;
  phases: PhaseSpec[];
}

export function h100Spec(): H100Spec {
  return JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'gpu-check', 'h100-phases.json'), 'utf8')) as H100Spec;
}

type Scalable = 'memoryUsedBytes' | 'powerWatts';

export interface Distortion {
  /** Multiplies what llmsoak exports (a unit slip: 2^-20 for MiB instead of bytes, 1000 for mW). */
  scale?: Partial<Record<Scalable, number>>;
  /** Readings llmsoak does not export at all. */
  drop?: Array<keyof GpuReading>;
  /** llmsoak's clock-event bitmask one bit off (a wrong bit table). */
  shiftEventBits?: boolean;
}

const MIB = 1024 * 1024;
/** nvml.h's clock-event bits and nvidia-smi's field for each: written here from nvidia-smi's names, not from llmsoak's table. */
const SMI_REASON_BITS: ReadonlyArray<readonly [string, number]> = [
  ['gpu_idle', 0x1],
  ['applications_clocks_setting', 0x2],
  ['sw_power_cap', 0x4],
  ['hw_slowdown', 0x8],
  ['sync_boost', 0x10],
  ['sw_thermal_slowdown', 0x20],
  ['hw_thermal_slowdown', 0x40],
  ['hw_power_brake_slowdown', 0x80],
];

function smiTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${d.getUTCFullYear()}/${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}`;
}

/** Small deterministic wobble, so readings are not flat lines. */
const wobble = (k: number, amp: number): number => amp * Math.sin(k * 1.7);

export async function recordedRun(spec: H100Spec = h100Spec(), d: Distortion = {}): Promise<RunRecord> {
  const g = spec.gpu;
  const reg = new Registry();
  const series = new GpuSeries(reg);
  const collector: CollectorSample[] = [];
  const queryLines: string[] = [];
  const dmonLines = [
    `${spec.startMs - 500} # gpu    pwr  gtemp  mtemp     sm    mem    enc    dec    jpg    ofa   mclk   pclk  rxpci  txpci smutil  smocc tensor   dram`,
    `${spec.startMs - 500} # Idx      W      C      C      %      %      %      %      %      %    MHz    MHz   MB/s   MB/s  GPM:%  GPM:%  GPM:%  GPM:%`,
  ];
  const phases: Phase[] = [];
  let energyJ = 8.1e6;
  let k = 0;
  for (const p of spec.phases) {
    const startMs = spec.startMs + k * 1000;
    for (let i = 0; i < p.seconds; i++, k++) {
      const base = spec.startMs + k * 1000;
      const power = p.powerW + wobble(k, 2.5);
      const reasons = Number.parseInt(p.reasons.slice(2), 16);
      const gpm = (v: number): number => Math.max(0, Math.min(1, v + wobble(k, 0.004)));

      // nvidia-smi query line, sampled 20 ms into the second
      const active = (bit: number): string => ((reasons & bit) !== 0 ? 'Active' : 'Not Active');
      const cols = [
        smiTime(base + 20),
        String(g.index),
        g.uuid,
        g.name,
        g.driver,
        String(Math.round(p.util * 100)),
        String(Math.round(p.memBusy * 100)),
        String(g.memoryUsedMiB),
        String(g.memoryTotalMiB),
        String(p.tempC),
        power.toFixed(2),
        g.powerLimitW.toFixed(2),
        String(p.smClockMHz),
        String(g.memClockMHz),
        `0x${reasons.toString(16).padStart(16, '0')}`,
        ...SMI_REASON_BITS.map(([, bit]) => active(bit)),
      ];
      if (cols.length !== QUERY_FIELDS.length) throw new Error('fixture columns out of step with QUERY_FIELDS');
      queryLines.push(`${base + 25},${cols.join(', ')}`);

      // llmsoak's collection, 480 ms into the second; NVML gives GPM from the second collection on
      const reading: GpuReading = {
        index: g.index,
        uuid: g.uuid,
        name: g.name,
        utilizationRatio: p.util,
        memoryBusyRatio: p.memBusy,
        memoryUsedBytes: g.memoryUsedMiB * MIB * (d.scale?.memoryUsedBytes ?? 1),
        memoryTotalBytes: g.memoryTotalMiB * MIB,
        temperatureCelsius: p.tempC,
        powerWatts: power * (d.scale?.powerWatts ?? 1),
        powerLimitWatts: g.powerLimitW,
        energyJoules: energyJ + 0.48 * power,
        smClockHertz: p.smClockMHz * 1e6,
        memoryClockHertz: g.memClockMHz * 1e6,
        clockEventReasons: BigInt(d.shiftEventBits ? reasons << 1 : reasons),
        pcieTransmitBytesPerSecond: p.pcieMBs.tx * 1e6,
        pcieReceiveBytesPerSecond: p.pcieMBs.rx * 1e6,
        ...(k > 0 ? { smActiveRatio: gpm(p.gpm.smActive), smOccupancyRatio: gpm(p.gpm.smOccupancy), tensorActiveRatio: gpm(p.gpm.tensorActive), dramActiveRatio: gpm(p.gpm.dramActive) } : {}),
      };
      for (const f of d.drop ?? []) delete reading[f];
      series.write('nvml', [reading]);
      collector.push(await snapshot(reg, base + 480));
      energyJ += power;

      // dmon line, printed 700 ms into the second (GPM columns in DMON_GPM_IDS order)
      const pct = (v: number): string => String(Math.round(v * 100));
      const gpmCols = DMON_GPM_IDS.map((id) => pct(gpm(id === 2 ? p.gpm.smActive : id === 3 ? p.gpm.smOccupancy : id === 5 ? p.gpm.tensorActive : p.gpm.dramActive)));
      dmonLines.push(
        `${base + 700}     ${g.index}  ${Math.round(power)}  ${p.tempC}  -  ${pct(p.util)}  ${pct(p.memBusy)}  0  0  0  0  ${g.memClockMHz}  ${p.smClockMHz}  ${p.pcieMBs.rx}  ${p.pcieMBs.tx}  ${gpmCols.join('  ')}`,
      );
    }
    phases.push({ name: p.name, startMs, endMs: spec.startMs + k * 1000 });
  }
  return { gpu: String(g.index), queryFields: [...QUERY_FIELDS], queryLines, dmonLines, collector, phases, notes: ['recorded from test/fixtures/gpu-check/h100-phases.json'], problems: [] };
}
