/**
 * Opens the rendered reports and the status page in a real browser (Debian's
 * Chromium driven by playwright-core) and checks what a person would see:
 * every chart laid out with a non-zero size and drawn data marks, no console
 * errors, no request leaving the file, and a full-page screenshot that is not
 * blank (PNG decoded here with node:zlib).
 *
 * Needs /usr/bin/chromium (apt-get install chromium) and the devDependency
 * playwright-core. A missing browser is a failure, never a skip.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inflateSync } from 'node:zlib';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Report } from '../src/report/model.js';
import { sampleRampReport, sampleSoakReport, sampleSpikeReport, sampleSurfaceReport } from './fixtures/sample-reports.js';
import { renderHtml } from '../src/report/html.js';
import { renderStatusPage, sampleStatusInput } from '../src/report/status-page.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOT = '/tmp/llmsoak-report.png';

// ---------------------------------------------------------------------------
// A small PNG decoder: 8-bit, non-interlaced grey/RGB/RGBA, as browsers write.
// ---------------------------------------------------------------------------

interface Image {
  width: number;
  height: number;
  /** RGBA, 4 bytes per pixel. */
  rgba: Uint8Array;
}

export function decodePng(buf: Buffer): Image {
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (!buf.subarray(0, 8).equals(sig)) throw new Error('not a PNG');
  let off = 8;
  let width = 0;
  let height = 0;
  let depth = 0;
  let colorType = 0;
  let interlace = 0;
  const idat: Buffer[] = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      depth = data[8]!;
      colorType = data[9]!;
      interlace = data[12]!;
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    off += 12 + len;
  }
  const channels = ({ 0: 1, 2: 3, 4: 2, 6: 4 } as Record<number, number>)[colorType];
  if (depth !== 8 || channels === undefined || interlace !== 0) throw new Error(`unsupported PNG: depth ${depth}, colour type ${colorType}, interlace ${interlace}`);
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const px = new Uint8Array(stride * height);
  let prev = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const cur = px.subarray(y * stride, (y + 1) * stride);
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? cur[i - channels]! : 0;
      const b = prev[i]!;
      const c = i >= channels ? prev[i - channels]! : 0;
      let v = line[i]!;
      switch (filter) {
        case 0:
          break;
        case 1:
          v += a;
          break;
        case 2:
          v += b;
          break;
        case 3:
          v += (a + b) >> 1;
          break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          throw new Error(`bad PNG filter ${filter}`);
      }
      cur[i] = v & 0xff;
    }
    prev = cur;
  }
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const s = i * channels;
    const g = channels <= 2;
    rgba[i * 4] = px[s]!;
    rgba[i * 4 + 1] = g ? px[s]! : px[s + 1]!;
    rgba[i * 4 + 2] = g ? px[s]! : px[s + 2]!;
    rgba[i * 4 + 3] = channels === 4 ? px[s + 3]! : channels === 2 ? px[s + 1]! : 255;
  }
  return { width, height, rgba };
}

/** Share of pixels that are not (near) white, and the number of clearly coloured pixels. */
function ink(img: Image): { nonWhite: number; coloured: number } {
  let nonWhite = 0;
  let coloured = 0;
  const n = img.width * img.height;
  for (let i = 0; i < n; i++) {
    const r = img.rgba[i * 4]!;
    const g = img.rgba[i * 4 + 1]!;
    const b = img.rgba[i * 4 + 2]!;
    if (Math.min(r, g, b) < 235) nonWhite++;
    if (Math.max(r, g, b) - Math.min(r, g, b) > 80) coloured++;
  }
  return { nonWhite: nonWhite / n, coloured };
}

// ---------------------------------------------------------------------------

interface ChartBox {
  name: string;
  width: number;
  height: number;
  marks: number;
  sizedMarks: number;
  /** Fitted trend lines and hint marks on the time axis drawn with a length (paths, so a width or a height may be 0). */
  fits: number;
  hintMarks: number;
}

const CHART_PROBE = `(() => [...document.querySelectorAll('[data-chart]')].map((el) => {
  const r = el.getBoundingClientRect();
  const marks = [...el.querySelectorAll('.series')];
  const sized = marks.filter((m) => { const b = m.getBoundingClientRect(); return b.width > 0 && b.height > 0; });
  const drawn = (sel) => [...el.querySelectorAll(sel)].filter((p) => (p.getAttribute('d') || '') !== '' && p.getTotalLength() > 0 && p.getBoundingClientRect().width > 0).length;
  return { name: el.getAttribute('data-chart'), width: r.width, height: r.height, marks: marks.length, sizedMarks: sized.length, fits: drawn('path.fit'), hintMarks: drawn('path.hint-mark') };
}))()`;

interface Visit {
  charts: ChartBox[];
  errors: string[];
  external: string[];
  shot: Buffer;
}

async function visit(browser: Browser, file: string, shotPath: string): Promise<Visit> {
  const page: Page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  const external: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (req) => {
    const u = req.url();
    if (!u.startsWith('file:') && !u.startsWith('data:') && !u.startsWith('about:')) external.push(u);
  });
  try {
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    const charts = (await page.evaluate(CHART_PROBE)) as ChartBox[];
    const shot = await page.screenshot({ path: shotPath, fullPage: true });
    return { charts, errors, external, shot };
  } finally {
    await page.close();
  }
}

t.test('reports and status page in Chromium', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.fail('install chromium (apt-get install chromium)');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'llmsoak-browser-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-dev-shm-usage'],
  });
  t.teardown(() => browser.close());

  // The blank baseline: what "nothing drawn" looks like in this browser.
  const blankFile = join(dir, 'blank.html');
  await writeFile(blankFile, '<!doctype html><html><head><meta charset="utf-8"><title>blank</title></head><body></body></html>');
  const blank = ink(decodePng((await visit(browser, blankFile, join(dir, 'blank.png'))).shot));
  t.ok(blank.nonWhite < 0.001, `blank page is blank (${blank.nonWhite})`);

  const pages: [string, string, string[]][] = [];
  const reports: [string, Report, string[]][] = [
    ['ramp', sampleRampReport(), ['latency', 'throughput', 'hints']],
    ['soak', sampleSoakReport(), ['timeseries', 'timeseries', 'timeseries', 'timeseries', 'hints']],
    ['surface', sampleSurfaceReport(), ['surface']],
    ['spike', sampleSpikeReport(), ['timeseries']],
  ];
  for (const [name, r, want] of reports) {
    const f = join(dir, `${name}.html`);
    await writeFile(f, renderHtml(r));
    pages.push([name, f, want]);
  }
  const statusFile = join(dir, 'status.html');
  await writeFile(statusFile, renderStatusPage(sampleStatusInput()));
  pages.push(['status', statusFile, ['spark-ttft', 'spark-rps']]);

  for (const [name, file, want] of pages) {
    const shotPath = join(dir, `${name}.png`);
    const v = await visit(browser, file, shotPath);
    t.same(v.errors, [], `${name}: no console errors`);
    t.same(v.external, [], `${name}: nothing loaded from outside the file`);
    t.same(
      v.charts.map((c) => c.name),
      want,
      `${name}: charts ${want.join(', ')}`,
    );
    for (const c of v.charts) {
      t.ok(c.width > 100 && c.height > 40, `${name}/${c.name}: laid out ${Math.round(c.width)}×${Math.round(c.height)}`);
      t.ok(c.sizedMarks >= 1, `${name}/${c.name}: ${c.sizedMarks} of ${c.marks} data marks drawn with a size`);
    }
    const img = decodePng(v.shot);
    t.equal(img.width, 1280, `${name}: screenshot width`);
    const k = ink(img);
    t.ok(k.nonWhite > blank.nonWhite + 0.03, `${name}: screenshot not blank (${(k.nonWhite * 100).toFixed(1)}% ink)`);
    t.ok(k.coloured > 2000, `${name}: charts and badges in colour (${k.coloured} coloured pixels)`);
    if (name === 'soak') {
      // The fixture: fitted lines on the RSS and GPU memory plots; two hints (one firing, one resolved) on every plot's time axis.
      t.same(
        v.charts.filter((c) => c.name === 'timeseries').map((c) => c.fits),
        [1, 1, 0, 0],
        'soak: fitted trend lines drawn',
      );
      t.same(
        v.charts.filter((c) => c.name === 'timeseries').map((c) => c.hintMarks),
        [2, 2, 2, 2],
        'soak: hint firing intervals drawn on every time axis',
      );
    }
    if (name === 'ramp') {
      t.ok(img.height > 1500, `ramp: full page captured (${img.height} px)`);
      await copyFile(shotPath, SHOT);
      t.equal((await readFile(SHOT)).length, v.shot.length, `ramp screenshot saved to ${SHOT}`);
    }
  }
});
