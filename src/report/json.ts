/** The report as JSON: complete, what `llmsoak compare` and the report listing read. */
import type { ReportFormat } from './format.js';

export const jsonFormat = {
  name: 'json',
  ext: 'json',
  contentType: 'application/json; charset=utf-8',
  summary: 'the complete report (what `llmsoak compare` and the listing read)',
  always: true,
  render: (r) => `${JSON.stringify(r, null, 2)}\n`,
} as const satisfies ReportFormat;
