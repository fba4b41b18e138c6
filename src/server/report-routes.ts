/**
 * Routes of the report layer: the live status page at `/`, the report
 * listing at /api/reports, one report file at /api/reports/<name>.<ext> (the
 * extensions of the registered formats, src/report/formats.ts),
 * and the schedules at /api/schedules.
 *
 * A report file is served only when its name is a plain report name (letters,
 * digits, `_` and `-`, then a registered extension), it resolves inside
 * the report directory and is a regular file (no symbolic link): no path can
 * leave the directory. HTML goes out with a Content-Security-Policy that
 * allows nothing but its own inline styles and data: images (reports are
 * self-contained and have no script).
 */
import { lstat, readFile } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ReportListing } from '../report/write.js';
import { REPORT_FORMATS } from '../report/formats.js';

export interface ReportRouteDeps {
  /** The report directory. */
  reportDir: () => string | undefined;
  /** Reports in the directory, newest first. */
  listReports: () => Promise<ReportListing[]>;
  /** The live status page (HTML). */
  statusPage: () => Promise<string | undefined>;
  /** Schedules with their next and last runs. */
  schedules: () => unknown;
}

const FILE = new RegExp(`^([A-Za-z0-9][A-Za-z0-9_-]{0,127})(?:\\.(${REPORT_FORMATS.map((f) => f.ext).join('|')}))?$`);
const TYPES: Record<string, string> = Object.fromEntries(REPORT_FORMATS.map((f) => [f.ext, f.contentType]));
/** Self-contained pages: inline CSS and data: images only, nothing loaded, nothing run. */
export const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const MAX_FILE_BYTES = 64 * 1024 * 1024;

function html(reply: FastifyReply, body: string): FastifyReply {
  return reply
    .type(TYPES.html as string)
    .header('content-security-policy', PAGE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('cache-control', 'no-store')
    .send(body);
}

export function registerReportRoutes(app: FastifyInstance, deps: ReportRouteDeps): void {
  app.get('/api/reports', async () => {
    const list = await deps.listReports();
    return {
      reports: list.map((r) => ({
        name: r.name,
        kind: r.kind,
        startedAt: r.startedAt,
        verdict: r.verdict,
        links: Object.fromEntries(REPORT_FORMATS.filter((f) => r.files[f.ext] !== undefined).map((f) => [f.name, `/api/reports/${r.name}.${f.ext}`])),
      })),
    };
  });

  app.get<{ Params: { file: string } }>('/api/reports/:file', async (req, reply) => {
    const dir = deps.reportDir();
    const m = FILE.exec(req.params.file);
    if (dir === undefined || !m) return reply.code(404).send({ error: 'no such report' });
    const ext = m[2] ?? 'json';
    const root = resolve(dir);
    const path = resolve(root, `${m[1] as string}.${ext}`);
    if (!path.startsWith(root + sep)) return reply.code(404).send({ error: 'no such report' });
    let body: Buffer;
    try {
      const st = await lstat(path);
      if (!st.isFile() || st.size > MAX_FILE_BYTES) return reply.code(404).send({ error: 'no such report' });
      body = await readFile(path);
    } catch {
      return reply.code(404).send({ error: 'no such report' });
    }
    if (ext === 'html') return html(reply, body.toString('utf8'));
    return reply
      .type(TYPES[ext] as string)
      .header('x-content-type-options', 'nosniff')
      .send(body);
  });

  app.get('/api/schedules', async () => ({ schedules: deps.schedules() }));
}

/** The `/` route: the status page once the daemon has one, else `fallback` (a plain index). */
export async function statusPageOr(deps: ReportRouteDeps, reply: FastifyReply, fallback: () => FastifyReply): Promise<FastifyReply> {
  const page = await deps.statusPage();
  return page === undefined ? fallback() : html(reply, page);
}
