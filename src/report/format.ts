/**
 * What a report format is (src/report/formats.ts registers them): a name, the
 * file extension and content type it is written and served with, and a pure
 * renderer of the report model. writeReport scrubs and writes what it renders.
 */
import type { Report } from './model.js';

export interface ReportFormat<N extends string = string, E extends string = string> {
  /** Key of its path in writeReport's result and of its link in /api/reports. */
  readonly name: N;
  /** File extension, without the dot; /api/reports/<name>.<ext> serves it. */
  readonly ext: E;
  readonly contentType: string;
  /** One line: what it is for (CLI help, docs). */
  readonly summary: string;
  /**
   * Written with every report (the API, the status page and `llmsoak bench`
   * link it); otherwise only when `report.formats` names it.
   */
  readonly always: boolean;
  render(r: Report): string;
}
