/**
 * A REAL report and the LIVE status page in a real browser (Debian's
 * Chromium driven by playwright-core, as test/report-browser.test.ts does for
 * the fixtures): a running daemon soaks the built-in simulator, a short ramp
 * pauses the soak and writes its report, and both pages are opened from the
 * daemon's own HTTP server (with its Content-Security-Policy): every chart is
 * laid out with drawn data marks, no console errors, nothing loaded from
 * anywhere else.
 *
 * Needs /usr/bin/chromium (apt-get install chromium). A missing browser is a
 * failure, never a skip.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { request } from 'undici';
import { loadConfig } from '../src/config/load.js';
import { Daemon } from '../src/daemon.js';
import { silentLogger } from '../src/log.js';
import { waitFor } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';

interface ChartBox {
  name: string;
  width: number;
  height: number;
  marks: number;
  sizedMarks: number;
}

const CHART_PROBE = `(() => [...document.querySelectorAll('[data-chart]')].map((el) => {
  const r = el.getBoundingClientRect();
  const marks = [...el.querySelectorAll('.series')];
  const sized = marks.filter((m) => { const b = m.getBoundingClientRect(); return b.width > 0 && b.height > 0; });
  return { name: el.getAttribute('data-chart'), width: r.width, height: r.height, marks: marks.length, sizedMarks: sized.length };
}))()`;

async function visit(browser: Browser, url: string): Promise<{ charts: ChartBox[]; errors: string[]; external: string[]; text: string; links: string[]; shotBytes: number }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  const external: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (req) => {
    const u = req.url();
    if (u !== url && !u.startsWith('data:') && !u.endsWith('/favicon.ico')) external.push(u);
  });
  try {
    const res = await page.goto(url, { waitUntil: 'load' });
    if (res?.status() !== 200) throw new Error(`${url}: ${res?.status()}`);
    const charts = (await page.evaluate(CHART_PROBE)) as ChartBox[];
    const text = (await page.evaluate('document.body.innerText')) as string;
    const links = (await page.evaluate(`[...document.querySelectorAll('a')].map((a) => a.getAttribute('href'))`)) as string[];
    const shot = await page.screenshot({ fullPage: true });
    return { charts, errors, external, text, links, shotBytes: shot.length };
  } finally {
    await page.close();
  }
}

t.test('a real ramp report and the live status page render in Chromium', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.fail('install chromium (apt-get install chromium)');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'llmsoak-live-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const { config } = loadConfig({
    document: {
      server: { listen: '127.0.0.1:0' },
      simulator: { port: 0, engine: { maxNumSeqs: 16, decodeStepBaseMs: 10, decodeStepPerSeqMs: 0.25, maxQueue: 100_000 } },
      traffic: { rate: 4, seed: 2, scenarios: [{ name: 'qa', endpoint: 'chat', prompt: { dist: 'fixed', value: 64 }, output: { dist: 'fixed', value: 32 } }] },
      slo: { ttftMs: 250, tpotMs: 50, e2eMs: 1500 },
      collectors: { intervalMs: 500, gpu: { enabled: false } },
      report: { dir },
      mode: { kind: 'ramp', ramp: { levels: [10, 20, 30, 60], warmupSec: 1, holdSec: 2, cooldownSec: 0.5, refineSteps: 1 } },
      log: { level: 'silent' },
    },
  });
  const daemon = new Daemon(config, { logger: silentLogger() });
  t.teardown(() => daemon.stop('teardown'));
  await daemon.start();
  const runs = daemon.runs;
  if (!runs) throw new Error('no mode controller');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-dev-shm-usage'],
  });
  t.teardown(() => browser.close());

  const { report, name } = await runs.run(config.mode, { by: 'test' });
  t.ok(report.knee !== undefined, `a knee: ${report.knee?.value} req/s`);
  t.ok(report.steps.length >= 4, `${report.steps.length} steps`);

  // The report, as a person clicking it on the status page gets it.
  const rep = await visit(browser, `${daemon.listenUrl}/api/reports/${name}.html`);
  t.same(rep.errors, [], 'report: no console errors');
  t.same(rep.external, [], 'report: nothing loaded from anywhere');
  t.same(
    rep.charts.map((c) => c.name),
    ['latency', 'throughput'],
    'report: latency and throughput charts',
  );
  for (const c of rep.charts) {
    t.ok(c.width > 100 && c.height > 40, `report/${c.name}: laid out ${Math.round(c.width)}×${Math.round(c.height)}`);
    t.ok(c.sizedMarks >= report.steps.length, `report/${c.name}: ${c.sizedMarks} of ${c.marks} data marks drawn`);
  }
  t.match(rep.text, /Knee/);
  t.match(rep.text, new RegExp(`${report.knee?.value} req/s`));
  t.ok(rep.shotBytes > 20_000, `report screenshot ${rep.shotBytes} bytes`);

  // The live status page, back on the soak, with history points for its sparklines.
  await waitFor(async () => ((await runs.statusPage()).includes('data-chart="spark-ttft"') ? true : undefined), 15_000, 500);
  const res = await request(`${daemon.listenUrl}/`);
  t.match(String(res.headers['content-security-policy']), /default-src 'none'/);
  await res.body.dump();
  const st = await visit(browser, `${daemon.listenUrl}/`);
  t.same(st.errors, [], 'status: no console errors (the CSP allows what the page needs)');
  t.same(st.external, [], 'status: nothing loaded from anywhere');
  t.same(
    st.charts.map((c) => c.name),
    ['spark-ttft', 'spark-rps'],
    'status: sparklines',
  );
  for (const c of st.charts) {
    t.ok(c.width > 100 && c.height > 20, `status/${c.name}: laid out ${Math.round(c.width)}×${Math.round(c.height)}`);
    t.ok(c.sizedMarks >= 1, `status/${c.name}: data drawn`);
  }
  t.match(st.text, /soak 4 req\/s/, 'status: says what runs now');
  t.match(st.text, /Recent reports/);
  t.ok(st.links.includes(`/api/reports/${name}.html`), 'status: links the new report');
  t.match(st.text, /p99 TTFT/);
});
