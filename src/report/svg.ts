/**
 * Small, dependency-free SVG chart primitives for the HTML report and the
 * status page, plus the number/unit formatting shared by every renderer.
 *
 * Everything returns markup strings; every piece of text that reaches the
 * markup goes through `esc()`. Each drawn data mark (line path, point, bar,
 * heat-map cell) carries the class `series`, and each chart's root <svg> a
 * `data-chart` attribute, so tests can count what was drawn.
 */

// ---------------------------------------------------------------------------
// Escaping
// ---------------------------------------------------------------------------

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escape for HTML/SVG text and attribute values. */
export function esc(v: unknown): string {
  return String(v).replace(/[&<>"']/g, (c) => ESC[c] ?? c);
}

// ---------------------------------------------------------------------------
// Formatting for people
// ---------------------------------------------------------------------------

/** A number with `sig` significant digits (integers ≥ 10^sig kept whole), thousands grouped. */
export function num(v: number, sig = 3): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? '—' : v > 0 ? '∞' : '−∞';
  if (v === 0) return '0';
  const a = Math.abs(v);
  const mag = Math.floor(Math.log10(a));
  const decimals = Math.max(0, Math.min(6, sig - 1 - mag));
  const rounded = Number(v.toFixed(decimals));
  return rounded.toLocaleString('en-US', { minimumFractionDigits: 0, maximumFractionDigits: decimals });
}

/** Seconds → "412 ms", "3.21 s", "4m 12s", "6h 02m", "2d 3h". */
export function fmtDuration(sec: number): string {
  if (!Number.isFinite(sec)) return '—';
  const a = Math.abs(sec);
  const sign = sec < 0 ? '−' : '';
  if (a === 0) return '0 s';
  if (a < 1e-3) return `${sign}${num(a * 1e6)} µs`;
  if (a < 1) return `${sign}${num(a * 1e3)} ms`;
  if (a < 60) return `${sign}${num(a)} s`;
  if (a < 3600) {
    const m = Math.floor(a / 60);
    const s = Math.round(a - m * 60);
    return s === 60 ? `${sign}${m + 1}m 00s` : `${sign}${m}m ${String(s).padStart(2, '0')}s`;
  }
  if (a < 86400 * 2) {
    let h = Math.floor(a / 3600);
    let m = Math.round((a - h * 3600) / 60);
    if (m === 60) {
      h += 1;
      m = 0;
    }
    return `${sign}${h}h ${String(m).padStart(2, '0')}m`;
  }
  const d = Math.floor(a / 86400);
  const h = Math.round((a - d * 86400) / 3600);
  return `${sign}${d}d ${h}h`;
}

/** Seconds → milliseconds as a bare number for "… ms" table columns. */
export function fmtMs(sec: number): string {
  return num(sec * 1000);
}

const BIN = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** Bytes → "312 MiB", "7.92 GiB". */
export function fmtBytes(b: number): string {
  if (!Number.isFinite(b)) return '—';
  const a = Math.abs(b);
  let i = 0;
  while (i < BIN.length - 1 && a >= 1024 ** (i + 1)) i++;
  return `${b < 0 ? '−' : ''}${num(a / 1024 ** i)} ${BIN[i]}`;
}

/** Ratio 0..1 → "42%", "0.35%". */
export function fmtPct(ratio: number): string {
  if (!Number.isFinite(ratio)) return '—';
  if (ratio === 0) return '0%';
  const p = ratio * 100;
  return `${Math.abs(p) >= 10 ? num(p, 3) : num(p, 2)}%`;
}

export function fmtRate(rps: number): string {
  return `${num(rps)} req/s`;
}

/** Integer counts: "86,400". */
export function fmtInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—';
}

/** A value in a unit as used by series and trends: bytes, seconds, ratio, celsius, … */
export function fmtValue(v: number, unit: string): string {
  switch (normUnit(unit)) {
    case 'bytes':
      return fmtBytes(v);
    case 'seconds':
      return fmtDuration(v);
    case 'ratio':
      return fmtPct(v);
    case 'celsius':
      return `${num(v)} °C`;
    case 'watts':
      return `${num(v)} W`;
    case 'hertz':
      return Math.abs(v) >= 1e6 ? `${num(v / 1e6)} MHz` : `${num(v)} Hz`;
    case '':
      return num(v);
    default:
      return `${num(v)} ${unit}`;
  }
}

/** A per-hour slope with its sign: "+305 MiB/h". */
export function fmtSlope(perHour: number, unit: string): string {
  if (!Number.isFinite(perHour)) return '—';
  const sign = perHour > 0 ? '+' : perHour < 0 ? '−' : '±';
  const u = normUnit(unit);
  // Percent-points per hour read better than "%/h" of a ratio.
  const body = u === 'ratio' ? `${num(Math.abs(perHour) * 100, 2)} pp` : fmtValue(Math.abs(perHour), unit);
  return `${sign}${body}/h`;
}

export function normUnit(unit: string): string {
  const u = unit.trim().toLowerCase();
  if (u === 'bytes' || u === 'byte' || u === 'b') return 'bytes';
  if (u === 'seconds' || u === 'second' || u === 's' || u === 'sec') return 'seconds';
  if (u === 'ratio' || u === 'fraction') return 'ratio';
  if (u === 'celsius' || u === '°c' || u === 'c') return 'celsius';
  if (u === 'watts' || u === 'w') return 'watts';
  if (u === 'hertz' || u === 'hz') return 'hertz';
  return u;
}

/** ISO time → "2025-06-02 08:00:00 UTC" (unparseable input returned as is). */
export function fmtTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** ISO time → "10:13:00" (UTC clock only). */
export function fmtClock(iso: string | number): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().slice(11, 19);
}

/** Offset of `iso` from `startIso` as "+2h 30m" (empty when unparseable). */
export function fmtOffset(iso: string, startIso: string): string {
  const a = Date.parse(iso);
  const b = Date.parse(startIso);
  if (!Number.isFinite(a) || !Number.isFinite(b)) return '';
  const s = (a - b) / 1000;
  return s < 0 ? `−${fmtDuration(-s)}` : `+${fmtDuration(s)}`;
}

// ---------------------------------------------------------------------------
// Scales and axes
// ---------------------------------------------------------------------------

export interface Axis {
  domain: [number, number];
  ticks: number[];
  fmt: (v: number) => string;
  /** Logarithmic (domain strictly positive). */
  log?: boolean;
}

function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
}

/** Nice ticks covering [min, max] (domain widened to whole steps). */
export function niceTicks(min: number, max: number, count = 5): { domain: [number, number]; ticks: number[]; step: number } {
  let lo = min;
  let hi = max;
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
    lo = 0;
    hi = 1;
  }
  if (hi - lo < 1e-12) {
    const pad = Math.abs(hi) > 0 ? Math.abs(hi) * 0.1 : 1;
    lo -= pad;
    hi += pad;
    if (min >= 0 && lo < 0) lo = 0;
  }
  const step = niceStep(hi - lo, count);
  const d0 = Math.floor(lo / step + 1e-9) * step;
  const d1 = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let v = d0, i = 0; v <= d1 + step * 1e-6 && i < 50; v += step, i++) ticks.push(Number(v.toPrecision(12)));
  return { domain: [d0, d1], ticks, step };
}

/** A value axis in a unit: ticks nice in the unit people read (GiB, ms, %). */
export function valueAxis(min: number, max: number, unit: string, count = 5): Axis {
  const u = normUnit(unit);
  let base = 1;
  let suffix = unit === '' ? '' : ` ${unit}`;
  const a = Math.max(Math.abs(min), Math.abs(max));
  if (u === 'bytes') {
    let i = 0;
    while (i < BIN.length - 1 && a >= 1024 ** (i + 1)) i++;
    base = 1024 ** i;
    suffix = ` ${BIN[i]}`;
  } else if (u === 'seconds') {
    if (a < 1) {
      base = 1e-3;
      suffix = ' ms';
    } else {
      suffix = ' s';
    }
  } else if (u === 'ratio') {
    base = 0.01;
    suffix = '%';
  } else if (u === 'celsius') {
    suffix = ' °C';
  } else if (u === 'hertz' && a >= 1e6) {
    base = 1e6;
    suffix = ' MHz';
  } else if (u === 'req/s' || u === 'tokens/s' || u === 'tok/s') {
    suffix = '';
  }
  const nt = niceTicks(min / base, max / base, count);
  const decimals = Math.min(10, Math.max(0, -Math.floor(Math.log10(nt.step) + 1e-9)));
  const fmt = (v: number): string => {
    const x = v / base;
    return `${x.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals })}${suffix}`;
  };
  return { domain: [nt.domain[0] * base, nt.domain[1] * base], ticks: nt.ticks.map((t) => t * base), fmt };
}

/**
 * A log axis in a unit over [min, max] (both > 0): bounds and ticks on the
 * 1-2-5 sequence, thinned to powers of ten when there are too many.
 */
export function logAxis(min: number, max: number, unit: string): Axis {
  const lo0 = Math.max(min, 1e-12);
  const hi0 = Math.max(max, lo0 * 1.0001);
  const seq = (k: number): number[] => [1, 2, 5].map((m) => Number((m * 10 ** k).toPrecision(6)));
  const all: number[] = [];
  for (let k = Math.floor(Math.log10(lo0)) - 1; k <= Math.ceil(Math.log10(hi0)) + 1; k++) all.push(...seq(k));
  const lo = [...all].reverse().find((v) => v <= lo0 * 1.0000001) ?? lo0;
  const hi = all.find((v) => v >= hi0 * 0.9999999) ?? hi0;
  let ticks = all.filter((v) => v >= lo * 0.9999999 && v <= hi * 1.0000001);
  if (ticks.length > 8) ticks = ticks.filter((v, i) => i === 0 || i === ticks.length - 1 || Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9);
  return { domain: [lo, hi], ticks, fmt: (v) => fmtValue(v, unit), log: true };
}

const TIME_STEPS_MS = [
  1e3,
  5e3,
  10e3,
  15e3,
  30e3,
  60e3,
  2 * 60e3,
  5 * 60e3,
  10 * 60e3,
  15 * 60e3,
  30 * 60e3,
  3600e3,
  2 * 3600e3,
  3 * 3600e3,
  6 * 3600e3,
  12 * 3600e3,
  86400e3,
  2 * 86400e3,
  7 * 86400e3,
];

/** A wall-clock axis over [fromMs, toMs] (UTC labels). */
export function timeAxis(fromMs: number, toMs: number, count = 6): Axis {
  const lo = fromMs;
  let hi = toMs;
  if (!(hi > lo)) hi = lo + 60e3;
  const span = hi - lo;
  const step = TIME_STEPS_MS.find((s) => span / s <= count) ?? TIME_STEPS_MS[TIME_STEPS_MS.length - 1]!;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) ticks.push(t);
  const withDate = span > 36 * 3600e3;
  const withSec = step < 60e3;
  const fmt = (v: number): string => {
    const iso = new Date(v).toISOString();
    const clock = withSec ? iso.slice(11, 19) : iso.slice(11, 16);
    return withDate ? `${iso.slice(5, 10)} ${clock}` : clock;
  };
  return { domain: [lo, hi], ticks, fmt };
}

function scale(d: [number, number], r0: number, r1: number): (v: number) => number {
  const span = d[1] - d[0] || 1;
  return (v) => r0 + ((v - d[0]) / span) * (r1 - r0);
}

function axisScale(a: Axis, r0: number, r1: number): (v: number) => number {
  if (a.log !== true) return scale(a.domain, r0, r1);
  const l0 = Math.log10(a.domain[0]);
  const span = Math.log10(a.domain[1]) - l0 || 1;
  // Non-positive values cannot be placed on a log axis: they break the line.
  return (v) => (v > 0 ? r0 + ((Math.log10(v) - l0) / span) * (r1 - r0) : NaN);
}

/** Two decimals at most, for compact path data. */
function f(v: number): string {
  return String(Math.round(v * 10) / 10);
}

/** Estimated text width at a font size (no layout engine at hand). */
export function textWidth(s: string, size = 12): number {
  return s.length * size * 0.58;
}

// ---------------------------------------------------------------------------
// Palette
// ---------------------------------------------------------------------------

export const COLORS = {
  p50: '#2f81f7',
  p95: '#d29922',
  p99: '#cf222e',
  achieved: '#2f81f7',
  goodput: '#1a7f37',
  target: '#8c959f',
  tokens: '#8250df',
  slo: '#cf222e',
  knee: '#6e7781',
  axis: '#57606a',
  grid: '#eaeef2',
  text: '#1f2328',
  info: '#2f81f7',
  warning: '#d29922',
  critical: '#cf222e',
  series: ['#2f81f7', '#8250df', '#1a7f37', '#bf3989', '#d29922', '#0a7b83'],
} as const;

// ---------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------

/** Wrap chart content in a root <svg> with a data-chart name and an accessible title. */
export function svgRoot(name: string, width: number, height: number, title: string, body: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" data-chart="${esc(name)}" viewBox="0 0 ${width} ${height}" ` +
    `width="${width}" height="${height}" role="img" aria-label="${esc(title)}" ` +
    `font-family="system-ui,-apple-system,'Segoe UI',Roboto,sans-serif" font-size="12">` +
    `<title>${esc(title)}</title>${body}</svg>`
  );
}

export interface LegendItem {
  label: string;
  color: string;
  dash?: string;
  /** 'line' (default), 'box' (filled square) or 'dot'. */
  kind?: 'line' | 'box' | 'dot';
}

/** A one-row legend starting at (x, y); returns markup and its width. */
export function legend(items: LegendItem[], x: number, y: number): { svg: string; width: number } {
  let cx = x;
  const parts: string[] = [];
  for (const it of items) {
    const kind = it.kind ?? 'line';
    if (kind === 'box') parts.push(`<rect x="${f(cx)}" y="${f(y - 5)}" width="12" height="10" fill="${esc(it.color)}" rx="2"/>`);
    else if (kind === 'dot') parts.push(`<circle cx="${f(cx + 6)}" cy="${f(y)}" r="4" fill="${esc(it.color)}"/>`);
    else
      parts.push(
        `<line x1="${f(cx)}" y1="${f(y)}" x2="${f(cx + 18)}" y2="${f(y)}" stroke="${esc(it.color)}" stroke-width="2.5"${it.dash !== undefined ? ` stroke-dasharray="${esc(it.dash)}"` : ''}/>`,
      );
    const sw = kind === 'line' ? 22 : 16;
    parts.push(`<text x="${f(cx + sw)}" y="${f(y + 4)}" fill="${COLORS.text}">${esc(it.label)}</text>`);
    cx += sw + textWidth(it.label) + 16;
  }
  return { svg: `<g class="legend">${parts.join('')}</g>`, width: cx - x };
}

export interface LineSeries {
  label: string;
  color: string;
  /** [x, y]; non-finite y breaks the line. */
  points: [number, number][];
  dash?: string;
  width?: number;
  /** Draw a dot at every point (for few, discrete points such as ramp steps). */
  markers?: boolean;
  /** Extra classes besides `series`. */
  className?: string;
}

export interface RefLine {
  at: number;
  label: string;
  color: string;
  dash?: string;
}

export interface PanelSpec {
  /** Unique within the document (used for the clip path id). */
  id: string;
  /** Outer box of the panel (axes and labels included). */
  x: number;
  y: number;
  w: number;
  h: number;
  title?: string;
  xAxis: Axis;
  yAxis: Axis;
  xLabel: string;
  yLabel?: string;
  series: LineSeries[];
  /** Horizontal reference lines (SLOs). */
  hRefs?: RefLine[];
  /** Vertical reference lines (knee, events). */
  vRefs?: RefLine[];
  /** Shaded vertical bands [from, to] (e.g. a spike). */
  bands?: { from: number; to: number; label: string; color: string }[];
  /** Intervals marked on the time axis (hints firing), each a bar in its own lane just above the axis. */
  spans?: { from: number; to: number; label: string; color: string }[];
}

const M = { left: 64, right: 26, top: 26, bottom: 42 };

/** One x/y panel: grid, axes with ticks and labels, reference lines, series. */
export function linePanel(p: PanelSpec): string {
  const x0 = p.x + M.left;
  const x1 = p.x + p.w - M.right;
  const y0 = p.y + p.h - M.bottom;
  const y1 = p.y + M.top;
  const sx = axisScale(p.xAxis, x0, x1);
  const sy = axisScale(p.yAxis, y0, y1);
  const out: string[] = [];
  const clipId = `clip-${p.id.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  out.push(`<defs><clipPath id="${clipId}"><rect x="${f(x0)}" y="${f(y1 - 4)}" width="${f(x1 - x0)}" height="${f(y0 - y1 + 8)}"/></clipPath></defs>`);
  if (p.title !== undefined) out.push(`<text x="${f(x0)}" y="${f(p.y + 14)}" font-weight="600" fill="${COLORS.text}">${esc(p.title)}</text>`);
  for (const b of p.bands ?? []) {
    const bx0 = Math.max(x0, sx(b.from));
    const bx1 = Math.min(x1, sx(b.to));
    if (bx1 > bx0) {
      out.push(`<rect x="${f(bx0)}" y="${f(y1)}" width="${f(bx1 - bx0)}" height="${f(y0 - y1)}" fill="${esc(b.color)}" opacity="0.12"><title>${esc(b.label)}</title></rect>`);
      out.push(`<text x="${f(bx0 + 4)}" y="${f(y1 + 26)}" fill="${esc(b.color)}" font-size="11">${esc(b.label)}</text>`);
    }
  }
  (p.spans ?? []).forEach((sp, i) => {
    if (!Number.isFinite(sp.from) || !Number.isFinite(sp.to)) return;
    const sx0 = Math.max(x0, sx(sp.from));
    // At least 3 px: a hint that fired at the very end still shows.
    const sx1 = Math.min(x1, Math.max(sx(sp.to), sx0 + 3));
    if (!(sx1 > sx0)) return;
    const lane = y0 - 5 - (i % 6) * 8;
    out.push(`<rect x="${f(sx0)}" y="${f(y1)}" width="${f(sx1 - sx0)}" height="${f(y0 - y1)}" fill="${esc(sp.color)}" opacity="0.06"/>`);
    out.push(`<path class="hint-mark" d="M${f(sx0)} ${f(lane)}H${f(sx1)}" stroke="${esc(sp.color)}" stroke-width="6" opacity="0.85"><title>${esc(sp.label)}</title></path>`);
  });
  // Grid and y ticks.
  for (const t of p.yAxis.ticks) {
    const yy = sy(t);
    if (yy < y1 - 0.5 || yy > y0 + 0.5) continue;
    out.push(`<line x1="${f(x0)}" y1="${f(yy)}" x2="${f(x1)}" y2="${f(yy)}" stroke="${COLORS.grid}"/>`);
    out.push(`<text x="${f(x0 - 6)}" y="${f(yy + 4)}" text-anchor="end" fill="${COLORS.axis}" font-size="11">${esc(p.yAxis.fmt(t))}</text>`);
  }
  // x ticks.
  for (const t of p.xAxis.ticks) {
    const xx = sx(t);
    if (xx < x0 - 0.5 || xx > x1 + 0.5) continue;
    out.push(`<line x1="${f(xx)}" y1="${f(y0)}" x2="${f(xx)}" y2="${f(y0 + 4)}" stroke="${COLORS.axis}"/>`);
    const label = p.xAxis.fmt(t);
    const anchor = xx + textWidth(label, 11) / 2 > p.x + p.w - 2 ? 'end' : 'middle';
    out.push(`<text x="${f(anchor === 'end' ? Math.min(xx + 6, p.x + p.w - 2) : xx)}" y="${f(y0 + 16)}" text-anchor="${anchor}" fill="${COLORS.axis}" font-size="11">${esc(label)}</text>`);
  }
  // Axes.
  out.push(`<line x1="${f(x0)}" y1="${f(y0)}" x2="${f(x1)}" y2="${f(y0)}" stroke="${COLORS.axis}"/>`);
  out.push(`<line x1="${f(x0)}" y1="${f(y0)}" x2="${f(x0)}" y2="${f(y1)}" stroke="${COLORS.axis}"/>`);
  out.push(`<text x="${f((x0 + x1) / 2)}" y="${f(p.y + p.h - 6)}" text-anchor="middle" fill="${COLORS.axis}">${esc(p.xLabel)}</text>`);
  if (p.yLabel !== undefined) out.push(`<text transform="translate(${f(p.x + 12)} ${f((y0 + y1) / 2)}) rotate(-90)" text-anchor="middle" fill="${COLORS.axis}">${esc(p.yLabel)}</text>`);
  // Reference lines.
  for (const r of p.hRefs ?? []) {
    const yy = sy(r.at);
    if (yy < y1 - 0.5 || yy > y0 + 0.5) continue;
    out.push(`<line x1="${f(x0)}" y1="${f(yy)}" x2="${f(x1)}" y2="${f(yy)}" stroke="${esc(r.color)}" stroke-width="1.5" stroke-dasharray="${esc(r.dash ?? '6 4')}"/>`);
    out.push(`<text x="${f(x0 + 6)}" y="${f(yy - 5)}" fill="${esc(r.color)}" font-size="11">${esc(r.label)}</text>`);
  }
  for (const r of p.vRefs ?? []) {
    const xx = sx(r.at);
    if (xx < x0 - 0.5 || xx > x1 + 0.5) continue;
    out.push(`<line x1="${f(xx)}" y1="${f(y0)}" x2="${f(xx)}" y2="${f(y1)}" stroke="${esc(r.color)}" stroke-width="1.5" stroke-dasharray="${esc(r.dash ?? '4 3')}"/>`);
    const anchor = xx > (x0 + x1) / 2 ? 'end' : 'start';
    out.push(`<text x="${f(xx + (anchor === 'end' ? -4 : 4))}" y="${f(y1 + 10)}" text-anchor="${anchor}" fill="${esc(r.color)}" font-size="11">${esc(r.label)}</text>`);
  }
  // Series.
  out.push(`<g clip-path="url(#${clipId})">`);
  for (const s of p.series) {
    const cls = `series${s.className !== undefined ? ` ${esc(s.className)}` : ''}`;
    const d = pathData(s.points, sx, sy);
    if (d !== '')
      out.push(
        `<path class="${cls}" d="${d}" fill="none" stroke="${esc(s.color)}" stroke-width="${s.width ?? 2}" stroke-linejoin="round" stroke-linecap="round"${s.dash !== undefined ? ` stroke-dasharray="${esc(s.dash)}"` : ''}><title>${esc(s.label)}</title></path>`,
      );
    if (s.markers === true) {
      for (const [px, py] of s.points) {
        if (!Number.isFinite(px) || !Number.isFinite(py) || !Number.isFinite(sx(px)) || !Number.isFinite(sy(py))) continue;
        out.push(`<circle class="${cls}" cx="${f(sx(px))}" cy="${f(sy(py))}" r="3" fill="${esc(s.color)}"><title>${esc(`${s.label}: ${p.xAxis.fmt(px)} → ${p.yAxis.fmt(py)}`)}</title></circle>`);
      }
    }
  }
  out.push('</g>');
  return out.join('');
}

function pathData(points: [number, number][], sx: (v: number) => number, sy: (v: number) => number): string {
  const parts: string[] = [];
  let pen = false;
  let n = 0;
  for (const [x, y] of points) {
    const px = Number.isFinite(x) ? sx(x) : NaN;
    const py = Number.isFinite(y) ? sy(y) : NaN;
    if (!Number.isFinite(px) || !Number.isFinite(py)) {
      pen = false;
      continue;
    }
    parts.push(`${pen ? 'L' : 'M'}${f(px)} ${f(py)}`);
    pen = true;
    n++;
  }
  if (n === 1) {
    // A lone point still gets a visible mark.
    parts.push('h0.1');
  }
  return parts.join('');
}

/** Extent of finite values. */
export function extent(values: Iterable<number>): [number, number] | undefined {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : undefined;
}

/** Keep at most ~2·buckets points: the min and max of each time bucket, in order. */
export function downsample(points: [number, number][], buckets = 500): [number, number][] {
  if (points.length <= buckets * 2) return points;
  const first = points[0]![0];
  const last = points[points.length - 1]![0];
  const width = (last - first) / buckets || 1;
  const out: [number, number][] = [];
  let i = 0;
  while (i < points.length) {
    const b = Math.floor((points[i]![0] - first) / width);
    let lo = points[i]!;
    let hi = points[i]!;
    let j = i;
    while (j < points.length && Math.floor((points[j]![0] - first) / width) === b) {
      const p = points[j]!;
      if (!Number.isFinite(p[1])) {
        j++;
        continue;
      }
      if (!Number.isFinite(lo[1]) || p[1] < lo[1]) lo = p;
      if (!Number.isFinite(hi[1]) || p[1] > hi[1]) hi = p;
      j++;
    }
    if (lo === hi) out.push(lo);
    else if (lo[0] <= hi[0]) out.push(lo, hi);
    else out.push(hi, lo);
    i = j;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Heat map
// ---------------------------------------------------------------------------

export interface HeatMapSpec {
  name: string;
  title: string;
  /** Column labels (left to right). */
  xCats: string[];
  /** Row labels (bottom to top). */
  yCats: string[];
  xLabel: string;
  yLabel: string;
  /** values[row][col]; null = not measured. */
  values: (number | null)[][];
  /** Within the SLO per cell; the boundary is drawn between true and false cells. */
  within?: (boolean | null)[][];
  fmt: (v: number) => string;
  /** Label of the colour scale, e.g. "p99 TTFT". */
  scaleLabel: string;
  /** Optional tooltip per cell. */
  tooltip?: (row: number, col: number) => string;
}

const HEAT_STOPS: [number, [number, number, number]][] = [
  [0, [26, 152, 80]],
  [0.5, [254, 224, 139]],
  [1, [215, 48, 39]],
];

function heatColor(t: number): string {
  const x = Math.max(0, Math.min(1, t));
  for (let i = 1; i < HEAT_STOPS.length; i++) {
    const [t1, c1] = HEAT_STOPS[i]!;
    const [t0, c0] = HEAT_STOPS[i - 1]!;
    if (x <= t1) {
      const k = (x - t0) / (t1 - t0);
      const c = c0.map((v, j) => Math.round(v + (c1[j]! - v) * k));
      return `rgb(${c[0]},${c[1]},${c[2]})`;
    }
  }
  return 'rgb(215,48,39)';
}

/** A categorical heat map with a log colour scale and the SLO boundary drawn thick. */
export function heatMap(s: HeatMapSpec): string {
  const cols = s.xCats.length;
  const rows = s.yCats.length;
  const cw = Math.max(56, Math.min(110, Math.floor(760 / Math.max(1, cols))));
  const ch = 34;
  const left = 76;
  const top = 34;
  const gw = cw * cols;
  const gh = ch * rows;
  const legendW = 150;
  const width = left + gw + 40 + legendW;
  const height = top + gh + 52;
  const vals = s.values.flat().filter((v): v is number => v !== null && Number.isFinite(v) && v > 0);
  const ext = extent(vals) ?? [1, 1];
  const l0 = Math.log(ext[0]);
  const l1 = Math.log(ext[1]);
  const tOf = (v: number): number => (l1 - l0 < 1e-9 ? 0.5 : (Math.log(Math.max(v, ext[0])) - l0) / (l1 - l0));
  const out: string[] = [];
  out.push(`<text x="${left}" y="16" font-weight="600" fill="${COLORS.text}">${esc(s.title)}</text>`);
  const cellX = (c: number): number => left + c * cw;
  const cellY = (r: number): number => top + (rows - 1 - r) * ch;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = s.values[r]?.[c] ?? null;
      const x = cellX(c);
      const y = cellY(r);
      const tip = s.tooltip !== undefined ? s.tooltip(r, c) : `${s.yCats[r]} × ${s.xCats[c]}: ${v === null ? 'not measured' : s.fmt(v)}`;
      if (v === null || !Number.isFinite(v)) {
        out.push(`<rect x="${x + 1}" y="${y + 1}" width="${cw - 2}" height="${ch - 2}" fill="#f6f8fa" stroke="#d0d7de" stroke-dasharray="3 3"><title>${esc(tip)}</title></rect>`);
        out.push(`<text x="${x + cw / 2}" y="${y + ch / 2 + 4}" text-anchor="middle" fill="#8c959f" font-size="11">—</text>`);
        continue;
      }
      const within = s.within?.[r]?.[c] ?? null;
      out.push(`<rect class="series" x="${x + 1}" y="${y + 1}" width="${cw - 2}" height="${ch - 2}" fill="${heatColor(tOf(v))}" rx="2"><title>${esc(tip)}</title></rect>`);
      out.push(
        `<text x="${x + cw / 2}" y="${y + ch / 2 + 4}" text-anchor="middle" fill="${COLORS.text}" font-size="11"${within === true ? ' font-weight="600"' : ''}>${esc(s.fmt(v))}${within === true ? ' ✓' : ''}</text>`,
      );
    }
  }
  // SLO boundary: an edge between a within cell and a measured cell that is not.
  if (s.within !== undefined) {
    const w = (r: number, c: number): boolean | null => (r < 0 || c < 0 || r >= rows || c >= cols ? null : (s.within?.[r]?.[c] ?? null));
    const segs: string[] = [];
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        if (w(r, c) !== true) continue;
        const x = cellX(c);
        const y = cellY(r);
        if (w(r, c + 1) === false) segs.push(`M${x + cw} ${y}V${y + ch}`);
        if (w(r, c - 1) === false) segs.push(`M${x} ${y}V${y + ch}`);
        if (w(r + 1, c) === false) segs.push(`M${x} ${y}H${x + cw}`);
        if (w(r - 1, c) === false) segs.push(`M${x} ${y + ch}H${x + cw}`);
      }
    }
    if (segs.length > 0) out.push(`<path class="slo-boundary" d="${segs.join('')}" fill="none" stroke="${COLORS.text}" stroke-width="3" stroke-linecap="square"><title>SLO boundary</title></path>`);
  }
  // Axis labels.
  for (let c = 0; c < cols; c++) out.push(`<text x="${cellX(c) + cw / 2}" y="${top + gh + 16}" text-anchor="middle" fill="${COLORS.axis}" font-size="11">${esc(s.xCats[c])}</text>`);
  for (let r = 0; r < rows; r++) out.push(`<text x="${left - 8}" y="${cellY(r) + ch / 2 + 4}" text-anchor="end" fill="${COLORS.axis}" font-size="11">${esc(s.yCats[r])}</text>`);
  out.push(`<text x="${left + gw / 2}" y="${top + gh + 38}" text-anchor="middle" fill="${COLORS.axis}">${esc(s.xLabel)}</text>`);
  out.push(`<text transform="translate(14 ${top + gh / 2}) rotate(-90)" text-anchor="middle" fill="${COLORS.axis}">${esc(s.yLabel)}</text>`);
  // Colour scale.
  const lx = left + gw + 40;
  const lh = Math.min(gh, 160);
  out.push(`<text x="${lx}" y="${top - 8}" fill="${COLORS.axis}" font-size="11">${esc(s.scaleLabel)}</text>`);
  out.push('<defs><linearGradient id="heatgrad" x1="0" y1="1" x2="0" y2="0">');
  for (const [t, c] of HEAT_STOPS) out.push(`<stop offset="${t}" stop-color="rgb(${c.join(',')})"/>`);
  out.push('</linearGradient></defs>');
  out.push(`<rect x="${lx}" y="${top}" width="14" height="${lh}" fill="url(#heatgrad)"/>`);
  out.push(`<text x="${lx + 20}" y="${top + 10}" fill="${COLORS.axis}" font-size="11">${esc(s.fmt(ext[1]))}</text>`);
  out.push(`<text x="${lx + 20}" y="${top + lh}" fill="${COLORS.axis}" font-size="11">${esc(s.fmt(ext[0]))}</text>`);
  out.push(`<text x="${lx + 20}" y="${top + lh / 2 + 4}" fill="${COLORS.axis}" font-size="11">log scale</text>`);
  if (s.within !== undefined) {
    out.push(`<line x1="${lx}" y1="${top + lh + 22}" x2="${lx + 18}" y2="${top + lh + 22}" stroke="${COLORS.text}" stroke-width="3"/>`);
    out.push(`<text x="${lx + 24}" y="${top + lh + 26}" fill="${COLORS.axis}" font-size="11">SLO boundary</text>`);
    out.push(`<text x="${lx}" y="${top + lh + 44}" fill="${COLORS.axis}" font-size="11">✓ all SLOs held</text>`);
  }
  return svgRoot(s.name, width, Math.max(height, top + lh + 56), s.title, out.join(''));
}

// ---------------------------------------------------------------------------
// Timeline (hints)
// ---------------------------------------------------------------------------

export interface TimelineRow {
  label: string;
  startMs: number;
  /** Undefined: still active at the end of the window. */
  endMs?: number;
  color: string;
  tooltip: string;
}

export interface TimelineSpec {
  name: string;
  title: string;
  fromMs: number;
  toMs: number;
  rows: TimelineRow[];
  legend: LegendItem[];
  /** Point events drawn as ticks above the rows. */
  marks?: { atMs: number; label: string }[];
}

/** Bars on a time axis, one row each; open-ended bars end in an arrow. */
export function timeline(s: TimelineSpec): string {
  const width = 1000;
  const labelW = Math.min(300, Math.max(120, ...s.rows.map((r) => textWidth(r.label, 12) + 16)));
  const left = labelW + 8;
  const right = 20;
  const top = 48;
  const rowH = 26;
  const height = top + rowH * Math.max(1, s.rows.length) + 44;
  const ax = timeAxis(s.fromMs, s.toMs, 8);
  const sx = scale(ax.domain, left, width - right);
  const out: string[] = [];
  out.push(`<text x="8" y="16" font-weight="600" fill="${COLORS.text}">${esc(s.title)}</text>`);
  const lg = legend(s.legend, left, 34);
  out.push(lg.svg);
  const y0 = top + rowH * Math.max(1, s.rows.length);
  for (const t of ax.ticks) {
    const x = sx(t);
    out.push(`<line x1="${f(x)}" y1="${top - 4}" x2="${f(x)}" y2="${y0}" stroke="${COLORS.grid}"/>`);
    out.push(`<text x="${f(x)}" y="${y0 + 16}" text-anchor="middle" fill="${COLORS.axis}" font-size="11">${esc(ax.fmt(t))}</text>`);
  }
  out.push(`<line x1="${left}" y1="${y0}" x2="${width - right}" y2="${y0}" stroke="${COLORS.axis}"/>`);
  out.push(`<text x="${(left + width - right) / 2}" y="${y0 + 36}" text-anchor="middle" fill="${COLORS.axis}">time (UTC)</text>`);
  for (const m of s.marks ?? []) {
    const x = sx(m.atMs);
    if (x < left || x > width - right) continue;
    out.push(`<line x1="${f(x)}" y1="${top - 6}" x2="${f(x)}" y2="${y0}" stroke="${COLORS.knee}" stroke-dasharray="2 3"><title>${esc(m.label)}</title></line>`);
    out.push(`<path d="M${f(x - 4)} ${top - 10}h8l-4 6z" fill="${COLORS.knee}"><title>${esc(m.label)}</title></path>`);
  }
  s.rows.forEach((r, i) => {
    const y = top + i * rowH;
    out.push(`<text x="${left - 8}" y="${y + rowH / 2 + 4}" text-anchor="end" fill="${COLORS.text}">${esc(r.label)}</text>`);
    const xa = Math.max(left, Math.min(width - right, sx(r.startMs)));
    const open = r.endMs === undefined;
    const xb = Math.max(xa + 3, Math.min(width - right, sx(r.endMs ?? s.toMs)));
    const h = rowH - 10;
    out.push(`<rect class="series" x="${f(xa)}" y="${y + 5}" width="${f(xb - xa)}" height="${h}" rx="3" fill="${esc(r.color)}" opacity="0.85"><title>${esc(r.tooltip)}</title></rect>`);
    if (open) out.push(`<path d="M${f(xb)} ${y + 3}l8 ${h / 2 + 2}l-8 ${h / 2 + 2}z" fill="${esc(r.color)}"><title>still active</title></path>`);
  });
  return svgRoot(s.name, width, height, s.title, out.join(''));
}

// ---------------------------------------------------------------------------
// Sparkline (status page)
// ---------------------------------------------------------------------------

export interface SparklineSpec {
  name: string;
  title: string;
  points: [number, number][];
  color: string;
  fmt: (v: number) => string;
  width?: number;
  height?: number;
}

/** A small line with its last value, min and max, no axes. */
export function sparkline(s: SparklineSpec): string {
  const width = s.width ?? 320;
  const height = s.height ?? 70;
  const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const ex = extent(pts.map((p) => p[0])) ?? [0, 1];
  const ey = extent(pts.map((p) => p[1])) ?? [0, 1];
  const y0v = Math.min(0, ey[0]);
  const y1v = ey[1] > y0v ? ey[1] : y0v + 1;
  const sx = scale(ex[1] > ex[0] ? ex : [ex[0] - 1, ex[0] + 1], 4, width - 90);
  const sy = scale([y0v, y1v], height - 18, 20);
  const last = pts[pts.length - 1];
  const out: string[] = [];
  out.push(`<text x="4" y="14" fill="${COLORS.axis}" font-size="13">${esc(s.title)}</text>`);
  out.push(`<line x1="4" y1="${height - 18}" x2="${width - 90}" y2="${height - 18}" stroke="${COLORS.grid}"/>`);
  const d = pathData(pts, sx, sy);
  if (d !== '') {
    out.push(`<path class="series" d="${d}" fill="none" stroke="${esc(s.color)}" stroke-width="1.8" stroke-linejoin="round"/>`);
  }
  if (last !== undefined) {
    out.push(`<circle class="series" cx="${f(sx(last[0]))}" cy="${f(sy(last[1]))}" r="3" fill="${esc(s.color)}"/>`);
    out.push(`<text x="${width - 84}" y="${f(sy(last[1]) + 5)}" fill="${COLORS.text}" font-weight="600" font-size="14">${esc(s.fmt(last[1]))}</text>`);
  }
  out.push(`<text x="4" y="${height - 3}" fill="${COLORS.axis}" font-size="12">max ${esc(s.fmt(ey[1]))} · min ${esc(s.fmt(ey[0]))}</text>`);
  return svgRoot(s.name, width, height, s.title, out.join(''));
}
