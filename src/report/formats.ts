/**
 * The report formats: one file each, registered here. writeReport, the
 * report routes (/api/reports/<name>.<ext>), the `report.formats` config
 * list and the docs' format table derive from this list.
 */
import { csvFormat } from './csv.js';
import type { ReportFormat } from './format.js';
import { htmlFormat } from './html.js';
import { jsonFormat } from './json.js';
import { markdownFormat } from './markdown.js';

export const REPORT_FORMATS = [jsonFormat, markdownFormat, htmlFormat, csvFormat] as const satisfies readonly ReportFormat[];

type Registered = (typeof REPORT_FORMATS)[number];
export type ReportFormatName = Registered['name'];
export type ReportFormatExt = Registered['ext'];
/** The formats written with every report. */
export type AlwaysFormatName = Extract<Registered, { always: true }>['name'];
export type AlwaysFormatExt = Extract<Registered, { always: true }>['ext'];

export const REPORT_FORMAT_NAMES: readonly ReportFormatName[] = REPORT_FORMATS.map((f) => f.name);

export function reportFormat(name: ReportFormatName): ReportFormat<ReportFormatName, ReportFormatExt> {
  const f = REPORT_FORMATS.find((x) => x.name === name);
  if (f === undefined) throw new RangeError(`report: unknown format "${name}" (one of ${REPORT_FORMAT_NAMES.join(', ')})`);
  return f;
}

/** The formats to write: every `always` one and those named. */
export function formatsToWrite(named: readonly ReportFormatName[] = []): ReportFormat<ReportFormatName, ReportFormatExt>[] {
  return REPORT_FORMATS.filter((f) => f.always || named.includes(f.name));
}
