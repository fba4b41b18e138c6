/**
 * The report as CSV for a spreadsheet: one row per figure, in long form, so
 * that every kind of run (a soak without steps, a ramp, a surface) has the
 * same columns and a pivot table or a filter does the rest:
 *
 *   kind, started_at, scope, step, label, figure, statistic, value, unit
 *
 * scope `run`: the totals and the whole run's latency figures; `step`: each
 * measured level (step = its measurement index, label as in the report);
 * `knee`, `spike`: the finding; `verdict`: pass (1 or 0) and each failure.
 * RFC 4180: CRLF line ends, a header line, fields quoted when they hold a
 * comma, a quote or a line break, quotes doubled. A text cell a spreadsheet
 * would run as a formula (= + - @ first) is prefixed with ' (OWASP CSV
 * injection); numbers are written as they are, absent ones empty.
 */
import type { ReportFormat } from './format.js';
import type { Figures, Report, StepResult } from './model.js';

export const CSV_HEADER = ['kind', 'started_at', 'scope', 'step', 'label', 'figure', 'statistic', 'value', 'unit'] as const;

type Cell = string | number | boolean | undefined;
type Row = { scope: string; step?: number; label?: string; figure: string; statistic: string; value: Cell; unit: string };

const STATS: readonly (keyof Figures)[] = ['count', 'mean', 'p50', 'p90', 'p95', 'p99', 'max'];
const LATENCIES: readonly [keyof Report['overall'] & keyof StepResult, string][] = [
  ['ttft', 'ttft'],
  ['itl', 'itl'],
  ['tpot', 'tpot'],
  ['e2e', 'e2e'],
  ['scheduleLag', 'schedule_lag'],
];

function figureRows(scope: string, figure: string, f: Figures, at: { step?: number; label?: string }): Row[] {
  return STATS.map((s) => ({ scope, ...at, figure, statistic: s, value: f[s], unit: s === 'count' ? 'requests' : 'seconds' }));
}

function stepRows(s: StepResult): Row[] {
  const at = { step: s.index, label: s.label };
  const one = (figure: string, value: Cell, unit: string): Row => ({ scope: 'step', ...at, figure, statistic: 'value', value, unit });
  const rows: Row[] = [];
  if (s.targetRate !== undefined) rows.push(one('target_rate', s.targetRate, 'req/s'));
  if (s.concurrency !== undefined) rows.push(one('concurrency', s.concurrency, 'users'));
  if (s.inputTokens !== undefined) rows.push(one('input_tokens', s.inputTokens, 'tokens'));
  rows.push(
    one('duration', s.durationSec, 'seconds'),
    one('requests', s.requests, 'requests'),
    one('ok', s.ok, 'requests'),
    one('achieved_rate', s.achievedRps, 'req/s'),
    one('goodput', s.goodputRps, 'req/s'),
    one('error_rate', s.errorRate, 'ratio'),
    one('output_tokens_rate', s.outputTokensPerSec, 'tokens/s'),
    one('slo_met', s.sloMet, 'boolean'),
  );
  if (s.gpuUtilization !== undefined) rows.push(one('gpu_utilization', s.gpuUtilization, 'ratio'));
  for (const [k, name] of LATENCIES) rows.push(...figureRows('step', name, s[k], at));
  return rows;
}

function rowsOf(r: Report): Row[] {
  const total = (figure: string, value: number, unit: string): Row => ({ scope: 'run', figure, statistic: 'total', value, unit });
  const rows: Row[] = [
    { scope: 'run', figure: 'duration', statistic: 'value', value: r.durationSec, unit: 'seconds' },
    total('requests', r.totals.requests, 'requests'),
    total('ok', r.totals.ok, 'requests'),
    total('good', r.totals.good, 'requests'),
    total('dropped', r.totals.dropped, 'requests'),
    total('input_tokens', r.totals.inputTokens, 'tokens'),
    total('output_tokens', r.totals.outputTokens, 'tokens'),
  ];
  for (const [cls, n] of Object.entries(r.totals.errors)) rows.push({ scope: 'run', label: cls, figure: 'errors', statistic: 'total', value: n, unit: 'requests' });
  for (const [k, name] of LATENCIES) rows.push(...figureRows('run', name, r.overall[k], {}));
  rows.push(...figureRows('run', 'corrected_e2e', r.overall.corrected, {}));
  for (const s of r.steps) rows.push(...stepRows(s));
  if (r.knee !== undefined) rows.push({ scope: 'knee', label: r.knee.reason, figure: 'knee', statistic: 'value', value: r.knee.value, unit: r.knee.unit });
  if (r.spike !== undefined) rows.push({ scope: 'spike', figure: 'recovery', statistic: 'value', value: r.spike.recoverySec ?? undefined, unit: 'seconds' });
  rows.push({ scope: 'verdict', figure: 'pass', statistic: 'value', value: r.verdict.pass, unit: 'boolean' });
  for (const f of r.verdict.failures) rows.push({ scope: 'verdict', label: f, figure: 'failure', statistic: 'text', value: undefined, unit: '' });
  return rows;
}

/** A number as written, a boolean as 1/0, an absent or non-finite number empty. */
function valueCell(v: Cell): string {
  if (v === undefined) return '';
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  return textCell(v);
}

/** Text, guarded against formula execution. */
function textCell(s: string): string {
  return /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
}

/** RFC 4180 field: quoted when it holds a comma, a quote, CR or LF; quotes doubled. */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function renderCsv(r: Report): string {
  const lines = [CSV_HEADER.join(',')];
  for (const row of rowsOf(r)) {
    const cells = [textCell(r.kind), r.startedAt, row.scope, row.step === undefined ? '' : String(row.step), textCell(row.label ?? ''), row.figure, row.statistic, valueCell(row.value), row.unit];
    lines.push(cells.map(csvField).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

export const csvFormat = {
  name: 'csv',
  ext: 'csv',
  contentType: 'text/csv; charset=utf-8; header=present',
  summary: 'one row per figure (run, steps, knee, verdict) for a spreadsheet; RFC 4180',
  always: false,
  render: renderCsv,
} as const satisfies ReportFormat;
