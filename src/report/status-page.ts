/**
 * The daemon's live page at `/`, for when no Grafana is at hand: one HTML
 * document, refreshed by the browser every 5 s (meta refresh, no script),
 * showing the load, rolling-window percentiles, totals, active hints, recent
 * reports and sparklines of recent history. Everything from outside escaped.
 */
import type { FailureEntry, HintEntry, RunKind } from './model.js';
import { BASE_CSS } from './html.js';
import { FAILURE_HEAD, FAILURE_NOTE, failureRow, fmtEvidence, hintTime, sortedHints } from './markdown.js';
import { COLORS, esc, fmtDuration, fmtInt, fmtPct, fmtRate, fmtTime, num, sparkline } from './svg.js';

/** Rolling-window figures of one latency, seconds. */
export interface WindowFigures {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export type WindowFigure = 'ttft' | 'itl' | 'tpot' | 'e2e' | 'corrected' | 'scheduleLag';

/** Everything the live page shows; JSON-safe (the same object can back /api/status). */
export interface StatusInput {
  version: string;
  /** When the daemon started, ISO 8601. */
  startedAt: string;
  target: { url: string; model: string; embedded: boolean };
  /** What the traffic engine does now, e.g. "soak", "ramp 40 req/s", "idle". */
  mode: string;
  /** Asked-for open-loop rate now, req/s. */
  targetRate: number;
  /** Achieved completion rate over the window, req/s; defaults to the last history point's rps. */
  achievedRps?: number;
  inFlight: number;
  /** Length of the rolling window the percentiles cover, s. */
  windowSec?: number;
  window: Record<WindowFigure, WindowFigures>;
  totals: { requests: number; ok: number; good: number; dropped: number; errors: Record<string, number>; inputTokens: number; outputTokens: number };
  /** Hints to show (pending and firing; resolved ones are listed separately). */
  hints: HintEntry[];
  /** Recent reports, newest first; linked as /api/reports/<name>.html. */
  reports: { name: string; kind: RunKind | string; startedAt: string; pass: boolean }[];
  /** Recent history, oldest first: t = unix ms. */
  history: { t: number; rps: number; p99TtftSec: number; errorRate: number }[];
  /** Time of the snapshot, ISO 8601 (defaults to now). */
  now?: string;
  /** Failures in the server's own words, most frequent first (src/failures/). */
  failures?: FailureEntry[];
}

const WINDOW_NAMES: [WindowFigure, string][] = [
  ['ttft', 'TTFT'],
  ['itl', 'ITL'],
  ['tpot', 'TPOT'],
  ['e2e', 'E2E'],
  ['corrected', 'E2E from schedule'],
  ['scheduleLag', 'Schedule lag'],
];

const STATUS_CSS = `
.two{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:14px}
.spark svg{width:100%;height:auto;display:block}
.hint{border-left:4px solid #2f81f7;padding:6px 10px;margin:8px 0;background:#fff}
.hint.warning{border-color:#bf8700}.hint.critical{border-color:#cf222e}
.hint .ev{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;color:#57606a;word-break:break-all}
a{color:#0969da}
`;

function tile(k: string, v: string, sub: string, cls = ''): string {
  return `<div class="tile${cls !== '' ? ` ${cls}` : ''}"><div class="k">${esc(k)}</div><div class="v">${esc(v)}</div><div class="s">${esc(sub)}</div></div>`;
}

/** Report names come from files on disk: keep the link to the API's own name space. */
function reportHref(name: string): string {
  return `/api/reports/${encodeURIComponent(name)}.html`;
}

export function renderStatusPage(s: StatusInput): string {
  const now = s.now ?? new Date().toISOString();
  const last = s.history[s.history.length - 1];
  const achieved = s.achievedRps ?? last?.rps;
  const errs = s.totals.requests - s.totals.ok;
  const errRate = s.totals.requests > 0 ? errs / s.totals.requests : 0;
  const up = (Date.parse(now) - Date.parse(s.startedAt)) / 1000;
  const parts: string[] = [];

  parts.push('<header class="card">');
  parts.push(`<div class="top"><h1>llmsoak · ${esc(s.mode)}</h1><span class="muted">auto-refresh every 5 s</span></div>`);
  parts.push(
    `<p class="meta">Target <code>${esc(s.target.url)}</code>${s.target.embedded ? ' (embedded simulator)' : ''} · model <code>${esc(s.target.model)}</code> · llmsoak ${esc(s.version)} · up ${esc(Number.isFinite(up) ? fmtDuration(Math.max(0, up)) : '—')} · ${esc(fmtTime(now))}</p>`,
  );
  const behind = achieved !== undefined && s.targetRate > 0 && achieved < s.targetRate * 0.9;
  const lag99 = s.window.scheduleLag.count > 0 ? s.window.scheduleLag.p99 : 0;
  parts.push('<div class="tiles">');
  parts.push(tile('Target rate', fmtRate(s.targetRate), s.mode));
  parts.push(tile('Achieved', achieved !== undefined ? fmtRate(achieved) : '—', s.targetRate > 0 && achieved !== undefined ? `${fmtPct(achieved / s.targetRate)} of target` : '', behind ? 'bad' : ''));
  parts.push(tile('In flight', fmtInt(s.inFlight), 'requests open now'));
  parts.push(tile('p99 TTFT', s.window.ttft.count > 0 ? fmtDuration(s.window.ttft.p99) : '—', s.window.ttft.count > 0 ? `p50 ${fmtDuration(s.window.ttft.p50)}` : 'no data in window'));
  parts.push(tile('p99 E2E', s.window.e2e.count > 0 ? fmtDuration(s.window.e2e.p99) : '—', s.window.e2e.count > 0 ? `p50 ${fmtDuration(s.window.e2e.p50)}` : 'no data in window'));
  parts.push(tile('Errors', fmtPct(errRate), `${fmtInt(errs)} of ${fmtInt(s.totals.requests)}`, errRate > 0.01 ? 'bad' : ''));
  parts.push(tile('Schedule lag p99', s.window.scheduleLag.count > 0 ? fmtDuration(lag99) : '—', lag99 > 0.05 ? 'generator is falling behind' : 'generator on time', lag99 > 0.05 ? 'bad' : ''));
  parts.push('</div></header>');

  // Sparklines.
  if (s.history.length > 0) {
    const ttftPts = s.history.map((h): [number, number] => [h.t, h.p99TtftSec]);
    const rpsPts = s.history.map((h): [number, number] => [h.t, h.rps]);
    const span = (s.history[s.history.length - 1]!.t - s.history[0]!.t) / 1000;
    const spanTxt = span > 0 ? ` (last ${fmtDuration(span)})` : '';
    parts.push('<div class="two">');
    parts.push(
      `<div class="card spark">${sparkline({ name: 'spark-ttft', title: `p99 TTFT${spanTxt}`, points: ttftPts, color: COLORS.p99, fmt: (v) => fmtDuration(v), width: 560, height: 90 })}</div>`,
    );
    parts.push(
      `<div class="card spark">${sparkline({ name: 'spark-rps', title: `throughput${spanTxt}`, points: rpsPts, color: COLORS.achieved, fmt: (v) => `${num(v)} req/s`, width: 560, height: 90 })}</div>`,
    );
    parts.push('</div>');
  }

  // Window percentiles.
  parts.push(`<h2>Latency, rolling window${s.windowSec !== undefined ? ` (${esc(fmtDuration(s.windowSec))})` : ''}</h2>`);
  const rows = WINDOW_NAMES.map(([k, name]) => {
    const w = s.window[k];
    const cells = w.count > 0 ? [w.p50, w.p90, w.p99, w.max, w.mean].map((v) => `<td>${esc(fmtDuration(v))}</td>`).join('') : '<td>—</td>'.repeat(5);
    return `<tr><td class="l">${esc(name)}</td>${cells}<td>${esc(fmtInt(w.count))}</td></tr>`;
  }).join('');
  parts.push(
    `<div class="tablewrap"><table><thead><tr><th class="l">Figure</th><th>p50</th><th>p90</th><th>p99</th><th>max</th><th>mean</th><th>count</th></tr></thead><tbody>${rows}</tbody></table></div>`,
  );

  // Totals and errors by class.
  const t = s.totals;
  parts.push('<h2>Totals since start</h2>');
  const errClasses = Object.entries(t.errors)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  parts.push(
    '<div class="tablewrap"><table><thead><tr><th>Requests</th><th>OK</th><th>Good (all SLOs)</th><th>Dropped</th><th>Errors</th><th>Input tokens</th><th>Output tokens</th></tr></thead>' +
      `<tbody><tr><td>${esc(fmtInt(t.requests))}</td><td>${esc(fmtInt(t.ok))}</td><td>${esc(fmtInt(t.good))}${t.requests > 0 ? ` (${esc(fmtPct(t.good / t.requests))})` : ''}</td><td>${esc(fmtInt(t.dropped))}</td><td>${esc(fmtInt(errs))}</td><td>${esc(fmtInt(t.inputTokens))}</td><td>${esc(fmtInt(t.outputTokens))}</td></tr></tbody></table></div>`,
  );
  if (errClasses.length > 0) {
    parts.push(
      `<h3>Errors by class</h3><div class="tablewrap"><table><thead><tr><th class="l">Class</th><th>Count</th><th>Share of requests</th></tr></thead><tbody>${errClasses
        .map(([k, n]) => `<tr><td class="l"><code>${esc(k)}</code></td><td>${esc(fmtInt(n))}</td><td>${esc(t.requests > 0 ? fmtPct(n / t.requests) : '—')}</td></tr>`)
        .join('')}</tbody></table></div>`,
    );
  }

  // The server's own words for the errors.
  if (s.failures !== undefined && s.failures.length > 0) {
    parts.push(
      `<h3>Failures in the server's words</h3><div class="tablewrap"><table><thead><tr>${FAILURE_HEAD.map((h, i) => `<th${i === 2 ? '' : ' class="l"'}>${esc(h)}</th>`).join('')}</tr></thead><tbody>${s.failures
        .map(
          (f) =>
            `<tr>${failureRow(f, s.startedAt)
              .map((c, i) => (i === 2 ? `<td>${esc(c)}</td>` : `<td class="l">${i < 2 || i === 5 ? `<code>${esc(c)}</code>` : esc(c)}</td>`))
              .join('')}</tr>`,
        )
        .join('')}</tbody></table></div><p class="muted">${esc(FAILURE_NOTE)}</p>`,
    );
  }

  // Hints.
  const active = sortedHints(s.hints.filter((h) => h.state !== 'resolved'));
  parts.push(`<h2>Active hints (${active.length})</h2>`);
  if (active.length === 0) parts.push('<p class="muted">None: nothing looks wrong right now.</p>');
  for (const h of active) {
    parts.push(
      `<div class="hint ${esc(h.severity)}"><span class="sev ${esc(h.severity)}">${esc(h.severity)}</span> <strong>${esc(h.cause)}</strong> <span class="muted">${esc(h.state)} · ${esc(h.rule)} · ${esc(hintTime(h, s.startedAt))}</span>` +
        `<div>${esc(h.summary)}</div><div class="ev">${esc(fmtEvidence(h.evidence))}</div><div class="muted">${esc(h.suggestion)}</div></div>`,
    );
  }

  // Reports.
  if (s.reports.length > 0) {
    parts.push('<h2>Recent reports</h2>');
    parts.push(
      `<div class="tablewrap"><table><thead><tr><th class="l">Report</th><th class="l">Kind</th><th class="l">Started</th><th>Verdict</th></tr></thead><tbody>${s.reports
        .map(
          (r) =>
            `<tr><td class="l"><a href="${esc(reportHref(r.name))}">${esc(r.name)}</a></td><td class="l">${esc(r.kind)}</td><td class="l">${esc(fmtTime(r.startedAt))}</td><td class="${r.pass ? 'ok' : 'no'}">${r.pass ? 'PASS' : 'FAIL'}</td></tr>`,
        )
        .join('')}</tbody></table></div>`,
    );
  }

  parts.push('<footer><a href="/metrics">/metrics</a> · <a href="/api/status">/api/status</a> · <a href="/healthz">/healthz</a> · <a href="/readyz">/readyz</a></footer>');

  return (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">' +
    '<meta http-equiv="refresh" content="5">' +
    '<meta name="viewport" content="width=device-width,initial-scale=1">' +
    `<title>llmsoak · ${esc(s.mode)} · ${esc(s.target.model)}</title><style>${BASE_CSS}${STATUS_CSS}</style></head>` +
    `<body><main>${parts.join('\n')}</main></body></html>\n`
  );
}

/** A sample StatusInput (for tests and development). */
export function sampleStatusInput(now = Date.parse('2025-06-02T12:00:00Z')): StatusInput {
  const fig = (p50: number, p99: number, count: number): WindowFigures => ({ count, p50, p90: p50 + (p99 - p50) * 0.45, p99, max: p99 * 1.3, mean: p50 * 1.15 });
  const history: StatusInput['history'] = [];
  for (let i = 0; i < 120; i++) {
    const t = now - (119 - i) * 5_000;
    const wave = Math.sin(i / 9);
    history.push({ t, rps: 4 + wave * 0.35 + (i % 7) * 0.03, p99TtftSec: 0.34 + (i > 80 && i < 100 ? 0.6 : 0) + wave * 0.03, errorRate: i > 80 && i < 100 ? 0.004 : 0 });
  }
  const hint: HintEntry = {
    rule: 'process_memory_leak',
    severity: 'warning',
    cause: 'memory_leak',
    summary: 'vllm resident memory grows 305 MiB/h (R² 0.98) at a flat request rate',
    suggestion: 'Schedule a restart before exhaustion; capture a heap profile.',
    evidence: { slope_bytes_per_hour: 319815680, r2: 0.98, rss_bytes: 7.3e9 },
    state: 'firing',
    activeAt: new Date(now - 90 * 60_000).toISOString(),
  };
  return {
    version: '0.1.0',
    startedAt: new Date(now - 4 * 3600_000).toISOString(),
    now: new Date(now).toISOString(),
    target: { url: 'http://vllm.staging.svc:8000/v1', model: 'meta-llama/Llama-3.1-8B-Instruct', embedded: false },
    mode: 'soak',
    targetRate: 4,
    inFlight: 15,
    windowSec: 300,
    window: {
      ttft: fig(0.121, 0.41, 1190),
      itl: fig(0.0152, 0.034, 273_000),
      tpot: fig(0.0158, 0.027, 1188),
      e2e: fig(3.62, 9.8, 1188),
      corrected: fig(3.62, 9.81, 1188),
      scheduleLag: fig(0.0003, 0.0018, 1200),
    },
    totals: { requests: 57_600, ok: 57_551, good: 57_302, dropped: 0, errors: { timeout: 31, http_5xx: 18 }, inputTokens: 57_600 * 846, outputTokens: 57_551 * 231 },
    hints: [hint],
    reports: [
      { name: 'ramp-20250603T140000Z', kind: 'ramp', startedAt: '2025-06-03T14:00:00Z', pass: false },
      { name: 'surface-20250601T090000Z', kind: 'surface', startedAt: '2025-06-01T09:00:00Z', pass: true },
    ],
    history,
  };
}
