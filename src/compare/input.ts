/**
 * Reading the two reports `llmsoak compare` is given. Anything that is not a
 * usable report is a CompareInputError whose message names the file and the
 * problem in one line (the CLI prints it and exits 2).
 */
import { readFile } from 'node:fs/promises';
import { LlmsoakError } from '../errors.js';
import { RUN_KINDS as KINDS, type Report } from '../report/model.js';

/** A report file that cannot be compared (missing, not JSON, not a report, or not comparable with the other). */
export class CompareInputError extends LlmsoakError {
  constructor(message: string) {
    super('LLMSOAK_ERR_USAGE', message);
    this.name = 'CompareInputError';
  }
}

/** The fields compare reads, checked: what `JSON.parse` gave is a report. */
export function asReport(v: unknown, file: string): Report {
  const o = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  const missing = (what: string) => new CompareInputError(`${file}: not an llmsoak report (${what})`);
  if (o === undefined) throw missing('not a JSON object');
  if (typeof o['kind'] !== 'string' || !KINDS.has(o['kind'])) throw missing('no run kind');
  if (typeof o['durationSec'] !== 'number') throw missing('no durationSec');
  const totals = o['totals'] as Record<string, unknown> | undefined;
  if (totals === null || typeof totals !== 'object' || typeof totals['requests'] !== 'number' || typeof totals['ok'] !== 'number' || typeof totals['good'] !== 'number') {
    throw missing('no totals');
  }
  const h = o['histograms'];
  if (h === null || typeof h !== 'object' || Array.isArray(h) || Object.values(h).some((s) => typeof s !== 'string')) throw missing('no histograms');
  if (!Array.isArray(o['steps'])) throw missing('no steps');
  return v as Report;
}

export async function readReport(file: string): Promise<Report> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CompareInputError(`${file}: ${code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? 'unreadable'})`}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CompareInputError(`${file}: not JSON (an llmsoak report is the .json file of a run)`);
  }
  return asReport(parsed, file);
}

/** The two must be runs of the same kind to be compared figure by figure. */
export function checkComparable(baseline: Report, candidate: Report, files: { baseline: string; candidate: string }): void {
  if (baseline.kind !== candidate.kind) {
    throw new CompareInputError(`reports of different kinds: ${files.baseline} is a ${baseline.kind}, ${files.candidate} is a ${candidate.kind}`);
  }
}
