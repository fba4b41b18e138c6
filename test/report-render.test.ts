import t from 'tap';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Report } from '../src/report/model.js';
import { sampleRampReport, sampleSoakReport, sampleSpikeReport, sampleSurfaceReport } from './fixtures/sample-reports.js';
import { renderMarkdown, safeParameters } from '../src/report/markdown.js';
import { renderHtml } from '../src/report/html.js';
import { renderStatusPage, sampleStatusInput } from '../src/report/status-page.js';
import { compactTime, listReports, reportBaseName, writeReport } from '../src/report/write.js';
import { esc, fmtBytes, fmtDuration, fmtPct, fmtSlope, niceTicks, num } from '../src/report/svg.js';

const ALL: [string, () => Report][] = [
  ['ramp', sampleRampReport],
  ['soak', sampleSoakReport],
  ['surface', sampleSurfaceReport],
  ['spike', sampleSpikeReport],
];

/** Count of `<svg … data-chart="name"` roots, and of elements with class "series" inside the document. */
function charts(html: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of html.matchAll(/<svg [^>]*data-chart="([^"]+)"/g)) m.set(x[1]!, (m.get(x[1]!) ?? 0) + 1);
  return m;
}

function seriesMarks(svg: string): number {
  return [...svg.matchAll(/<(path|circle|rect)\b[^>]*class="series\b/g)].length;
}

/** Each chart's own markup. */
function chartBodies(html: string): { name: string; body: string }[] {
  return [...html.matchAll(/<svg [^>]*data-chart="([^"]+)"[\s\S]*?<\/svg>/g)].map((x) => ({ name: x[1]!, body: x[0] }));
}

t.test('formatting helpers', async (t) => {
  t.equal(num(1234.5), '1,235');
  t.equal(num(12.345), '12.3');
  t.equal(num(0.012345), '0.0123');
  t.equal(num(0), '0');
  t.equal(fmtDuration(0.412), '412 ms');
  t.equal(fmtDuration(3.214), '3.21 s');
  t.equal(fmtDuration(252), '4m 12s');
  t.equal(fmtDuration(6 * 3600 + 120), '6h 02m');
  t.equal(fmtDuration(0.0006), '600 µs');
  t.equal(fmtBytes(305 * 1024 ** 2), '305 MiB');
  t.equal(fmtBytes(7.92 * 1024 ** 3), '7.92 GiB');
  t.equal(fmtPct(0.0048), '0.48%');
  t.equal(fmtPct(0.595), '59.5%');
  t.equal(fmtSlope(305 * 1024 ** 2, 'bytes'), '+305 MiB/h');
  t.equal(fmtSlope(-0.004, 'seconds'), '−4 ms/h');
  t.equal(esc(`<a href="x" onclick='y'>&`), '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;');
  const nt = niceTicks(0, 27.9, 5);
  t.same(nt.domain, [0, 30]);
  t.same(nt.ticks, [0, 5, 10, 15, 20, 25, 30]);
  t.equal(compactTime('2025-06-03T14:00:00.000Z'), '20250603T140000Z');
});

t.test('markdown: ramp has verdict, step table rows, knee; empty sections omitted', async (t) => {
  const r = sampleRampReport();
  const md = renderMarkdown(r);
  t.match(md, /^# llmsoak Stress ramp report/);
  const lines = md.split('\n');
  t.match(lines[2], /^\*\*Verdict: FAIL\*\* — capacity 35 req\/s/, 'verdict is the first thing after the title');
  t.match(
    md,
    /\| Step \| Rate req\/s \| Achieved req\/s \| Goodput req\/s \| TTFT p50\/p95\/p99 ms \| ITL p50\/p95\/p99 ms \| E2E p50\/p95\/p99 ms \| Output tok\/s \| GPU util \| KV cache \| Errors \| SLO \|/,
  );
  // One row per step, with the figures in ms and the SLO mark.
  for (const s of r.steps) {
    const row = lines.find((l) => l.startsWith(`| ${s.label} |`));
    t.ok(row, `row for ${s.label}`);
    t.match(row!, s.sloMet ? /\| ✓ \|$/ : /\| ✗ \|$/);
  }
  t.ok(lines.includes('| 35 req/s | 35 | 35 | 34.7 | 178 / 674 / 930 | 21.4 / 43.7 / 55.2 | 5,395 / 9,210 / 11,175 | 8,390 | 85% | 74% | 0% | ✓ |'));
  t.match(md, /\| 60 req\/s \| 60 \| 41\.7 \| 0\.3 \| 14,600 \/ 23,378 \/ 27,900 .*\| 3\.3% \(timeout 61, http_503 22\) \| ✗ \|/);
  t.match(md, /## Knee\n\n\*\*35 req\/s\*\* — the highest load at which every SLO held\./);
  t.match(md, /Next level failed: at 40 req\/s TTFT p99 2\.41 s \\?> SLO 2 s/);
  t.match(md, /Likely cause: `kv_cache_pressure`/);
  t.match(md, /## SLOs\n\nTTFT ≤ 2 s · TPOT ≤ 100 ms · E2E ≤ 30 s · error rate ≤ 1%/);
  t.match(md, /\| 20,847 \| 20,747 \| 12,406 \(59\.5%\) \| 13\.8 req\/s \| 0 \| 0\.48% \| timeout 78, http_503 22 \|/);
  t.match(md, /## Hints/);
  t.match(md, /\*\*critical\*\* \| `kv_cache_pressure` \| `kv_cache_pressure` \| KV cache 93% full/);
  t.match(md, /`kv_usage_ratio=93%, preemptions_per_min=14, waiting_requests=3\.1, ttft_p99_seconds=2\.41 s, target_rate_rps=40`/);
  for (const absent of ['## Trends', '## Capacity surface', '## Spike recovery', '## Events']) t.notMatch(md, absent, `no empty ${absent}`);
});

t.test('markdown: soak trends, hints timeline and events', async (t) => {
  const r = sampleSoakReport();
  const md = renderMarkdown(r);
  t.match(md, /## Trends/);
  t.match(md, /\| `llmsoak_target_process_resident_memory_bytes\{process="vllm"\}` \| 6\.11 GiB \| 7\.89 GiB \| 7\.92 GiB \| \+305 MiB\/h \| 0\.98 \| increasing \| 19h 24m \|/);
  t.match(md, /\| `llmsoak_gpu_memory_used_bytes\{gpu="0"\}` \| 74\.2 GiB \| 74\.2 GiB \| 74\.2 GiB \| \+2 MiB\/h \| 0\.04 \| stable \|/);
  t.match(md, /\| `llmsoak_time_to_first_token_seconds p99` \| 340 ms \| 360 ms \| 1\.31 s \| \+4 ms\/h \|/);
  t.match(md, /2025-06-02 10:30:00 UTC \(\+2h 30m\) → still firing \| firing \| warning \| `memory_leak` \| `process_memory_leak` \|/);
  t.match(md, /2025-06-02 11:11:00 UTC \(\+3h 11m\) → \+3h 42m \(31m 00s\) \| resolved \| warning \| `thermal_throttling` \|/);
  t.match(md, /slope_bytes_per_hour=305 MiB\/h, r2=0\.98, rss_bytes=7\.89 GiB/);
  t.match(md, /Check the chassis airflow/);
  t.match(md, /## Events\n\n\| Time \| Kind \| Detail \|\n\| :--- \| :--- \| :--- \|\n\| 2025-06-02 12:05:00 UTC \(\+4h 05m\) \| `target_metrics_unreachable` \|/);
  t.notMatch(md, '## Steps', 'a soak without steps has no step table');
  t.notMatch(md, '## Knee');
  // Hints are in time order.
  t.ok(md.indexOf('memory_leak') < md.indexOf('thermal_throttling'));
});

t.test('markdown: surface grid and spike recovery', async (t) => {
  const sf = renderMarkdown(sampleSurfaceReport());
  t.match(sf, /\| Concurrency \\ input tokens \| 256 \| 512 \| 1,024 \| 2,048 \| 4,096 \| 8,192 \|/);
  t.match(sf, /\| 8 \| 77\.2 ms ✓ \| 114 ms ✓ \| 192 ms ✓ \| 370 ms ✓ \| 852 ms ✓ \| 2\.51 s ✗ \|/);
  t.match(sf, /\| 64 \| .* \| — \|/, 'unmeasured cell');
  t.match(sf, /\*\*Verdict: PASS\*\*/);
  t.match(sf, /\| Step \| Concurrency \| Input tok \|/);
  const sp = renderMarkdown(sampleSpikeReport());
  t.match(sp, /## Spike recovery\n\n\| Base rate \| Multiple \| Spike rate \| Spike length \| Recovery \|\n.*\n\| 10 req\/s \| 4× \| 40 req\/s \| 30 s \| 48 s \|/);
  const never = sampleSpikeReport();
  never.spike!.recoverySec = null;
  t.match(renderMarkdown(never), /never recovered/);
});

t.test('parameters: credential-like keys and values never printed', async (t) => {
  const r = sampleRampReport();
  r.parameters = {
    ...r.parameters,
    apiKey: 'sk-live-123456',
    bearer_token: 'abc',
    password: 'hunter2',
    headers: { Authorization: 'Bearer xyz', 'x-trace': 'on' },
    upstream: 'https://user:pa55@example.com/v1',
    note: 'Bearer qwerty',
  };
  const md = renderMarkdown(r);
  const html = renderHtml(r);
  for (const out of [md, html]) {
    for (const secret of ['sk-live-123456', 'apiKey', 'bearer_token', 'hunter2', 'xyz', 'pa55', 'qwerty']) t.notOk(out.includes(secret), `${secret} not printed`);
  }
  t.match(md, /`maxTokens` \| `256`/, 'token counts are not credentials');
  t.match(md, /x-trace/);
  t.same(
    safeParameters({ maxTokens: 5, inputTokens: [1, 2], accessToken: 'x', secretName: 'y' }).map(([k]) => k),
    ['maxTokens', 'inputTokens'],
  );
});

t.test('html: one self-contained document per kind, charts where data exist', async (t) => {
  const expected: Record<string, string[]> = {
    ramp: ['latency', 'throughput', 'hints'],
    soak: ['timeseries', 'hints'],
    surface: ['surface'],
    spike: ['timeseries'],
  };
  for (const [name, make] of ALL) {
    const r = make();
    const html = renderHtml(r);
    t.equal((html.match(/<html\b/g) ?? []).length, 1, `${name}: one <html>`);
    t.equal((html.match(/<\/html>/g) ?? []).length, 1, `${name}: one </html>`);
    t.match(html, /^<!doctype html>/);
    t.notMatch(html, /\ssrc=/i, `${name}: no src= at all`);
    t.notMatch(html, /href="?(https?:)?\/\//i, `${name}: no external href`);
    t.notMatch(html, /url\(\s*['"]?(https?:)?\/\//i, `${name}: no external url()`);
    t.notMatch(html, /@import/i);
    t.notMatch(html, /<link\b/i);
    t.notMatch(html, /<script\b/i, `${name}: readable without script`);
    const c = charts(html);
    t.same([...c.keys()].sort(), [...expected[name]!].sort(), `${name}: charts ${[...c.keys()].join(',')}`);
    for (const { name: chart, body } of chartBodies(html)) t.ok(seriesMarks(body) >= 1, `${name}/${chart} has data marks`);
    t.match(html, r.verdict.pass ? /class="badge pass">PASS</ : /class="badge fail">FAIL</);
  }
  const soak = renderHtml(sampleSoakReport());
  t.equal(charts(soak).get('timeseries'), 4, 'one chart per plot');
  t.match(soak, /class="series fit"[^>]*stroke-dasharray="7 5"/, 'fitted trend dashed');
  t.match(soak, /fitted trend \+305 MiB\/h/);
  const ramp = renderHtml(sampleRampReport());
  // 12 steps × 3 percentiles × 2 panels as dots, plus the lines.
  const lat = chartBodies(ramp).find((x) => x.name === 'latency')!;
  t.equal([...lat.body.matchAll(/<circle class="series/g)].length, 72);
  t.match(lat.body, /knee 35 req\/s/);
  t.match(lat.body, /SLO 2 s/);
  t.match(ramp, /<tr class="knee"><td class="l nw">35 req\/s</, 'knee row marked');
  const sfc = chartBodies(renderHtml(sampleSurfaceReport())).find((x) => x.name === 'surface')!;
  t.equal([...sfc.body.matchAll(/<rect class="series/g)].length, 41, 'one cell per measured point');
  t.match(sfc.body, /class="slo-boundary"/);
});

t.test('html and markdown escape text from outside', async (t) => {
  const r = sampleRampReport();
  const evil = '<script>alert(1)</script>';
  r.steps[0]!.label = evil;
  r.hints[0]!.summary = `summary ${evil}`;
  r.hints[0]!.evidence = { [`k${evil}`]: `v${evil}`, 'q\'"': 1 };
  r.hints[0]!.cause = `cause${evil}`;
  r.events.push({ at: r.startedAt, kind: `kind${evil}`, detail: `detail ${evil} | pipe` });
  r.target = { ...r.target, model: `m${evil}` };
  r.verdict.failures.push(`fail ${evil}`);
  r.knee!.reason = `reason ${evil}`;
  r.timeseries.push({
    name: `plot ${evil}"`,
    unit: 'bytes',
    points: [
      [Date.parse(r.startedAt), 1],
      [Date.parse(r.endedAt), 2],
    ],
  });
  const html = renderHtml(r);
  t.notOk(html.includes('<script'), 'no raw <script> anywhere');
  t.notOk(html.includes('alert(1)</'), 'no raw closing tag');
  t.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), 'label appears escaped');
  t.match(html, /<td class="l nw">&lt;script&gt;alert\(1\)&lt;\/script&gt;<\/td>/, 'step label escaped in the table');
  t.match(html, /data-plot="plot &lt;script&gt;alert\(1\)&lt;\/script&gt;&quot;"/, 'attribute escaped');
  const md = renderMarkdown(r);
  // Code spans are literal in Markdown; everywhere else `<` is backslash-escaped.
  const outsideCode = md.replace(/(`+)[^`]*?\1/g, '');
  t.notMatch(outsideCode, /(^|[^\\])<\/?script/m, 'markdown has no raw HTML tag outside code spans');
  t.match(md, /`cause<script>alert\(1\)<\/script>`/, 'inside a code span it is literal');
  t.match(md, /\| \\<script>alert\(1\)\\<\/script> \|/, 'step label escaped in markdown');
  t.match(md, /detail \\<script>alert\(1\)\\<\/script> \\\| pipe/, 'pipes cannot break a table');
  const status = sampleStatusInput();
  status.hints[0]!.summary = evil;
  status.reports[0]!.name = `x"><script>alert(1)</script>`;
  const page = renderStatusPage(status);
  t.notOk(page.includes('<script'), 'status page escapes too');
  t.match(page, /href="\/api\/reports\/x%22%3E%3Cscript%3Ealert\(1\)%3C%2Fscript%3E\.html"/);
});

t.test('html: a report with nothing optional renders without charts or empty sections', async (t) => {
  const r = sampleRampReport();
  r.steps = [];
  r.knee = undefined;
  r.hints = [];
  r.events = [];
  r.timeseries = [];
  r.trends = [];
  r.parameters = {};
  r.overall.scheduleLag = { count: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, max: 0 };
  const html = renderHtml(r);
  t.equal(charts(html).size, 0);
  for (const h of ['<h2>Charts</h2>', '<h2>Steps</h2>', '<h2>Knee</h2>', '<h2>Hints</h2>', '<h2>Events</h2>', '<h2>Trends</h2>', '<h2>Parameters</h2>', 'Schedule lag'])
    t.notOk(html.includes(h), `no ${h}`);
  const md = renderMarkdown(r);
  for (const h of ['## Steps', '## Knee', '## Hints', '## Events', '## Trends', '## Parameters', 'Schedule lag']) t.notOk(md.includes(h), `no ${h}`);
  t.match(md, /## Totals/);
});

t.test('degenerate inputs render without throwing', async (t) => {
  const r = sampleRampReport();
  r.steps = [r.steps[0]!];
  r.knee = undefined;
  r.timeseries = [
    { name: 'one point', unit: 'seconds', points: [[Date.parse(r.startedAt), 0.5]] },
    {
      name: 'zeros',
      unit: 'ratio',
      points: [
        [Date.parse(r.startedAt), 0],
        [Date.parse(r.endedAt), 0],
      ],
    },
    {
      name: 'gaps',
      unit: 'bytes',
      points: [
        [Date.parse(r.startedAt), NaN],
        [Date.parse(r.startedAt) + 1000, 5],
        [Date.parse(r.endedAt), Infinity],
      ],
    },
    { name: 'empty', unit: '', points: [] },
  ];
  r.hints.push({ ...r.hints[0]!, activeAt: 'not a date', resolvedAt: 'nope' });
  r.surface = { concurrency: [1, 2], inputTokens: [100], p99TtftSec: [[null], [null]], p99E2eSec: [[null], [null]], withinSlo: [[null], [null]] };
  r.durationSec = 0;
  r.totals = { ...r.totals, requests: 0, ok: 0, good: 0 };
  const html = renderHtml(r);
  const c = charts(html);
  t.equal(c.get('timeseries'), 3, 'a plot without points is left out');
  t.notOk(c.has('surface'), 'a surface with nothing measured has no heat map');
  t.notOk(c.has('latency'), 'one step is not a load curve');
  for (const { name, body } of chartBodies(html)) {
    t.ok(seriesMarks(body) >= 1, `${name} has marks`);
    t.notMatch(body, /NaN|Infinity/, `${name}: no NaN in the markup`);
  }
  t.doesNotThrow(() => renderMarkdown(r));
  const closed = sampleSurfaceReport();
  closed.steps = closed.steps.filter((s) => s.inputTokens === 256);
  t.ok(charts(renderHtml(closed)).has('latency'), 'closed-loop steps over one prompt size give load curves over concurrency');
  t.match(renderHtml(closed), /concurrency \(users\)/);
});

t.test('status page', async (t) => {
  const s = sampleStatusInput();
  const page = renderStatusPage(s);
  t.match(page, /<meta http-equiv="refresh" content="5">/);
  t.match(page, /Target rate<\/div><div class="v">4 req\/s/);
  t.match(page, /In flight<\/div><div class="v">15</);
  t.match(page, /<td class="l">Schedule lag<\/td><td>300 µs<\/td><td>975 µs<\/td><td>1\.8 ms<\/td>/);
  t.match(page, /<code>timeout<\/code><\/td><td>31<\/td>/);
  t.match(page, /memory_leak/);
  t.match(page, /slope_bytes_per_hour=305 MiB\/h/);
  t.match(page, /<a href="\/api\/reports\/ramp-20250603T140000Z\.html">/);
  t.same([...charts(page).keys()], ['spark-ttft', 'spark-rps']);
  for (const { body } of chartBodies(page)) t.ok(seriesMarks(body) >= 2);
  t.notMatch(page, /\ssrc=|<script|href="https?:/i);
  // Empty history and no hints: no sparklines, a clear "none".
  const quiet = { ...s, history: [], hints: [], reports: [] };
  const p2 = renderStatusPage(quiet);
  t.equal(charts(p2).size, 0);
  t.match(p2, /Active hints \(0\)/);
  t.notMatch(p2, /Recent reports/);
  t.same(JSON.parse(JSON.stringify(s)), s, 'StatusInput is JSON-safe');
});

t.test('writeReport + listReports round trip', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'llmsoak-rep-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const target = join(dir, 'nested', 'reports');
  const ramp = sampleRampReport();
  const soak = sampleSoakReport();
  const surface = sampleSurfaceReport();
  const p1 = await writeReport(target, ramp);
  t.equal(p1.json, join(target, 'ramp-20250603T140000Z.json'));
  t.equal(p1.markdown, join(target, 'ramp-20250603T140000Z.md'));
  t.equal(p1.html, join(target, 'ramp-20250603T140000Z.html'));
  await writeReport(target, soak);
  await writeReport(target, surface);
  t.same(JSON.parse(await readFile(p1.json, 'utf8')), ramp, 'JSON is the report, complete');
  t.equal(await readFile(p1.markdown, 'utf8'), renderMarkdown(ramp));
  t.equal(await readFile(p1.html, 'utf8'), renderHtml(ramp));
  // Junk next to the reports is skipped.
  await writeFile(join(target, 'broken.json'), '{ not json');
  await writeFile(join(target, 'other.json'), JSON.stringify({ hello: 'world' }));
  const files = await readdir(target);
  t.notOk(
    files.some((f) => f.includes('.tmp-')),
    'no temp files left behind',
  );
  const list = await listReports(target);
  t.same(
    list.map((l) => l.name),
    ['surface-20250604T090000Z', 'ramp-20250603T140000Z', 'soak-20250602T080000Z'],
    'newest first',
  );
  t.same(list[1], {
    name: 'ramp-20250603T140000Z',
    kind: 'ramp',
    startedAt: ramp.startedAt,
    verdict: ramp.verdict,
    files: { json: p1.json, md: p1.markdown, html: p1.html },
  });
  t.equal(list[0]!.verdict.pass, true);
  // Rewriting the same run replaces its files.
  ramp.verdict = { pass: true, failures: [] };
  await writeReport(target, ramp);
  t.equal((await listReports(target)).find((l) => l.kind === 'ramp')!.verdict.pass, true);
  t.same(await listReports(join(dir, 'missing')), [], 'a missing directory lists nothing');
  t.equal(reportBaseName({ kind: 'soak', startedAt: 'not a date/../x' }), 'soak-notadatex');
});

t.test("failures in the server's words: a table in Markdown, HTML and the status page, escaped; absent when none", async (t) => {
  const r = sampleRampReport();
  const evil = '<script>alert(1)</script> | `tick`';
  r.failures = [
    {
      scenario: 'short_qa',
      class: 'http_5xx',
      message: '500 Internal Server Error: Bad control character in string literal in JSON at position 162',
      count: 164,
      firstAt: r.startedAt,
      lastAt: r.endedAt,
    },
    { scenario: 'short_qa', class: 'http_4xx', message: `400 Bad Request: ${evil}`, count: 3, firstAt: r.startedAt, lastAt: r.startedAt },
  ];
  const md = renderMarkdown(r);
  t.match(md, /## Failures/);
  t.match(
    md,
    /\| `short_qa` \| `http_5xx` \| 164 \| .* \| `500 Internal Server Error: Bad control character in string literal in JSON at position 162` \|/,
    "one row per message, the server's words in a code span",
  );
  const row = md.split('\n').find((l) => l.includes('http_4xx')) as string;
  t.equal(row.split(' | ').length, 6, 'pipes and backticks in a message cannot break the row');
  const html = renderHtml(r);
  t.match(html, /<h2>Failures<\/h2>/);
  t.notOk(html.includes('<script'), 'escaped in HTML');
  t.match(html, /<code>400 Bad Request: &lt;script&gt;alert\(1\)&lt;\/script&gt; \| `tick`<\/code>/);
  const status = { ...sampleStatusInput(), failures: r.failures };
  const page = renderStatusPage(status);
  t.match(page, /Failures in the server&#39;s words|Failures in the server's words/);
  t.match(page, /<td>164<\/td>/);
  t.notOk(page.includes('<script'), 'escaped on the status page');
  const none = sampleRampReport();
  t.notMatch(renderMarkdown(none), /## Failures/, 'no failures, no section');
  t.notMatch(renderHtml(none), /<h2>Failures<\/h2>/);
  t.notMatch(renderStatusPage(sampleStatusInput()), /server's words|server&#39;s words/);
});

t.test('writeReport scrubs secrets out of every file it writes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'llmsoak-rep-scrub-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const KEY = 'sk-REPORT-SENTINEL-1234';
  const r = sampleRampReport();
  r.target = { ...r.target, model: `model-of-${KEY}` };
  const files = await writeReport(dir, r, (text) => text.split(KEY).join('[redacted]'));
  for (const f of [files.json, files.markdown, files.html]) {
    const text = await readFile(f, 'utf8');
    t.notOk(text.includes(KEY), `not in ${f}`);
    t.ok(text.includes('model-of-[redacted]'), `scrubbed in ${f}`);
  }
  t.equal((JSON.parse(await readFile(files.json, 'utf8')) as Report).target.model, 'model-of-[redacted]', 'the JSON still parses');
});
