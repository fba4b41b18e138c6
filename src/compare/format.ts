/** Figures of a comparison in words, shared by the text, Markdown and HTML renderers. */
import type { FigureComparison, FigureUnit } from './compare.js';

const sig = (v: number, d = 3): string => String(Number(v.toPrecision(d)));

export function fmtValue(v: number | null, unit: FigureUnit): string {
  if (v === null) return '–';
  switch (unit) {
    case 'seconds':
      return Math.abs(v) < 1 ? `${sig(v * 1000)} ms` : `${sig(v)} s`;
    case 'req/s':
      return `${sig(v, 4)} req/s`;
    case 'ratio':
      return `${sig(v * 100)}%`;
    case 'concurrency':
      return `${sig(v, 4)} users`;
  }
}

/** "+12.3 ms (+8.1%)"; percentage points for ratios. */
export function fmtChange(f: FigureComparison): string {
  if (f.change === null) return '–';
  const sign = f.change > 0 ? '+' : f.change < 0 ? '−' : '±';
  const abs = Math.abs(f.change);
  const body = f.unit === 'ratio' ? `${sig(abs * 100)} pp` : fmtValue(abs, f.unit);
  const r = f.relativeChange !== null && f.unit !== 'ratio' ? ` (${f.relativeChange >= 0 ? '+' : '−'}${sig(Math.abs(f.relativeChange) * 100)}%)` : '';
  return `${sign}${body}${r}`;
}

/** The test in a few words: p-value and interval, or why there is none. */
export function fmtTest(f: FigureComparison): string {
  if (f.verdict === 'insufficient' && f.note !== undefined) return f.note;
  const parts: string[] = [];
  if (f.test.method === 'knee-resolution') return `${f.test.significant ? 'beyond' : 'within'} ${f.tolerance}`;
  if (f.test.ci !== undefined) parts.push(`CI ${fmtSigned(f.test.ci[0], f.unit)} … ${fmtSigned(f.test.ci[1], f.unit)}`);
  if (f.test.p !== undefined) parts.push(`p=${f.test.p < 0.0001 ? '<0.0001' : sig(f.test.p, 2)}`);
  return `${f.test.method}: ${parts.join(', ')}`;
}

function fmtSigned(v: number, unit: FigureUnit): string {
  return `${v > 0 ? '+' : v < 0 ? '−' : ''}${fmtValue(Math.abs(v), unit)}`;
}

export const VERDICT_WORD: Record<FigureComparison['verdict'], string> = {
  better: 'better',
  same: 'same',
  worse: 'WORSE',
  insufficient: 'insufficient',
};
