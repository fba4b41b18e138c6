/**
 * The parts of the modes that need no target: levels, brackets, the step
 * judgement and the likely cause, the sweep's rates, the surface's
 * refinement, config validation, and the report routes (listing, files with
 * their content types, no way out of the report directory).
 */
import t from 'tap';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { ConfigError } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import { createRegistry } from '../src/metrics/registry.js';
import { rampLevels, type RampModeConfig } from '../src/modes/config.js';
import { bracket, midpoint } from '../src/modes/ramp.js';
import { sweepRates } from '../src/modes/sweep.js';
import { between, refinePoints } from '../src/modes/surface.js';
import { judgeStep, likelyCause, type MeasuredStep, type SloLimits } from '../src/modes/runner.js';
import type { Figures, StepResult } from '../src/report/model.js';
import type { RecorderTotals } from '../src/metrics/recorder.js';
import { sampleRampReport } from './fixtures/sample-reports.js';
import { listReports, reportBaseName, writeReport } from '../src/report/write.js';
import { buildApp } from '../src/server/app.js';

const SLO: SloLimits = { ttftMs: 250, tpotMs: 50, e2eMs: 1500, maxErrorRate: 0.01, minGoodRatio: 0.95, minAchievedRatio: 0.9 };
const fig = (p99: number, count = 100): Figures => ({ count, mean: p99 / 2, p50: p99 / 2, p90: p99 * 0.8, p95: p99 * 0.9, p99, max: p99 * 1.1 });

function step(p: Partial<StepResult> & { load: number }): StepResult {
  return {
    index: 0,
    label: `${p.load} req/s`,
    targetRate: p.load,
    startedAt: '2025-01-01T00:00:00Z',
    durationSec: 10,
    requests: 100,
    ok: 100,
    achievedRps: 10,
    goodputRps: 10,
    errors: {},
    errorRate: 0,
    outputTokensPerSec: 100,
    ttft: fig(0.05),
    itl: fig(0.01),
    tpot: fig(0.01),
    e2e: fig(0.5),
    scheduleLag: fig(0.001),
    sloMet: true,
    ...p,
  };
}

function totals(p: Partial<RecorderTotals> = {}): RecorderTotals {
  return { requests: 100, ok: 100, good: 100, dropped: 0, errors: {}, inputTokens: 0, outputTokens: 0, ...p };
}

function measured(load: number, ok: boolean, extra: Partial<MeasuredStep> = {}): MeasuredStep {
  return { result: step({ load, sloMet: ok }), failures: ok ? [] : ['x'], totals: totals(), sent: 100, server: {}, hintCauses: [], ...extra };
}

function problemsOf(doc: unknown): string[] {
  try {
    loadConfig({ document: doc });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

t.test('ramp levels: linear, geometric, users, explicit', async (t) => {
  const base: RampModeConfig = { by: 'rate', from: 10, to: 50, steps: 5, spacing: 'linear', stopAfterFailedSteps: 1, refineSteps: 2, warmupSec: 1, holdSec: 1, cooldownSec: 0 };
  t.same(rampLevels(base), [10, 20, 30, 40, 50]);
  t.same(rampLevels({ ...base, from: 10, to: 1000, spacing: 'geometric' }), [10, 31.62, 100, 316.2, 1000]);
  t.same(rampLevels({ ...base, by: 'users', from: 1, to: 4, steps: 8 }), [1, 2, 3, 4], 'users: integers, no repeats');
  t.same(rampLevels({ ...base, levels: [3, 7, 9] }), [3, 7, 9]);
  t.same(rampLevels({ ...base, steps: 1 }), [50]);
});

t.test('the bracket around the knee, and bisection', async (t) => {
  const b = bracket([measured(10, true), measured(20, true), measured(40, false), measured(30, true), measured(50, false)]);
  t.equal(b.lo?.result.targetRate, 30);
  t.equal(b.hi?.result.targetRate, 40);
  // A pass above the first failure does not move the knee up.
  const b2 = bracket([measured(10, true), measured(20, false), measured(30, true)]);
  t.equal(b2.lo?.result.targetRate, 10);
  t.equal(b2.hi?.result.targetRate, 20);
  t.equal(bracket([measured(10, false)]).lo, undefined);
  t.equal(bracket([measured(10, true)]).hi, undefined);
  t.equal(midpoint('rate', 30, 40), 35);
  t.equal(midpoint('users', 4, 6), 5);
  t.equal(midpoint('users', 4, 5), undefined, 'no integer left between');
});

t.test('sweep rates lie strictly between the synchronous and the maximum rate', async (t) => {
  t.same(sweepRates(2, 12, 4), [4, 6, 8, 10]);
  t.same(sweepRates(3.2, 32, 3), [10.4, 17.6, 24.8]);
});

t.test('surface refinement adds points on the SLO boundary only', async (t) => {
  t.equal(between(16, 64), 32);
  t.equal(between(1, 2), undefined);
  const ok = new Map<string, boolean>([
    ['4x128', true],
    ['16x128', true],
    ['64x128', false],
    ['4x2048', true],
    ['16x2048', false],
    ['64x2048', false],
  ]);
  t.same(
    refinePoints([4, 16, 64], [128, 2048], ok).sort(),
    [
      [16, 512],
      [32, 128],
      [8, 2048],
    ].sort(),
  );
});

t.test('a step holds only when every threshold does, and says why not', async (t) => {
  t.same(judgeStep(step({ load: 10 }), totals(), SLO, 100), [], 'all good');
  const slow = judgeStep(step({ load: 10, ttft: fig(0.4) }), totals({ good: 80 }), SLO, 100);
  t.match(slow[0], /TTFT p99 400 ms > SLO 250 ms/);
  t.match(slow[1], /80% of requests met every SLO \(< 95%\)/);
  const errs = judgeStep(step({ load: 10, errors: { http_5xx: 5 }, errorRate: 0.05 }), totals({ ok: 95, good: 95 }), SLO, 100);
  t.match(errs.join('|'), /errors 5% > 1% \(mostly http_5xx\)/);
  t.match(judgeStep(step({ load: 10 }), totals({ dropped: 3 }), SLO, 100).join('|'), /3 arrivals dropped/);
  t.match(judgeStep(step({ load: 10 }), totals({ requests: 80, ok: 80, good: 80 }), SLO, 100).join('|'), /80 of 100 requests sent during the step ended in it/);
  t.same(judgeStep(step({ load: 10 }), totals({ requests: 80, ok: 80, good: 80 }), SLO), [], 'no sent count: no keeping-up check');
  t.same(judgeStep(step({ load: 10 }), totals({ requests: 0, ok: 0, good: 0 }), SLO, 10), ['no request ended during the step']);
});

t.test('the likely cause of a failing step', async (t) => {
  const m = (server: MeasuredStep['server'], extra: Partial<MeasuredStep> = {}) => measured(40, false, { server, ...extra });
  t.equal(likelyCause(m({ kvMax: 0.99, preemptions: 12, waitingMean: 5 }), SLO).cause, 'kv_cache_pressure');
  const slots = likelyCause(m({ kvMax: 0.3, preemptions: 0, waitingMean: 6.5, runningMax: 16 }), SLO, 16);
  t.equal(slots.cause, 'overload');
  t.match(slots.detail, /16 running \(every sequence slot busy\)/);
  const errs = m({}, { result: step({ load: 40, sloMet: false, errors: { http_5xx: 20 }, errorRate: 0.2 }) });
  t.equal(likelyCause(errs, SLO).cause, 'server_errors');
  const full = m({ waitingMax: 500, waitingMean: 480 }, { result: step({ load: 40, sloMet: false, errors: { http_429: 20 }, errorRate: 0.2 }) });
  t.equal(likelyCause(full, SLO).cause, 'overload', 'a full queue answering 429 is overload');
  t.equal(likelyCause(m({ kvMax: 0.99, preemptions: 3 }, { hintCauses: ['generator_bound', 'cpu_bound'] }), SLO).cause, 'cpu_bound', "the analyzer's top hint wins");
  t.same(likelyCause(m({}), SLO), {}, 'nothing to go on');
});

t.test('mode, schedule and SLO config: defaults and every problem at once', async (t) => {
  const { config } = loadConfig({});
  t.equal(config.mode.kind, 'soak');
  t.equal(config.report.dir, 'reports/');
  t.same(config.schedules, []);
  t.equal(config.slo.maxErrorRate, 0.01);
  t.equal(config.mode.ramp.holdSec, 30);

  const ok = loadConfig({ document: { schedules: [{ name: 'nightly', cron: '0 2 * * *', mode: { kind: 'ramp', ramp: { from: 5, to: 50 } } }] } }).config;
  t.equal(ok.schedules[0]?.pauseSoak, true, 'a schedule pauses the soak by default');
  t.equal(ok.schedules[0]?.mode.ramp.steps, 5, "a schedule's mode is defaulted too");

  const problems = problemsOf({
    mode: { kind: 'ramp', ramp: { levels: [10, 5], by: 'users' } },
    schedules: [
      { name: 'a', cron: 'every night' },
      { name: 'a', cron: '0 2 * * *', timezone: 'Mars/Olympus', mode: { kind: 'surface', surface: { concurrency: [4, 1], required: { concurrency: 2, inputTokens: 128 } } } },
      { name: 'c', cron: '0 3 * * *', mode: { kind: 'spike', spike: { windowSec: 100, baselineSec: 10 } } },
    ],
  });
  const text = problems.join('\n');
  t.match(text, /mode\.ramp\.levels: must be strictly increasing/);
  t.match(text, /schedules\[1\]\.mode\.surface\.concurrency: must be strictly increasing/);
  t.match(text, /schedules\[1\]\.mode\.surface\.required: must be a point of the grid/);
  t.match(text, /schedules\[2\]\.mode\.spike\.windowSec: longer than baselineSec/);
  t.same(problemsOf({ traffic: { maxInFlight: 8 }, mode: { kind: 'ramp', spike: { windowSec: 100, baselineSec: 10 } } }), [], 'only the section that runs is checked');
  t.match(text, /schedules\[0\]\.cron: not a cron expression/);
  t.match(text, /schedules\[1\]\.name: duplicate schedule name "a"/);
  t.match(text, /schedules\[1\]\.timezone: unknown time zone/);
  // Schema problems come first (cross-field checks need a schema-valid document).
  const schema = problemsOf({ schedules: [{ name: 'b', cron: '0 2 * * *', mode: { kind: 'teleport' } }], slo: { maxErrorRate: 2 } }).join('\n');
  t.match(schema, /schedules\[0\]\.mode\.kind: must be one of soak, ramp, sweep, surface, spike/);
  t.match(schema, /slo\.maxErrorRate: must be <= 1/);
  t.match(problemsOf({ mode: { kind: 'ramp', ramp: { from: 50, to: 10 } } }).join('\n'), /mode\.ramp\.from: \(50\) is above to \(10\)/);
});

t.test('report routes: listing, files with their types, nothing outside the directory', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'llmsoak-routes-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const dir = join(root, 'reports');
  const r = sampleRampReport();
  await writeReport(dir, r);
  const name = reportBaseName(r);
  await writeFile(join(root, 'secret.json'), '{"secret":true}');
  await symlink(join(root, 'secret.json'), join(dir, 'linked.json'));
  const app = buildApp({
    registry: createRegistry(),
    logger: silentLogger(),
    ready: () => true,
    status: () => ({}),
    reports: { reportDir: () => dir, listReports: () => listReports(dir), statusPage: async () => '<!doctype html><title>status</title>', schedules: () => [{ name: 'nightly' }] },
  });
  t.teardown(() => app.close());

  const list = await app.inject({ url: '/api/reports' });
  t.equal(list.statusCode, 200);
  const body = list.json() as { reports: { name: string; links: { html: string } }[] };
  t.equal(body.reports[0]?.name, name);
  t.equal(body.reports[0]?.links.html, `/api/reports/${name}.html`);
  t.notMatch(list.body, new RegExp(root.replace(/[/\\]/g, '.')), 'no file-system paths in the listing');

  const html = await app.inject({ url: `/api/reports/${name}.html` });
  t.equal(html.statusCode, 200);
  t.match(html.headers['content-type'], /^text\/html; charset=utf-8/);
  t.match(html.headers['content-security-policy'], /default-src 'none'/);
  t.match(html.body, /<!doctype html>/);
  const md = await app.inject({ url: `/api/reports/${name}.md` });
  t.match(md.headers['content-type'], /^text\/markdown/);
  const json = await app.inject({ url: `/api/reports/${name}.json` });
  t.match(json.headers['content-type'], /^application\/json/);
  t.equal((json.json() as { kind: string }).kind, 'ramp');
  t.equal((await app.inject({ url: `/api/reports/${name}` })).statusCode, 200, 'no extension: the JSON');

  for (const bad of ['..%2Fsecret.json', '%2E%2E%2Fsecret.json', '..%5Csecret.json', 'linked.json', 'nope.html', `${name}.exe`, '.json', '%00.json']) {
    const res = await app.inject({ url: `/api/reports/${bad}` });
    t.equal(res.statusCode, 404, `${bad}: 404`);
    t.notMatch(res.body, /secret/);
  }
  t.equal((await app.inject({ url: '/api/reports/../../etc/passwd' })).statusCode, 404);

  const status = await app.inject({ url: '/' });
  t.match(status.headers['content-type'], /^text\/html/);
  t.match(status.headers['content-security-policy'], /default-src 'none'/);
  t.same((await app.inject({ url: '/api/schedules' })).json(), { schedules: [{ name: 'nightly' }] });
});
