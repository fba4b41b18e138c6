/**
 * Writes a report in each of its formats (./formats.ts: JSON, Markdown and
 * HTML always, the others named in `report.formats`) side by side, atomically (temp
 * file + rename, so a reader never sees half a file), and lists what a
 * directory holds, newest first. Names never collide: a different report
 * that starts in the same second as one already there (or being written)
 * gets `-2`, `-3`, … after its name; the same report written again replaces
 * its files.
 */
import { access, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { RUN_KINDS as KINDS, type Report, type RunKind } from './model.js';
import { formatsToWrite, REPORT_FORMATS, type AlwaysFormatExt, type AlwaysFormatName, type ReportFormatExt, type ReportFormatName } from './formats.js';

/** "2025-06-03T14:00:00.000Z" → "20250603T140000Z"; anything else made filename-safe. */
export function compactTime(iso: string): string {
  const d = new Date(iso);
  if (!Number.isNaN(d.getTime()))
    return d
      .toISOString()
      .replace(/\.\d+Z$/, 'Z')
      .replace(/[-:]/g, '');
  return iso.replace(/[^A-Za-z0-9]/g, '').slice(0, 32) || 'unknown';
}

/** `<kind>-<startedAt compact>`, e.g. "ramp-20250603T140000Z". */
export function reportBaseName(r: Pick<Report, 'kind' | 'startedAt'>): string {
  const kind = KINDS.has(r.kind) ? r.kind : 'run';
  return `${kind}-${compactTime(r.startedAt)}`;
}

async function writeAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, data, { encoding: 'utf8', mode: 0o644 });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}

/** Names being written by this process (path of the base → the report's identity). */
const writing = new Map<string, string>();

/** What makes two reports the same run: kind, start and end. */
function identity(r: Pick<Report, 'kind' | 'startedAt' | 'endedAt'>): string {
  return `${r.kind} ${r.startedAt} ${r.endedAt}`;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Whether `base` is free for report `id`: nothing there, or the same report (rewritten in place). */
async function freeFor(base: string, id: string): Promise<boolean> {
  const w = writing.get(base);
  if (w !== undefined) return w === id;
  if (await exists(`${base}.json`)) {
    try {
      const there = JSON.parse(await readFile(`${base}.json`, 'utf8')) as Pick<Report, 'kind' | 'startedAt' | 'endedAt'>;
      return identity(there) === id;
    } catch {
      return false;
    }
  }
  // Another format's file alone is someone else's (or a report whose JSON is still to come).
  for (const f of REPORT_FORMATS) if (f.ext !== 'json' && (await exists(`${base}.${f.ext}`))) return false;
  return true;
}

/** Paths of a written report: every `always` format's, and those of the formats it was asked for. */
export type WrittenReport = { name: string } & Record<AlwaysFormatName, string> & Partial<Record<ReportFormatName, string>>;

/**
 * Write the report's files; returns their paths and the base name they got (the API serves `<name>.html`).
 * `scrub` takes secrets out of each file's text (a model id or an error the target echoed a key into);
 * `formats` names formats to write besides the `always` ones (`report.formats`).
 */
export async function writeReport(dir: string, r: Report, scrub: (text: string) => string = (text) => text, formats: readonly ReportFormatName[] = []): Promise<WrittenReport> {
  await mkdir(dir, { recursive: true });
  // Render everything first: a renderer failure leaves no partial set behind.
  const rendered = formatsToWrite(formats).map((f) => ({ f, text: scrub(f.render(r)) }));
  const id = identity(r);
  const first = reportBaseName(r);
  let name = first;
  // The check and the reservation run with no await between them, so two writes in this process never pick one name.
  for (let n = 2; !(await freeFor(join(dir, name), id)) || (writing.has(join(dir, name)) && writing.get(join(dir, name)) !== id); n++) name = `${first}-${n}`;
  const base = join(dir, name);
  writing.set(base, id);
  // JSON last: listReports() finds reports by their JSON, so when it appears the others exist.
  rendered.sort((a, b) => Number(a.f.ext === 'json') - Number(b.f.ext === 'json'));
  try {
    for (const { f, text } of rendered) {
      await writeAtomic(`${base}.${f.ext}`, text);
    }
  } finally {
    writing.delete(base);
  }
  // Paths in the registry's order (JSON first), whatever the order of writing.
  const paths = Object.fromEntries(formatsToWrite(formats).map((f) => [f.name, `${base}.${f.ext}`]));
  return { ...paths, name } as WrittenReport;
}

export interface ReportListing {
  /** Base name, e.g. "ramp-20250603T140000Z" (the API serves `<name>.html`). */
  name: string;
  kind: RunKind;
  startedAt: string;
  verdict: Report['verdict'];
  /** Paths of its files by extension: every `always` format's, and each other format's that is there. */
  files: Partial<Record<ReportFormatExt, string>> & Record<AlwaysFormatExt, string>;
}

function isListable(v: unknown): v is Pick<Report, 'kind' | 'startedAt' | 'verdict'> {
  if (v === null || typeof v !== 'object') return false;
  const o = v as Record<string, unknown>;
  const verdict = o['verdict'] as Record<string, unknown> | null | undefined;
  return (
    typeof o['kind'] === 'string' &&
    KINDS.has(o['kind']) &&
    typeof o['startedAt'] === 'string' &&
    verdict !== null &&
    typeof verdict === 'object' &&
    typeof verdict['pass'] === 'boolean' &&
    Array.isArray(verdict['failures'])
  );
}

/** Reports in `dir`, newest first; unreadable or foreign JSON files are skipped. A missing dir lists nothing. */
export async function listReports(dir: string): Promise<ReportListing[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const present = new Set(names);
  const out: ReportListing[] = [];
  for (const file of names) {
    if (!file.endsWith('.json') || file.includes('.tmp-')) continue;
    const name = file.slice(0, -'.json'.length);
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(join(dir, file), 'utf8'));
    } catch {
      continue;
    }
    if (!isListable(parsed)) continue;
    const files: Partial<Record<ReportFormatExt, string>> = {};
    for (const f of REPORT_FORMATS) if (f.always || present.has(`${name}.${f.ext}`)) files[f.ext] = join(dir, `${name}.${f.ext}`);
    out.push({
      name,
      kind: parsed.kind,
      startedAt: parsed.startedAt,
      verdict: { pass: parsed.verdict.pass, failures: parsed.verdict.failures.map(String) },
      files: files as ReportListing['files'],
    });
  }
  const ts = (s: string): number => {
    const v = Date.parse(s);
    return Number.isFinite(v) ? v : -Infinity;
  };
  out.sort((a, b) => ts(b.startedAt) - ts(a.startedAt) || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
  return out;
}
