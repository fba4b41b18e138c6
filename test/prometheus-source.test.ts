/**
 * PrometheusSource (the analyzer reading the Prometheus HTTP API):
 *  - against a fake API on loopback: the PromQL each method sends, time and
 *    step alignment, authentication, value parsing (NaN, ±Inf), and every
 *    failure (HTTP error, `status: error`, not JSON, refused connection,
 *    timeout, oversized answer) read as absence, with one log line per
 *    failure streak; a malformed selector throws;
 *  - against a REAL Prometheus (Debian's `prometheus`) holding the same
 *    series as a LocalSource (backfilled with `promtool tsdb
 *    create-blocks-from openmetrics`): every method gives the same answer.
 * Binaries absent are a failure, never a skip: apt-get install prometheus.
 */
import t, { type Test } from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { PrometheusSource, parsePromValue, parseQueryData, promDuration } from '../src/analyzer/prometheus-source.js';
import { LocalSource } from '../src/analyzer/local-source.js';
import { SeriesStore } from '../src/analyzer/series-store.js';
import { expandSeriesValues, loadSeries, parseSeriesDescription, type InputSeries } from '../src/analyzer/series-notation.js';
import type { Series } from '../src/analyzer/source.js';
import { freePort, waitExit, waitFor } from './helpers.js';
import { findBinary, installLine } from './monitoring-stack.js';

interface Seen {
  path: string;
  params: URLSearchParams;
  auth: string | undefined;
}
type Handler = (seen: Seen, res: ServerResponse) => void;

/** A fake Prometheus API: records every request and answers with `handler`. */
async function fakeApi(t: Test, handler: Handler): Promise<{ url: string; seen: Seen[]; set(h: Handler): void }> {
  const seen: Seen[] = [];
  let h = handler;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const s: Seen = { path: req.url ?? '', params: new URLSearchParams(body), auth: req.headers.authorization };
      seen.push(s);
      h(s, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { url: `http://127.0.0.1:${port}`, seen, set: (n) => (h = n) };
}

function json(res: ServerResponse, status: number, doc: unknown): void {
  const text = JSON.stringify(doc);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const vector = (result: unknown[]) => ({ status: 'success', data: { resultType: 'vector', result } });
const matrix = (result: unknown[]) => ({ status: 'success', data: { resultType: 'matrix', result } });

function capturingLogger(): { logger: pino.Logger; lines: () => Array<{ level: number; msg: string }> } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk.toString());
      cb();
    },
  });
  return {
    logger: pino({ level: 'info' }, stream),
    lines: () =>
      out
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { level: number; msg: string }),
  };
}

const NOW = new Date(Date.UTC(2025, 0, 1, 12, 0, 7, 500));

t.test('parsing', async (t) => {
  t.equal(parsePromValue('1.5'), 1.5);
  t.equal(parsePromValue('+Inf'), Infinity);
  t.equal(parsePromValue('-Inf'), -Infinity);
  t.ok(Number.isNaN(parsePromValue('NaN')));
  t.equal(promDuration(300), '300000ms');
  t.equal(promDuration(0.0001), '1ms');
  t.same(parseQueryData({ resultType: 'scalar', result: [1700000000.5, '2'] }), [{ labels: {}, points: [{ t: 1700000000500, v: 2 }] }]);
  t.same(parseQueryData({ resultType: 'vector', result: [{ metric: { __name__: 'x', a: '1' }, value: [1700000000, '3'] }] }), [
    { labels: { __name__: 'x', a: '1' }, points: [{ t: 1700000000000, v: 3 }] },
  ]);
  t.same(
    parseQueryData({
      resultType: 'matrix',
      result: [
        {
          metric: {},
          values: [
            [1, '1'],
            [2, '2'],
          ],
        },
      ],
    })[0]?.points.length,
    2,
  );
  t.throws(() => parseQueryData({ resultType: 'string', result: [1, 'x'] }));
  t.throws(() => parseQueryData(null));
});

t.test('each method sends its PromQL, aligned, with auth', async (t) => {
  const api = await fakeApi(t, (s, res) => {
    const q = s.params.get('query') ?? '';
    if (s.path.endsWith('/api/v1/query_range')) {
      return json(
        res,
        200,
        matrix([
          {
            metric: { scenario: 'a' },
            values: [
              [1735732800, '2'],
              [1735732805, 'NaN'],
            ],
          },
        ]),
      );
    }
    if (/^x_total\[/.test(q))
      return json(
        res,
        200,
        matrix([
          {
            metric: { __name__: 'x_total', a: '1' },
            values: [
              [1735732507.5, '1'],
              [1735732807.5, '2'],
            ],
          },
        ]),
      );
    if (/^g\[/.test(q))
      return json(
        res,
        200,
        matrix([
          { metric: { __name__: 'g', a: '1' }, values: [[1735732800, '5']] },
          { metric: { __name__: 'g', a: '2' }, values: [[1735732801, '6']] },
        ]),
      );
    if (q === 'g') return json(res, 200, vector([{ metric: { __name__: 'g', a: '1' }, value: [1735732807.5, '5'] }]));
    if (q.startsWith('histogram_quantile')) return json(res, 200, vector([{ metric: {}, value: [1735732807.5, 'NaN'] }]));
    return json(res, 200, vector([{ metric: {}, value: [1735732807.5, '42'] }]));
  });
  const src = new PrometheusSource({ url: `${api.url}/prom/`, stepSec: 5, bearerToken: 's3cret', timeoutMs: 2000 });
  t.equal(src.stepSec, 5);
  t.equal(src.rateWindowSec, 60, 'max(60, 4 × step)');
  t.equal(src.lookbackSec, 10);

  t.equal(await src.increase('x_total{a="1"}', 300, NOW), 42);
  t.equal(await src.avgOverTime('g', 60, NOW), 42);
  t.equal(await src.maxOverTime('g', 60, NOW), 42);
  t.equal(await src.last('g', NOW, 'max'), 42);
  t.equal(await src.quantile(0.99, 'lat', 300, NOW, 'scenario="a"'), undefined, 'NaN (no observations) is undefined');
  const range = await src.range('x_total', 300, NOW);
  t.same(range[0]?.points, [{ t: 1735732807500, v: 2 }], 'range is left-open: the point exactly at now − window is dropped');
  const inst = await src.instant('g', NOW);
  t.same(inst, [{ labels: { __name__: 'g', a: '1' }, points: [{ t: 1735732800000, v: 5 }] }], 'instant: newest raw point of series that are not stale');
  const rates = await src.rate('x_total', 30, NOW);
  t.same(rates[0]?.points, [{ t: 1735732800000, v: 2 }], 'NaN steps dropped');
  t.same(await src.quantileOverTime(0.5, 'lat', 30, NOW), [{ t: 1735732800000, v: 2 }]);

  const sent = api.seen.map((s) => ({ path: s.path, query: s.params.get('query'), time: s.params.get('time'), start: s.params.get('start'), end: s.params.get('end'), step: s.params.get('step') }));
  t.match(sent, [
    { path: '/prom/api/v1/query', query: 'sum(increase(x_total{a="1"}[300000ms]))', time: '1735732807.500' },
    { query: 'avg(avg_over_time(g[60000ms]))' },
    { query: 'max(max_over_time(g[60000ms]))' },
    { query: 'max(last_over_time(g[10000ms]) and g)' },
    { query: 'histogram_quantile(0.99, sum by (le) (increase(lat_bucket{scenario="a"}[300000ms])))' },
    { query: 'x_total[300000ms]' },
  ]);
  const rq = sent.filter((s) => s.path === '/prom/api/v1/query_range');
  t.match(
    rq,
    [
      { query: 'rate(x_total[60000ms])', start: '1735732780.000', end: '1735732805.000', step: '5' },
      { query: 'histogram_quantile(0.5, sum by (le) (rate(lat_bucket[60000ms])))', start: '1735732780.000', end: '1735732805.000', step: '5' },
    ],
    'range queries at multiples of the step inside (now − window, now]',
  );
  t.ok(
    api.seen.every((s) => s.auth === 'Bearer s3cret'),
    'bearer token on every query',
  );
  t.ok(
    api.seen.every((s) => s.params.get('timeout') === '2s'),
    'the timeout goes with the query',
  );

  const basic = new PrometheusSource({ url: api.url, basicAuth: { username: 'u', password: 'p' } });
  await basic.last('g', NOW);
  t.equal(api.seen[api.seen.length - 1]?.auth, `Basic ${Buffer.from('u:p').toString('base64')}`);
  await t.rejects(src.increase('x_total{a=', 60, NOW), SyntaxError, 'a malformed selector is a bug: it throws');
  t.equal(src.stats().failures, 0);
});

t.test('failures read as absence, one log line per streak', async (t) => {
  let mode = 'ok';
  const api = await fakeApi(t, (_s, res) => {
    switch (mode) {
      case 'http500':
        return json(res, 500, { status: 'error', errorType: 'internal', error: 'boom' });
      case 'bad_data':
        return json(res, 400, { status: 'error', errorType: 'bad_data', error: 'parse error' });
      case 'notjson':
        res.writeHead(200, { 'content-type': 'text/html' });
        return void res.end('<html>proxy</html>');
      case 'slow':
        setTimeout(() => json(res, 200, vector([])), 1500);
        return;
      case 'huge': {
        res.writeHead(200, { 'content-type': 'application/json' }); // chunked: no content-length
        res.write('{"status":"success","data":{"resultType":"vector","result":[');
        res.end(`${'{"metric":{},"value":[1,"1"]},'.repeat(20_000)}{"metric":{},"value":[1,"1"]}]}}`);
        return;
      }
      default:
        return json(res, 200, vector([{ metric: {}, value: [1, '7'] }]));
    }
  });
  const log = capturingLogger();
  const src = new PrometheusSource({ url: api.url, timeoutMs: 300, maxResponseBytes: 64 * 1024, logger: log.logger });
  for (const m of ['http500', 'bad_data', 'notjson', 'slow', 'huge']) {
    mode = m;
    t.equal(await src.increase('x_total', 60, NOW), undefined, `${m}: undefined`);
    t.same(await src.range('x_total', 60, NOW), [], `${m}: []`);
  }
  t.equal(src.stats().failures, 10);
  t.match(src.stats().lastError, /exceeds the 65536-byte limit/);
  mode = 'ok';
  t.equal(await src.increase('x_total', 60, NOW), 7, 'recovers');
  t.equal(src.stats().failingSinceMs, undefined);
  const lines = log.lines();
  t.equal(lines.filter((l) => l.level === 40).length, 1, 'one warning for the whole streak');
  t.match(lines.find((l) => l.level === 40)?.msg, /Prometheus query failed .*HTTP 500, internal: boom.*insufficient data/);
  t.equal(lines.filter((l) => l.level === 30 && /succeed again/.test(l.msg)).length, 1, 'one line on recovery');

  const port = await freePort();
  const refused = new PrometheusSource({ url: `http://127.0.0.1:${port}`, timeoutMs: 1000 });
  t.equal(await refused.last('up', NOW), undefined, 'connection refused: undefined');
  t.same(await refused.instant('up', NOW), []);
  t.throws(() => new PrometheusSource({ url: 'ftp://x' }), RangeError);
  t.throws(() => new PrometheusSource({ url: 'http://x', stepSec: 0 }), RangeError);
});

// ---- the same answers as LocalSource, from a real Prometheus ----

const STEP = 15;
const INPUT: InputSeries[] = [
  { series: 'tok_total{scenario="a"}', values: '1000+30x300' },
  { series: 'tok_total{scenario="b"}', values: '5000+15x150 4000+15x149' }, // a counter reset
  { series: 'kv_ratio{model="m"}', values: '0.5+0x120 0.9+0.001x179' },
  { series: 'kv_ratio{model="n"}', values: '0.1+0.001x300' },
  { series: 'gap_gauge', values: '1+1x100 _x50 3+0x149' }, // missing samples
  { series: 'lat_bucket{le="0.1"}', values: '100+10x300' },
  { series: 'lat_bucket{le="0.5"}', values: '100+17x300' },
  { series: 'lat_bucket{le="1"}', values: '100+20x300' },
  { series: 'lat_bucket{le="+Inf"}', values: '100+21x300' },
];

function openMetrics(input: readonly InputSeries[], startMs: number): string {
  const lines: string[] = [];
  const families = new Map<string, InputSeries[]>();
  for (const s of input) {
    const { name } = parseSeriesDescription(s.series);
    const fam = name.replace(/_total$|_bucket$/, '');
    families.set(fam, [...(families.get(fam) ?? []), s]);
  }
  for (const [fam, list] of families) {
    const first = parseSeriesDescription(list[0]?.series ?? '').name;
    lines.push(`# TYPE ${fam} ${first.endsWith('_total') ? 'counter' : first.endsWith('_bucket') ? 'histogram' : 'gauge'}`);
    for (const s of list) {
      const { name, labels } = parseSeriesDescription(s.series);
      const lab = Object.entries(labels)
        .map(([k, v]) => `${k}="${v}"`)
        .join(',');
      expandSeriesValues(s.values).forEach((v, i) => {
        if (typeof v === 'number') lines.push(`${name}${lab ? `{${lab}}` : ''} ${v} ${((startMs + i * STEP * 1000) / 1000).toFixed(3)}`);
      });
    }
  }
  lines.push('# EOF');
  return `${lines.join('\n')}\n`;
}

function close(a: number | undefined, b: number | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}

function sameSeries(t: Test, got: Series[], want: Series[], what: string): void {
  const key = (s: Series) => JSON.stringify(Object.entries(s.labels).sort());
  const g = new Map(got.map((s) => [key(s), s]));
  t.equal(got.length, want.length, `${what}: ${want.length} series`);
  for (const w of want) {
    const s = g.get(key(w));
    const ok = s !== undefined && s.points.length === w.points.length && s.points.every((p, i) => p.t === w.points[i]?.t && close(p.v, w.points[i]?.v));
    t.ok(ok, `${what} ${key(w)}: ${w.points.length} points equal`, ok ? {} : { got: s?.points.slice(0, 5), want: w.points.slice(0, 5) });
  }
}

t.test('a real Prometheus gives the answers LocalSource gives for the same series', async (t) => {
  const promBin = findBinary('/usr/bin/prometheus', 'prometheus');
  const promtool = findBinary('promtool');
  if (promBin === undefined || promtool === undefined) return void t.fail(installLine('prometheus'));
  const dir = mkdtempSync(join(tmpdir(), 'llmsoak-promsrc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  // Samples at x.5 of the step (7.5 s past a multiple of 15 s), so no window or
  // step boundary ever falls on a sample: Prometheus 2 (left-closed ranges) and
  // 3 (left-open) then agree, and so does LocalSource.
  const startMs = (Math.floor(Date.now() / 1000 / 3600) - 3) * 3600_000 + 7_500;
  const store = new SeriesStore({ stepSec: STEP, rawRetentionSec: 6 * 3600, tiers: [] });
  const loaded = loadSeries(store, INPUT, { startMs, intervalSec: STEP });
  const local = new LocalSource(store);
  writeFileSync(join(dir, 'series.om'), openMetrics(INPUT, startMs));
  const bf = spawnSync(promtool, ['tsdb', 'create-blocks-from', 'openmetrics', join(dir, 'series.om'), join(dir, 'data')], { encoding: 'utf8', timeout: 60_000 });
  if (bf.status !== 0) return void t.fail(`promtool tsdb create-blocks-from: ${bf.stdout}${bf.stderr}`);

  const port = await freePort();
  writeFileSync(join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 15s\nscrape_configs: []\n');
  const child = spawn(promBin, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
    stdio: 'ignore',
  });
  t.teardown(async () => {
    child.kill('SIGTERM');
    await waitExit(child, 5_000);
  });
  const base = `http://127.0.0.1:${port}`;
  await waitFor(async () => ((await fetch(`${base}/-/ready`, { signal: AbortSignal.timeout(1000) })).ok ? true : undefined), 30_000, 100);
  const remote = new PrometheusSource({ url: base, stepSec: STEP, timeoutMs: 10_000 });
  await waitFor(async () => ((await remote.last('tok_total', new Date(loaded.endMs), 'count')) === 2 ? true : undefined), 15_000, 200);

  for (const back of [0, 1234.5 * 1000, 2700 * 1000, 3000 * 1000]) {
    // 2700: inside gap_gauge's gap
    const now = new Date(loaded.endMs - back + 3_000);
    const at = `at end − ${back / 1000} s`;
    for (const sel of ['tok_total', 'kv_ratio', 'gap_gauge', 'lat_bucket{le=~"0.5|1"}']) {
      sameSeries(t, await remote.range(sel, 600, now), await local.range(sel, 600, now), `${at} range(${sel})`);
      sameSeries(t, await remote.instant(sel, now), await local.instant(sel, now), `${at} instant(${sel})`);
    }
    sameSeries(t, await remote.rate('tok_total', 900, now), await local.rate('tok_total', 900, now), `${at} rate`);
    sameSeries(
      t,
      await remote.rate('tok_total{scenario="b"}', 3600, now, { stepSec: 60, rateWindowSec: 120 }),
      await local.rate('tok_total{scenario="b"}', 3600, now, { stepSec: 60, rateWindowSec: 120 }),
      `${at} rate (step 60, window 120, reset)`,
    );
    const scalars: Array<[string, () => Promise<number | undefined>, () => Promise<number | undefined>]> = [
      ['increase a', () => remote.increase('tok_total{scenario="a"}', 300, now), () => local.increase('tok_total{scenario="a"}', 300, now)],
      ['increase all (reset)', () => remote.increase('tok_total', 3600, now), () => local.increase('tok_total', 3600, now)],
      ['quantile 0.5', () => remote.quantile(0.5, 'lat', 600, now), () => local.quantile(0.5, 'lat', 600, now)],
      ['quantile 0.99', () => remote.quantile(0.99, 'lat', 600, now), () => local.quantile(0.99, 'lat', 600, now)],
      ['last sum', () => remote.last('kv_ratio', now, 'sum'), () => local.last('kv_ratio', now, 'sum')],
      ['last max', () => remote.last('kv_ratio', now, 'max'), () => local.last('kv_ratio', now, 'max')],
      ['last count', () => remote.last('kv_ratio', now, 'count'), () => local.last('kv_ratio', now, 'count')],
      ['avgOverTime', () => remote.avgOverTime('kv_ratio', 1800, now), () => local.avgOverTime('kv_ratio', 1800, now)],
      ['maxOverTime', () => remote.maxOverTime('kv_ratio', 1800, now), () => local.maxOverTime('kv_ratio', 1800, now)],
      ['avgOverTime with gaps', () => remote.avgOverTime('gap_gauge', 3600, now), () => local.avgOverTime('gap_gauge', 3600, now)],
      ['absent', () => remote.increase('nothing_total', 300, now), () => local.increase('nothing_total', 300, now)],
    ];
    for (const [what, r, l] of scalars) {
      const [a, b] = [await r(), await l()];
      t.ok(close(a, b), `${at} ${what}: ${String(a)} = ${String(b)}`);
    }
    const qr = await remote.quantileOverTime(0.9, 'lat', 900, now);
    const ql = await local.quantileOverTime(0.9, 'lat', 900, now);
    t.ok(qr.length > 0 && qr.length === ql.length && qr.every((p, i) => p.t === ql[i]?.t && close(p.v, ql[i]?.v)), `${at} quantileOverTime: ${qr.length} steps equal`);
  }
  t.equal(remote.stats().failures, 0, 'no failed query');
});
