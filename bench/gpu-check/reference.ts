/**
 * nvidia-smi's readings, the reference the GPU check holds llmsoak's series
 * against. Parsed here on their own (not with src/collectors/nvidia-smi.ts)
 * so that a unit or field mistake in llmsoak is not copied into the yardstick.
 *
 * Query loop: `nvidia-smi --query-gpu=<QUERY_FIELDS> --format=csv,noheader,nounits -lms 1000`,
 * each line stored as `<arrival unix ms>,<csv line>`. Units as nvidia-smi
 * prints them with nounits: %, MiB, °C, W, MHz, a 0x… bitmask.
 * dmon loop: `nvidia-smi dmon -s puct -d 1 [--gpm-metrics 2,3,5,10]`, each
 * line stored as `<arrival unix ms> <line>`; columns are found by the `#`
 * header (pwr W, sm/mem %, mclk/pclk MHz, rxpci/txpci MB/s, GPM:% columns in
 * the order the metric ids were asked for).
 */

/** Fields asked of `nvidia-smi --query-gpu`, in this order. The event field is swapped on drivers older than r535. */
export const QUERY_FIELDS = [
  'timestamp',
  'index',
  'uuid',
  'name',
  'driver_version',
  'utilization.gpu',
  'utilization.memory',
  'memory.used',
  'memory.total',
  'temperature.gpu',
  'power.draw',
  'enforced.power.limit',
  'clocks.sm',
  'clocks.mem',
  'clocks_event_reasons.active',
  'clocks_event_reasons.gpu_idle',
  'clocks_event_reasons.applications_clocks_setting',
  'clocks_event_reasons.sw_power_cap',
  'clocks_event_reasons.hw_slowdown',
  'clocks_event_reasons.sync_boost',
  'clocks_event_reasons.sw_thermal_slowdown',
  'clocks_event_reasons.hw_thermal_slowdown',
  'clocks_event_reasons.hw_power_brake_slowdown',
] as const;

/** The same fields as drivers older than r535 name them. */
export function legacyFields(fields: readonly string[]): string[] {
  return fields.map((f) => f.replace(/^clocks_event_reasons\./, 'clocks_throttle_reasons.'));
}

/**
 * nvidia-smi's per-reason fields (printed "Active" / "Not Active") → llmsoak's
 * `reason` label. Read by name, not by bit, so a wrong bit in llmsoak's table
 * shows up as a disagreement.
 */
export const REASON_FIELDS: ReadonlyArray<readonly [string, string]> = [
  ['gpu_idle', 'gpu_idle'],
  ['applications_clocks_setting', 'applications_clocks_setting'],
  ['sw_power_cap', 'sw_power_cap'],
  ['hw_slowdown', 'hw_slowdown'],
  ['sync_boost', 'sync_boost'],
  ['sw_thermal_slowdown', 'sw_thermal'],
  ['hw_thermal_slowdown', 'hw_thermal'],
  ['hw_power_brake_slowdown', 'hw_power_brake'],
];

/** GPM metric ids asked of dmon, in column order (NVML_GPM_METRIC_*: 2 SM util, 3 SM occupancy, 5 any tensor, 10 DRAM BW). */
export const DMON_GPM_IDS = [2, 3, 5, 10] as const;

/** One reference reading, base units (ratios 0–1, bytes, °C, W, Hz, bytes/s). */
export interface RefSample {
  tMs: number;
  source: 'query' | 'dmon';
  index?: number;
  uuid?: string;
  name?: string;
  driver?: string;
  utilization?: number;
  memoryBusy?: number;
  memoryUsed?: number;
  memoryTotal?: number;
  temperature?: number;
  power?: number;
  powerLimit?: number;
  smClock?: number;
  memClock?: number;
  /** The raw `.active` bitmask (shown, not compared: the per-reason fields are). */
  clockEvents?: number;
  /** Per reason (llmsoak's label) whether nvidia-smi calls it Active. */
  reasons?: Record<string, boolean>;
  pcieRx?: number;
  pcieTx?: number;
  gpmSmActive?: number;
  gpmSmOccupancy?: number;
  gpmTensorActive?: number;
  gpmDramActive?: number;
}

const MIB = 1024 * 1024;

type NumberField = { [K in keyof RefSample]-?: RefSample[K] extends number | undefined ? (K extends 'tMs' ? never : K) : never }[keyof RefSample];

function setNumber(r: RefSample, field: NumberField, v: number | undefined): void {
  if (v !== undefined) r[field] = v;
}

function num(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const s = v.trim();
  if (s === '' || s === '-' || s.startsWith('[') || /^n\/?a$/i.test(s)) return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

/** nvidia-smi's `timestamp` field (`YYYY/MM/DD HH:MM:SS.mmm`, printed in the TZ it ran with: UTC here). */
function smiTimestamp(v: string | undefined): number | undefined {
  const m = /^(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{3})$/.exec((v ?? '').trim());
  if (!m) return undefined;
  const [y, mo, d, h, mi, s, ms] = m.slice(1).map(Number) as [number, number, number, number, number, number, number];
  return Date.UTC(y, mo - 1, d, h, mi, s, ms);
}

/**
 * nvidia-smi's own timestamp is the better sample time (the line may sit in a
 * pipe buffer), unless it is off from the arrival by more than a clock or
 * time-zone slip allows: then the arrival time.
 */
function sampleTime(stamp: number | undefined, arrivalMs: number): number {
  return stamp !== undefined && Math.abs(stamp - arrivalMs) <= 5000 ? stamp : arrivalMs;
}

/**
 * One stored query line (`<arrival ms>,<csv>`) → a reference sample, or
 * undefined for a line that is not one (an error message). `fields` is the
 * field list the loop ran with.
 */
export function parseQueryLine(stored: string, fields: readonly string[] = QUERY_FIELDS): RefSample | undefined {
  const comma = stored.indexOf(',');
  const arrival = Number(stored.slice(0, comma));
  const cols = stored
    .slice(comma + 1)
    .split(',')
    .map((s) => s.trim());
  if (comma < 0 || !Number.isFinite(arrival) || cols.length !== fields.length) return undefined;
  const col = (f: string): string | undefined => {
    const i = fields.indexOf(f);
    return i < 0 ? undefined : cols[i];
  };
  const index = num(col('index'));
  if (index === undefined) return undefined;
  const scale = (v: number | undefined, k: number): number | undefined => (v === undefined ? undefined : v * k);
  const reasonCol = (suffix: string): string | undefined => col(`clocks_event_reasons.${suffix}`) ?? col(`clocks_throttle_reasons.${suffix}`);
  const events = reasonCol('active');
  const reasons: Record<string, boolean> = {};
  for (const [suffix, label] of REASON_FIELDS) {
    const v = reasonCol(suffix);
    if (v === 'Active' || v === 'Not Active') reasons[label] = v === 'Active';
  }
  const r: RefSample = {
    tMs: sampleTime(smiTimestamp(col('timestamp')), arrival),
    source: 'query',
    index,
    uuid: col('uuid'),
    name: col('name'),
    driver: col('driver_version'),
    utilization: scale(num(col('utilization.gpu')), 0.01),
    memoryBusy: scale(num(col('utilization.memory')), 0.01),
    memoryUsed: scale(num(col('memory.used')), MIB),
    memoryTotal: scale(num(col('memory.total')), MIB),
    temperature: num(col('temperature.gpu')),
    power: num(col('power.draw')),
    powerLimit: num(col('enforced.power.limit')),
    smClock: scale(num(col('clocks.sm')), 1e6),
    memClock: scale(num(col('clocks.mem')), 1e6),
    clockEvents: events !== undefined && /^0x[0-9a-f]+$/i.test(events) ? Number.parseInt(events.slice(2), 16) : undefined,
    reasons: Object.keys(reasons).length > 0 ? reasons : undefined,
  };
  for (const k of Object.keys(r) as Array<keyof RefSample>) if (r[k] === undefined) delete r[k];
  return r;
}

/** dmon columns we read: header name → field and factor to base units. */
const DMON_COLUMNS: ReadonlyArray<readonly [string, NumberField, number]> = [
  ['pwr', 'power', 1],
  ['gtemp', 'temperature', 1],
  ['sm', 'utilization', 0.01],
  ['mem', 'memoryBusy', 0.01],
  ['mclk', 'memClock', 1e6],
  ['pclk', 'smClock', 1e6],
  ['rxpci', 'pcieRx', 1e6],
  ['txpci', 'pcieTx', 1e6],
];
const GPM_FIELDS: readonly NumberField[] = ['gpmSmActive', 'gpmSmOccupancy', 'gpmTensorActive', 'gpmDramActive'];

/**
 * Stored dmon lines (`<arrival ms> <line>`) → reference samples. The first
 * `#` line names the columns, the second gives units; GPM columns are those
 * whose unit starts with `GPM:`, taken in DMON_GPM_IDS order. Arrival time is
 * the sample time (dmon prints each line as it samples).
 */
export function parseDmon(stored: readonly string[]): RefSample[] {
  let names: string[] | undefined;
  let gpmCols: number[] = [];
  const out: RefSample[] = [];
  for (const line of stored) {
    const sp = line.indexOf(' ');
    const arrival = Number(line.slice(0, sp));
    const text = line.slice(sp + 1).trim();
    if (sp < 0 || !Number.isFinite(arrival)) continue;
    if (text.startsWith('#')) {
      const words = text.slice(1).trim().split(/\s+/);
      if (names === undefined || words.includes('gpu')) {
        if (words.includes('gpu')) names = words;
      } else {
        gpmCols = words.flatMap((w, i) => (w.startsWith('GPM') ? [i] : []));
      }
      continue;
    }
    if (names === undefined) continue;
    const cols = text.split(/\s+/);
    if (cols.length !== names.length) continue;
    const r: RefSample = { tMs: arrival, source: 'dmon' };
    const idx = names.indexOf('gpu');
    const index = num(cols[idx]);
    if (index === undefined) continue;
    r.index = index;
    for (const [col, field, k] of DMON_COLUMNS) {
      const i = names.indexOf(col);
      const v = i < 0 ? undefined : num(cols[i]);
      setNumber(r, field, v === undefined ? undefined : v * k);
    }
    gpmCols.forEach((i, n) => {
      const field = GPM_FIELDS[n];
      const v = num(cols[i]);
      if (field !== undefined) setNumber(r, field, v === undefined ? undefined : v / 100);
    });
    out.push(r);
  }
  return out;
}
