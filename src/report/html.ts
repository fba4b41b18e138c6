/**
 * One self-contained HTML file per Report: inline CSS, inline SVG charts
 * drawn by ./svg.ts, no external resources and no script. Readable in a
 * minute: verdict and headline figures first, then the charts, then the same
 * tables as the Markdown report. Every piece of text from the report is
 * escaped (step labels, hint summaries and evidence come from outside).
 */
import type { HintEntry, Plot, Report, StepResult } from './model.js';
import type { ReportFormat } from './format.js';
import {
  FIGURE_NAMES,
  KIND_TITLE,
  TREND_HEAD,
  errorRate,
  fmtErrors,
  fmtEvidence,
  fmtKnee,
  fmtPeriod,
  goodput,
  hasPeriods,
  INCIDENT_HEAD,
  incidentRow,
  FAILURE_HEAD,
  FAILURE_NOTE,
  failureRow,
  headlines,
  hintTime,
  loadAxis,
  safeParameters,
  sortedHints,
  stepTable,
  surfaceCell,
  trendRow,
  type LoadAxis,
} from './markdown.js';
import {
  COLORS,
  downsample,
  esc,
  extent,
  fmtDuration,
  fmtInt,
  fmtOffset,
  fmtPct,
  fmtRate,
  fmtSlope,
  fmtTime,
  heatMap,
  legend,
  linePanel,
  logAxis,
  niceTicks,
  num,
  svgRoot,
  textWidth,
  timeAxis,
  timeline,
  valueAxis,
  type Axis,
  type LegendItem,
  type LineSeries,
  type RefLine,
} from './svg.js';

/** The stylesheet shared by the report and the status page. */
export const BASE_CSS = `
:root{color-scheme:light}
*{box-sizing:border-box}
body{margin:0;background:#f6f8fa;color:#1f2328;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1320px;margin:0 auto;padding:20px 24px 48px}
h1{font-size:22px;margin:0}
h2{font-size:17px;margin:28px 0 10px;padding-bottom:4px;border-bottom:1px solid #d0d7de}
h3{font-size:14px;margin:16px 0 6px}
.card{background:#fff;border:1px solid #d0d7de;border-radius:10px;padding:16px 18px;margin:14px 0}
.top{display:flex;align-items:center;gap:14px;flex-wrap:wrap}
.badge{display:inline-block;padding:4px 14px;border-radius:999px;font-weight:700;font-size:15px;letter-spacing:.04em;color:#fff}
.badge.pass{background:#1a7f37}.badge.fail{background:#cf222e}
.meta{color:#57606a;margin:8px 0 0}
.meta code,td code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f6f8fa;padding:1px 4px;border-radius:4px;overflow-wrap:anywhere}
td.ev{min-width:220px}
ul.failures{margin:10px 0 0;padding-left:20px;color:#cf222e;font-weight:600}
ul.headlines{margin:10px 0 0;padding-left:20px}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;margin-top:14px}
.tile{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:8px 12px}
.tile .k{color:#57606a;font-size:12px}
.tile .v{font-size:22px;font-weight:650;font-variant-numeric:tabular-nums;white-space:nowrap}
.tile .s{color:#57606a;font-size:12px}
.tile.bad .v{color:#cf222e}.tile.good .v{color:#1a7f37}
figure{margin:0}
figure svg{width:100%;height:auto;display:block}
figcaption{color:#57606a;font-size:12px;margin-top:4px}
.tablewrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:12.5px;font-variant-numeric:tabular-nums;background:#fff}
th,td{padding:4px 7px;border-bottom:1px solid #eaeef2;text-align:right;vertical-align:top;white-space:nowrap}
td.l,td.wrap{white-space:normal}
td.l.nw{white-space:nowrap}
th{background:#f6f8fa;font-weight:600;white-space:normal;min-width:3em}
th.l,td.l{text-align:left}
tr.fail td{background:#fff5f5}
tr.knee td{background:#fff8c5}
td.ok{color:#1a7f37;font-weight:700;text-align:center}td.no{color:#cf222e;font-weight:700;text-align:center}
.sev{display:inline-block;padding:0 8px;border-radius:999px;color:#fff;font-size:12px;font-weight:600}
.sev.info{background:#2f81f7}.sev.warning{background:#bf8700}.sev.critical{background:#cf222e}
.muted{color:#57606a}
footer{color:#57606a;font-size:12px;margin-top:32px}
`;

// ---------------------------------------------------------------------------
// Charts
// ---------------------------------------------------------------------------

function loadXAxis(la: LoadAxis): Axis {
  const ex = extent(la.values) ?? [0, 1];
  const nt = niceTicks(Math.min(0, ex[0]), ex[1], 8);
  return { domain: nt.domain, ticks: nt.ticks, fmt: (v) => num(v) };
}

function kneeRef(r: Report, la: LoadAxis): RefLine[] {
  if (r.knee === undefined || r.knee.unit !== la.unit) return [];
  return [{ at: r.knee.value, label: `knee ${fmtKnee(r.knee)}`, color: COLORS.knee }];
}

/** (a) p50/p95/p99 of TTFT and E2E against load, one panel each, SLO dashed. */
function latencyChart(r: Report, la: LoadAxis): string {
  const W = 1000;
  const H = 330;
  const xa = loadXAxis(la);
  const panel = (key: 'ttft' | 'e2e', title: string, slo: number, x: number): string => {
    const mk = (q: 'p50' | 'p95' | 'p99'): LineSeries => ({
      label: `${title} ${q}`,
      color: COLORS[q],
      markers: true,
      width: q === 'p99' ? 2.5 : 2,
      points: r.steps.map((s, i) => [la.values[i]!, s[key][q]]),
    });
    const ys = r.steps.flatMap((s) => [s[key].p50, s[key].p95, s[key].p99]);
    const ex = extent([...ys, slo]) ?? [0, 1];
    // Latency that explodes past the knee spans decades: a log axis keeps the
    // SLO crossing readable next to the explosion.
    const pos = extent([...ys, slo].filter((v) => v > 0));
    const log = pos !== undefined && pos[1] / pos[0] > 30;
    const yAxis = log ? logAxis(pos[0], pos[1], 'seconds') : valueAxis(0, ex[1], 'seconds');
    return linePanel({
      id: `lat-${key}`,
      x,
      y: 28,
      w: W / 2,
      h: H - 28,
      title: `${title} percentiles${log ? ' (log scale)' : ''}`,
      xAxis: xa,
      yAxis,
      xLabel: la.label,
      yLabel: title,
      series: [mk('p50'), mk('p95'), mk('p99')],
      hRefs: [{ at: slo, label: `SLO ${fmtDuration(slo)}`, color: COLORS.slo }],
      vRefs: kneeRef(r, la),
    });
  };
  const lg = legend(
    [
      { label: 'p50', color: COLORS.p50 },
      { label: 'p95', color: COLORS.p95 },
      { label: 'p99', color: COLORS.p99 },
      { label: 'SLO', color: COLORS.slo, dash: '6 4' },
      ...(r.knee !== undefined ? [{ label: 'knee', color: COLORS.knee, dash: '4 3' }] : []),
    ],
    70,
    12,
  );
  const body = lg.svg + panel('ttft', 'TTFT', r.slo.ttftMs / 1000, 0) + panel('e2e', 'E2E', r.slo.e2eMs / 1000, W / 2);
  return svgRoot('latency', W, H, 'Latency percentiles against load', body);
}

/** (b) achieved throughput and goodput against load (and output tokens/s), knee marked. */
function throughputChart(r: Report, la: LoadAxis): string {
  const W = 1000;
  const H = 330;
  const xa = loadXAxis(la);
  const reqSeries: LineSeries[] = [
    { label: 'achieved req/s', color: COLORS.achieved, markers: true, width: 2.5, points: r.steps.map((s, i) => [la.values[i]!, s.achievedRps]) },
    { label: 'goodput req/s (all SLOs met)', color: COLORS.goodput, markers: true, width: 2.5, points: r.steps.map((s, i) => [la.values[i]!, s.goodputRps]) },
  ];
  if (la.unit === 'req/s') reqSeries.unshift({ label: 'asked-for rate', color: COLORS.target, dash: '3 4', width: 1.5, points: la.values.map((v) => [v, v]) });
  const reqMax = extent(reqSeries.flatMap((s) => s.points.map((p) => p[1]))) ?? [0, 1];
  const tokMax = extent(r.steps.map((s) => s.outputTokensPerSec)) ?? [0, 1];
  const left = linePanel({
    id: 'thr-req',
    x: 0,
    y: 28,
    w: W / 2,
    h: H - 28,
    title: 'Requests per second',
    xAxis: xa,
    yAxis: valueAxis(0, reqMax[1], 'req/s'),
    xLabel: la.label,
    yLabel: 'req/s',
    series: reqSeries,
    vRefs: kneeRef(r, la),
  });
  const right = linePanel({
    id: 'thr-tok',
    x: W / 2,
    y: 28,
    w: W / 2,
    h: H - 28,
    title: 'Output tokens per second',
    xAxis: xa,
    yAxis: valueAxis(0, tokMax[1], 'tokens/s'),
    xLabel: la.label,
    yLabel: 'tokens/s',
    series: [{ label: 'output tokens/s', color: COLORS.tokens, markers: true, width: 2.5, points: r.steps.map((s, i) => [la.values[i]!, s.outputTokensPerSec]) }],
    vRefs: kneeRef(r, la),
  });
  const lg = legend(
    [
      ...(la.unit === 'req/s' ? [{ label: 'asked for', color: COLORS.target, dash: '3 4' }] : []),
      { label: 'achieved', color: COLORS.achieved },
      { label: 'goodput (all SLOs met)', color: COLORS.goodput },
      { label: 'output tokens/s', color: COLORS.tokens },
      ...(r.knee !== undefined ? [{ label: 'knee', color: COLORS.knee, dash: '4 3' }] : []),
    ],
    70,
    12,
  );
  return svgRoot('throughput', W, H, 'Throughput and goodput against load', lg.svg + left + right);
}

function surfaceChart(r: Report): string | undefined {
  const sf = r.surface;
  if (sf === undefined || sf.concurrency.length === 0 || sf.inputTokens.length === 0) return undefined;
  const anyValue = sf.p99TtftSec.some((row) => row.some((v) => v !== null));
  if (!anyValue) return undefined;
  return heatMap({
    name: 'surface',
    title: 'Capacity surface: p99 TTFT by concurrency and prompt length',
    xCats: sf.inputTokens.map((n) => fmtInt(n)),
    yCats: sf.concurrency.map((c) => num(c)),
    xLabel: 'input tokens per request',
    yLabel: 'concurrency',
    values: sf.concurrency.map((_, ci) => sf.inputTokens.map((_, ii) => sf.p99TtftSec[ci]?.[ii] ?? null)),
    within: sf.withinSlo,
    fmt: (v) => fmtDuration(v),
    scaleLabel: 'p99 TTFT',
    tooltip: (ci, ii) => {
      const e2e = sf.p99E2eSec[ci]?.[ii] ?? null;
      const w = sf.withinSlo[ci]?.[ii] ?? null;
      return `concurrency ${num(sf.concurrency[ci]!)}, ${fmtInt(sf.inputTokens[ii]!)} input tokens: ${surfaceCell(sf, ci, ii)}${e2e !== null ? `, p99 E2E ${fmtDuration(e2e)}` : ''}${w === false ? ' (SLO missed)' : ''}`;
    },
  });
}

function plotChart(p: Plot, i: number, fromMs: number, toMs: number, marks: Marks): string | undefined {
  const pts = p.points.filter(([t, v]) => Number.isFinite(t) && Number.isFinite(v));
  if (pts.length === 0) return undefined;
  pts.sort((a, b) => a[0] - b[0]);
  const tx = extent(pts.map((q) => q[0]))!;
  const lo0 = Math.min(tx[0], Number.isFinite(fromMs) ? fromMs : tx[0]);
  const hi0 = Math.max(tx[1], Number.isFinite(toMs) ? toMs : tx[1]);
  const series: LineSeries[] = [{ label: `${p.name} (${p.unit})`, color: COLORS.series[i % COLORS.series.length]!, points: downsample(pts), width: 1.6 }];
  const legendItems: LegendItem[] = [{ label: p.unit !== '' ? `measured (${p.unit})` : 'measured', color: series[0]!.color }];
  if (p.fit !== undefined && Number.isFinite(p.fit.slopePerHour) && Number.isFinite(p.fit.intercept)) {
    const fit = p.fit;
    const f0 = Math.max(fit.fromMs, tx[0]);
    const at = (t: number): number => fit.intercept + (fit.slopePerHour * (t - fit.fromMs)) / 3_600_000;
    series.push({
      label: `fitted trend ${fmtSlope(fit.slopePerHour, p.unit)}`,
      color: COLORS.text,
      dash: '7 5',
      width: 2,
      className: 'fit',
      points: [
        [f0, at(f0)],
        [tx[1], at(tx[1])],
      ],
    });
    legendItems.push({ label: `fitted trend ${fmtSlope(fit.slopePerHour, p.unit)}`, color: COLORS.text, dash: '7 5' });
  }
  const ys = extent(series.flatMap((s) => s.points.map((q) => q[1])))!;
  // Zoom in on the data, but never so far that noise on a flat series looks
  // like movement: the y range spans at least 10% of the level. Include zero
  // when the data sit close to it.
  let lo = ys[0];
  let hi = ys[1];
  const level = Math.abs((lo + hi) / 2);
  const minSpan = level > 0 ? level * 0.1 : 1;
  if (hi - lo < minSpan) {
    const mid = (lo + hi) / 2;
    lo = mid - minSpan / 2;
    hi = mid + minSpan / 2;
    if (ys[0] >= 0 && lo < 0) {
      hi -= lo;
      lo = 0;
    }
  }
  const span = hi - lo;
  if (lo >= 0 && lo < span * 1.5) lo = 0;
  else lo -= span * 0.08;
  hi += span * 0.05;
  const W = 1000;
  const H = 250;
  const titleW = textWidth(p.name, 12) * 1.08;
  const lg = legend(legendItems, 64 + titleW + 28, 14);
  const body =
    `<text x="64" y="18" font-weight="600" fill="${COLORS.text}">${esc(p.name)}</text>` +
    lg.svg +
    linePanel({
      id: `ts-${i}`,
      x: 0,
      y: 14,
      w: W,
      h: H - 14,
      xAxis: timeAxis(lo0, hi0, 10),
      yAxis: valueAxis(lo, hi, p.unit),
      xLabel: 'time (UTC)',
      series,
      bands: marks.bands,
      vRefs: marks.vRefs,
      spans: marks.spans,
    });
  return svgRoot('timeseries', W, H, `${p.name} over time`, body).replace('<svg ', `<svg data-plot="${esc(p.name)}" `);
}

interface Marks {
  bands: { from: number; to: number; label: string; color: string }[];
  vRefs: RefLine[];
  /** Hints firing, as intervals on the time axis. */
  spans?: { from: number; to: number; label: string; color: string }[];
}

/** For a spike run: the spike as a shaded band, and where latency recovered. */
function spikeMarks(r: Report): Marks {
  const sp = r.spike;
  if (sp === undefined) return { bands: [], vRefs: [] };
  const spikeRate = sp.baseRate * sp.multiple;
  const step = r.steps.find((s) => s.targetRate !== undefined && Math.abs(s.targetRate - spikeRate) < 1e-9);
  const from = step !== undefined ? Date.parse(step.startedAt) : NaN;
  if (!Number.isFinite(from)) return { bands: [], vRefs: [] };
  const to = from + sp.spikeSec * 1000;
  const vRefs: RefLine[] = sp.recoverySec !== null ? [{ at: to + sp.recoverySec * 1000, label: `recovered ${fmtDuration(sp.recoverySec)} after the spike`, color: COLORS.goodput }] : [];
  return { bands: [{ from, to, label: `spike ${fmtRate(spikeRate)} for ${fmtDuration(sp.spikeSec)}`, color: COLORS.critical }], vRefs };
}

const SEV_COLOR: Record<HintEntry['severity'], string> = { info: COLORS.info, warning: COLORS.warning, critical: COLORS.critical };

/** Every hint that fired, from when it fired to when it resolved (or the end of the report). */
function hintSpans(r: Report): NonNullable<Marks['spans']> {
  const end = Date.parse(r.endedAt);
  return sortedHints(r.hints).flatMap((h) => {
    if (h.state === 'pending') return [];
    const from = Date.parse(h.firedAt ?? h.activeAt);
    const to = h.resolvedAt !== undefined ? Date.parse(h.resolvedAt) : end;
    if (!Number.isFinite(from)) return [];
    return [{ from, to: Number.isFinite(to) ? to : from, label: `${h.severity} ${h.cause} (${h.rule}): ${h.summary}`, color: SEV_COLOR[h.severity] ?? COLORS.info }];
  });
}

function hintsChart(r: Report): string | undefined {
  const hints = sortedHints(r.hints).filter((h) => Number.isFinite(Date.parse(h.activeAt)));
  if (hints.length === 0) return undefined;
  const starts = hints.map((h) => Date.parse(h.activeAt));
  const ends = hints.map((h) => (h.resolvedAt !== undefined ? Date.parse(h.resolvedAt) : NaN));
  const from = Math.min(Date.parse(r.startedAt), ...starts);
  const to = Math.max(Date.parse(r.endedAt), ...starts, ...ends.filter(Number.isFinite));
  return timeline({
    name: 'hints',
    title: 'Hints over the run',
    fromMs: Number.isFinite(from) ? from : Math.min(...starts),
    toMs: Number.isFinite(to) ? to : Math.max(...starts) + 60e3,
    rows: hints.map((h, i) => ({
      label: h.cause === h.rule ? h.cause : `${h.cause} (${h.rule})`,
      startMs: starts[i]!,
      ...(h.resolvedAt !== undefined && Number.isFinite(ends[i]!) ? { endMs: ends[i]! } : {}),
      color: SEV_COLOR[h.severity] ?? COLORS.info,
      tooltip: `${h.severity} · ${h.state} · ${h.summary}`,
    })),
    legend: [
      { label: 'info', color: COLORS.info, kind: 'box' },
      { label: 'warning', color: COLORS.warning, kind: 'box' },
      { label: 'critical', color: COLORS.critical, kind: 'box' },
      ...(r.events.length > 0 ? [{ label: 'event', color: COLORS.knee, dash: '2 3' }] : []),
    ],
    marks: r.events.filter((e) => Number.isFinite(Date.parse(e.at))).map((e) => ({ atMs: Date.parse(e.at), label: `${e.kind}: ${e.detail}` })),
  });
}

// ---------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------

function htmlTable(head: string[], rows: string[][], opts: { left?: number[]; rowClass?: (i: number) => string; cellClass?: (row: number, col: number) => string } = {}): string {
  const left = new Set(opts.left ?? [0]);
  const th = head.map((h, i) => `<th${left.has(i) ? ' class="l"' : ''}>${esc(h)}</th>`).join('');
  const trs = rows
    .map((row, ri) => {
      const cls = opts.rowClass?.(ri) ?? '';
      const tds = row
        .map((c, ci) => {
          const extra = opts.cellClass?.(ri, ci) ?? '';
          const classes = [left.has(ci) ? 'l' : '', extra].filter((x) => x !== '').join(' ');
          return `<td${classes !== '' ? ` class="${classes}"` : ''}>${c}</td>`;
        })
        .join('');
      return `<tr${cls !== '' ? ` class="${cls}"` : ''}>${tds}</tr>`;
    })
    .join('');
  return `<div class="tablewrap"><table><thead><tr>${th}</tr></thead><tbody>${trs}</tbody></table></div>`;
}

/** Cells are pre-escaped HTML in htmlTable; this escapes a plain row. */
function escRow(row: string[]): string[] {
  return row.map((c) => esc(c));
}

function kneeStepIndex(r: Report): number {
  if (r.knee === undefined) return -1;
  const k = r.knee;
  return r.steps.findIndex((s: StepResult) => (k.unit === 'req/s' ? s.targetRate : s.concurrency) === k.value && s.inputTokens === undefined);
}

// ---------------------------------------------------------------------------
// Document
// ---------------------------------------------------------------------------

function tile(k: string, v: string, sub: string, cls = ''): string {
  return `<div class="tile${cls !== '' ? ` ${cls}` : ''}"><div class="k">${esc(k)}</div><div class="v">${esc(v)}</div><div class="s">${esc(sub)}</div></div>`;
}

export function renderHtml(r: Report): string {
  const er = errorRate(r);
  const gp = goodput(r);
  const title = `llmsoak ${KIND_TITLE[r.kind] ?? r.kind} report — ${r.target.model}`;
  const parts: string[] = [];

  // Header.
  const badge = r.verdict.pass ? '<span class="badge pass">PASS</span>' : '<span class="badge fail">FAIL</span>';
  parts.push('<header class="card">');
  parts.push(`<div class="top">${badge}<h1>${esc(KIND_TITLE[r.kind] ?? r.kind)} · ${esc(r.target.model)}</h1></div>`);
  parts.push(
    `<p class="meta">Target <code>${esc(r.target.url)}</code>${r.target.embedded ? ' (embedded simulator)' : ''} · ${esc(fmtTime(r.startedAt))} → ${esc(fmtTime(r.endedAt))} · ${esc(fmtDuration(r.durationSec))}</p>`,
  );
  parts.push(
    `<p class="meta">SLOs: TTFT ≤ ${esc(fmtDuration(r.slo.ttftMs / 1000))} · TPOT ≤ ${esc(fmtDuration(r.slo.tpotMs / 1000))} · E2E ≤ ${esc(fmtDuration(r.slo.e2eMs / 1000))} · errors ≤ ${esc(fmtPct(r.slo.maxErrorRate))}</p>`,
  );
  if (!r.verdict.pass && r.verdict.failures.length > 0) parts.push(`<ul class="failures">${r.verdict.failures.map((f) => `<li>${esc(f)}</li>`).join('')}</ul>`);
  const hl = headlines(r);
  if (hl.length > 0) parts.push(`<ul class="headlines">${hl.map((h) => `<li>${esc(h)}</li>`).join('')}</ul>`);
  const ttft99 = r.overall.ttft.p99;
  const e2e99 = r.overall.e2e.p99;
  const tiles = [
    tile('Requests', fmtInt(r.totals.requests), `${fmtInt(r.totals.ok)} ok · ${fmtInt(r.totals.dropped)} dropped`),
    tile('Error rate', fmtPct(er), fmtErrors(r.totals.errors) || 'no errors', er > r.slo.maxErrorRate ? 'bad' : ''),
    tile(
      'p99 TTFT',
      r.overall.ttft.count > 0 ? fmtDuration(ttft99) : '—',
      `SLO ${fmtDuration(r.slo.ttftMs / 1000)} · p50 ${fmtDuration(r.overall.ttft.p50)}`,
      r.overall.ttft.count > 0 && ttft99 * 1000 > r.slo.ttftMs ? 'bad' : '',
    ),
    tile(
      'p99 E2E',
      r.overall.e2e.count > 0 ? fmtDuration(e2e99) : '—',
      `SLO ${fmtDuration(r.slo.e2eMs / 1000)} · p50 ${fmtDuration(r.overall.e2e.p50)}`,
      r.overall.e2e.count > 0 && e2e99 * 1000 > r.slo.e2eMs ? 'bad' : '',
    ),
    tile('Goodput', fmtPct(gp.share), `${fmtRate(gp.rps)} met every SLO`),
  ];
  if (r.knee !== undefined) tiles.push(tile('Knee', fmtKnee(r.knee), r.knee.cause !== undefined ? `cause: ${r.knee.cause}` : 'highest load within SLO'));
  if (r.spike !== undefined)
    tiles.push(
      tile(
        'Spike recovery',
        r.spike.recoverySec === null ? 'never' : fmtDuration(r.spike.recoverySec),
        `${num(r.spike.multiple)}× for ${fmtDuration(r.spike.spikeSec)}`,
        r.spike.recoverySec === null ? 'bad' : '',
      ),
    );
  parts.push(`<div class="tiles">${tiles.join('')}</div>`);
  parts.push('</header>');

  // Charts.
  const charts: string[] = [];
  // A sweep mixes closed-loop steps (synchronous, throughput) with open-loop rates: chart the rates.
  const openLoop = r.steps.filter((s) => s.targetRate !== undefined);
  const chartable = loadAxis(r.steps) !== undefined ? r : { ...r, steps: openLoop };
  const la = loadAxis(chartable.steps);
  if (la !== undefined) {
    charts.push(figure(latencyChart(chartable, la), 'Latency percentiles per step; dashed red: the SLO. Beyond the knee at least one SLO failed.'));
    charts.push(figure(throughputChart(chartable, la), 'Goodput counts only requests that met every SLO; the gap to "achieved" is load the target served too slowly.'));
  }
  const sfc = surfaceChart(r);
  if (sfc !== undefined) charts.push(figure(sfc, 'Cell colour and text: p99 TTFT. Cells inside the thick line (✓) held every SLO.'));
  const fromMs = Date.parse(r.startedAt);
  const toMs = Date.parse(r.endedAt);
  const marks: Marks = { ...spikeMarks(r), spans: hintSpans(r) };
  const spanNote = marks.spans !== undefined && marks.spans.length > 0 ? ' Bars on the time axis: hints firing (hover for which).' : '';
  r.timeseries.forEach((p, i) => {
    const c = plotChart(p, i, fromMs, toMs, marks);
    if (c !== undefined) charts.push(figure(c, `${p.fit !== undefined ? `Dashed: fitted linear trend, ${fmtSlope(p.fit.slopePerHour, p.unit)}.` : ''}${spanNote}`.trim()));
  });
  const hc = hintsChart(r);
  if (hc !== undefined) charts.push(figure(hc, 'Bars run from when a hint became active to when it resolved; an arrow means still active at the end.'));
  if (charts.length > 0) parts.push(`<h2>Charts</h2>${charts.map((c) => `<div class="card">${c}</div>`).join('')}`);

  // Tables.
  if (r.steps.length > 0) {
    const st = stepTable(r.steps);
    const ki = kneeStepIndex(r);
    const sloCol = st.head.length - 1;
    parts.push('<h2>Steps</h2>');
    parts.push(
      htmlTable(st.head, st.rows.map(escRow), {
        rowClass: (i) => (i === ki ? 'knee' : st.ok[i] ? '' : 'fail'),
        cellClass: (ri, ci) => (ci === sloCol ? (st.ok[ri] ? 'ok' : 'no') : ci === 0 ? 'nw' : ci === sloCol - 1 ? 'wrap' : ''),
      }),
    );
    parts.push(`<p class="muted">${ki >= 0 ? 'Yellow row: the knee. ' : ''}Red rows: at least one SLO failed.</p>`);
  }
  if (r.knee !== undefined) {
    parts.push('<h2>Knee</h2>');
    parts.push(
      `<div class="card"><p><strong>${esc(fmtKnee(r.knee))}</strong> — the highest load at which every SLO held.</p><p>Next level failed: ${esc(r.knee.reason)}</p>${r.knee.cause !== undefined ? `<p>Likely cause: <code>${esc(r.knee.cause)}</code></p>` : ''}</div>`,
    );
  }
  if (r.surface !== undefined && r.surface.concurrency.length > 0 && r.surface.inputTokens.length > 0) {
    const sf = r.surface;
    parts.push('<h2>Capacity surface</h2><p class="muted">p99 TTFT; ✓ = every SLO held, — = not measured.</p>');
    parts.push(
      htmlTable(
        ['Concurrency \\ input tokens', ...sf.inputTokens.map((n) => fmtInt(n))],
        sf.concurrency.map((c, ci) => escRow([num(c), ...sf.inputTokens.map((_, ii) => surfaceCell(sf, ci, ii))])),
        { cellClass: (ri, ci) => (ci === 0 ? '' : sf.withinSlo[ri]?.[ci - 1] === true ? 'ok' : '') },
      ),
    );
  }
  if (r.spike !== undefined) {
    const s = r.spike;
    parts.push('<h2>Spike recovery</h2>');
    parts.push(
      htmlTable(
        ['Base rate', 'Multiple', 'Spike rate', 'Spike length', 'Recovery'],
        [escRow([fmtRate(s.baseRate), `${num(s.multiple)}×`, fmtRate(s.baseRate * s.multiple), fmtDuration(s.spikeSec), s.recoverySec === null ? 'never recovered' : fmtDuration(s.recoverySec)])],
        { left: [] },
      ),
    );
  }
  if (r.trends.length > 0) {
    parts.push('<h2>Trends</h2>');
    parts.push(
      htmlTable(
        TREND_HEAD,
        r.trends.map((t) => {
          const row = escRow(trendRow(t));
          row[0] = `<code>${row[0]}</code>`;
          return row;
        }),
        { left: [0, 6], rowClass: (i) => (r.trends[i]!.verdict === 'increasing' || r.trends[i]!.verdict === 'decreasing' ? 'fail' : '') },
      ),
    );
  }
  if (r.hints.length > 0) {
    parts.push('<h2>Hints</h2>');
    parts.push(
      htmlTable(
        ['Time', 'State', 'Severity', 'Cause', 'Rule', 'Summary', 'Evidence', 'Suggestion'],
        sortedHints(r.hints).map((h) => [
          esc(hintTime(h, r.startedAt)),
          esc(h.state),
          `<span class="sev ${esc(h.severity)}">${esc(h.severity)}</span>`,
          `<code>${esc(h.cause)}</code>`,
          `<code>${esc(h.rule)}</code>`,
          esc(h.summary),
          `<code>${esc(fmtEvidence(h.evidence))}</code>`,
          esc(h.suggestion),
        ]),
        { left: [0, 1, 2, 3, 4, 5, 6, 7], cellClass: (_ri, ci) => (ci === 2 || ci === 3 || ci === 4 ? 'nw' : ci === 6 ? 'ev' : '') },
      ),
    );
  }
  if (r.events.length > 0) {
    parts.push('<h2>Events</h2>');
    const periods = hasPeriods(r.events);
    parts.push(
      htmlTable(
        ['Time', 'Kind', 'Detail', ...(periods ? ['Before', 'After'] : [])],
        [...r.events]
          .sort((a, b) => Date.parse(a.at) - Date.parse(b.at))
          .map((e) => [
            esc(`${fmtTime(e.at)} (${fmtOffset(e.at, r.startedAt)})`),
            `<code>${esc(e.kind)}</code>`,
            esc(e.detail),
            ...(periods ? [esc(fmtPeriod(e.before)), esc(fmtPeriod(e.after))] : []),
          ]),
        { left: periods ? [0, 1, 2, 3, 4] : [0, 1, 2] },
      ),
    );
  }
  if (r.incidents !== undefined && r.incidents.length > 0) {
    parts.push('<h2>Incidents</h2>');
    parts.push(
      htmlTable(
        INCIDENT_HEAD,
        r.incidents.map((i) => incidentRow(i, r.startedAt).map((c, ci) => (ci < 2 ? `<code>${esc(c)}</code>` : esc(c)))),
        { left: [0, 1, 2, 5] },
      ),
    );
  }
  if (r.failures !== undefined && r.failures.length > 0) {
    parts.push('<h2>Failures</h2>');
    parts.push(
      htmlTable(
        FAILURE_HEAD,
        r.failures.map((f) => failureRow(f, r.startedAt).map((c, ci) => (ci < 2 || ci === 5 ? `<code>${esc(c)}</code>` : esc(c)))),
        { left: [0, 1, 3, 4, 5] },
      ),
    );
    parts.push(`<p class="muted">${esc(FAILURE_NOTE)}</p>`);
  }

  // Totals, overall latency, setup.
  parts.push('<h2>Totals</h2>');
  const t = r.totals;
  parts.push(
    htmlTable(
      ['Requests', 'OK', 'Good (all SLOs)', 'Goodput', 'Dropped', 'Error rate', 'Errors', 'Input tokens', 'Output tokens'],
      [
        escRow([
          fmtInt(t.requests),
          fmtInt(t.ok),
          `${fmtInt(t.good)} (${fmtPct(gp.share)})`,
          fmtRate(gp.rps),
          fmtInt(t.dropped),
          fmtPct(er),
          fmtErrors(t.errors) || 'none',
          fmtInt(t.inputTokens),
          fmtInt(t.outputTokens),
        ]),
      ],
      { left: [6] },
    ),
  );
  const figRows = FIGURE_NAMES.filter(([k]) => r.overall[k].count > 0).map(([k, name]) => {
    const fg = r.overall[k];
    return escRow([name, fmtDuration(fg.p50), fmtDuration(fg.p90), fmtDuration(fg.p95), fmtDuration(fg.p99), fmtDuration(fg.max), fmtDuration(fg.mean), fmtInt(fg.count)]);
  });
  if (figRows.length > 0) {
    parts.push('<h3>Latency over the whole run</h3>');
    parts.push(htmlTable(['Latency', 'p50', 'p90', 'p95', 'p99', 'max', 'mean', 'count'], figRows));
  }
  const params = safeParameters(r.parameters);
  if (params.length > 0) {
    parts.push('<h2>Parameters</h2>');
    parts.push(
      htmlTable(
        ['Parameter', 'Value'],
        params.map(([k, v]) => [`<code>${esc(k)}</code>`, esc(v)]),
        { left: [0, 1] },
      ),
    );
  }
  parts.push(`<footer>llmsoak ${esc(r.version)} · ${esc(r.kind)} run · report generated from the JSON report of the same name.</footer>`);

  return (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width,initial-scale=1">' +
    `<title>${esc(title)}</title><style>${BASE_CSS}</style></head>` +
    `<body><main>${parts.join('\n')}</main></body></html>\n`
  );
}

function figure(svg: string, caption: string): string {
  return `<figure>${svg}${caption !== '' ? `<figcaption>${esc(caption)}</figcaption>` : ''}</figure>`;
}

export const htmlFormat = {
  name: 'html',
  ext: 'html',
  contentType: 'text/html; charset=utf-8',
  summary: 'a self-contained page with SVG charts (no script, nothing loaded)',
  always: true,
  render: renderHtml,
} as const satisfies ReportFormat;
