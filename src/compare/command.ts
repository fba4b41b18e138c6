/**
 * `llmsoak compare BASELINE CANDIDATE` and the end of `llmsoak bench
 * --baseline FILE`: compare, print the table (or JSON), write compare.md,
 * compare.html and compare.json when asked, and give the pipeline its exit
 * code: 0 no figure worse, 1 a regression (2, bad input, is the CLI's answer
 * to a CompareInputError).
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ExitCode } from '../errors.js';
import type { Report } from '../report/model.js';
import { compareReports, type Comparison } from './compare.js';
import type { CompareConfig } from './config.js';
import { checkComparable, readReport } from './input.js';
import { renderCompareHtml, renderCompareMarkdown, renderText } from './render.js';

export interface CompareFiles {
  markdown: string;
  html: string;
  json: string;
}

async function writeAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, data, 'utf8');
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}

/** compare.md, compare.html and compare.json in `dir` (created when missing). */
export async function writeComparison(dir: string, c: Comparison): Promise<CompareFiles> {
  await mkdir(dir, { recursive: true });
  const files = { markdown: join(dir, 'compare.md'), html: join(dir, 'compare.html'), json: join(dir, 'compare.json') };
  const md = renderCompareMarkdown(c);
  const html = renderCompareHtml(c);
  await writeAtomic(files.markdown, md);
  await writeAtomic(files.html, html);
  await writeAtomic(files.json, `${JSON.stringify(c, null, 2)}\n`);
  return files;
}

export interface CompareOptions {
  outDir?: string;
  /** Print the comparison as JSON instead of the table. */
  json?: boolean;
  out?: NodeJS.WritableStream;
}

/** Compare two reports already read; print and write; the exit code. */
export async function reportComparison(
  baseline: Report,
  candidate: Report,
  files: { baseline: string; candidate: string },
  cfg: CompareConfig,
  opts: CompareOptions = {},
): Promise<{ comparison: Comparison; written?: CompareFiles; code: number }> {
  const comparison = compareReports(baseline, candidate, cfg, files);
  const out = opts.out ?? process.stdout;
  const written = opts.outDir !== undefined ? await writeComparison(opts.outDir, comparison) : undefined;
  if (opts.json) out.write(`${JSON.stringify(comparison, null, 2)}\n`);
  else {
    out.write(renderText(comparison));
    if (written !== undefined) out.write(`  comparison: ${written.html} (also ${written.markdown}, ${written.json})\n`);
  }
  return { comparison, ...(written !== undefined ? { written } : {}), code: comparison.pass ? ExitCode.ok : ExitCode.failed };
}

/** `llmsoak compare`: read both files (CompareInputError on bad input), compare, exit code. */
export async function runCompare(baselineFile: string, candidateFile: string, cfg: CompareConfig, opts: CompareOptions = {}): Promise<number> {
  const [baseline, candidate] = await Promise.all([readReport(baselineFile), readReport(candidateFile)]);
  const files = { baseline: baselineFile, candidate: candidateFile };
  checkComparable(baseline, candidate, files);
  return (await reportComparison(baseline, candidate, files, cfg, opts)).code;
}
