/**
 * A comparison for people: a plain table for the terminal, Markdown, and one
 * self-contained HTML file (the report's stylesheet, no script, no external
 * resource) with the two runs side by side and coloured verdicts. Text from
 * the reports (file names, target, model) is escaped.
 */
import { BASE_CSS } from '../report/html.js';
import { esc } from '../report/svg.js';
import type { Comparison, FigureComparison, RunSummary } from './compare.js';
import { VERDICT_WORD, fmtChange, fmtTest, fmtValue } from './format.js';

const HEAD = ['Figure', 'Baseline', 'Candidate', 'Change', 'Verdict', 'Test'];

function row(f: FigureComparison): string[] {
  return [f.label, fmtValue(f.baseline, f.unit), fmtValue(f.candidate, f.unit), fmtChange(f), VERDICT_WORD[f.verdict], fmtTest(f)];
}

function headline(c: Comparison): string {
  return c.pass
    ? `no regression: ${c.figures.filter((f) => f.verdict === 'same').length} same, ${c.figures.filter((f) => f.verdict === 'better').length} better, ${c.figures.filter((f) => f.verdict === 'insufficient').length} insufficient`
    : `REGRESSION in ${c.regressions.length} figure${c.regressions.length === 1 ? '' : 's'}: ${c.regressions.join(', ')}`;
}

const runLine = (r: RunSummary): string => `${r.file ?? '?'} — ${r.kind} of ${r.target}, ${r.startedAt}, ${Math.round(r.durationSec)} s, ${r.requests} requests, llmsoak ${r.version}`;

/** Fixed-width table for stdout. */
export function renderText(c: Comparison): string {
  const rows = [HEAD, ...c.figures.map(row)];
  const widths = HEAD.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const out = [`llmsoak compare: ${headline(c)}`, `  baseline:  ${runLine(c.baseline)}`, `  candidate: ${runLine(c.candidate)}`, '', line(rows[0] as string[]), ...rows.slice(1).map(line)];
  return `${out.join('\n')}\n`;
}

const mdCell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderCompareMarkdown(c: Comparison): string {
  const out: string[] = [];
  out.push(`# llmsoak compare: ${c.kind}`, '');
  out.push(`**${c.pass ? 'PASS' : 'FAIL'}**: ${mdCell(headline(c))}`, '');
  out.push('| | Baseline | Candidate |', '|---|---|---|');
  const side = (k: string, b: string, d: string) => out.push(`| ${k} | ${mdCell(b)} | ${mdCell(d)} |`);
  side('Report', c.baseline.file ?? '?', c.candidate.file ?? '?');
  side('Target', c.baseline.target, c.candidate.target);
  side('Started', c.baseline.startedAt, c.candidate.startedAt);
  side('Duration', `${Math.round(c.baseline.durationSec)} s`, `${Math.round(c.candidate.durationSec)} s`);
  side('Requests', String(c.baseline.requests), String(c.candidate.requests));
  side('llmsoak', c.baseline.version, c.candidate.version);
  out.push('', '## Figures', '');
  out.push(`| ${HEAD.join(' | ')} | Tolerance |`, `|${HEAD.map((_, i) => (i === 0 || i >= 4 ? '---' : '---:')).join('|')}|---|`);
  for (const f of c.figures) out.push(`| ${[...row(f), f.tolerance].map(mdCell).join(' | ')} |`);
  out.push('', methodNote(c), '');
  return out.join('\n');
}

function methodNote(c: Comparison): string {
  return (
    `Worse or better only when the change is significant at α = ${c.alpha} (two-sided) and beyond its tolerance. ` +
    "Percentiles: bootstrap interval of the difference from the runs' HDR histograms; throughput and goodput: " +
    'exact test of two Poisson rates; error rate: two-proportion z-test; knee: the bisection resolution. ' +
    '"insufficient": too few values in a run to test the figure (never a regression).'
  );
}

const CSS = `
.v{display:inline-block;padding:1px 10px;border-radius:999px;font-weight:700;font-size:12px;color:#fff}
.v.worse{background:#cf222e}.v.better{background:#1a7f37}.v.same{background:#8c959f}.v.insufficient{background:#bf8700}
tr.worse td{background:#fff5f5}tr.better td{background:#f0fff4}
.sides{display:grid;grid-template-columns:1fr 1fr;gap:14px}
.sides .card{margin:0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:8px 0 0}
dt{color:#57606a}dd{margin:0;overflow-wrap:anywhere}
`;

function sideCard(title: string, r: RunSummary): string {
  const items: Array<[string, string]> = [
    ['Report', r.file ?? '?'],
    ['Target', r.target],
    ['Started', r.startedAt],
    ['Duration', `${Math.round(r.durationSec)} s`],
    ['Requests', String(r.requests)],
    ['llmsoak', r.version],
  ];
  return `<section class="card"><h3>${esc(title)}</h3><dl>${items.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl></section>`;
}

export function renderCompareHtml(c: Comparison): string {
  const badge = c.pass ? '<span class="badge pass">PASS</span>' : '<span class="badge fail">FAIL</span>';
  const rows = c.figures
    .map((f) => {
      const cells = row(f);
      const verdict = `<span class="v ${f.verdict}">${esc(VERDICT_WORD[f.verdict])}</span>`;
      return (
        `<tr class="${f.verdict}"><td class="l">${esc(cells[0])}</td><td>${esc(cells[1])}</td><td>${esc(cells[2])}</td>` +
        `<td>${esc(cells[3])}</td><td class="l">${verdict}</td><td class="l wrap">${esc(cells[5])}</td><td class="l wrap">${esc(f.tolerance)}</td></tr>`
      );
    })
    .join('\n');
  const body = [
    `<header class="card"><div class="top">${badge}<h1>llmsoak compare · ${esc(c.kind)}</h1></div><p class="meta">${esc(headline(c))}</p></header>`,
    `<div class="sides">${sideCard('Baseline', c.baseline)}${sideCard('Candidate', c.candidate)}</div>`,
    '<h2>Figures</h2>',
    `<div class="tablewrap"><table><thead><tr>${[...HEAD, 'Tolerance'].map((h, i) => `<th${i === 0 || i >= 4 ? ' class="l"' : ''}>${esc(h)}</th>`).join('')}</tr></thead><tbody>\n${rows}\n</tbody></table></div>`,
    `<p class="muted">${esc(methodNote(c))}</p>`,
  ];
  return (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width,initial-scale=1">' +
    `<title>${esc(`llmsoak compare · ${c.kind}`)}</title><style>${BASE_CSS}${CSS}</style></head>` +
    `<body><main>${body.join('\n')}</main></body></html>\n`
  );
}
