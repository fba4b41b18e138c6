/**
 * Markdown rendering of a Report, in the shape of a classic stress-test
 * report: verdict first, then target, parameters, SLOs, totals, one table per
 * kind of result (steps, knee, capacity surface, spike, trends, hints,
 * events). Sections without data are left out.
 *
 * Also exports the small, renderer-neutral helpers the HTML renderer shares
 * (safe parameters, headline sentences, the load axis of the steps).
 */
import {
  RUN_KIND_TITLES,
  type FailureEntry,
  type Figures,
  type HintEntry,
  type IncidentEntry,
  type PeriodFigures,
  type Report,
  type RunEvent,
  type StepResult,
  type Surface,
  type TrendEntry,
} from './model.js';
import type { ReportFormat } from './format.js';
import { DEFAULT_MAX_MESSAGES, DEFAULT_PER_GROUP } from '../failures/samples.js';
import { fmtBytes, fmtDuration, fmtInt, fmtMs, fmtOffset, fmtPct, fmtRate, fmtSlope, fmtTime, fmtValue, num } from './svg.js';

// ---------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------

/**
 * Parameter keys never printed: anything that may hold a credential. Plural
 * "tokens" (maxTokens, inputTokens) are counts, not credentials, and stay.
 */
const SECRET_KEY = /key|token|secret|password|authorization|credential|cookie/i;

function isSecretKey(k: string): boolean {
  if (!SECRET_KEY.test(k)) return false;
  const withoutCounts = k.replace(/tokens/gi, '');
  return SECRET_KEY.test(withoutCounts);
}

/** Values that look like credentials whatever their key (API keys, bearer strings). */
const SECRET_VALUE = /^(sk-|Bearer\s|Basic\s|ghp_|xox[abp]-|eyJ[A-Za-z0-9_-]{10,}\.)/i;

function safeScalar(v: unknown): string {
  if (typeof v === 'string') {
    if (SECRET_VALUE.test(v.trim())) return '(redacted)';
    // Credentials embedded in URLs: https://user:pass@host → https://host
    return v.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, '$1');
  }
  if (typeof v === 'boolean' || v === null || v === undefined) return String(v);
  return JSON.stringify(v) ?? String(v);
}

function sanitize(v: unknown, depth: number): unknown {
  if (Array.isArray(v)) return depth > 4 ? '[…]' : v.map((x) => sanitize(x, depth + 1));
  if (v !== null && typeof v === 'object') {
    if (depth > 4) return '{…}';
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (!isSecretKey(k)) o[k] = sanitize(x, depth + 1);
    return o;
  }
  return typeof v === 'string' ? safeScalar(v) : v;
}

/** Parameters fit to print: credential-like keys dropped (also nested), values stringified and bounded. */
export function safeParameters(p: Record<string, unknown>): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(p)) {
    if (isSecretKey(k)) continue;
    const clean = sanitize(v, 0);
    let s = typeof clean === 'string' ? clean : clean !== null && typeof clean === 'object' ? JSON.stringify(clean) : safeScalar(clean);
    if (s.length > 200) s = `${s.slice(0, 197)}…`;
    out.push([k, s]);
  }
  return out;
}

/** What the steps were stepped over, when it is one increasing dimension (ramp, sweep). */
export interface LoadAxis {
  unit: 'req/s' | 'concurrency';
  label: string;
  values: number[];
}

export function stepLoad(s: StepResult): number | undefined {
  return s.targetRate ?? s.concurrency;
}

export function loadAxis(steps: StepResult[]): LoadAxis | undefined {
  if (steps.length < 2) return undefined;
  const inputs = new Set(steps.map((s) => s.inputTokens ?? -1));
  if (inputs.size > 1) return undefined;
  const openLoop = steps.every((s) => s.targetRate !== undefined);
  const closedLoop = steps.every((s) => s.concurrency !== undefined);
  if (!openLoop && !closedLoop) return undefined;
  const values = steps.map((s) => (openLoop ? s.targetRate! : s.concurrency!));
  for (let i = 1; i < values.length; i++) if (!(values[i]! > values[i - 1]!)) return undefined;
  return openLoop ? { unit: 'req/s', label: 'target rate (req/s)', values } : { unit: 'concurrency', label: 'concurrency (users)', values };
}

export const KIND_TITLE: Record<Report['kind'], string> = RUN_KIND_TITLES;

export function fmtKnee(k: NonNullable<Report['knee']>): string {
  return k.unit === 'req/s' ? fmtRate(k.value) : `${num(k.value)} concurrent users`;
}

export function errorRate(r: Report): number {
  return r.totals.requests > 0 ? (r.totals.requests - r.totals.ok) / r.totals.requests : 0;
}

/** Good requests per second over the run, and as a share of all requests. */
export function goodput(r: Report): { rps: number; share: number } {
  return {
    rps: r.durationSec > 0 ? r.totals.good / r.durationSec : 0,
    share: r.totals.requests > 0 ? r.totals.good / r.totals.requests : 0,
  };
}

/** A few sentences a person reads first: what the run found. Plain text. */
export function headlines(r: Report): string[] {
  const out: string[] = [];
  if (r.knee !== undefined) {
    out.push(`Every SLO held up to ${fmtKnee(r.knee)}; beyond it: ${r.knee.reason}${r.knee.cause !== undefined ? ` (likely cause: ${r.knee.cause})` : ''}.`);
  }
  if (r.surface !== undefined) {
    let ok = 0;
    let measured = 0;
    for (const row of r.surface.withinSlo)
      for (const c of row) {
        if (c !== null) measured++;
        if (c === true) ok++;
      }
    out.push(`${ok} of ${measured} measured load points held every SLO.`);
  }
  if (r.spike !== undefined) {
    const s = r.spike;
    out.push(
      `A ${num(s.multiple)}× spike over ${fmtRate(s.baseRate)} for ${fmtDuration(s.spikeSec)}: ` +
        (s.recoverySec === null
          ? `latency never came back to baseline (a window p99 ${s.recoveryThresholdSec !== undefined ? `≤ ${fmtDuration(s.recoveryThresholdSec)}` : 'within the recovery margin'}).`
          : `p99 latency back to baseline ${fmtDuration(s.recoverySec)} after it ended.`),
    );
  }
  const moving = r.trends.filter((t) => t.verdict === 'increasing' || t.verdict === 'decreasing');
  for (const t of moving.slice(0, 3)) {
    out.push(
      `${t.series} is ${t.verdict} ${fmtSlope(t.slopePerHour, t.unit)} (${fmtValue(t.start, t.unit)} → ${fmtValue(t.end, t.unit)})` +
        (t.projectedExhaustionSec !== undefined ? `, projected exhaustion in ${fmtDuration(t.projectedExhaustionSec)}.` : '.'),
    );
  }
  const active = r.hints.filter((h) => h.state !== 'resolved');
  if (r.hints.length > 0)
    out.push(`${r.hints.length} hint${r.hints.length === 1 ? '' : 's'} raised, ${active.length} still active at the end${active.length > 0 ? `: ${active.map((h) => h.cause).join(', ')}` : ''}.`);
  return out;
}

/** One evidence value, formatted by the unit its key names (`rss_bytes`, `ttft_p99_seconds`, `kv_usage_ratio`, …). */
export function fmtEvidenceValue(k: string, v: number | string): string {
  if (typeof v !== 'number') return v;
  const key = k.toLowerCase();
  const perHour = /_per_(hour|h)$/.test(key);
  const base = key.replace(/_per_(hour|h)$/, '');
  let out: string;
  if (/_bytes$/.test(base)) out = fmtBytes(v);
  else if (/_seconds$/.test(base) || /_s$/.test(base)) out = fmtDuration(v);
  else if (/_ratio$/.test(base)) out = fmtPct(v);
  else if (/_hertz$/.test(base)) out = Math.abs(v) >= 1e6 ? `${num(v / 1e6)} MHz` : `${num(v)} Hz`;
  else if (/_celsius$/.test(base)) out = `${num(v)} °C`;
  else out = Math.abs(v) >= 1e5 ? String(Math.round(v)) : num(v, 4);
  return perHour ? `${out}/h` : out;
}

export function fmtEvidence(e: Record<string, number | string>): string {
  return Object.entries(e)
    .map(([k, v]) => `${k}=${fmtEvidenceValue(k, v)}`)
    .join(', ');
}

export const FIGURE_NAMES: [keyof Report['overall'], string][] = [
  ['ttft', 'TTFT'],
  ['itl', 'ITL'],
  ['tpot', 'TPOT'],
  ['e2e', 'E2E'],
  ['corrected', 'E2E from schedule (corrected)'],
  ['scheduleLag', 'Schedule lag'],
];

export function triple(fg: Figures): string {
  return `${fmtMs(fg.p50)} / ${fmtMs(fg.p95)} / ${fmtMs(fg.p99)}`;
}

export function fmtErrors(errors: Record<string, number>): string {
  const e = Object.entries(errors).filter(([, n]) => n > 0);
  return e.length === 0 ? '' : e.map(([k, n]) => `${k} ${fmtInt(n)}`).join(', ');
}

export interface StepColumns {
  load: 'rate' | 'concurrency' | 'both';
  inputTokens: boolean;
  gpu: boolean;
  kv: boolean;
}

export function stepColumns(steps: StepResult[]): StepColumns {
  const rate = steps.some((s) => s.targetRate !== undefined);
  const conc = steps.some((s) => s.concurrency !== undefined);
  return {
    load: rate && conc ? 'both' : conc ? 'concurrency' : 'rate',
    inputTokens: steps.some((s) => s.inputTokens !== undefined),
    gpu: steps.some((s) => s.gpuUtilization !== undefined),
    kv: steps.some((s) => s.server?.kvCacheUsage !== undefined),
  };
}

/** The header and cells of the step table, shared by Markdown and HTML. */
export function stepTable(steps: StepResult[]): { head: string[]; rows: string[][]; ok: boolean[] } {
  const c = stepColumns(steps);
  const head = ['Step'];
  if (c.load !== 'concurrency') head.push('Rate req/s');
  if (c.load !== 'rate') head.push('Concurrency');
  if (c.inputTokens) head.push('Input tok');
  head.push('Achieved req/s', 'Goodput req/s', 'TTFT p50/p95/p99 ms', 'ITL p50/p95/p99 ms', 'E2E p50/p95/p99 ms', 'Output tok/s');
  if (c.gpu) head.push('GPU util');
  if (c.kv) head.push('KV cache');
  head.push('Errors', 'SLO');
  const rows = steps.map((s) => {
    const row = [s.label];
    if (c.load !== 'concurrency') row.push(s.targetRate !== undefined ? num(s.targetRate) : '—');
    if (c.load !== 'rate') row.push(s.concurrency !== undefined ? num(s.concurrency) : '—');
    if (c.inputTokens) row.push(s.inputTokens !== undefined ? fmtInt(s.inputTokens) : '—');
    row.push(num(s.achievedRps), num(s.goodputRps), triple(s.ttft), triple(s.itl), triple(s.e2e), num(s.outputTokensPerSec));
    if (c.gpu) row.push(s.gpuUtilization !== undefined ? fmtPct(s.gpuUtilization) : '—');
    if (c.kv) row.push(s.server?.kvCacheUsage !== undefined ? fmtPct(s.server.kvCacheUsage) : '—');
    const errs = fmtErrors(s.errors);
    row.push(s.errorRate > 0 || errs !== '' ? `${fmtPct(s.errorRate)}${errs !== '' ? ` (${errs})` : ''}` : '0%');
    row.push(s.sloMet ? '✓' : '✗');
    return row;
  });
  return { head, rows, ok: steps.map((s) => s.sloMet) };
}

/** Surface grid cells: p99 TTFT with ✓ where every SLO held. */
export function surfaceCell(sf: Surface, ci: number, ii: number): string {
  const v = sf.p99TtftSec[ci]?.[ii] ?? null;
  if (v === null) return '—';
  const w = sf.withinSlo[ci]?.[ii] ?? null;
  return `${fmtDuration(v)}${w === true ? ' ✓' : w === false ? ' ✗' : ''}`;
}

export function trendRow(t: TrendEntry): string[] {
  return [
    t.series,
    fmtValue(t.start, t.unit),
    fmtValue(t.end, t.unit),
    fmtValue(t.peak, t.unit),
    fmtSlope(t.slopePerHour, t.unit),
    num(t.r2, 2),
    t.verdict,
    t.projectedExhaustionSec !== undefined ? fmtDuration(t.projectedExhaustionSec) : '',
  ];
}

export const TREND_HEAD = ['Series', 'Start', 'End', 'Peak', 'Slope', 'R²', 'Verdict', 'Exhaustion in'];

/** When a hint fired (became active, for one that never fired) → when it resolved, or "still firing". */
export function hintTime(h: HintEntry, startedAt: string): string {
  const at = h.firedAt ?? h.activeAt;
  const from = `${fmtTime(at)} (${fmtOffset(at, startedAt)})`;
  if (h.resolvedAt === undefined) return `${from} → still ${h.state === 'pending' ? 'pending' : 'firing'}`;
  const dur = (Date.parse(h.resolvedAt) - Date.parse(at)) / 1000;
  return `${from} → ${fmtOffset(h.resolvedAt, startedAt)}${Number.isFinite(dur) ? ` (${fmtDuration(dur)})` : ''}`;
}

/** Hints ordered by time, critical first at equal times. */
export function sortedHints(hints: HintEntry[]): HintEntry[] {
  const sev = { critical: 0, warning: 1, info: 2 } as const;
  return [...hints].sort((a, b) => Date.parse(a.activeAt) - Date.parse(b.activeAt) || sev[a.severity] - sev[b.severity]);
}

// ---------------------------------------------------------------------------
// Markdown
// ---------------------------------------------------------------------------

/** Escape free text for Markdown (inline and in table cells): no raw HTML, no table breaks. */
/** Before/after figures of a target change in one line; 'pending' while the after-window has not passed. */
export function fmtPeriod(p: PeriodFigures | 'pending' | undefined): string {
  if (p === undefined) return 'no data';
  if (p === 'pending') return 'pending';
  const pair = (f: { p50: number; p99: number } | undefined): string => (f ? `${fmtMs(f.p50)}/${fmtMs(f.p99)} ms` : '—');
  return `${fmtRate(p.rps)}, errors ${fmtPct(p.errorRate)}, TTFT p50/p99 ${pair(p.ttft)}, ITL ${pair(p.itl)}, E2E ${pair(p.e2e)} (${p.requests} requests over ${fmtDuration(p.durationSec)})`;
}

/** Whether any event carries before/after figures (older reports and mode events do not). */
export function hasPeriods(events: RunEvent[]): boolean {
  return events.some((e) => e.before !== undefined || e.after !== undefined);
}

/** One incident as table cells: kind, cause, onset, detected after, recovered after, detail. */
export function incidentRow(i: IncidentEntry, startedAt: string): string[] {
  return [
    i.kind,
    i.cause,
    `${fmtTime(i.onsetAt)} (${fmtOffset(i.onsetAt, startedAt)})`,
    fmtDuration(i.timeToDetectSec),
    i.timeToRecoverSec !== undefined ? fmtDuration(i.timeToRecoverSec) : 'not yet',
    i.detail,
  ];
}

export const INCIDENT_HEAD = ['Kind', 'Cause', 'Onset', 'Detected after', 'Recovered after', 'Measured'];

/** Failures in the server's own words: scenario, class, count, first and last seen, message. */
export const FAILURE_HEAD = ['Scenario', 'Class', 'Count', 'First', 'Last', "The server's words"];
/** Shown after the failures table. */
export const FAILURE_NOTE = `Counts are since llmsoak started; messages that differ only in numbers or ids are counted as one (the first wording is shown); secrets scrubbed; at most ${DEFAULT_PER_GROUP} messages per scenario and class, ${DEFAULT_MAX_MESSAGES} in all.`;

export function failureRow(f: FailureEntry, startedAt: string): string[] {
  return [f.scenario, f.class, fmtInt(f.count), `${fmtTime(f.firstAt)} (${fmtOffset(f.firstAt, startedAt)})`, `${fmtTime(f.lastAt)} (${fmtOffset(f.lastAt, startedAt)})`, f.message];
}

export function mdEscape(s: string): string {
  return s
    .replace(/\r?\n|\r/g, ' ')
    .replace(/([\\`*[\]<|])/g, '\\$1')
    .replace(/^([#>])/, '\\$1');
}

/** Inline code span that survives backticks and pipes in the text (its content is literal Markdown). */
function code(s: string): string {
  const clean = s.replace(/\r?\n|\r/g, ' ').replace(/\|/g, '¦');
  const longest = Math.max(0, ...[...clean.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  const pad = longest > 0 || clean.startsWith(' ') || clean.endsWith(' ') ? ' ' : '';
  return `${fence}${pad}${clean}${pad}${fence}`;
}

function table(head: string[], rows: string[][], align?: ('l' | 'r' | 'c')[]): string {
  const sep = head.map((_, i) => {
    const a = align?.[i] ?? (i === 0 ? 'l' : 'r');
    return a === 'l' ? ':---' : a === 'c' ? ':---:' : '---:';
  });
  return [`| ${head.join(' | ')} |`, `| ${sep.join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function renderMarkdown(r: Report): string {
  const out: string[] = [];
  const er = errorRate(r);
  const gp = goodput(r);
  out.push(`# llmsoak ${KIND_TITLE[r.kind] ?? r.kind} report — ${mdEscape(r.target.model)}, ${fmtTime(r.startedAt)}`);
  out.push('');
  if (r.verdict.pass) out.push('**Verdict: PASS** — no check failed.');
  else {
    out.push(`**Verdict: FAIL** — ${r.verdict.failures.length === 0 ? 'see below.' : r.verdict.failures.map(mdEscape).join('; ')}`);
  }
  const hl = headlines(r);
  if (hl.length > 0) {
    out.push('');
    for (const h of hl) out.push(`- ${mdEscape(h)}`);
  }

  out.push('', '## Target', '');
  out.push(`- URL: ${code(r.target.url)}${r.target.embedded ? ' (embedded simulator)' : ''}`);
  out.push(`- Model: ${code(r.target.model)}`);
  out.push(`- Run: ${mdEscape(r.kind)}, ${fmtTime(r.startedAt)} → ${fmtTime(r.endedAt)} (${fmtDuration(r.durationSec)})`);
  out.push(`- llmsoak ${mdEscape(r.version)}`);

  const params = safeParameters(r.parameters);
  if (params.length > 0) {
    out.push('', '## Parameters', '');
    out.push(
      table(
        ['Parameter', 'Value'],
        params.map(([k, v]) => [code(k), code(v)]),
        ['l', 'l'],
      ),
    );
  }

  out.push('', '## SLOs', '');
  out.push(`TTFT ≤ ${fmtDuration(r.slo.ttftMs / 1000)} · TPOT ≤ ${fmtDuration(r.slo.tpotMs / 1000)} · E2E ≤ ${fmtDuration(r.slo.e2eMs / 1000)} · error rate ≤ ${fmtPct(r.slo.maxErrorRate)}`);

  out.push('', '## Totals', '');
  const t = r.totals;
  out.push(
    table(
      ['Requests', 'OK', 'Good (all SLOs)', 'Goodput', 'Dropped', 'Error rate', 'Errors', 'Input tokens', 'Output tokens'],
      [
        [
          fmtInt(t.requests),
          fmtInt(t.ok),
          `${fmtInt(t.good)} (${fmtPct(gp.share)})`,
          fmtRate(gp.rps),
          fmtInt(t.dropped),
          fmtPct(er),
          mdEscape(fmtErrors(t.errors)) || 'none',
          fmtInt(t.inputTokens),
          fmtInt(t.outputTokens),
        ],
      ],
      ['r', 'r', 'r', 'r', 'r', 'r', 'l', 'r', 'r'],
    ),
  );
  const figRows = FIGURE_NAMES.filter(([k]) => r.overall[k].count > 0).map(([k, name]) => {
    const fg = r.overall[k];
    return [name, fmtDuration(fg.p50), fmtDuration(fg.p90), fmtDuration(fg.p95), fmtDuration(fg.p99), fmtDuration(fg.max), fmtDuration(fg.mean), fmtInt(fg.count)];
  });
  if (figRows.length > 0) {
    out.push('');
    out.push(table(['Latency', 'p50', 'p90', 'p95', 'p99', 'max', 'mean', 'count'], figRows));
  }

  if (r.steps.length > 0) {
    out.push('', '## Steps', '');
    const st = stepTable(r.steps);
    out.push(
      table(
        st.head,
        st.rows.map((row) => row.map(mdEscape)),
      ),
    );
  }

  if (r.knee !== undefined) {
    out.push('', '## Knee', '');
    out.push(`**${fmtKnee(r.knee)}** — the highest load at which every SLO held.`);
    out.push('');
    out.push(`- Next level failed: ${mdEscape(r.knee.reason)}`);
    if (r.knee.cause !== undefined) out.push(`- Likely cause: ${code(r.knee.cause)}`);
  }

  if (r.surface !== undefined && r.surface.concurrency.length > 0 && r.surface.inputTokens.length > 0) {
    const sf = r.surface;
    out.push('', '## Capacity surface', '');
    out.push('p99 TTFT by concurrency (rows) and input tokens per request (columns); ✓ = every SLO held, — = not measured.');
    out.push('');
    out.push(
      table(
        ['Concurrency \\ input tokens', ...sf.inputTokens.map((n) => fmtInt(n))],
        sf.concurrency.map((c, ci) => [num(c), ...sf.inputTokens.map((_, ii) => surfaceCell(sf, ci, ii))]),
      ),
    );
  }

  if (r.spike !== undefined) {
    const s = r.spike;
    out.push('', '## Spike recovery', '');
    out.push(
      table(
        ['Base rate', 'Multiple', 'Spike rate', 'Spike length', 'Recovery'],
        [[fmtRate(s.baseRate), `${num(s.multiple)}×`, fmtRate(s.baseRate * s.multiple), fmtDuration(s.spikeSec), s.recoverySec === null ? 'never recovered' : fmtDuration(s.recoverySec)]],
      ),
    );
  }

  if (r.trends.length > 0) {
    out.push('', '## Trends', '');
    out.push(
      table(
        TREND_HEAD,
        r.trends.map((tr) => trendRow(tr).map((c, i) => (i === 0 ? code(c) : mdEscape(c)))),
        ['l', 'r', 'r', 'r', 'r', 'r', 'l', 'r'],
      ),
    );
  }

  if (r.hints.length > 0) {
    out.push('', '## Hints', '');
    out.push(
      table(
        ['Time', 'State', 'Severity', 'Cause', 'Rule', 'Summary', 'Evidence', 'Suggestion'],
        sortedHints(r.hints).map((h) => [
          mdEscape(hintTime(h, r.startedAt)),
          mdEscape(h.state),
          h.severity === 'critical' ? '**critical**' : mdEscape(h.severity),
          code(h.cause),
          code(h.rule),
          mdEscape(h.summary),
          code(fmtEvidence(h.evidence)),
          mdEscape(h.suggestion),
        ]),
        ['l', 'l', 'l', 'l', 'l', 'l', 'l', 'l'],
      ),
    );
  }

  if (r.events.length > 0) {
    out.push('', '## Events', '');
    const periods = hasPeriods(r.events);
    out.push(
      table(
        ['Time', 'Kind', 'Detail', ...(periods ? ['Before', 'After'] : [])],
        [...r.events]
          .sort((a, b) => Date.parse(a.at) - Date.parse(b.at))
          .map((e) => [
            `${fmtTime(e.at)} (${fmtOffset(e.at, r.startedAt)})`,
            code(e.kind),
            mdEscape(e.detail),
            ...(periods ? [mdEscape(`before: ${fmtPeriod(e.before)}`), mdEscape(`after: ${fmtPeriod(e.after)}`)] : []),
          ]),
        periods ? ['l', 'l', 'l', 'l', 'l'] : ['l', 'l', 'l'],
      ),
    );
  }

  if (r.incidents !== undefined && r.incidents.length > 0) {
    out.push('', '## Incidents', '');
    out.push(
      table(
        INCIDENT_HEAD,
        r.incidents.map((i) => incidentRow(i, r.startedAt).map((c, ci) => (ci < 2 ? code(c) : mdEscape(c)))),
        ['l', 'l', 'l', 'r', 'r', 'l'],
      ),
    );
  }

  if (r.failures !== undefined && r.failures.length > 0) {
    out.push('', '## Failures', '');
    out.push(
      table(
        FAILURE_HEAD,
        r.failures.map((f) => failureRow(f, r.startedAt).map((c, ci) => (ci < 2 || ci === 5 ? code(c) : mdEscape(c)))),
        ['l', 'l', 'r', 'l', 'l', 'l'],
      ),
    );
    out.push('', mdEscape(FAILURE_NOTE));
  }

  out.push('');
  return out.join('\n');
}

export const markdownFormat = {
  name: 'markdown',
  ext: 'md',
  contentType: 'text/markdown; charset=utf-8',
  summary: 'the report to read in a terminal, a merge request or a wiki',
  always: true,
  render: renderMarkdown,
} as const satisfies ReportFormat;
