/**
 * The CSV report format: parsed back by an RFC 4180 reader written here (not
 * the renderer's code), every figure of the report is in it with its value,
 * labels with commas, quotes and line breaks survive, formula-like text is
 * defused, and writeReport / the report routes handle it as a registered
 * format (written when report.formats names it, listed, served as text/csv).
 */
import t from 'tap';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sampleRampReport, sampleSoakReport, sampleSpikeReport } from './fixtures/sample-reports.js';
import { CSV_HEADER, renderCsv } from '../src/report/csv.js';
import { listReports, writeReport } from '../src/report/write.js';
import { buildApp } from '../src/server/app.js';
import { createRegistry } from '../src/metrics/registry.js';
import { silentLogger } from '../src/log.js';

/** RFC 4180: records end in CRLF; a quoted field may hold commas, CRLF and doubled quotes. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
      } else if (c === '"') {
        quoted = false;
        i++;
      } else {
        field += c;
        i++;
      }
    } else if (c === '"' && field === '') {
      quoted = true;
      i++;
    } else if (c === ',') {
      row.push(field);
      field = '';
      i++;
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i += 2;
    } else {
      if (c === '"' || c === '\n' || c === '\r') throw new Error(`bare ${JSON.stringify(c)} at ${i}`);
      field += c;
      i++;
    }
  }
  if (quoted || field !== '' || row.length > 0) throw new Error('the last record does not end in CRLF');
  return rows;
}

type Rec = Record<(typeof CSV_HEADER)[number], string>;
function records(text: string): Rec[] {
  const [head, ...rows] = parseCsv(text);
  return rows.map((r) => Object.fromEntries((head as string[]).map((h, i) => [h, r[i] as string])) as Rec);
}

t.test('a ramp parses back: header, one record per figure, every step figure with its value', async (t) => {
  const r = sampleRampReport();
  const text = renderCsv(r);
  const rows = parseCsv(text);
  t.same(rows[0], [...CSV_HEADER], 'the header');
  t.ok(
    rows.every((row) => row.length === CSV_HEADER.length),
    'every record has every column',
  );
  const recs = records(text);
  t.ok(
    recs.every((x) => x.kind === 'ramp' && x.started_at === r.startedAt),
    'kind and start on every record',
  );
  for (const s of r.steps) {
    const of = (figure: string, statistic: string) => recs.find((x) => x.scope === 'step' && x.step === String(s.index) && x.figure === figure && x.statistic === statistic);
    t.equal(of('ttft', 'p99')?.value, String(s.ttft.p99), `step ${s.index}: TTFT p99`);
    t.equal(of('e2e', 'p50')?.value, String(s.e2e.p50), `step ${s.index}: E2E p50`);
    t.equal(of('achieved_rate', 'value')?.value, String(s.achievedRps), `step ${s.index}: achieved rate`);
    t.equal(of('slo_met', 'value')?.value, s.sloMet ? '1' : '0', `step ${s.index}: SLO met as 1/0`);
    t.equal(of('ttft', 'p99')?.label, s.label, `step ${s.index}: its label`);
  }
  const run = (figure: string, statistic: string) => recs.find((x) => x.scope === 'run' && x.figure === figure && x.statistic === statistic)?.value;
  t.equal(run('requests', 'total'), String(r.totals.requests));
  t.equal(run('ttft', 'p99'), String(r.overall.ttft.p99));
  t.equal(run('corrected_e2e', 'max'), String(r.overall.corrected.max));
  t.equal(recs.find((x) => x.scope === 'knee')?.value, String(r.knee?.value), 'the knee');
  t.equal(recs.find((x) => x.scope === 'verdict' && x.figure === 'pass')?.value, r.verdict.pass ? '1' : '0', 'the verdict');
  t.equal(recs.filter((x) => x.scope === 'verdict' && x.figure === 'failure').length, r.verdict.failures.length, 'one record per failure');
});

t.test('quoting: commas, quotes and line breaks survive; formulas are defused', async (t) => {
  const r = sampleRampReport();
  const step = r.steps[0];
  if (step === undefined) throw new Error('fixture without steps');
  step.label = 'c=16, in="2k"\r\nnext line';
  r.verdict = { pass: false, failures: ['=HYPERLINK("http://x")', '-1 is not a failure'] };
  const recs = records(renderCsv(r));
  t.equal(recs.find((x) => x.scope === 'step' && x.step === String(step.index))?.label, step.label, 'the label comes back as it was');
  const failures = recs.filter((x) => x.figure === 'failure').map((x) => x.label);
  t.same(failures, [`'=HYPERLINK("http://x")`, `'-1 is not a failure`], 'text a spreadsheet would run starts with a quote');
  t.ok(
    recs.filter((x) => x.value !== '').every((x) => Number.isFinite(Number(x.value))),
    'every value is a number (or empty)',
  );
});

t.test('a soak has no step records; a spike has its recovery', async (t) => {
  const soak = records(renderCsv(sampleSoakReport()));
  t.equal(soak.filter((x) => x.scope === 'step').length, 0);
  t.ok(soak.some((x) => x.scope === 'run' && x.figure === 'ttft'));
  const spike = sampleSpikeReport();
  const rec = records(renderCsv(spike)).find((x) => x.scope === 'spike');
  t.equal(rec?.value, spike.spike?.recoverySec === null ? '' : String(spike.spike?.recoverySec));
});

t.test('written when report.formats names it, listed and served as text/csv; not written otherwise', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'llmsoak-csv-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const plain = await writeReport(join(dir, 'plain'), sampleRampReport());
  t.equal(plain.csv, undefined, 'not asked for: no CSV');
  t.same(Object.keys((await listReports(join(dir, 'plain')))[0]?.files ?? {}).sort(), ['html', 'json', 'md']);

  const KEY = 'sk-CSV-SENTINEL-42';
  const r = sampleRampReport();
  (r.steps[0] as { label: string }).label = `step of ${KEY}`;
  const written = await writeReport(dir, r, (text) => text.split(KEY).join('[redacted]'), ['csv']);
  t.equal(written.csv, join(dir, `${written.name}.csv`));
  const text = await readFile(written.csv as string, 'utf8');
  t.notOk(text.includes(KEY), 'scrubbed like every other file');
  t.ok(records(text).some((x) => x.label === 'step of [redacted]'));
  const listed = (await listReports(dir))[0];
  t.equal(listed?.files.csv, written.csv, 'listed');

  const app = buildApp({
    registry: createRegistry(),
    logger: silentLogger(),
    ready: () => true,
    status: () => ({}),
    reports: { reportDir: () => dir, listReports: () => listReports(dir), statusPage: async () => '<!doctype html><title>s</title>', schedules: () => [] },
  });
  t.teardown(() => app.close());
  const list = (await app.inject({ url: '/api/reports' })).json() as { reports: { links: Record<string, string> }[] };
  t.equal(list.reports[0]?.links.csv, `/api/reports/${written.name}.csv`, 'linked');
  const res = await app.inject({ url: `/api/reports/${written.name}.csv` });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^text\/csv/);
  t.equal(res.body, text);
  t.equal((await app.inject({ url: `/api/reports/${written.name}.xls` })).statusCode, 404, 'an unregistered extension is not served');
});
