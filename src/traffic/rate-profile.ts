/**
 * Rate profiles: the open-loop rate as a curve over the day instead of a
 * constant. A profile is a periodic (24 h) function m(hour) >= 0, a multiple
 * of the base rate `traffic.rate`, given as points (piecewise linear between
 * them, or steps) or as a CSV of observed per-minute rates. `timeScale`
 * compresses the day (24 = a day in an hour); `startHour` is where the run
 * starts in it.
 *
 * Arrivals use the integral of the profile and its exact inverse (time
 * rescaling): the integral of a piecewise-linear function is piecewise
 * quadratic, inverted in closed form per segment, so arrival k of a constant
 * process lies exactly where the integrated rate reaches k, however long the
 * run (nothing is summed step by step).
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import type { RateProfileConfig } from './config.js';
import type { IntegratedRate } from './arrivals.js';

export interface ProfilePoint {
  /** Hour of the day, [0, 24). */
  hour: number;
  /** Multiple of the base rate, >= 0. */
  multiple: number;
}

export type ProfileShape = 'linear' | 'step';

const HOURS_PER_DAY = 24;
const SEC_PER_HOUR = 3600;
const MINUTES_PER_DAY = 1440;
/** Largest CSV read, bytes (a day of per-minute rates is ~20 KiB). */
const MAX_CSV_BYTES = 16 * 1024 * 1024;
/** Problems listed at most per CSV (the rest are not worth reading). */
const MAX_PROBLEMS = 20;

/** One segment of the day: the multiple goes linearly from `a` at `start` with `slope` per hour until `end`. */
interface Segment {
  start: number;
  end: number;
  a: number;
  slope: number;
  /** Area (multiple x hours) from hour 0 to `start`. */
  cumStart: number;
  /** Area from hour 0 to `end`. */
  cumEnd: number;
}

/** A daily profile laid on run time: t seconds from the profile's origin is hour startHour + t * timeScale / 3600. */
export class RateProfile {
  private readonly segments: Segment[];
  /** Area of one whole day, multiple x hours (24 = a flat profile at 1). */
  readonly dayArea: number;
  private readonly startArea: number;

  constructor(
    readonly points: readonly ProfilePoint[],
    readonly shape: ProfileShape,
    /** Profile hours per real hour (24: a day in an hour). */
    readonly timeScale: number,
    /** Hour of the day at run time 0. */
    readonly startHour: number,
  ) {
    const problems = checkPoints(points, 'profile');
    if (!(timeScale > 0) || !Number.isFinite(timeScale)) problems.push(`profile.timeScale: must be a positive number, got ${timeScale}`);
    if (!(startHour >= 0 && startHour < HOURS_PER_DAY)) problems.push(`profile.startHour: must be in [0, 24), got ${startHour}`);
    if (problems.length) throw new RangeError(problems.join('; '));
    this.segments = buildSegments(
      [...points].sort((x, y) => x.hour - y.hour),
      shape,
    );
    this.dayArea = (this.segments[this.segments.length - 1] as Segment).cumEnd;
    this.startArea = this.areaToHour(startHour);
  }

  /** Hour of the day at run time t (seconds from the origin). */
  hourAt(tSec: number): number {
    const h = (this.startHour + (tSec * this.timeScale) / SEC_PER_HOUR) % HOURS_PER_DAY;
    return h < 0 ? h + HOURS_PER_DAY : h;
  }

  /** The multiple of the base rate at run time t (seconds from the origin). */
  multipleAt(tSec: number): number {
    const h = this.hourAt(tSec);
    const s = this.segments[segmentAtHour(this.segments, h)] as Segment;
    return Math.max(0, s.a + s.slope * (h - s.start));
  }

  /** The mean multiple over a day (1 for a CSV profile: its rates are relative to their mean). */
  get meanMultiple(): number {
    return this.dayArea / HOURS_PER_DAY;
  }

  /** Integral of the multiple over run time [0, t], multiple x seconds (t >= 0). */
  integral(tSec: number): number {
    const hours = this.startHour + (tSec * this.timeScale) / SEC_PER_HOUR;
    return ((this.areaToHour(hours) - this.startArea) * SEC_PER_HOUR) / this.timeScale;
  }

  /**
   * The run time (s) at which `integral` reaches `area` with the multiple
   * positive just after (a stretch at 0 is skipped); Infinity when the profile
   * is 0 all day.
   */
  inverse(area: number): number {
    if (!(this.dayArea > 0)) return Infinity;
    const target = this.startArea + (Math.max(0, area) * this.timeScale) / SEC_PER_HOUR;
    return ((this.hourForArea(target) - this.startHour) * SEC_PER_HOUR) / this.timeScale;
  }

  /**
   * Λ of a process at `baseRate` times this profile, started `fromSec` into
   * it (a base-rate change restarts arrivals without moving the profile).
   */
  intensity(baseRate: number, fromSec: number): IntegratedRate {
    const from = Math.max(0, fromSec);
    const areaFrom = this.integral(from);
    return {
      offsetAt: (work: number): number => {
        if (!(baseRate > 0)) return Infinity;
        const t = this.inverse(areaFrom + work / baseRate);
        return t === Infinity ? Infinity : Math.max(0, (t - from) * 1e9);
      },
    };
  }

  /** Area from hour 0 of day 0 to an hour on the unwrapped axis (>= 0). */
  private areaToHour(hours: number): number {
    const days = Math.floor(hours / HOURS_PER_DAY);
    const h = hours - days * HOURS_PER_DAY;
    const s = this.segments[segmentAtHour(this.segments, h)] as Segment;
    const x = h - s.start;
    return days * this.dayArea + s.cumStart + s.a * x + (s.slope * x * x) / 2;
  }

  /** The first hour on the unwrapped axis where the area reaches `area` and keeps growing (dayArea > 0). */
  private hourForArea(area: number): number {
    let days = Math.floor(area / this.dayArea);
    let rem = area - days * this.dayArea;
    let i = firstSegmentEndingAbove(this.segments, rem);
    if (i < 0) {
      // Rounding put `rem` at the very end of the day: it is the start of the next one.
      days++;
      rem = 0;
      i = firstSegmentEndingAbove(this.segments, 0);
    }
    const s = this.segments[i] as Segment;
    const need = Math.max(0, rem - s.cumStart);
    // Solve a*x + slope*x^2/2 = need in the form that is stable when a or slope is 0.
    const root = Math.sqrt(Math.max(0, s.a * s.a + 2 * s.slope * need));
    const x = need === 0 ? 0 : (2 * need) / (s.a + root);
    return days * HOURS_PER_DAY + s.start + Math.min(Math.max(0, x), s.end - s.start);
  }
}

/** Problems with a list of points (empty when fine); `at` names the config key. */
export function checkPoints(points: readonly ProfilePoint[], at: string): string[] {
  const problems: string[] = [];
  if (points.length === 0) return [`${at}.points: needs at least one point`];
  const seen = new Set<number>();
  points.forEach((p, i) => {
    if (!(p.hour >= 0 && p.hour < HOURS_PER_DAY)) problems.push(`${at}.points[${i}].hour: must be in [0, 24), got ${p.hour}`);
    if (!(p.multiple >= 0) || !Number.isFinite(p.multiple)) problems.push(`${at}.points[${i}].multiple: must be a number >= 0, got ${p.multiple}`);
    if (seen.has(p.hour)) problems.push(`${at}.points[${i}].hour: hour ${p.hour} appears twice`);
    seen.add(p.hour);
  });
  if (problems.length === 0 && points.every((p) => p.multiple === 0)) problems.push(`${at}.points: every multiple is 0 (no requests would be sent)`);
  return problems;
}

/** Segments covering [0, 24) exactly, from points sorted by hour. */
function buildSegments(points: readonly ProfilePoint[], shape: ProfileShape): Segment[] {
  const n = points.length;
  const first = points[0] as ProfilePoint;
  const last = points[n - 1] as ProfilePoint;
  // Each piece is [start, end) with the multiple at start and at end.
  const pieces: { start: number; end: number; m0: number; m1: number }[] = [];
  if (shape === 'step') {
    // Before the first point of the day, the last point's value still holds (it wraps).
    if (first.hour > 0) pieces.push({ start: 0, end: first.hour, m0: last.multiple, m1: last.multiple });
    points.forEach((p, i) => {
      const end = i + 1 < n ? (points[i + 1] as ProfilePoint).hour : HOURS_PER_DAY;
      pieces.push({ start: p.hour, end, m0: p.multiple, m1: p.multiple });
    });
  } else {
    // The line from the last point wraps to the first point of the next day.
    const wrapLen = first.hour + HOURS_PER_DAY - last.hour;
    const at = (h: number): number => last.multiple + ((first.multiple - last.multiple) * (h - last.hour)) / wrapLen;
    const atMidnight = at(HOURS_PER_DAY);
    if (first.hour > 0) pieces.push({ start: 0, end: first.hour, m0: atMidnight, m1: first.multiple });
    for (let i = 0; i + 1 < n; i++) {
      const p = points[i] as ProfilePoint;
      const q = points[i + 1] as ProfilePoint;
      pieces.push({ start: p.hour, end: q.hour, m0: p.multiple, m1: q.multiple });
    }
    pieces.push({ start: last.hour, end: HOURS_PER_DAY, m0: last.multiple, m1: atMidnight });
  }
  const segments: Segment[] = [];
  let cum = 0;
  for (const p of pieces) {
    const len = p.end - p.start;
    if (!(len > 0)) continue;
    const slope = (p.m1 - p.m0) / len;
    const area = ((p.m0 + p.m1) / 2) * len;
    segments.push({ start: p.start, end: p.end, a: p.m0, slope, cumStart: cum, cumEnd: cum + area });
    cum += area;
  }
  return segments;
}

/** Index of the segment holding hour h in [0, 24). */
function segmentAtHour(segments: readonly Segment[], h: number): number {
  let lo = 0;
  let hi = segments.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((segments[mid] as Segment).start <= h) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Index of the first segment whose cumulative area at its end is above `area`; -1 when none is. */
function firstSegmentEndingAbove(segments: readonly Segment[], area: number): number {
  let lo = 0;
  let hi = segments.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((segments[mid] as Segment).cumEnd > area) hi = mid;
    else lo = mid + 1;
  }
  return lo < segments.length ? lo : -1;
}

/**
 * A CSV of observed rates per minute as profile points (one per minute of
 * the day, step shape by default). Columns `minute,rate` (minute of the day;
 * values from 1440 on wrap, so several days fold onto one) or
 * `timestamp,rate` (ISO date; its UTC time of day). A header line is
 * optional; `#` starts a comment. The same minute seen more than once is
 * averaged. Multiples are relative to the day's time-weighted mean rate, so
 * `traffic.rate` is the mean request rate of the day (`meanRate` says what
 * the CSV's own mean was). Problems name their line.
 */
export function parseProfileCsv(text: string, shape: ProfileShape, at = 'traffic.profile.csv'): { points: ProfilePoint[]; meanRate: number } {
  const problems: string[] = [];
  const sums = new Map<number, { sum: number; n: number }>();
  let form: 'minute' | 'timestamp' | undefined;
  let sawData = false;
  let first = true;
  text.split(/\r?\n/).forEach((raw, i) => {
    if (problems.length >= MAX_PROBLEMS) return;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${at}: line ${i + 1}`;
    const cells = line.split(',').map((c) => c.trim());
    const wasFirst = first;
    first = false;
    if (wasFirst && !isNumeric(cells[0] ?? '') && Number.isNaN(Date.parse(cells[0] ?? ''))) {
      const head = cells.map((c) => c.toLowerCase()).join(',');
      if (head === 'minute,rate') form = 'minute';
      else if (head === 'timestamp,rate') form = 'timestamp';
      else problems.push(`${where}: header must be "minute,rate" or "timestamp,rate"`);
      return;
    }
    if (cells.length !== 2) return void problems.push(`${where}: needs 2 columns (minute or timestamp, rate), got ${cells.length}`);
    const [key, rateText] = cells as [string, string];
    const lineForm = isNumeric(key) ? 'minute' : 'timestamp';
    form ??= lineForm;
    if (lineForm !== form) return void problems.push(`${where}: expected a ${form} in the first column, got "${key.slice(0, 40)}"`);
    let minute: number;
    if (form === 'minute') {
      const m = Number(key);
      if (!Number.isInteger(m) || m < 0) return void problems.push(`${where}: minute must be an integer >= 0, got "${key.slice(0, 40)}"`);
      minute = m % MINUTES_PER_DAY;
    } else {
      const ms = Date.parse(key);
      if (Number.isNaN(ms)) return void problems.push(`${where}: timestamp is not an ISO date: "${key.slice(0, 40)}"`);
      minute = Math.floor((((ms % 86_400_000) + 86_400_000) % 86_400_000) / 60_000);
    }
    const rate = isNumeric(rateText) ? Number(rateText) : NaN;
    if (!(rate >= 0) || !Number.isFinite(rate)) return void problems.push(`${where}: rate must be a number >= 0, got "${rateText.slice(0, 40)}"`);
    sawData = true;
    const s = sums.get(minute) ?? { sum: 0, n: 0 };
    s.sum += rate;
    s.n++;
    sums.set(minute, s);
  });
  if (problems.length) throw new ConfigError(problems);
  if (!sawData) throw new ConfigError([`${at}: holds no rates`]);
  const absolute = [...sums.entries()].sort((x, y) => x[0] - y[0]).map(([minute, s]) => ({ hour: minute / 60, multiple: s.sum / s.n }));
  if (absolute.every((p) => p.multiple === 0)) throw new ConfigError([`${at}: every rate is 0 (no requests would be sent)`]);
  // The time-weighted mean of the curve as it will be followed (gaps hold or interpolate).
  const meanRate = new RateProfile(absolute, shape, 1, 0).meanMultiple;
  return { points: absolute.map((p) => ({ hour: p.hour, multiple: p.multiple / meanRate })), meanRate };
}

function isNumeric(s: string): boolean {
  return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s);
}

/** Cross-field problems of `traffic.profile` that the schema cannot say (load.ts). */
export function checkProfileConfig(p: RateProfileConfig, at = 'traffic.profile'): string[] {
  if (p.points !== undefined && p.csv !== undefined) return [`${at}: give points or csv, not both`];
  if (p.points === undefined && p.csv === undefined) return [`${at}: needs points or csv`];
  return p.points !== undefined ? checkPoints(p.points, at) : [];
}

/**
 * The profile a config asks for (a CSV is read now). `startHour` is resolved
 * by the caller (`clock` = the current UTC hour). Throws ConfigError naming the key.
 */
export function profileFromConfig(p: RateProfileConfig, startHour: number, at = 'traffic.profile'): { profile: RateProfile; csvMeanRate?: number } {
  const problems = checkProfileConfig(p, at);
  if (problems.length) throw new ConfigError(problems);
  if (p.csv !== undefined) {
    const shape = p.shape ?? 'step';
    const { points, meanRate } = parseProfileCsv(readCsv(p.csv, `${at}.csv`), shape, `${at}.csv`);
    return { profile: new RateProfile(points, shape, p.timeScale, startHour), csvMeanRate: meanRate };
  }
  return { profile: new RateProfile(p.points ?? [], p.shape ?? 'linear', p.timeScale, startHour) };
}

function readCsv(file: string, at: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${at}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`]);
  }
  if (text.length > MAX_CSV_BYTES) throw new ConfigError([`${at}: ${file} is larger than ${MAX_CSV_BYTES} bytes`]);
  return text;
}

/** `startHour: clock` → the current UTC hour of the day (fractional). */
export function resolveStartHour(startHour: number | 'clock', wallMs: number): number {
  if (startHour !== 'clock') return startHour;
  return (((wallMs % 86_400_000) + 86_400_000) % 86_400_000) / 3_600_000;
}
